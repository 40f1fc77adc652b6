/**
 * CONFIG as a persona keeps it: the defaults of the version (and of the install layout), the
 * validation CONFIG SET applies, and the directories `CONFIG SET dir` finds. Nothing here
 * touches the real filesystem: the directory list is made up to be what a typical Linux host
 * with Redis has, so file-write chains (ssh, cron, webshell) proceed as they would there.
 */
import path from "node:path";
import type { AuthMode } from "../types.js";
import type { Era } from "./era.js";
import type { Recording } from "./tables.js";

/** Where the server was installed from: it decides paths that INFO and CONFIG GET show. */
export type Layout = "debian" | "docker" | "source";

export interface LayoutPaths {
  executable: string;
  configFile: string;
  dir: string;
  logfile: string;
  pidfile: string;
  daemonize: "yes" | "no";
}

export function layoutPaths(layout: Layout, era: Era): LayoutPaths {
  const bin = era.valkey ? "valkey-server" : era.keydb ? "keydb-server" : "redis-server";
  switch (layout) {
    case "debian":
      return {
        executable: `/usr/bin/${bin}`,
        configFile: era.valkey ? "/etc/valkey/valkey.conf" : "/etc/redis/redis.conf",
        dir: era.valkey ? "/var/lib/valkey" : "/var/lib/redis",
        logfile: era.valkey
          ? "/var/log/valkey/valkey-server.log"
          : "/var/log/redis/redis-server.log",
        pidfile: era.valkey ? "/run/valkey/valkey-server.pid" : "/run/redis/redis-server.pid",
        daemonize: era.before("5.0") ? "yes" : "no",
      };
    case "docker":
      return {
        executable: `/usr/local/bin/${bin}`,
        // The KeyDB image starts keydb-server with its own config file.
        configFile: era.keydb ? "/etc/keydb/keydb.conf" : "",
        dir: "/data",
        logfile: "",
        pidfile: "",
        daemonize: "no",
      };
    case "source":
      return {
        executable: `/usr/local/bin/${bin}`,
        configFile: "/etc/redis/6379.conf",
        dir: "/var/lib/redis/6379",
        logfile: "/var/log/redis_6379.log",
        pidfile: "/var/run/redis_6379.pid",
        daemonize: "yes",
      };
  }
}

type Kind = "bool" | "int" | "memory" | "enum" | "string";

/**
 * How CONFIG SET checks a value of the common parameters (every other one takes any text, and a
 * recorded yes/no one is a bool). Which parameters exist, their order and their defaults come
 * from the recording of the version (tables.ts); this only says how a value is validated.
 */
