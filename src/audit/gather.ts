/**
 * What the audit reads from a server before judging it. Read-only by construction: PING, HELLO 2,
 * AUTH, INFO, CONFIG GET, ACL WHOAMI/LIST/GETUSER/DRYRUN/LOG, COMMAND INFO, SELECT and SCAN,
 * nothing else (the client refuses any other command: `readOnly`).
 * Every answer the audited user may not have (NOPERM, a renamed command) is kept as the reason
 * a check could not run.
 */
import { type ParsedInfo, parseInfo } from "../classify/info.js";
import type { RespValue } from "../resp/types.js";
import {
  AuditClient,
  type Certificate,
  type ClientOptions,
  replyStrings,
  replyText,
  tlsCertificate,
} from "./client.js";
import type { AuditTarget } from "./target.js";

/** Commands the audit reports on when the audited user can run them. */
export const DANGEROUS_COMMANDS = [
  "CONFIG",
  "MODULE",
  "DEBUG",
  "EVAL",
  "FUNCTION",
  "SLAVEOF",
  "REPLICAOF",
  "FLUSHALL",
  "KEYS",
] as const;

/** ACL DRYRUN asks about the dangerous form of each command (nothing is run). */
const DRYRUN_ARGS: Record<string, string[]> = {
  CONFIG: ["SET", "dir", "/tmp"],
  MODULE: ["LOAD", "/tmp/x.so"],
  DEBUG: ["SLEEP", "0"],
  EVAL: ["return 1", "0"],
  FUNCTION: ["DELETE", "x"],
  SLAVEOF: ["127.0.0.1", "6379"],
  REPLICAOF: ["127.0.0.1", "6379"],
  FLUSHALL: [],
  KEYS: ["*"],
};

/**
 * SCAN stops after this many keys, or this many steps, per database (COUNT 1000 a step): a
 * server whose cursor never comes back to 0 cannot keep the audit going.
 */
const MAX_SCANNED_KEYS = 1_000_000;
const MAX_SCAN_STEPS = 10_000;

export type Answer<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface CommandAccess {
  /** COMMAND INFO knows it (not renamed away or disabled with rename-command). */
  exists: Answer<boolean>;
  /** The audited user may run it (ACL DRYRUN on 7.0+, or the user's rules). */
  allowed: Answer<boolean>;
}

/** One ACL LOG entry (6.0+), the fields the audit reads. */
export interface AclLogEntry {
  count: number;
  reason: string;
  username: string;
  ageSeconds: number;
  /** The client's address (`addr=` of its client-info). */
  addr: string;
}

export interface AuditFacts {
  target: AuditTarget;
  /** What an anonymous connection got for PING: +PONG, -NOAUTH…, -DENIED…, or a failure. */
  anonymous: Answer<string>;
  /**
   * What the same anonymous connection got for HELLO 2: servers before 6.0 do not know the
   * command (and answer so before asking for a password); 6.0+ answer or ask for AUTH.
   */
  hello: Answer<string>;
  /** The audit connected and (with credentials) authenticated. */
  authenticated: boolean;
  info: Answer<ParsedInfo>;
  config: Answer<Map<string, string>>;
  whoami: Answer<string>;
  /** ACL LIST lines (6.0+). */
  acl: Answer<string[]>;
  /** ACL LOG (6.0+): recent denials and failed AUTHs. */
  aclLog: Answer<AclLogEntry[]>;
  /** The certificate of the TLS port (the target's, or tls-port's on the same host). */
  certificate: Answer<Certificate | undefined>;
  commands: Map<string, CommandAccess>;
  /** Keys seen by SCAN in each non-empty database, only those matching `wanted`. */
  keys: Answer<Array<{ db: number; key: string }>>;
  /** Keys SCAN walked in all. */
  scanned: number;
}

export interface GatherOptions extends ClientOptions {
  /** Key names looked for with SCAN (exact, case-sensitive). */
  wantedKeys: ReadonlySet<string>;
}

function isError(v: RespValue): boolean {
  return v.type === "error";
}

function errorReason(command: string, v: RespValue): string {
  return `${command}: ${replyText(v).replace(/^-/, "").slice(0, 200)}`;
}

/** Connect anonymously and ask PING, then HELLO 2: what anyone on the network gets. */
async function anonymousPing(
  t: AuditTarget,
  o: ClientOptions,
): Promise<{ ping: Answer<string>; hello: Answer<string> }> {
  let c: AuditClient | undefined;
  let ping: Answer<string>;
  try {
    c = await AuditClient.connect(t, o);
    ping = { ok: true, value: replyText(await c.call("PING")) };
  } catch (e) {
    c?.close();
    const failed = { ok: false as const, reason: (e as Error).message };
    return { ping: failed, hello: failed };
  }
  try {
    const v = await c.call("HELLO", "2");
    return { ping, hello: { ok: true, value: v.type === "error" ? replyText(v) : "+HELLO" } };
  } catch (e) {
    return { ping, hello: { ok: false, reason: (e as Error).message } };
  } finally {
    c.close();
  }
}

