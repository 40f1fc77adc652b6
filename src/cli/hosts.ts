/** The host list at the end of `redscope scan`, `import` and `demo`: the flag and the one call. */
import { firstHosts } from "../report/hosts.js";
import { defaultDbPath } from "../store/index.js";
import { hostListSummary } from "./format.js";
import { openStoreOrFail } from "./open.js";
import { parseIntIn } from "./units.js";

/** Servers listed at the end of a run unless `--host-list` says otherwise. */
export const HOST_LIST_DEFAULT = "50";
export const HOST_LIST_HELP =
  "list up to N Redis-protocol servers found at the end (0: none; the rest: redscope report --hosts)";

export function parseHostList(v: string | undefined): number {
  return parseIntIn("--host-list", v ?? HOST_LIST_DEFAULT, 0, 100_000);
}

/**
 * The scan's host list from the store it was written to (opened again for reading: the run has
 * closed its own), as printed lines; empty when `limit` is 0. `db` is what the user passed to
 * --db (the hint repeats it; a PostgreSQL URL is shown without its password).
 */
export async function storedHostList(
  db: string | undefined,
  scanId: string,
  limit: number,
): Promise<string> {
  if (limit <= 0) return "";
  const store = await openStoreOrFail(db ?? defaultDbPath());
  try {
    const list = await firstHosts(store, scanId, limit);
    return `${hostListSummary(list, scanId, limit, db !== undefined ? store.location : undefined)}\n`;
  } finally {
    await store.close();
  }
}