const KINDS: Record<string, Kind> = {
  "acllog-max-len": "int",
  "active-defrag-cycle-max": "int",
  "active-defrag-cycle-min": "int",
  "active-defrag-ignore-bytes": "memory",
  "active-defrag-max-scan-fields": "int",
  "active-defrag-threshold-lower": "int",
  "active-defrag-threshold-upper": "int",
  "active-expire-effort": "int",
  activedefrag: "bool",
  activerehashing: "bool",
  "always-show-logo": "bool",
  "aof-disable-auto-gc": "bool",
  "aof-load-truncated": "bool",
  "aof-rewrite-incremental-fsync": "bool",
  "aof-timestamp-enabled": "bool",
  "aof-use-rdb-preamble": "bool",
  appendfsync: "enum",
  appendonly: "bool",
  "auto-aof-rewrite-min-size": "memory",
  "auto-aof-rewrite-percentage": "int",
  "busy-reply-threshold": "int",
  "client-query-buffer-limit": "memory",
  "cluster-allow-pubsubshard-when-down": "bool",
  "cluster-allow-reads-when-down": "bool",
  "cluster-allow-replica-migration": "bool",
  "cluster-announce-bus-port": "int",
  "cluster-announce-port": "int",
  "cluster-announce-tls-port": "int",
  "cluster-enabled": "bool",
  "cluster-link-sendbuf-limit": "memory",
  "cluster-migration-barrier": "int",
  "cluster-node-timeout": "int",
  "cluster-port": "int",
  "cluster-replica-no-failover": "bool",
  "cluster-replica-validity-factor": "int",
  "cluster-require-full-coverage": "bool",
  "cluster-slave-no-failover": "bool",
  "cluster-slave-validity-factor": "int",
  "crash-log-enabled": "bool",
  "crash-memcheck-enabled": "bool",
  daemonize: "bool",
  databases: "int",
  "disable-thp": "bool",
  "dynamic-hz": "bool",
  "enable-debug-command": "enum",
  "enable-module-command": "enum",
  "enable-protected-configs": "enum",
  "hash-max-listpack-entries": "int",
  "hash-max-listpack-value": "int",
  "hash-max-ziplist-entries": "int",
  "hash-max-ziplist-value": "int",
  "hll-sparse-max-bytes": "int",
  hz: "int",
  "io-threads": "int",
  "io-threads-do-reads": "bool",
  "jemalloc-bg-thread": "bool",
  "latency-monitor-threshold": "int",
  "latency-tracking": "bool",
  "lazyfree-lazy-eviction": "bool",
  "lazyfree-lazy-expire": "bool",
  "lazyfree-lazy-server-del": "bool",
  "lazyfree-lazy-user-del": "bool",
  "lazyfree-lazy-user-flush": "bool",
  "lfu-decay-time": "int",
  "lfu-log-factor": "int",
  "list-compress-depth": "int",
  "list-max-listpack-size": "int",
  "list-max-ziplist-size": "int",
  loglevel: "enum",
  "lua-time-limit": "int",
  maxclients: "int",
  maxmemory: "memory",
  "maxmemory-clients": "memory",
  "maxmemory-eviction-tenacity": "int",
  "maxmemory-policy": "enum",
  "maxmemory-samples": "int",
  "min-replicas-max-lag": "int",
  "min-replicas-to-write": "int",
  "min-slaves-max-lag": "int",
  "min-slaves-to-write": "int",
  "no-appendfsync-on-rewrite": "bool",
  "oom-score-adj": "enum",
  port: "int",
  "protected-mode": "bool",
  "proto-max-bulk-len": "memory",
  "rdb-del-sync-files": "bool",
  "rdb-save-incremental-fsync": "bool",
  rdbchecksum: "bool",
  rdbcompression: "bool",
  "repl-backlog-size": "memory",
  "repl-backlog-ttl": "int",
  "repl-disable-tcp-nodelay": "bool",
  "repl-diskless-sync": "bool",
  "repl-diskless-sync-delay": "int",
  "repl-diskless-sync-max-replicas": "int",
  "repl-ping-replica-period": "int",
  "repl-ping-slave-period": "int",
  "repl-timeout": "int",
  "replica-announce-port": "int",
  "replica-announced": "bool",
  "replica-ignore-disk-write-errors": "bool",
  "replica-ignore-maxmemory": "bool",
  "replica-lazy-flush": "bool",
  "replica-priority": "int",
  "replica-read-only": "bool",
  "replica-serve-stale-data": "bool",
  "sanitize-dump-payload": "bool",
  "set-max-intset-entries": "int",
  "set-proc-title": "bool",
  "shutdown-timeout": "int",
  "slave-announce-port": "int",
  "slave-ignore-maxmemory": "bool",
  "slave-lazy-flush": "bool",
  "slave-priority": "int",
  "slave-read-only": "bool",
  "slave-serve-stale-data": "bool",
  "slowlog-log-slower-than": "int",
  "slowlog-max-len": "int",
  "socket-mark-id": "int",
  "stop-writes-on-bgsave-error": "bool",
  "stream-node-max-bytes": "memory",
  "stream-node-max-entries": "int",
  supervised: "enum",
  "syslog-enabled": "bool",
  "tcp-backlog": "int",
  "tcp-keepalive": "int",
  timeout: "int",
  "tls-auth-clients": "bool",
  "tls-cluster": "bool",
  "tls-port": "int",
  "tls-prefer-server-ciphers": "bool",
  "tls-replication": "bool",
  "tls-session-cache-size": "int",
  "tls-session-cache-timeout": "int",
  "tls-session-caching": "bool",
  "tracking-table-max-keys": "int",
  unixsocketperm: "int",
  "watchdog-period": "int",
  "zset-max-listpack-entries": "int",
  "zset-max-listpack-value": "int",
  "zset-max-ziplist-entries": "int",
  "zset-max-ziplist-value": "int",
};

/** In the order 7.0's error message lists them. */
const POLICIES = [
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "noeviction",
];

const CHOICES: Record<string, string[]> = {
  "maxmemory-policy": POLICIES,
  loglevel: ["debug", "verbose", "notice", "warning"],
  appendfsync: ["everysec", "always", "no"],
};

/** One parameter as CONFIG SET treats it in a version. */
export interface ConfigSpec {
  /** The canonical name (an alias resolves to it). */
  name: string;
  /** The other name of the same setting (slave-* / replica-*), if the version has both. */
  alias?: string;
  kind: Kind;
  choices?: string[];
  /** Only settable in the config file: 7.0+ says "immutable", older ones "Unsupported". */
  immutable: boolean;
  /** 7.0+ refuses it unless enable-protected-configs is set. */
  protectedConfig: boolean;
}

export type ConfigValues = Map<string, string>;

/**
 * A session's config: its listener's defaults, shared, until the session's first CONFIG SET
 * makes its own copy (most sessions never change one, and a copy per connection costs ~5 µs).
 */