/** True when the server is older than 6.0 (no HELLO, hence no ACL), false when 6.0+. */
export function beforeAcl(f: AuditFacts): boolean | undefined {
  if (!f.hello.ok) return undefined;
  if (/^-ERR unknown command/i.test(f.hello.value)) return true;
  if (/^(\+HELLO|-NOAUTH|-NOPERM|-WRONGPASS)/.test(f.hello.value)) return false;
  return undefined;
}

/** The fields of ACL LOG's entries (a flat key/value array each in RESP2, a map in RESP3). */
function aclLogEntries(v: RespValue): AclLogEntry[] {
  if (v.type !== "array" || !v.value) return [];
  return v.value.map((e) => {
    const flat = replyStrings(e);
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
    const info = m.get("client-info") ?? "";
    return {
      count: Number(m.get("count") ?? "1") || 1,
      reason: m.get("reason") ?? "",
      username: m.get("username") ?? "",
      ageSeconds: Number(m.get("age-seconds") ?? "0") || 0,
      addr: /(?:^| )addr=(\S+)/.exec(info)?.[1] ?? "?",
    };
  });
}

/** A connection as the audited user (AUTH when there are credentials). */
export async function connectAs(t: AuditTarget, o: ClientOptions): Promise<AuditClient> {
  const c = await AuditClient.connect(t, o);
  if (t.password !== undefined) {
    const args = t.user !== undefined ? ["AUTH", t.user, t.password] : ["AUTH", t.password];
    const v = await c.call(...args);
    if (isError(v)) {
      c.close();
      // The server's text names no secret; the password is never echoed.
      throw new Error(`AUTH failed: ${replyText(v).replace(/^-/, "").slice(0, 200)}`);
    }
  }
  return c;
}

export async function gather(t: AuditTarget, o: GatherOptions): Promise<AuditFacts> {
  const { ping: anonymous, hello } = await anonymousPing(t, o);
  const c = await connectAs(t, o);
  try {
    const facts: AuditFacts = {
      target: t,
      anonymous,
      hello,
      authenticated: t.password !== undefined,
      info: { ok: false, reason: "not asked" },
      config: { ok: false, reason: "not asked" },
      whoami: { ok: false, reason: "not asked" },
      acl: { ok: false, reason: "not asked" },
      aclLog: { ok: false, reason: "not asked" },
      certificate: { ok: true, value: undefined },
      commands: new Map(),
      keys: { ok: false, reason: "not asked" },
      scanned: 0,
    };
    const info = await c.call("INFO", "all");
    const infoText = isError(info) ? undefined : replyText(info);
    facts.info =
      infoText === undefined
        ? { ok: false, reason: errorReason("INFO", info) }
        : { ok: true, value: parseInfo(infoText) };

    const config = await c.call("CONFIG", "GET", "*");
    if (isError(config)) facts.config = { ok: false, reason: errorReason("CONFIG GET", config) };
    else {
      const flat = replyStrings(config);
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!, flat[i + 1]!);
      facts.config = { ok: true, value: map };
    }

    const whoami = await c.call("ACL", "WHOAMI");
    facts.whoami = isError(whoami)
      ? { ok: false, reason: errorReason("ACL WHOAMI", whoami) }
      : { ok: true, value: replyText(whoami) };
    const acl = await c.call("ACL", "LIST");
    facts.acl = isError(acl)
      ? { ok: false, reason: errorReason("ACL LIST", acl) }
      : { ok: true, value: replyStrings(acl) };
    const log = await c.call("ACL", "LOG");
    facts.aclLog = isError(log)
      ? { ok: false, reason: errorReason("ACL LOG", log) }
      : { ok: true, value: aclLogEntries(log) };
    facts.certificate = await certificate(t, o, c, facts.config);

    for (const name of DANGEROUS_COMMANDS) facts.commands.set(name, await access(c, facts, name));

    await scanKeys(c, facts, o.wantedKeys);
    return facts;
  } finally {
    c.close();
  }
}

/** The certificate the target's TLS connection showed, or a handshake with its tls-port. */
async function certificate(
  t: AuditTarget,
  o: ClientOptions,
  c: AuditClient,
  config: Answer<Map<string, string>>,
): Promise<Answer<Certificate | undefined>> {
  if (t.tls) return { ok: true, value: c.certificate() };
  const tlsPort = config.ok ? Number(config.value.get("tls-port") ?? "0") : 0;
  if (!(tlsPort > 0 && tlsPort < 65536)) return { ok: true, value: undefined };
  try {
    return { ok: true, value: await tlsCertificate(t.host, tlsPort, o.timeoutMs) };
  } catch (e) {
    return { ok: false, reason: `TLS handshake with port ${tlsPort}: ${(e as Error).message}` };
  }
}

