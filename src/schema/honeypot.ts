/**
 * What the honeypot records: one row per session (its facts as columns, its classification and
 * indicators whole in `record`) and one per event (connect, command, effect, limit, capture,
 * close). Sensors write these; the honeypot report and the dashboard read them.
 */
import type { Column } from "./columns.js";

/** The honeypot's attack classes (ATT&CK ids per class in src/honeypot/attacks.ts). */
export type AttackClass =
  | "scan"
  | "bruteforce"
  | "file_write_ssh"
  | "file_write_cron"
  | "file_write_webshell"
  | "file_write"
  | "rogue_replication"
  | "module_load"
  | "lua_exploit"
  | "destructive"
  | "ransom"
  | "http_cross_protocol"
  | "exfiltration"
  | "dropper";

export interface AttackFinding {
  class: AttackClass;
  /** ATT&CK technique ids, e.g. T1053.003; empty where no source maps the class. */
  attack: string[];
  /** Why: the commands or tokens that decided it (bounded). */
  evidence: string[];
}

export interface Indicators {
  urls: string[];
  ips: string[];
  domains: string[];
  ssh_keys: string[];
  cron_lines: string[];
  file_paths: string[];
  modules: string[];
  lua_tokens: string[];
  /** Commands of a module the session loaded or called (`system.exec curl …`), with arguments. */
  module_commands: string[];
  passwords: string[];
}

/** A session's record, made when it ends. */
export interface SessionRecord {
  /** Most severe first. */
  findings: AttackFinding[];
  indicators: Indicators;
  /** Commands per name (at most 256 names; the rest under `(other)`). */
  command_counts: Record<string, number>;
  /** Commands the classifier kept, when it could not keep them all. */
  classified_commands?: number;
  /** Commands recorded as events, when not all were. */
  events_recorded?: number;
  /** Commands answered but not recorded: the source had spent its hour's budget. */
  over_source_budget?: number;
  /** Repeated plain commands counted, not recorded: name → commands and their arguments. */
  folded?: Record<string, { count: number; args: number }>;
}

/** One honeypot session as stored: the columns, and the whole record (JSON). */
export interface HoneypotSessionRow {
  id: string;
  sensor: string;
  /** `addr:port` the attacker connected to. */
  listener: string;
  persona: string;
  srcIp: string;
  srcPort: number;
  startedAt: string;
  endedAt?: string;
  bytesIn: number;
  bytesOut: number;
  commands: number;
  /** Attack classes, comma-separated, most severe first ("" when none). */
  classes: string;
  /** Empty in the row written when the session starts; whole when it ends. */
  record: Partial<SessionRecord>;
}

/**
 * One honeypot event. `record` depends on `kind`: `connect` {transport}, `command` {args,
 * lengths, sha256, inline, argc?}, `effect` {effect}, `limit` {limit, …}, `protocol_error`
 * {message}, `capture` {capture}, `close` {commands, bytes_in, folded?}.
 */
export interface HoneypotEventRow {
  sessionId: string;
  seq: number;
  time: string;
  kind: string;
  name?: string;
  record: Record<string, unknown>;
}

/** The `honeypot_sessions` table: the stores' inserts are derived from this list. */
export const HONEYPOT_SESSION_COLUMNS = [
  { name: "id", type: "text", value: (r) => r.id },
  { name: "sensor", type: "text", value: (r) => r.sensor },
  { name: "listener", type: "text", value: (r) => r.listener },
  { name: "persona", type: "text", value: (r) => r.persona },
  { name: "src_ip", type: "text", value: (r) => r.srcIp },
  { name: "src_port", type: "int", value: (r) => r.srcPort },
  { name: "started_at", type: "time", value: (r) => r.startedAt },
  { name: "ended_at", type: "time", value: (r) => r.endedAt ?? null },
  { name: "bytes_in", type: "bigint", value: (r) => r.bytesIn },
  { name: "bytes_out", type: "bigint", value: (r) => r.bytesOut },
  { name: "commands", type: "int", value: (r) => r.commands },
  { name: "classes", type: "text", value: (r) => r.classes },
  { name: "record", type: "json", value: (r) => JSON.stringify(r.record) },
] as const satisfies readonly Column<HoneypotSessionRow>[];

/** The `honeypot_events` table. */
export const HONEYPOT_EVENT_COLUMNS = [
  { name: "session_id", type: "text", value: (e) => e.sessionId },
  { name: "seq", type: "int", value: (e) => e.seq },
  { name: "time", type: "time", value: (e) => e.time },
  { name: "kind", type: "text", value: (e) => e.kind },
  { name: "name", type: "text", value: (e) => e.name ?? null },
  { name: "record", type: "json", value: (e) => JSON.stringify(e.record) },
] as const satisfies readonly Column<HoneypotEventRow>[];
