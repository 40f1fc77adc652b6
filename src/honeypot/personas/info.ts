/**
 * INFO as a persona writes it. The field set, order and constant values come from what a real
 * server of the version answered (data/replies, recorded from real servers); versions without a
 * recording are derived from the nearest one by the edits below (versions.md §4 lists which
 * release added which field). What changes while a server runs — pids, ids, uptime, memory,
 * counters, the keyspace — is filled in live at every call (see `VOLATILE_INFO_KEYS`).
 */

import fs from "node:fs";
import path from "node:path";
import { parseInfo } from "../../classify/info.js";
import { ReplyDecoder } from "../../resp/index.js";
import { installedData } from "../../store/paths.js";
import type { Era } from "./era.js";

export type InfoFields = Array<[string, string]>;

export interface InfoSection {
  /** As written after `# `, e.g. "Server". */
  name: string;
  fields: InfoFields;
}

/** The default INFO of one version: sections in order, each with its fields in order. */
export type InfoTemplate = InfoSection[];

/**
 * An INFO text (the bulk's payload) as sections of `key:value` fields, in order, as the
 * project's INFO parser (classify/info.ts) reads it.
 */
export function parseInfoText(text: string): InfoTemplate {
  const info = parseInfo(text);
  const sections = new Map<string, InfoFields>();
  for (const name of info.sections.keys()) sections.set(name, []);
  for (const e of info.entries) {
    if (e.section !== undefined) sections.get(e.section)?.push([e.key, e.value]);
  }
  return Array.from(sections, ([name, fields]) => ({ name, fields }));
}

/** The payload of a recorded INFO reply (a RESP bulk string), read by the reply decoder. */
function bulkPayload(reply: Buffer, fixture: string): string {
  const [value] = new ReplyDecoder({ maxBulkBytes: reply.length }).push(reply);
  if (value?.type !== "bulk" || value.value === null) {
    throw new Error(`${fixture}: the recorded INFO is not a bulk string`);
  }
  return value.value.toString("latin1");
}

/** data/replies: the recorded answers of real servers the personas' INFO comes from. */
const repliesDir = (): string => installedData("replies");

interface FixtureFile {
  probes: Array<{ probe: string; reply_b64: string }>;
}

const templates = new Map<string, InfoTemplate>();

/** The default INFO a recorded server answered (fixture name without `.json`). */
export function recordedInfo(fixture: string): InfoTemplate {
  let template = templates.get(fixture);
  if (template === undefined) {
    const file = path.join(repliesDir(), `${fixture}.json`);
    const data = JSON.parse(fs.readFileSync(file, "utf8")) as FixtureFile;
    const probe = data.probes.find((p) => p.probe === "info");
    if (probe === undefined) throw new Error(`${fixture}: no recorded INFO`);
    template = parseInfoText(bulkPayload(Buffer.from(probe.reply_b64, "base64"), fixture));
    templates.set(fixture, template);
  }
  return template.map((s) => ({ name: s.name, fields: s.fields.map(([k, v]) => [k, v]) }));
}

/** Changes that turn one version's INFO into a neighbour's. */
export interface InfoEdit {
  /** Fields that do not exist in the target version. */
  remove?: string[];
  /** Fields to add, each right after an existing one (or at the section start: after = "#Name"). */
  add?: Array<{ after: string; key: string; value: string }>;
  /** Renamed fields, old → new (Valkey's server_mode). */
  rename?: Record<string, string>;
  /** Constant values that differ (defaults, build facts). */
  set?: Record<string, string>;
  /** Sections to drop, and sections to add after an existing one. */
  removeSections?: string[];
  addSections?: Array<{ after: string; section: InfoSection }>;
}

