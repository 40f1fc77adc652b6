export { defaultDbPath, isPostgresUrl, openStore } from "./open.js";
export { PostgresStore, redactUrl } from "./postgres.js";
export { SqliteStore } from "./sqlite.js";
export {
  type DiffRow,
  GROUP_COLUMNS,
  type GroupColumn,
  type GroupCount,
  type HoneypotEventRow,
  type HoneypotSessionRow,
  type ResultQuery,
  type ScanInfo,
  type ShardInfo,
  type Store,
  StoreConflictError,
  StoreOpenError,
} from "./store.js";
