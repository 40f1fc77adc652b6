/**
 * `--db` values: a PostgreSQL URL (`postgres://…`, `postgresql://…`) or a SQLite file path
 * (optionally `sqlite:PATH`). Without one: $REDSCOPE_DB, else the per-user data directory.
 */

import path from "node:path";
import { userDataDir } from "./paths.js";
import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";
import type { Store } from "./store.js";

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** `$XDG_DATA_HOME/redscope/redscope.db`, else `~/.local/share/redscope/redscope.db`. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REDSCOPE_DB) return env.REDSCOPE_DB;
  return path.join(userDataDir(env), "redscope.db");
}

export async function openStore(spec?: string): Promise<Store> {
  const s = spec ?? defaultDbPath();
  if (isPostgresUrl(s)) return PostgresStore.open(s);
  return SqliteStore.open(s.startsWith("sqlite:") ? s.slice("sqlite:".length) : s);
}