export function applyInfoEdit(template: InfoTemplate, edit: InfoEdit): InfoTemplate {
  const drop = new Set(edit.remove ?? []);
  const dropSections = new Set(edit.removeSections ?? []);
  let out: InfoTemplate = template
    .filter((s) => !dropSections.has(s.name))
    .map((s) => ({
      name: s.name,
      fields: s.fields
        .filter(([k]) => !drop.has(k))
        .map(([k, v]): [string, string] => [edit.rename?.[k] ?? k, edit.set?.[k] ?? v]),
    }));
  for (const { after, key, value } of edit.add ?? []) {
    let placed = false;
    for (const s of out) {
      if (after === `#${s.name}`) {
        s.fields.unshift([key, value]);
        placed = true;
        break;
      }
      const i = s.fields.findIndex(([k]) => k === after);
      if (i >= 0) {
        s.fields.splice(i + 1, 0, [key, value]);
        placed = true;
        break;
      }
    }
    if (!placed) throw new Error(`INFO edit: no field ${after} to add ${key} after`);
  }
  for (const { after, section } of edit.addSections ?? []) {
    const i = out.findIndex((s) => s.name === after);
    if (i < 0) throw new Error(`INFO edit: no section ${after}`);
    out = [...out.slice(0, i + 1), section, ...out.slice(i + 1)];
  }
  return out;
}

/**
 * Keys whose value the persona computes at each call; every other key keeps the recorded (or
 * derived) value. The fidelity test compares the rest byte for byte with the recordings.
 */
export const VOLATILE_INFO_KEYS: ReadonlySet<string> = new Set([
  "os",
  "process_id",
  "run_id",
  "tcp_port",
  "server_time_usec",
  "uptime_in_seconds",
  "uptime_in_days",
  "lru_clock",
  "listener0",
  "connected_clients",
  "client_recent_max_input_buffer",
  "pubsub_clients",
  "used_memory",
  "used_memory_human",
  "used_memory_rss",
  "used_memory_rss_human",
  "used_memory_peak",
  "used_memory_peak_human",
  "used_memory_peak_perc",
  "used_memory_peak_time",
  "used_memory_overhead",
  "used_memory_dataset",
  "used_memory_dataset_perc",
  "allocator_allocated",
  "allocator_active",
  "allocator_resident",
  "allocator_frag_ratio",
  "allocator_frag_bytes",
  "allocator_rss_ratio",
  "allocator_rss_bytes",
  "rss_overhead_ratio",
  "rss_overhead_bytes",
  "mem_fragmentation_ratio",
  "mem_fragmentation_bytes",
  "total_system_memory",
  "total_system_memory_human",
  "rdb_changes_since_last_save",
  "rdb_last_save_time",
  "rdb_saves",
  "total_connections_received",
  "total_commands_processed",
  "instantaneous_ops_per_sec",
  "total_net_input_bytes",
  "total_net_output_bytes",
  "instantaneous_input_kbps",
  "instantaneous_output_kbps",
  "keyspace_hits",
  "keyspace_misses",
  "expired_keys",
  "pubsub_channels",
  "pubsub_patterns",
  "total_error_replies",
  "total_reads_processed",
  "total_writes_processed",
  "reply_buffer_shrinks",
  "reply_buffer_expands",
  "eventloop_cycles",
  "eventloop_duration_sum",
  "eventloop_duration_cmd_sum",
  "instantaneous_eventloop_cycles_per_sec",
  "instantaneous_eventloop_duration_usec",
  "master_replid",
  "master_replid2",
  "second_repl_offset",
  "used_cpu_sys",
  "used_cpu_user",
  "used_cpu_sys_children",
  "used_cpu_user_children",
  "used_cpu_sys_main_thread",
  "used_cpu_user_main_thread",
  "io_thread_0",
]);

/**
 * Sections whose lines are counters by name (errors, commands, latencies): both their lines and
 * values change as the server runs, so only their presence and place are fixed.
 */
export const VOLATILE_INFO_SECTIONS: ReadonlySet<string> = new Set([
  "Errorstats",
  "Commandstats",
  "Latencystats",
]);

/** Redis's bytesToHuman: B, then K/M/G/T/P with two decimals. */
export function bytesToHuman(n: number): string {
  const units = ["K", "M", "G", "T", "P"];
  if (n < 1024) return `${n}B`;
  let value = n / 1024;
  for (const unit of units) {
    if (value < 1024 || unit === "P") return `${value.toFixed(2)}${unit}`;
    value /= 1024;
  }
  return `${n}B`;
}

/** The sections INFO answers with, by what the client asked for. */
export interface InfoSelection {
  /** Lower-case names the client gave (empty: the default set). */
  names: string[];
}