export class SessionConfig {
  private own: ConfigValues | undefined;
  constructor(private readonly base: ReadonlyMap<string, string>) {}
  get(name: string): string | undefined {
    return (this.own ?? this.base).get(name);
  }
  set(name: string, value: string): void {
    this.own ??= new Map(this.base);
    this.own.set(name, value);
  }
  /** Name and value, in CONFIG GET order. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return (this.own ?? this.base).entries();
  }
}

interface ConfigDefaults {
  paths: LayoutPaths;
  port: number;
  /** "yes" only for a protected-mode persona; open personas run with it off. */
  protectedMode: "yes" | "no";
  requirepass: string;
  /** Values the server was started with, over every default (PersonaOptions.config). */
  pins?: Readonly<Record<string, string>> | undefined;
}

/**
 * The parameters of this version with their values for this persona, in CONFIG GET order: the
 * recorded server's list and defaults, with the persona's own install paths, port, password and
 * protected mode, and the defaults of `save` and `bind` that the recording ran without (it was
 * started with `--save ''` and bound to loopback).
 */
function defaultConfig(rec: Recording, era: Era, d: ConfigDefaults): ConfigValues {
  const values: ConfigValues = new Map(rec.config.map(([k, v]) => [k, v]));
  const own: Record<string, string> = {
    dir: d.paths.dir,
    logfile: d.paths.logfile,
    pidfile: d.paths.pidfile,
    daemonize: d.paths.daemonize,
    port: String(d.port),
    requirepass: d.requirepass,
    "protected-mode": d.protectedMode,
    save: era.at("6.2") ? "3600 1 300 100 60 10000" : "900 1 300 10 60 10000",
    bind: era.at("7.0") ? "* -::*" : "",
  };
  for (const [k, v] of Object.entries({ ...own, ...d.pins })) if (values.has(k)) values.set(k, v);
  return values;
}

/**
 * A persona's default config per listener port (the port is one of its values), built once
 * per port and shared by the port's sessions until one changes it.
 */
export class DefaultConfigs {
  private readonly byPort = new Map<number, ConfigValues>();

  constructor(
    private readonly recording: Recording,
    private readonly era: Era,
    private readonly paths: LayoutPaths,
    private readonly auth: AuthMode,
    private readonly requirepass: string,
    private readonly pins?: Readonly<Record<string, string>>,
  ) {}

  /** The config a new session on this port starts from. */
  forPort(port: number): SessionConfig {
    let base = this.byPort.get(port);
    if (base === undefined) {
      base = defaultConfig(this.recording, this.era, {
        paths: this.paths,
        port,
        // Open personas are servers someone started with protected mode off; the others keep
        // the default (on), which a password makes moot.
        protectedMode: this.auth === "open" ? "no" : "yes",
        requirepass: this.requirepass,
        pins: this.pins,
      });
      // One per listener port; a caller asking for many ports gets them built, not kept.
      if (this.byPort.size < 16) this.byPort.set(port, base);
    }
    return new SessionConfig(base);
  }
}

const specsByRecording = new WeakMap<Recording, Map<string, ConfigSpec>>();

/**
 * CONFIG SET's view of the version's parameters, by lower-case name or alias: from the
 * recorded CONFIG GET * and the rules read from the tag's config.c (standard configs with
 * their IMMUTABLE/PROTECTED flags; before 7.0 the names configSetCommand handles itself, any
 * other being "Unsupported").
 */
function specsOf(rec: Recording): Map<string, ConfigSpec> {
  let specs = specsByRecording.get(rec);
  if (specs !== undefined) return specs;
  specs = new Map();
  const listed = new Map(rec.config.map(([k, v]) => [k, v]));
  const rules = rec.configRules;
  const special = new Set(rules?.special ?? []);
  const make = (name: string, alias: string | undefined, immutable: boolean, prot: boolean) => {
    const value = listed.get(name) ?? (alias === undefined ? undefined : listed.get(alias));
    const kind =
      KINDS[name] ??
      (alias === undefined ? undefined : KINDS[alias]) ??
      (value === "yes" || value === "no" ? "bool" : "string");
    const spec: ConfigSpec = { name, kind, immutable, protectedConfig: prot };
    if (alias !== undefined) spec.alias = alias;
    const choices = CHOICES[name];
    if (choices !== undefined) spec.choices = choices;
    specs!.set(name.toLowerCase(), spec);
    if (alias !== undefined && !specs!.has(alias.toLowerCase())) {
      specs!.set(alias.toLowerCase(), spec);
    }
  };
  for (const [name, alias, flags] of rules?.standard ?? []) {
    make(
      name,
      alias ?? undefined,
      flags.includes("IMMUTABLE_CONFIG"),
      flags.includes("PROTECTED_CONFIG"),
    );
  }
  for (const name of listed.keys()) {
    if (specs.has(name.toLowerCase())) continue;
    // Before 6.0 slave-* and replica-* (5.0) are one setting under two names.
    const other = name.includes("replica")
      ? name.replace("replica", "slave")
      : name.replace("slave", "replica");
    const alias = other !== name && listed.has(other) ? other : undefined;
    make(name, alias, !special.has(name) && !(alias !== undefined && special.has(alias)), false);
  }
  specsByRecording.set(rec, specs);
  return specs;
}

