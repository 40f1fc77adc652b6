export { defaultDbPath, isPostgresUrl, openStore } from "./open.js";
export { PostgresStore, redactUrl } from "./postgres.js";
export { SqliteStore } from "./sqlite.js";
export {
  type AuditRow,
  type CheckpointCover,
  type DiffRow,
  type GroupCount,
  type HoneypotEventRow,
  type HoneypotSessionRow,
  type ResultQuery,
  type ScanInfo,
  type SearchFilter,
  type ShardInfo,
  type ShardProgress,
  type Store,
  StoreConflictError,
  StoreDamagedError,
  StoreOpenError,
} from "./store.js";