/** Sections computed per call, by name; they replace the template's (or add missing ones). */
export type DynamicSections = Map<string, InfoFields>;

const EXTRA_SECTIONS_ALL = ["Commandstats", "Latencystats"];

/**
 * The canonical section order with the sections `all` adds: Commandstats before Errorstats
 * (or Cluster, or Keyspace where older versions have neither), Latencystats right after
 * Errorstats (7.0+).
 */
function allSectionNames(template: InfoTemplate, era: Era): string[] {
  const names = template.map((s) => s.name);
  const before = ["Errorstats", "Cluster", "Keyspace"].find((n) => names.includes(n));
  const at = before === undefined ? names.length : names.indexOf(before);
  names.splice(at, 0, "Commandstats");
  if (era.at("7.0")) {
    const errorstats = names.indexOf("Errorstats");
    names.splice(errorstats + 1, 0, "Latencystats");
  }
  return names;
}

/**
 * Which sections to write. Unknown names select nothing (INFO answers an empty bulk), as in
 * every version; `default`, `all` and `everything` are the keywords.
 */
export function selectSections(template: InfoTemplate, era: Era, sel: InfoSelection): string[] {
  const defaults = template.map((s) => s.name);
  if (sel.names.length === 0) return defaults;
  const every = allSectionNames(template, era);
  const wanted = new Set<string>();
  for (const n of sel.names) {
    if (n === "default") for (const d of defaults) wanted.add(d);
    else if (n === "all" || (n === "everything" && era.at("7.0"))) {
      for (const d of every) wanted.add(d);
    } else {
      const match = every.find((s) => s.toLowerCase() === n);
      if (match !== undefined) wanted.add(match);
    }
  }
  return every.filter((s) => wanted.has(s));
}

/**
 * The INFO text: each selected section as `# Name` and its fields, sections separated by a
 * blank line, every line CRLF-ended (genRedisInfoString's layout).
 */
export function renderInfo(
  template: InfoTemplate,
  sections: string[],
  live: ReadonlyMap<string, string>,
  dynamic: DynamicSections,
): string {
  let out = "";
  let first = true;
  for (const name of sections) {
    if (!EXTRA_SECTIONS_ALL.includes(name) && !template.some((s) => s.name === name)) continue;
    const fields = dynamic.get(name) ?? template.find((s) => s.name === name)?.fields ?? [];
    if (!first) out += "\r\n";
    first = false;
    out += `# ${name}\r\n`;
    for (const [k, v] of fields) out += `${k}:${live.get(k) ?? v}\r\n`;
  }
  return out;
}

/**
 * Derivations for the lines no recorded build covers (only 8.2 today: the mirror's newest
 * Redis is 8.0-m01), from the nearest recording (research notes in versions.md §4).
 */
export const DERIVED_INFO: Record<string, { from: string; edit: InfoEdit }> = {
  // 8.x: the new I/O threads (# Threads), replica full-sync buffer, peak time, # Keysizes.
  "8.2": {
    from: "redis-7.4.1-open",
    edit: {
      add: [
        { after: "used_memory_peak_human", key: "used_memory_peak_time", value: "0" },
        { after: "mem_total_replication_buffers", key: "mem_replica_full_sync_buffer", value: "0" },
        { after: "rdb_saves", key: "rdb_saves_consecutive_failures", value: "0" },
        { after: "expired_subkeys", key: "expired_subkeys_active", value: "0" },
        { after: "expired_keys", key: "expired_keys_active", value: "0" },
        {
          after: "io_threaded_writes_processed",
          key: "io_threaded_total_prefetch_batches",
          value: "0",
        },
        {
          after: "io_threaded_total_prefetch_batches",
          key: "io_threaded_total_prefetch_entries",
          value: "0",
        },
        { after: "acl_access_denied_channel", key: "acl_access_denied_tls_cert", value: "0" },
      ],
      set: { redis_git_dirty: "0", redis_build_id: "7b5f7a8d6c3e2b19", gcc_version: "12.2.0" },
      addSections: [
        {
          after: "Persistence",
          section: { name: "Threads", fields: [["io_thread_0", "clients=1,reads=1,writes=1"]] },
        },
        { after: "Keyspace", section: { name: "Keysizes", fields: [] } },
      ],
    },
  },
};
