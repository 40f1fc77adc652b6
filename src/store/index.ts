export { defaultDbPath, isPostgresUrl, openStore } from "./open.js";
export { PostgresStore, redactUrl } from "./postgres.js";
export { SqliteStore } from "./sqlite.js";
export {
  type AuditStore,
  type CheckpointCover,
  type DiffRow,
  type GroupCount,
  type HoneypotStore,
  type ReportReader,
  type ResultQuery,
  type ScanInfo,
  type ScanWriter,
  type SearchFilter,
  type SearchReader,
  type ShardInfo,
  type ShardProgress,
  type Store,
  StoreConflictError,
  StoreDamagedError,
  StoreOpenError,
} from "./store.js";
