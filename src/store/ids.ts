/** Row ids for the store's tables that many writers fill (honeypot sessions, audits). */
import { randomFillSync } from "node:crypto";

const POOL = Buffer.alloc(4092);
let at = POOL.length;

/**
 * The time in milliseconds (12 hex digits), then 12 random ones (48 bits: unique across
 * sensors sharing one database). Time first, so the store's primary-key indexes grow at their
 * end instead of everywhere: 10k sessions a second then write a few pages per batch, not one
 * per row. Random bytes come from a pool, refilled once per 682 ids.
 */
export function timeOrderedId(nowMs: number): string {
  if (at >= POOL.length) {
    randomFillSync(POOL);
    at = 0;
  }
  const id = nowMs.toString(16).padStart(12, "0") + POOL.toString("hex", at, at + 6);
  at += 6;
  return id;
}