/** Whether the command exists under its name, and whether the audited user may run it. */
async function access(c: AuditClient, f: AuditFacts, name: string): Promise<CommandAccess> {
  const info = await c.call("COMMAND", "INFO", name);
  let exists: Answer<boolean>;
  if (isError(info)) exists = { ok: false, reason: errorReason("COMMAND INFO", info) };
  else {
    const entry = info.type === "array" ? info.value?.[0] : undefined;
    exists = {
      ok: true,
      value: entry !== undefined && entry.type !== "null" && !isNullArray(entry),
    };
  }
  if (exists.ok && !exists.value) return { exists, allowed: { ok: true, value: false } };
  // Not logged in (no password given to a server that wants one): nothing is known.
  if (!exists.ok && /NOAUTH/.test(exists.reason)) {
    return { exists, allowed: { ok: false, reason: exists.reason } };
  }
  if (!f.whoami.ok) {
    // No ACL (before 6.0): whoever is connected may run every command that exists.
    const noAcl = /unknown command/i.test(f.whoami.reason);
    return {
      exists,
      allowed: noAcl ? { ok: true, value: true } : { ok: false, reason: f.whoami.reason },
    };
  }
  const dry = await c.call("ACL", "DRYRUN", f.whoami.value, name, ...(DRYRUN_ARGS[name] ?? []));
  if (!isError(dry)) {
    // OK: allowed; a bulk string explains why not.
    return { exists, allowed: { ok: true, value: dry.type === "simple" } };
  }
  // ACL DRYRUN is 7.0+ and itself needs permission: read the user's rules instead.
  const rules = userRules(f, f.whoami.value);
  if (rules === undefined)
    return { exists, allowed: { ok: false, reason: errorReason("ACL DRYRUN", dry) } };
  return { exists, allowed: { ok: true, value: rulesAllow(rules, name) } };
}

function isNullArray(v: RespValue): boolean {
  return (v.type === "array" && v.value === null) || (v.type === "bulk" && v.value === null);
}

/** The ACL LIST rule words of one user, if ACL LIST was readable. */
export function userRules(f: AuditFacts, user: string): string[] | undefined {
  if (!f.acl.ok) return undefined;
  for (const line of f.acl.value) {
    const words = line.split(" ");
    if (words[0] === "user" && words[1] === user) return words.slice(2);
  }
  return undefined;
}

/** Last matching rule wins, as ACL applies them: +@all/allcommands, -cmd, +cmd, -@all. */
function rulesAllow(rules: string[], name: string): boolean {
  const lower = name.toLowerCase();
  let allowed = false;
  for (const r of rules) {
    const w = r.toLowerCase();
    if (w === "+@all" || w === "allcommands") allowed = true;
    else if (w === "-@all" || w === "nocommands") allowed = false;
    else if (w === `+${lower}` || w.startsWith(`+${lower}|`)) allowed = true;
    else if (w === `-${lower}`) allowed = false;
  }
  return allowed;
}

/** SCAN every non-empty database for the wanted key names (never KEYS). */
async function scanKeys(c: AuditClient, f: AuditFacts, wanted: ReadonlySet<string>): Promise<void> {
  const dbs = f.info.ok
    ? [...f.info.value.keyspace.keys()].map((k) => Number(k.slice(2))).filter(Number.isInteger)
    : [0];
  const found: Array<{ db: number; key: string }> = [];
  for (const db of dbs) {
    const sel = await c.call("SELECT", String(db));
    if (isError(sel)) {
      f.keys = { ok: false, reason: errorReason("SELECT", sel) };
      return;
    }
    let cursor = "0";
    let seen = 0;
    let steps = 0;
    do {
      const v = await c.call("SCAN", cursor, "COUNT", "1000");
      if (isError(v)) {
        f.keys = { ok: false, reason: errorReason("SCAN", v) };
        return;
      }
      const parts = v.type === "array" && v.value ? v.value : [];
      cursor = parts[0] ? replyText(parts[0]) : "0";
      const keys = parts[1] ? replyStrings(parts[1]) : [];
      seen += keys.length;
      for (const k of keys) if (wanted.has(k)) found.push({ db, key: k });
    } while (cursor !== "0" && seen < MAX_SCANNED_KEYS && ++steps < MAX_SCAN_STEPS);
    f.scanned += seen;
  }
  f.keys = { ok: true, value: found };
}
