/** getSafeInfoString: a name INFO prints with `#`, `:`, CR and LF made `_`. */
function safeInfoName(name: string): string {
  return name.replace(/[#:\r\n]/g, "_");
}

/** What one writeToClient sends at most (NET_MAX_WRITES_PER_EVENT). */
const WRITE_PER_TURN = 64 * 1024;

/** INFO errorstats: error codes kept apart, and the length of each kept. */
const MAX_ERROR_CODES = 128;
const MAX_ERROR_CODE_CHARS = 128;

/**
 * A persona instance: the server a listener pretends to be, from its catalogue entry. It
 * "started" some random time ago, with its own run_id, pid, memory and counters, shared by
 * every session of one listener (INFO's connected_clients and total_connections_received count
 * the listener's real sessions, on top of simulated background traffic). INFO is rendered here
 * from that identity and those counters; CONFIG's defaults come from config.ts.
 */
import { randomBytes } from "node:crypto";
import type { AuthMode } from "../types.js";
import { type CatalogueEntry, catalogueEntry, inLine, type PersonaLine } from "./catalogue.js";
import {
  DefaultConfigs,
  type Layout,
  type LayoutPaths,
  layoutPaths,
  type SessionConfig,
} from "./config.js";
import { Era, type Product } from "./era.js";
import {
  applyInfoEdit,
  bytesToHuman,
  DERIVED_INFO,
  type DynamicSections,
  type InfoFields,
  type InfoSelection,
  type InfoTemplate,
  parseInfoText,
  recordedInfo,
  renderInfo,
  selectSections,
} from "./info.js";
import { type Recording, recording, recordingFor } from "./tables.js";

export interface PersonaOptions {
  /** Exact version to claim, e.g. "7.0.15" (Valkey: its own version). Must be in the line. */
  version?: string;
  /**
   * Password mode only: AUTH with exactly this password succeeds, so an operator can let attack
   * chains run past a known weak password. Without it no password works, as on a server whose
   * password nobody has guessed.
   */
  acceptPassword?: string;
  /** Install layout (paths in INFO and CONFIG); each line has a usual one. */
  layout?: Layout;
  /** Pin single paths and the `os` line (tests pin them to a recording's). */
  dir?: string;
  executable?: string;
  configFile?: string;
  os?: string;
  /** INFO's redis_build_id: a build's own hash (tests pin the recorded build's). */
  buildId?: string;
  /** Randomness for the instance's identity and counters (tests can make it repeatable). */
  random?: () => number;
  /** Clock, in ms since the epoch. */
  now?: () => number;
  /**
   * Claim a server that has just started: up since the persona was made, with no traffic
   * before the honeypot's own (client ids from 3, as a fresh server numbers them). By default
   * a persona claims hours to months of uptime and the background traffic that goes with it.
   */
  fresh?: boolean;
  /**
   * CONFIG values the server was started with (its command line or config file), over the
   * version's and the layout's defaults; names the version does not have are ignored. Tests pin
   * a recorded server's launch (`save ""`, `bind 127.0.0.1`, no log or pid file).
   */
  config?: Readonly<Record<string, string>>;
}

/** What INFO shows of one session's world: the keyspace and state it changed. */
export interface SessionView {
  now: number;
  port: number;
  /** Bytes held by the session's keyspace. */
  datasetBytes: number;
  keyspace: Array<{ db: number; keys: number; expires: number; avgTtl: number }>;
  /** Writes since the last SAVE. */
  dirty: number;
  /** When the session last saved (ms), if it did. */
  lastSave?: number;
  saves: number;
  channels: number;
  patterns: number;
  config: SessionConfig;
  replication: ReplicationState;
  /** Commands the asking connection ran before this one (its query buffer's state). */
  connectionCommands?: number;
}

/** A connected session as the persona counts it: live while it spoke recently. */
export interface Liveness {
  /** When it was accepted or last sent a command (ms). */
  readonly lastCommandAt: number;
}

export interface ReplicationState {
  /** The master SLAVEOF/REPLICAOF pointed at, while replicating. */
  master?: { host: string; port: number };
  /** The link's phase while the server follows the SLAVEOF (payload capture on). */
  link?: "connecting" | "handshake" | "transfer" | "down";
  /** What the link kept, where the replica saved it (dir/dbfilename when it arrived). */
  payload?: { path: string; sha256: string; bytes: number; module?: string; commands: string[] };
  replid: string;
  replid2: string;
  secondReplOffset: number;
}

/** Per-command counters as INFO commandstats shows them. */
interface CommandStat {
  calls: number;
  usec: number;
  rejected: number;
  failed: number;
}

/** Plausible kernels of hosts that run exposed Redis (cloud images, 2016–2025). */
const KERNELS = [
  "Linux 3.10.0-1160.119.1.el7.x86_64 x86_64",
  "Linux 4.15.0-213-generic x86_64",
  "Linux 4.18.0-553.8.1.el8_10.x86_64 x86_64",
  "Linux 5.4.0-190-generic x86_64",
  "Linux 5.10.0-30-amd64 x86_64",
  "Linux 5.15.0-117-generic x86_64",
  "Linux 6.1.0-23-cloud-amd64 x86_64",
  "Linux 6.8.0-1012-aws x86_64",
];

/** Kernels old enough to be what an old release ran on. */
function kernelsFor(era: Era): string[] {
  if (era.before("4.0")) return KERNELS.slice(0, 4);
  if (era.before("6.0")) return KERNELS.slice(0, 6);
  return KERNELS.slice(3);
}

const GIB = 1024 ** 3;

/** How long a session that sends nothing still counts as connected (above server idle timeouts). */
const LIVE_WINDOW_MS = 15 * 60_000;

export class Persona {
  readonly name: string;
  readonly auth: AuthMode;
  readonly era: Era;
  readonly product: Product;
  /** The product's version (Valkey's own for Valkey). */
  readonly version: string;
  readonly acceptPassword?: string;
  /** Where the claimed build comes from (a distribution's package, a container, source). */
  readonly layout: Layout;
  readonly paths: LayoutPaths;
  /** What the real server of this version said about itself (tables.ts), if recorded. */
  readonly recording: Recording | undefined;
  private readonly buildId: string | undefined;
  readonly os: string;
  readonly runId: string;
  readonly processId: number;
  readonly masterReplid: string;
  /** When the make-believe server started (ms). */
  readonly startedAt: number;
  readonly now: () => number;

  private readonly random: () => number;
  private readonly configs: DefaultConfigs;
  private readonly template: InfoTemplate;
  private readonly systemMemory: number;
  private readonly memoryOverhead: number;
  private readonly memoryDataset: number;
  private readonly rssBase: number;
  private readonly fragmentation: number;
  /** Share of the background traffic (scanners, clients) that got an error reply. */
  private readonly errorRate: number;
  private readonly driftPhase: number;
  private readonly cpuRates: [number, number, number, number];
  private readonly commandRate: number;
  private readonly connectionRate: number;
  private peakMemory = 0;

  /**
   * Live sessions (connected_clients) by when they last spoke, and what every session so far
   * has added up to.
   */
  private readonly live = new Set<Liveness>();
  private connectionsSeen = 0;
  /** Client ids the server took for clients of its own since it started (internalClient). */
  private internalClients = 0;
  private commandsSeen = 0;
  private netIn = 0;
  private netOut = 0;
  private reads = 0;
  private writes = 0;
  private hits = 0;
  private misses = 0;
  private expired = 0;
  /** CONFIG RESETSTAT: uptime (s) and connections received when the statistics were reset. */
  private statsSince = 0;
  private connectionsAtReset = 0;
  private readonly errors = new Map<string, number>();
  private errorReplies = 0;
  private readonly commandStats = new Map<string, CommandStat>();

  constructor(entry: CatalogueEntry, opts: PersonaOptions) {
    const { line, auth } = entry;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.name = entry.name;
    this.auth = auth;
    this.product = line.product;
    this.version = opts.version ?? line.version;
    this.era = new Era(line.product, this.version);
    if (opts.version !== undefined && !inLine(line, opts.version)) {
      throw new RangeError(`${this.name}: version ${opts.version} is not in the ${line.id} line`);
    }
    const recorded = recordingFor(line.product, this.version);
    this.recording = recorded === undefined ? undefined : recording(recorded);
    if (opts.acceptPassword !== undefined) {
      if (auth !== "password") throw new RangeError("acceptPassword applies to password personas");
      this.acceptPassword = opts.acceptPassword;
    }
    const layoutName = opts.layout ?? line.layout;
    const layout = layoutPaths(layoutName, this.era);
    this.layout = layoutName;
    if (opts.buildId !== undefined) this.buildId = opts.buildId;
    this.paths = {
      ...layout,
      dir: opts.dir ?? layout.dir,
      executable: opts.executable ?? layout.executable,
      configFile: opts.configFile ?? layout.configFile,
    };
    const kernels = kernelsFor(this.era);
    this.os = opts.os ?? kernels[Math.floor(this.random() * kernels.length)]!;
    this.runId = this.hex(40);
    this.masterReplid = this.hex(40);
    // Containers run the server as pid 1 … 30; hosts give it a pid from a long boot.
    this.processId = layoutName === "docker" ? 1 : 400 + Math.floor(this.random() * 60_000);
    // Up between 3 hours and 120 days: exposed servers are rarely fresh.
    const uptime = opts.fresh ? 0 : Math.floor((3 * 3600 + this.random() * 120 * 86400) * 1000);
    this.startedAt = this.now() - uptime;
    this.systemMemory =
      [2, 4, 8, 16, 32, 64][Math.floor(this.random() * 6)]! * GIB - 180 * 1024 ** 2;
    // RSS is the binary, its libraries and allocator arenas (MBs) plus the heap's pages.
    this.rssBase = Math.floor((2.5 + this.random() * 7) * 1024 * 1024);
    this.fragmentation = 1.02 + this.random() * 0.12;
    this.driftPhase = this.random() * Math.PI * 2;
    // Children (fork) CPU stays 0: with an empty dataset the save points never fire.
    this.cpuRates = [0.0004 + this.random() * 0.002, 0.0003 + this.random() * 0.0015, 0, 0];
    this.errorRate = 0.005 + this.random() * 0.03;
    this.commandRate = opts.fresh ? 0 : 0.02 + this.random() * 0.4;
    this.connectionRate = opts.fresh ? 0 : 0.001 + this.random() * 0.02;

    // What CONFIG GET requirepass shows once authenticated (only possible with acceptPassword).
    const requirepass = auth === "password" ? (this.acceptPassword ?? this.hex(24)) : "";
    if (this.recording === undefined) {
      throw new RangeError(`${this.name}: no recorded server of ${line.product} ${this.version}`);
    }
    this.configs = new DefaultConfigs(
      this.recording,
      this.era,
      this.paths,
      auth,
      requirepass,
      opts.config,
    );
    this.template = this.buildTemplate(line);
    // Memory at rest: the recording's overhead (server structures, buffers) give or take a
    // little, and a dataset of a few KB (an exposed server that holds nothing of note).
    const used = Number(this.templateValue("used_memory") ?? "900000");
    const overhead = Number(this.templateValue("used_memory_overhead") ?? String(used));
    this.memoryOverhead = Math.round(overhead * (1 + this.random() * 0.08));
    this.memoryDataset = Math.max(0, used - overhead) + Math.floor(this.random() * 24) * 1024;
  }

  /**
   * A session began (total_connections_received, connected_clients). Returns its client id:
   * a real server numbers its clients in the order they connect, after the ids its own fake
   * clients took at startup (measured: one before 4.0, three on 6.0, two otherwise) and since
   * (see internalClient), so the first visitor of a fresh 7.0 is id 3.
   */
  attach(session: Liveness): number {
    this.prune();
    this.live.add(session);
    this.connectionsSeen++;
    return this.connectionsReceived(this.now()) + this.startupClientIds() + this.internalClients;
  }

  private startupClientIds(): number {
    const era = this.era;
    if (era.before("4.0")) return 1;
    return !era.keydb && !era.valkey && era.at("6.0") && era.before("6.2") ? 3 : 2;
  }

  /**
   * The server created a client of its own (a fake one, not a connection): it takes the next
   * client id, so later visitors' ids skip one. 4.0+ does so when a master becomes a replica
   * (replicationCacheMasterUsingMyself's cached master).
   */
  internalClient(): void {
    this.internalClients++;
  }

  /** INFO total_connections_received: the background's and the sessions'. */
  private connectionsReceived(now: number): number {
    return Math.floor(this.uptimeSeconds(now) * this.connectionRate) + this.connectionsSeen;
  }

  /** The session's connection closed. */
  detach(session: Liveness): void {
    this.live.delete(session);
  }

  /**
   * Sessions that are connected, at least the asking one. One silent for longer than any idle
   * timeout is dropped even if nobody told the persona it ended, so a server that forgets to
   * end sessions costs neither memory nor a client count that only grows.
   */
  get connectedClients(): number {
    this.prune();
    return Math.max(1, this.live.size);
  }

  private prune(): void {
    const cutoff = this.now() - LIVE_WINDOW_MS;
    for (const session of this.live) if (session.lastCommandAt < cutoff) this.live.delete(session);
  }

  /**
   * 7.0+ with latency-tracking on (the default): each command that ran keeps a latency
   * histogram (hdr_init from 1 ns to 1 s at 2 significant figures: 3072 counters of 8 bytes and
   * the header, about 24.7 KB measured on 7.0 and 7.4), which used_memory counts as dataset.
   * A server that served a few hundred kinds of command holds megabytes of them.
   */
  private histograms(view: SessionView): number {
    if (!this.era.at("7.0") || view.config.get("latency-tracking") === "no") return 0;
    let n = 0;
    for (const s of this.commandStats.values()) if (s.calls > 0) n++;
    return n * 24_688;
  }

  /** Count one executed command (INFO total_commands_processed, commandstats). */
  countCommand(name: string, usec: number, failed: boolean): void {
    this.commandsSeen++;
    const stat = this.stat(name);
    stat.calls++;
    stat.usec += usec;
    if (failed) stat.failed++;
  }

  /** A command refused before it ran (arity, NOAUTH, OOM …): commandstats rejected_calls. */
  countRejected(name: string): void {
    this.stat(name).rejected++;
  }

  countError(code: string): void {
    this.errorReplies++;
    // A script can make up error codes: only so many are kept apart (all are counted).
    const name = code.slice(0, MAX_ERROR_CODE_CHARS);
    const seen = this.errors.get(name);
    if (seen !== undefined || this.errors.size < MAX_ERROR_CODES)
      this.errors.set(name, (seen ?? 0) + 1);
  }

  /** A read from a client's socket (INFO total_net_input_bytes, total_reads_processed). */
  countRead(bytes: number): void {
    this.netIn += bytes;
    this.reads++;
  }

  /**
   * Replies written to a client's socket (total_net_output_bytes, total_writes_processed). Redis
   * writes a client's replies in one writeToClient per event-loop turn, which stops after
   * NET_MAX_WRITES_PER_EVENT (64 KB) and goes on at the next.
   */
  countWrite(bytes: number): void {
    this.netOut += bytes;
    this.writes += Math.max(1, Math.ceil(bytes / WRITE_PER_TURN));
  }

  countLookup(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }

  countExpired(n: number): void {
    this.expired += n;
  }

  /**
   * CONFIG RESETSTAT (resetServerStats, and the command and error tables): every counter INFO
   * shows starts again from zero. Client ids go on (they are not a statistic).
   */
  resetStats(now: number): void {
    this.statsSince = this.uptimeSeconds(now);
    this.connectionsAtReset = this.connectionsReceived(now);
    this.commandsSeen = 0;
    this.netIn = 0;
    this.netOut = 0;
    this.reads = 0;
    this.writes = 0;
    this.hits = 0;
    this.misses = 0;
    this.expired = 0;
    this.errorReplies = 0;
    this.errors.clear();
    this.commandStats.clear();
  }

  /** Seconds of simulated background traffic the statistics cover (since start or RESETSTAT). */
  private statsUptime(now: number): number {
    return Math.max(0, this.uptimeSeconds(now) - this.statsSince);
  }

  /** The config a new session on this listener port starts from. */
  config(port: number): SessionConfig {
    return this.configs.forPort(port);
  }

  /** INFO text for a session, with the sections it asked for. */
  info(view: SessionView, selection: InfoSelection): string {
    const sections = selectSections(this.template, this.era, selection);
    return renderInfo(this.template, sections, this.liveValues(view), this.dynamicSections(view));
  }

  /**
   * Error replies by code: the background traffic's (scanners' unknown commands and wrong
   * arguments are ERR; a password persona also answered NOAUTH) plus the sessions' own.
   */
  private errorCounts(statsUp: number): Map<string, number> {
    const counts = new Map(this.errors);
    const background = this.backgroundErrors(statsUp);
    if (background > 0) {
      const noauth = this.auth === "password" ? Math.floor(background * 0.7) : 0;
      counts.set("ERR", (counts.get("ERR") ?? 0) + background - noauth);
      if (noauth > 0) counts.set("NOAUTH", (counts.get("NOAUTH") ?? 0) + noauth);
    }
    return counts;
  }

  /** Error replies of the simulated background traffic over `up` seconds. */
  private backgroundErrors(up: number): number {
    return Math.floor(up * this.commandRate * this.errorRate);
  }

  private stat(name: string): CommandStat {
    let stat = this.commandStats.get(name);
    if (stat === undefined) {
      stat = { calls: 0, usec: 0, rejected: 0, failed: 0 };
      this.commandStats.set(name, stat);
    }
    return stat;
  }

  private hex(chars: number): string {
    if (this.random === Math.random) return randomBytes(chars / 2).toString("hex");
    let out = "";
    for (let i = 0; i < chars; i++) out += Math.floor(this.random() * 16).toString(16);
    return out;
  }

  private uptimeSeconds(now: number): number {
    return Math.max(0, Math.floor((now - this.startedAt) / 1000));
  }

  private buildTemplate(line: PersonaLine): InfoTemplate {
    let template: InfoTemplate;
    if ("fixture" in line.info) {
      template = recordedInfo(line.info.fixture);
    } else if ("table" in line.info) {
      template = parseInfoText(recording(line.info.table).info);
    } else {
      const derived = DERIVED_INFO[line.info.derived]!;
      template = applyInfoEdit(recordedInfo(derived.from), derived.edit);
    }
    const fixed: Record<string, string> = {
      executable: this.paths.executable,
      config_file: this.paths.configFile,
    };
    if (this.buildId !== undefined) fixed.redis_build_id = this.buildId;
    // Tables were recorded bound to loopback; the persona listens as the default bind does.
    if ("table" in line.info) fixed.listener0 = "name=tcp,bind=*,bind=-::*,port=6379";
    if (this.era.valkey) fixed.valkey_version = this.version;
    else fixed.redis_version = this.version;
    for (const s of template) {
      s.fields = s.fields.map(([k, v]): [string, string] => [k, fixed[k] ?? v]);
    }
    return template;
  }

  /**
   * INFO client_recent_max_input_buffer as the asking connection leaves it (measured on the
   * recorded servers): the query buffer a fresh connection's request took, by version and
   * allocator, a little more from its second request on where the buffer grew; none from
   * Valkey 8 (a shared query buffer).
   */
  private recentInputBuffer(commandsBefore: number): number {
    const era = this.era;
    const later = commandsBefore > 0;
    if (era.valkey8) return 0;
    if (era.at("7.0")) return this.jemalloc ? 20480 : later ? 16408 : 16392;
    if (era.at("6.2") || era.keydb) return later ? 48 : 64;
    if (era.at("6.0")) return 24;
    return 2;
  }

  /** INFO's mem_allocator is jemalloc (Debian's and the official builds), not libc. */
  get jemalloc(): boolean {
    return (this.templateValue("mem_allocator") ?? "jemalloc").startsWith("jemalloc");
  }

  private templateValue(key: string): string | undefined {
    for (const s of this.template) {
      const f = s.fields.find(([k]) => k === key);
      if (f !== undefined) return f[1];
    }
    return undefined;
  }

  /** Values computed at this call for the keys in VOLATILE_INFO_KEYS (and config echoes). */
  private liveValues(view: SessionView): Map<string, string> {
    const now = view.now;
    const up = this.uptimeSeconds(now);
    const live = new Map<string, string>();
    const set = (k: string, v: string | number): void => {
      live.set(k, String(v));
    };
    const clients = this.connectedClients;

    set("os", this.os);
    set("process_id", this.processId);
    set("run_id", this.runId);
    set("tcp_port", view.port);
    set("server_time_usec", now * 1000 + Math.floor(this.random() * 1000));
    set("uptime_in_seconds", up);
    set("uptime_in_days", Math.floor(up / 86400));
    set("lru_clock", Math.floor(now / 1000) & 0xffffff);
    const listener = this.templateValue("listener0");
    if (listener !== undefined) set("listener0", listener.replace(/port=\d+/, `port=${view.port}`));
    set("connected_clients", clients);
    set("client_recent_max_input_buffer", this.recentInputBuffer(view.connectionCommands ?? 0));
    set("pubsub_clients", view.channels + view.patterns > 0 ? 1 : 0);

    // Memory: overhead grows with clients; the dataset breathes slowly (allocator churn) and
    // holds what the session stored.
    const drift =
      Math.round(375 * (1 + Math.sin(now / 97_000 + this.driftPhase))) * 8 +
      Math.floor(this.random() * 64) * 8;
    const overhead = this.memoryOverhead + (clients - 1) * 20_512;
    // used_memory sums allocations, which jemalloc and libc hand out in multiples of 8.
    const used =
      Math.round(
        (overhead + this.memoryDataset + drift + view.datasetBytes * 1.6 + this.histograms(view)) /
          8,
      ) * 8;
    const dataset = used - overhead;
    this.peakMemory = Math.max(this.peakMemory, used + 24_576);
    const peak = this.peakMemory;
    const rss = Math.ceil((this.rssBase + used * this.fragmentation) / 4096) * 4096;
    const startup = Number(this.templateValue("used_memory_startup") ?? "0");
    const allocated = used + 3 * 4096;
    const active = Math.ceil((allocated * 1.04) / 4096) * 4096;
    const resident = Math.min(rss, active + Math.floor(((rss - active) * 0.6) / 4096) * 4096);
    set("used_memory", used);
    set("used_memory_human", bytesToHuman(used));
    set("used_memory_rss", rss);
    set("used_memory_rss_human", bytesToHuman(rss));
    set("used_memory_peak", peak);
    set("used_memory_peak_human", bytesToHuman(peak));
    set("used_memory_peak_perc", `${((used * 100) / peak).toFixed(2)}%`);
    set("used_memory_peak_time", Math.floor(this.startedAt / 1000) + 60);
    set("used_memory_overhead", overhead);
    set("used_memory_dataset", dataset);
    set(
      "used_memory_dataset_perc",
      `${((dataset * 100) / Math.max(1, used - startup)).toFixed(2)}%`,
    );
    set("allocator_allocated", allocated);
    set("allocator_active", active);
    set("allocator_resident", resident);
    set("allocator_frag_ratio", (active / allocated).toFixed(2));
    set("allocator_frag_bytes", active - allocated);
    set("allocator_rss_ratio", (resident / active).toFixed(2));
    set("allocator_rss_bytes", resident - active);
    set("rss_overhead_ratio", (rss / resident).toFixed(2));
    set("rss_overhead_bytes", rss - resident);
    set("mem_fragmentation_ratio", (rss / used).toFixed(2));
    set("mem_fragmentation_bytes", rss - used);
    set("total_system_memory", this.systemMemory);
    set("total_system_memory_human", bytesToHuman(this.systemMemory));
    const maxmemory = Number(view.config.get("maxmemory") ?? "0");
    set("maxmemory", maxmemory);
    set("maxmemory_human", bytesToHuman(maxmemory));
    set("maxmemory_policy", view.config.get("maxmemory-policy") ?? "noeviction");

    set("rdb_changes_since_last_save", view.dirty);
    set("rdb_last_save_time", Math.floor((view.lastSave ?? this.startedAt) / 1000));
    set("rdb_saves", view.saves);

    const statsUp = this.statsUptime(now);
    const background = Math.floor(statsUp * this.commandRate);
    const commands = background + this.commandsSeen;
    const backgroundConnections = Math.floor(statsUp * this.connectionRate);
    set("total_connections_received", this.connectionsReceived(now) - this.connectionsAtReset);
    set("total_commands_processed", commands);
    set("instantaneous_ops_per_sec", Math.floor(this.random() * 3));
    set("total_net_input_bytes", background * 31 + this.netIn);
    set("total_net_output_bytes", background * 740 + this.netOut);
    set("instantaneous_input_kbps", (this.random() * 0.05).toFixed(2));
    set("instantaneous_output_kbps", (this.random() * 0.05).toFixed(2));
    set("keyspace_hits", this.hits);
    set("keyspace_misses", Math.floor(background * this.errorRate * 0.1) + this.misses);
    set("expired_keys", this.expired);
    set("pubsub_channels", view.channels);
    set("pubsub_patterns", view.patterns);
    set("total_error_replies", this.errorReplies + this.backgroundErrors(statsUp));
    set("total_reads_processed", background + backgroundConnections + this.reads);
    set("total_writes_processed", background + this.writes);
    set("reply_buffer_shrinks", Math.floor(up / 40));
    set("reply_buffer_expands", Math.floor(up / 900));
    const cycles = up * 10 + commands;
    set("eventloop_cycles", cycles);
    set("eventloop_duration_sum", cycles * 23);
    set("eventloop_duration_cmd_sum", commands * 4);
    set("instantaneous_eventloop_cycles_per_sec", 9 + Math.floor(this.random() * 3));
    set("instantaneous_eventloop_duration_usec", 15 + Math.floor(this.random() * 40));
    set("master_replid", view.replication.replid);
    set("master_replid2", view.replication.replid2);
    set("second_repl_offset", view.replication.secondReplOffset);

    // CPU seconds: ≤ 4.0 print two decimals, 5.0+ microseconds.
    const cpu = (rate: number): string =>
      this.era.at("5.0") ? (up * rate).toFixed(6) : (up * rate).toFixed(2);
    const [sys, user, sysChildren, userChildren] = this.cpuRates;
    set("used_cpu_sys", cpu(sys));
    set("used_cpu_user", cpu(user));
    set("used_cpu_sys_children", cpu(sysChildren));
    set("used_cpu_user_children", cpu(userChildren));
    set("used_cpu_sys_main_thread", cpu(sys * 0.97));
    set("used_cpu_user_main_thread", cpu(user * 0.98));
    set(
      "io_thread_0",
      `clients=${clients},reads=${live.get("total_reads_processed")},writes=${live.get("total_writes_processed")}`,
    );
    return live;
  }

  private dynamicSections(view: SessionView): DynamicSections {
    const dynamic: DynamicSections = new Map();
    const subexpiry = this.era.at("7.4") && !this.era.valkey;
    dynamic.set(
      "Keyspace",
      view.keyspace.map(({ db, keys, expires, avgTtl }): [string, string] => [
        `db${db}`,
        // KeyDB adds the keys held in memory (all of them without FLASH storage).
        `keys=${keys},expires=${expires},avg_ttl=${avgTtl}${subexpiry ? ",subexpiry=0" : ""}` +
          (this.era.keydb ? `,cached_keys=${keys}` : ""),
      ]),
    );
    const errorstats: InfoFields = [];
    const counts = this.errorCounts(this.statsUptime(view.now));
    for (const [code, count] of [...counts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      errorstats.push([`errorstat_${safeInfoName(code)}`, `count=${count}`]);
    }
    dynamic.set("Errorstats", errorstats);
    const commandstats: InfoFields = [];
    const latencystats: InfoFields = [];
    for (const [name, s] of this.commandStats) {
      const perCall = s.calls > 0 ? s.usec / s.calls : 0;
      const tail = this.era.at("6.2")
        ? `,rejected_calls=${s.rejected},failed_calls=${s.failed}`
        : "";
      commandstats.push([
        `cmdstat_${name}`,
        `calls=${s.calls},usec=${s.usec},usec_per_call=${perCall.toFixed(2)}${tail}`,
      ]);
      if (s.calls > 0) {
        const p = (f: number): string => (perCall * f).toFixed(3);
        latencystats.push([
          `latency_percentiles_usec_${name}`,
          `p50=${p(1)},p99=${p(2.1)},p99.9=${p(2.1)}`,
        ]);
      }
    }
    dynamic.set("Commandstats", commandstats);
    dynamic.set("Latencystats", latencystats);
    const replication = this.replicationFields(view);
    if (replication !== undefined) dynamic.set("Replication", replication);
    return dynamic;
  }

  /** A replica's Replication section (after SLAVEOF host port), else undefined (the template's). */
  private replicationFields(view: SessionView): InfoFields | undefined {
    const master = view.replication.master;
    if (master === undefined) return undefined;
    const section = this.template.find((s) => s.name === "Replication");
    if (section === undefined) return undefined;
    const now = Math.floor(view.now / 1000);
    const replica: InfoFields = [
      ["role", "slave"],
      ["master_host", master.host],
      ["master_port", String(master.port)],
      ["master_link_status", "down"],
      ["master_last_io_seconds_ago", "-1"],
      ["master_sync_in_progress", view.replication.link === "transfer" ? "1" : "0"],
    ];
    if (this.era.at("7.0")) replica.push(["slave_read_repl_offset", "0"]);
    replica.push(["slave_repl_offset", this.era.at("7.0") ? "0" : "1"]);
    replica.push(["master_link_down_since_seconds", this.era.at("7.0") ? "-1" : String(now)]);
    replica.push(["slave_priority", "100"], ["slave_read_only", "1"]);
    if (this.era.at("6.2")) replica.push(["replica_announced", "1"]);
    return [...replica, ...section.fields.filter(([k]) => k !== "role")];
  }
}

/** A persona instance by name (see PERSONAS). */
export function persona(name: string, opts: PersonaOptions = {}): Persona {
  return new Persona(catalogueEntry(name), opts);
}