/** A parameter of the recorded version by name or alias (any case), or undefined. */
export function configSpec(rec: Recording, name: string): ConfigSpec | undefined {
  return specsOf(rec).get(name.toLowerCase());
}

/**
 * Directories `CONFIG SET dir` finds: what a Linux host running Redis has, including the places
 * file-write attacks aim at (ssh, cron, web roots), so those chains go on as they would on a
 * real victim. Anything else is "No such file or directory".
 */
const EXISTING_DIRS = new Set([
  "/",
  "/bin",
  "/boot",
  "/data",
  "/dev",
  "/dev/shm",
  "/etc",
  "/etc/cron.d",
  "/etc/cron.daily",
  "/etc/cron.hourly",
  "/etc/redis",
  "/etc/ssh",
  "/home",
  "/home/ubuntu",
  "/home/ubuntu/.ssh",
  "/home/admin",
  "/home/admin/.ssh",
  "/home/redis",
  "/home/redis/.ssh",
  "/lib",
  "/media",
  "/mnt",
  "/opt",
  "/proc",
  "/root",
  "/root/.ssh",
  "/run",
  "/sbin",
  "/srv",
  "/sys",
  "/tmp",
  "/usr",
  "/usr/bin",
  "/usr/lib",
  "/usr/local",
  "/usr/local/bin",
  "/usr/local/lib",
  "/usr/share",
  "/usr/share/nginx",
  "/usr/share/nginx/html",
  "/var",
  "/var/backups",
  "/var/cache",
  "/var/lib",
  "/var/lib/redis",
  "/var/lib/redis/.ssh",
  "/var/log",
  "/var/log/redis",
  "/var/run",
  "/var/spool",
  "/var/spool/cron",
  "/var/spool/cron/crontabs",
  "/var/tmp",
  "/var/www",
  "/var/www/html",
]);

/** The absolute directory `CONFIG SET dir value` would chdir to, or undefined if it is missing. */
export function resolveDir(
  current: string,
  value: string,
  own: readonly string[],
): string | undefined {
  if (value === "") return undefined;
  const target = path.posix.resolve(current, value);
  return EXISTING_DIRS.has(target) || own.includes(target) ? target : undefined;
}

/** Redis's memtoll for a memory config: a count with an optional k/kb/m/mb/g/gb suffix. */
function parseMemory(text: string): number | undefined {
  const m = /^(\d+)(k|kb|m|mb|g|gb|b)?$/i.exec(text);
  if (m === null) return undefined;
  const unit = (m[2] ?? "b").toLowerCase();
  const mul: Record<string, number> = {
    b: 1,
    k: 1000,
    kb: 1024,
    m: 1000 ** 2,
    mb: 1024 ** 2,
    g: 1000 ** 3,
    gb: 1024 ** 3,
  };
  const n = Number(m[1]) * mul[unit]!;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Why a value is not acceptable for this parameter (the 7.0 wording), or undefined if it is. */
export function invalidValueReason(spec: ConfigSpec, value: string, era: Era): string | undefined {
  switch (spec.kind) {
    case "bool":
      return /^(yes|no)$/i.test(value) ? undefined : "argument must be 'yes' or 'no'";
    case "int":
      return /^-?\d+$/.test(value) ? undefined : "argument couldn't be parsed into an integer";
    case "memory":
      // 2.8 read memory values as plain integers (getLongLongFromObject): no k/mb/gb units.
      if (era.before("3.0") && !/^\d+$/.test(value)) return "argument must be a memory value";
      return parseMemory(value) === undefined ? "argument must be a memory value" : undefined;
    case "enum":
      return spec.choices === undefined || spec.choices.includes(value.toLowerCase())
        ? undefined
        : `${era.at("7.0") ? "argument(s)" : "argument"} must be one of the following: ${spec.choices.join(", ")}`;
    default:
      return undefined;
  }
}

/** The stored form of an accepted value (memory values are kept as bytes, yes/no lower-case). */
export function normalizeValue(spec: ConfigSpec, value: string): string {
  if (spec.kind === "memory") return String(parseMemory(value));
  if (spec.kind === "bool" || spec.kind === "enum") return value.toLowerCase();
  return value;
}
