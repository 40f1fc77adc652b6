/**
 * Weak passwords, checked offline: ACL LIST shows each user's passwords as SHA-256 hashes
 * (`#<hex>`), so the audit hashes a bundled list of common and default passwords (and each
 * user's own name) and compares — no AUTH guess reaches the server, nothing lands in ACL LOG.
 * Only servers before 6.0 (no ACL, one `requirepass`) are still tried online, with a short list.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { installedData } from "../store/paths.js";

/** data/passwords/weak.txt: its header names its sources and license. */
const listFile = (): string => path.join(installedData("passwords"), "weak.txt");

let cached: string[] | undefined;

/** The bundled list, in its order, without comments and duplicates. */
export function weakPasswordList(): string[] {
  if (cached === undefined) {
    const seen = new Set<string>();
    for (const line of fs.readFileSync(listFile(), "utf8").split("\n")) {
      const pw = line.replace(/\r$/, "");
      if (pw === "" || pw.startsWith("#")) continue;
      seen.add(pw);
    }
    cached = [...seen];
  }
  return cached;
}

/**
 * Tried online (AUTH) only on servers before 6.0 that want a password: each try is a real
 * login attempt, so the list stays short. The first of the bundled list's defaults.
 */
export const ONLINE_PASSWORDS: readonly string[] = [
  "foobared",
  "redis",
  "Redis",
  "password",
  "Password",
  "123456",
  "12345678",
  "admin",
  "root",
  "default",
  "changeme",
  "test",
  "1234",
  "qwerty",
  "redis123",
  "123456789",
  "P@ssw0rd",
  "pass",
];

function sha256(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

let hashes: Map<string, string> | undefined;

/** What a password hash from ACL LIST is, if it is a weak one: "the user's own name", "… list". */
export function weakHash(user: string, hex: string): string | undefined {
  const h = hex.toLowerCase();
  if (sha256(user) === h) return "the user's own name";
  if (hashes === undefined) {
    hashes = new Map();
    for (const pw of weakPasswordList()) hashes.set(sha256(pw), pw);
  }
  const pw = hashes.get(h);
  return pw === undefined
    ? undefined
    : `a password from the bundled list of weak passwords (${pw.length} characters)`;
}

/** The same judgement for a password in clear (the one the audit was given). */
export function weakPassword(user: string, pw: string): string | undefined {
  return weakHash(user, sha256(pw));
}
