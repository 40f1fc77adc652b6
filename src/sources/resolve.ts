/**
 * `import --resolve FILE`: the addresses of the names zgrab2 probed, from the user's own
 * resolution (zdns, massdns, dig, a hosts file) — nothing is resolved here. One entry a line,
 * `#` starts a comment, fields split by white space or a comma:
 *   cache.example.net 192.0.2.10        name ip        (zdns/massdns-style)
 *   cache.example.net,192.0.2.10        name,ip        (CSV)
 *   192.0.2.10 cache.example.net cache  ip name…       (/etc/hosts, aliases included)
 * Names are RFC 1123 host names (case and a trailing dot do not matter), addresses go through
 * src/net/. A name given two different addresses is ambiguous: which one zgrab2 dialled is not
 * known, so its records keep no address (as without --resolve). The file is read line by line,
 * each line and the number of names bounded; the first bad line stops the import (a usage
 * error: the user wrote this file).
 */
import fs from "node:fs";
import { formatIp, parseIp } from "../net/ip.js";
import { hostnameProblem } from "../targets/spec.js";
import { splitLines } from "../untrusted/lines.js";
import { safeText } from "../untrusted/text.js";

/** Names a --resolve file may map at most (a /16's worth of reverse names, and then some). */
export const MAX_RESOLVE_NAMES = 1_000_000;
/** Longest line of a --resolve file (a hosts line with a few aliases fits many times). */
const MAX_RESOLVE_LINE = 4096;

/** name (lower case, no trailing dot) → address, or null when the file gave it several. */
export type NameMap = ReadonlyMap<string, string | null>;

/** A --resolve file that cannot be used; the message is one line, FILE:LINE first. */
export class ResolveFileError extends Error {}

/** The key a name is looked up by: lower case, without the root's trailing dot. */
export function nameKey(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function address(token: string): string | undefined {
  const ip = parseIp(token);
  return ip === undefined ? undefined : formatIp(ip.family, ip.value);
}

export async function readResolveFile(file: string): Promise<Map<string, string | null>> {
  const map = new Map<string, string | null>();
  const at = (line: number): string => `${file}:${line}`;
  let stream: fs.ReadStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    stream = fs.createReadStream(file, { highWaterMark: 1 << 16 });
  } catch (e) {
    throw new ResolveFileError(
      `cannot read --resolve ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  for await (const l of splitLines(stream, MAX_RESOLVE_LINE)) {
    if (l.text === undefined) throw new ResolveFileError(`${at(l.line)}: ${l.error}`);
    const text = l.text.replace(/#.*/, "").trim();
    if (text === "") continue;
    const fields = text.split(/[\s,]+/).filter((f) => f !== "");
    let ip = address(fields[0]!);
    let names: string[];
    if (ip !== undefined) names = fields.slice(1);
    else {
      ip = fields.length === 2 ? address(fields[1]!) : undefined;
      names = fields.slice(0, 1);
    }
    if (ip === undefined || names.length === 0) {
      throw new ResolveFileError(
        `${at(l.line)}: expected "name ip", "name,ip" or "ip name…", not ${JSON.stringify(safeText(text, 80))}`,
      );
    }
    for (const n of names) {
      const key = nameKey(n);
      const problem = hostnameProblem(key);
      if (problem !== undefined) {
        throw new ResolveFileError(
          `${at(l.line)}: ${JSON.stringify(safeText(n, 80))} is not a host name: ${problem}`,
        );
      }
      const known = map.get(key);
      if (known === undefined) {
        if (map.size >= MAX_RESOLVE_NAMES) {
          throw new ResolveFileError(
            `${at(l.line)}: more than ${MAX_RESOLVE_NAMES} names: split the import`,
          );
        }
        map.set(key, ip);
      } else if (known !== ip) map.set(key, null);
    }
  }
  return map;
}
