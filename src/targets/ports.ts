import { quote, TargetSpecError } from "./errors.js";

const PORT_RANGE_HINT = "ports are 1-65535";

function parsePortNumber(text: string, token: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw new TargetSpecError(
      `invalid port ${quote(token)}: expected a number 1-65535 or a range like 7000-7005`,
    );
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new TargetSpecError(`invalid port ${quote(token)}: ${PORT_RANGE_HINT}`);
  }
  return port;
}

/** One port written in a target (`ip:port`, masscan, CSV); same rules and messages as parsePorts. */
export function parsePort(text: string): number {
  return parsePortNumber(text, text);
}

/**
 * "6379,6380,7000-7005" → sorted unique ports. Items are separated by commas (spaces around
 * them are ignored); each is a port or an inclusive range lo-hi. Throws TargetSpecError for port
 * 0, ports above 65535, reversed ranges, empty items and anything that is not a number.
 */
export function parsePorts(spec: string): number[] {
  if (spec.trim() === "") throw new TargetSpecError("no ports given: expected e.g. 6379,7000-7005");
  const seen = new Uint8Array(65536);
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") {
      throw new TargetSpecError(`invalid port list ${quote(spec)}: empty item between commas`);
    }
    const dash = item.indexOf("-");
    if (dash < 0) {
      seen[parsePortNumber(item, item)] = 1;
      continue;
    }
    const lo = parsePortNumber(item.slice(0, dash).trim(), item);
    const hi = parsePortNumber(item.slice(dash + 1).trim(), item);
    if (lo > hi) {
      throw new TargetSpecError(`invalid port range ${quote(item)}: ${lo} is greater than ${hi}`);
    }
    seen.fill(1, lo, hi + 1);
  }
  const ports: number[] = [];
  for (let p = 1; p < 65536; p++) if (seen[p]) ports.push(p);
  return ports;
}
