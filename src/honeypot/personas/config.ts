/**
 * CONFIG as a persona keeps it: the defaults of the version (and of the install layout), the
 * validation CONFIG SET applies, and the directories `CONFIG SET dir` finds. Nothing here
 * touches the real filesystem: the directory list is made up to be what a typical Linux host
 * with Redis has, so file-write chains (ssh, cron, webshell) proceed as they would there.
 */
import path from "node:path";
import type { AuthMode } from "../types.js";
import type { Era } from "./era.js";

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

type Kind = "bool" | "int" | "memory" | "enum" | "string" | "path";

interface ConfigSpec {
  name: string;
  /** Value when the persona's layout or options do not say otherwise. */
  value: string | ((era: Era) => string);
  kind: Kind;
  /** First Redis version that has it. */
  since?: string;
  /** First Redis version that no longer has it under this name. */
  until?: string;
  /** Only settable in the config file ("immutable" in 7.0+, unsupported before). */
  immutable?: boolean;
  /** 7.0+ refuses it unless enable-protected-configs is set. */
  protectedConfig?: boolean;
  choices?: string[];
}

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

/** The parameters a persona knows, in the order CONFIG GET * lists them. */
const SPECS: ConfigSpec[] = [
  { name: "dbfilename", value: "dump.rdb", kind: "string", protectedConfig: true },
  { name: "requirepass", value: "", kind: "string" },
  { name: "masterauth", value: "", kind: "string" },
  { name: "masteruser", value: "", kind: "string", since: "6.0" },
  { name: "unixsocket", value: "", kind: "path", immutable: true },
  { name: "logfile", value: "", kind: "path", immutable: true },
  { name: "pidfile", value: "", kind: "path", immutable: true },
  { name: "aclfile", value: "", kind: "path", since: "6.0", immutable: true },
  { name: "maxmemory", value: "0", kind: "memory" },
  { name: "proto-max-bulk-len", value: "536870912", kind: "memory", since: "4.0" },
  { name: "client-query-buffer-limit", value: "1073741824", kind: "memory", since: "4.0" },
  { name: "maxmemory-samples", value: "5", kind: "int" },
  { name: "timeout", value: "0", kind: "int" },
  { name: "tcp-keepalive", value: (era) => (era.at("3.2") ? "300" : "0"), kind: "int" },
  { name: "auto-aof-rewrite-percentage", value: "100", kind: "int" },
  { name: "auto-aof-rewrite-min-size", value: "67108864", kind: "memory" },
  { name: "hash-max-ziplist-entries", value: "512", kind: "int" },
  { name: "hash-max-ziplist-value", value: "64", kind: "int" },
  { name: "hash-max-listpack-entries", value: "512", kind: "int", since: "7.0" },
  { name: "hash-max-listpack-value", value: "64", kind: "int", since: "7.0" },
  { name: "list-max-ziplist-size", value: "-2", kind: "int", since: "3.2" },
  { name: "list-compress-depth", value: "0", kind: "int", since: "3.2" },
  { name: "set-max-intset-entries", value: "512", kind: "int" },
  { name: "zset-max-ziplist-entries", value: "128", kind: "int" },
  { name: "zset-max-ziplist-value", value: "64", kind: "int" },
  { name: "hll-sparse-max-bytes", value: "3000", kind: "int" },
  { name: "lua-time-limit", value: "5000", kind: "int" },
  { name: "busy-reply-threshold", value: "5000", kind: "int", since: "7.0" },
  { name: "slowlog-log-slower-than", value: "10000", kind: "int" },
  { name: "latency-monitor-threshold", value: "0", kind: "int" },
  { name: "slowlog-max-len", value: "128", kind: "int" },
  { name: "port", value: "6379", kind: "int", immutable: true },
  { name: "tcp-backlog", value: "511", kind: "int", immutable: true },
  { name: "databases", value: "16", kind: "int", immutable: true },
  { name: "repl-ping-slave-period", value: "10", kind: "int" },
  { name: "repl-ping-replica-period", value: "10", kind: "int", since: "5.0" },
  { name: "repl-timeout", value: "60", kind: "int" },
  {
    name: "repl-backlog-size",
    value: (era) => (era.valkey ? "10485760" : "1048576"),
    kind: "memory",
  },
  { name: "repl-backlog-ttl", value: "3600", kind: "int" },
  { name: "maxclients", value: "10000", kind: "int" },
  { name: "watchdog-period", value: "0", kind: "int", until: "6.0" },
  { name: "slave-priority", value: "100", kind: "int" },
  { name: "replica-priority", value: "100", kind: "int", since: "5.0" },
  { name: "min-slaves-to-write", value: "0", kind: "int" },
  { name: "min-replicas-to-write", value: "0", kind: "int", since: "5.0" },
  { name: "min-slaves-max-lag", value: "10", kind: "int" },
  { name: "min-replicas-max-lag", value: "10", kind: "int", since: "5.0" },
  { name: "hz", value: "10", kind: "int" },
  { name: "cluster-node-timeout", value: "15000", kind: "int", since: "3.0" },
  { name: "io-threads", value: "1", kind: "int", since: "6.0", immutable: true },
  { name: "no-appendfsync-on-rewrite", value: "no", kind: "bool" },
  { name: "slave-serve-stale-data", value: "yes", kind: "bool" },
  { name: "replica-serve-stale-data", value: "yes", kind: "bool", since: "5.0" },
  { name: "slave-read-only", value: "yes", kind: "bool" },
  { name: "replica-read-only", value: "yes", kind: "bool", since: "5.0" },
  { name: "stop-writes-on-bgsave-error", value: "yes", kind: "bool" },
  { name: "daemonize", value: "no", kind: "bool", immutable: true },
  { name: "rdbcompression", value: "yes", kind: "bool" },
  { name: "rdbchecksum", value: "yes", kind: "bool" },
  { name: "activerehashing", value: "yes", kind: "bool" },
  { name: "protected-mode", value: "yes", kind: "bool", since: "3.2" },
  { name: "repl-disable-tcp-nodelay", value: "no", kind: "bool" },
  { name: "repl-diskless-sync", value: (era) => (era.at("7.0") ? "yes" : "no"), kind: "bool" },
  { name: "aof-rewrite-incremental-fsync", value: "yes", kind: "bool" },
  { name: "aof-load-truncated", value: "yes", kind: "bool", since: "3.0" },
  {
    name: "aof-use-rdb-preamble",
    value: (era) => (era.at("5.0") ? "yes" : "no"),
    kind: "bool",
    since: "4.0",
  },
  { name: "lazyfree-lazy-eviction", value: "no", kind: "bool", since: "4.0" },
  { name: "lazyfree-lazy-expire", value: "no", kind: "bool", since: "4.0" },
  { name: "lazyfree-lazy-server-del", value: "no", kind: "bool", since: "4.0" },
  { name: "dynamic-hz", value: "yes", kind: "bool", since: "5.0" },
  { name: "enable-protected-configs", value: "no", kind: "enum", since: "7.0", immutable: true },
  { name: "enable-debug-command", value: "no", kind: "enum", since: "7.0", immutable: true },
  { name: "enable-module-command", value: "no", kind: "enum", since: "7.0", immutable: true },
  {
    name: "maxmemory-policy",
    value: (era) => (era.at("3.0") ? "noeviction" : "volatile-lru"),
    kind: "enum",
    choices: POLICIES,
  },
  {
    name: "loglevel",
    value: "notice",
    kind: "enum",
    choices: ["debug", "verbose", "notice", "warning"],
  },
  { name: "supervised", value: "no", kind: "enum", since: "3.2", immutable: true },
  {
    name: "appendfsync",
    value: "everysec",
    kind: "enum",
    choices: ["everysec", "always", "no"],
  },
  { name: "appendonly", value: "no", kind: "bool" },
  { name: "appendfilename", value: "appendonly.aof", kind: "string", immutable: true },
  { name: "appenddirname", value: "appendonlydir", kind: "string", since: "7.0", immutable: true },
  { name: "dir", value: "/var/lib/redis", kind: "path", protectedConfig: true },
  {
    name: "save",
    value: (era) => (era.at("6.2") ? "3600 1 300 100 60 10000" : "900 1 300 10 60 10000"),
    kind: "string",
  },
  {
    name: "client-output-buffer-limit",
    value: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    kind: "string",
  },
  { name: "unixsocketperm", value: "0", kind: "int", immutable: true },
  { name: "slaveof", value: "", kind: "string" },
  { name: "replicaof", value: "", kind: "string", since: "5.0" },
  { name: "notify-keyspace-events", value: "", kind: "string" },
  {
    name: "bind",
    value: (era) => (era.at("7.0") ? "* -::*" : ""),
    kind: "string",
    immutable: true,
  },
  { name: "oom-score-adj", value: "no", kind: "enum", since: "6.2" },
  { name: "tls-port", value: "0", kind: "int", since: "6.0" },
  { name: "acllog-max-len", value: "128", kind: "int", since: "6.0" },
];

/**
 * The rest of 7.0's parameters with their defaults and the release that brought them:
 * [name, default, since, kind, immutable].
 */
const MORE_SPECS: Array<[string, string, string, Kind, boolean?]> = [
  ["cluster-announce-port", "0", "4.0", "int"],
  ["list-max-listpack-size", "-2", "7.0", "int"],
  ["active-expire-effort", "1", "6.0", "int"],
  ["aof-timestamp-enabled", "no", "7.0", "bool"],
  ["rdb-del-sync-files", "no", "6.0", "bool"],
  ["stream-node-max-bytes", "4096", "5.0", "memory"],
  ["tls-ciphers", "", "6.0", "string"],
  ["cluster-migration-barrier", "1", "3.0", "int"],
  ["cluster-link-sendbuf-limit", "0", "7.0", "memory"],
  ["replica-announce-ip", "", "5.0", "string"],
  ["cluster-replica-no-failover", "no", "5.0", "bool"],
  ["syslog-enabled", "no", "2.8", "bool", true],
  ["replica-lazy-flush", "no", "5.0", "bool"],
  ["cluster-slave-no-failover", "no", "4.0", "bool"],
  ["cluster-allow-reads-when-down", "no", "6.0", "bool"],
  ["tls-cluster", "no", "6.0", "bool"],
  ["slave-lazy-flush", "no", "4.0", "bool"],
  ["tls-session-caching", "yes", "6.0", "bool"],
  ["syslog-ident", "redis", "2.8", "string", true],
  ["zset-max-listpack-entries", "128", "7.0", "int"],
  ["cluster-replica-validity-factor", "10", "5.0", "int"],
  ["latency-tracking-info-percentiles", "50 99 99.9", "7.0", "string"],
  ["cluster-enabled", "no", "3.0", "bool", true],
  ["bio_cpulist", "", "6.2", "string", true],
  ["repl-diskless-load", "disabled", "6.0", "string"],
  ["replica-announce-port", "0", "5.0", "int"],
  ["crash-log-enabled", "yes", "6.2", "bool"],
  ["tls-replication", "no", "6.0", "bool"],
  ["tls-ciphersuites", "", "6.0", "string"],
  ["proc-title-template", "{title} {listen-addr} {server-mode}", "6.2", "string"],
  ["active-defrag-ignore-bytes", "104857600", "4.0", "memory"],
  ["shutdown-on-sigterm", "default", "7.0", "string"],
  ["repl-diskless-sync-max-replicas", "0", "7.0", "int"],
  ["tls-ca-cert-dir", "", "6.0", "string"],
  ["tls-session-cache-timeout", "300", "6.0", "int"],
  ["lfu-log-factor", "10", "4.0", "int"],
  ["activedefrag", "no", "4.0", "bool"],
  ["rdb-save-incremental-fsync", "yes", "4.0", "bool"],
  ["tls-client-cert-file", "", "6.2", "string"],
  ["aof-disable-auto-gc", "no", "7.0", "bool"],
  ["cluster-announce-bus-port", "0", "4.0", "int"],
  ["active-defrag-threshold-upper", "100", "4.0", "int"],
  ["socket-mark-id", "0", "7.0", "int"],
  ["cluster-announce-tls-port", "0", "6.0", "int"],
  ["shutdown-on-sigint", "default", "7.0", "string"],
  ["tls-key-file-pass", "", "6.2", "string"],
  ["always-show-logo", "no", "4.0", "bool", true],
  ["lfu-decay-time", "1", "4.0", "int"],
  ["tls-prefer-server-ciphers", "no", "6.0", "bool"],
  ["tls-ca-cert-file", "", "6.0", "string"],
  ["latency-tracking", "yes", "7.0", "bool"],
  ["cluster-port", "0", "7.0", "int", true],
  ["cluster-slave-validity-factor", "10", "3.0", "int"],
  ["active-defrag-cycle-min", "1", "4.0", "int"],
  ["crash-memcheck-enabled", "yes", "6.2", "bool"],
  ["tls-client-key-file-pass", "", "6.2", "string"],
  ["tls-auth-clients", "yes", "6.0", "bool"],
  ["cluster-allow-replica-migration", "yes", "6.2", "bool"],
  ["acl-pubsub-default", "resetchannels", "6.2", "string"],
  ["active-defrag-threshold-lower", "10", "4.0", "int"],
  ["tls-dh-params-file", "", "6.0", "string"],
  ["replica-ignore-maxmemory", "yes", "5.0", "bool"],
  ["sanitize-dump-payload", "no", "6.2", "bool"],
  ["bgsave_cpulist", "", "6.2", "string", true],
  ["propagation-error-behavior", "ignore", "7.0", "string"],
  ["cluster-config-file", "nodes.conf", "3.0", "string", true],
  ["slave-announce-ip", "", "3.2", "string"],
  ["io-threads-do-reads", "no", "6.0", "bool", true],
  ["active-defrag-max-scan-fields", "1000", "5.0", "int"],
  ["repl-diskless-sync-delay", "5", "2.8", "int"],
  ["oom-score-adj-values", "0 200 800", "6.2", "string"],
  ["disable-thp", "yes", "6.2", "bool", true],
  ["bind-source-addr", "", "7.0", "string"],
  ["tls-protocols", "", "6.0", "string"],
  ["replica-ignore-disk-write-errors", "no", "7.0", "bool"],
  ["tls-session-cache-size", "20480", "6.0", "int"],
  ["cluster-announce-ip", "", "4.0", "string"],
  ["tracking-table-max-keys", "1000000", "6.0", "int"],
  ["server_cpulist", "", "6.2", "string", true],
  ["cluster-preferred-endpoint-type", "ip", "7.0", "string"],
  ["aof_rewrite_cpulist", "", "6.2", "string", true],
  ["cluster-announce-hostname", "", "7.0", "string"],
  ["stream-node-max-entries", "100", "5.0", "int"],
  ["syslog-facility", "local0", "2.8", "string", true],
  ["lazyfree-lazy-user-flush", "no", "6.2", "bool"],
  ["cluster-allow-pubsubshard-when-down", "yes", "7.0", "bool"],
  ["cluster-require-full-coverage", "yes", "3.0", "bool"],
  ["jemalloc-bg-thread", "yes", "6.0", "bool"],
  ["zset-max-listpack-value", "64", "7.0", "int"],
  ["active-defrag-cycle-max", "25", "4.0", "int"],
  ["shutdown-timeout", "10", "7.0", "int"],
  ["set-proc-title", "yes", "6.2", "bool", true],
  ["replica-announced", "yes", "6.2", "bool"],
  ["slave-ignore-maxmemory", "yes", "5.0", "bool"],
  ["maxmemory-eviction-tenacity", "10", "6.2", "int"],
  ["lazyfree-lazy-user-del", "no", "6.0", "bool"],
  ["ignore-warnings", "", "6.2", "string"],
  ["tls-key-file", "", "6.0", "string"],
  ["tls-cert-file", "", "6.0", "string"],
  ["slave-announce-port", "0", "3.2", "int"],
  ["maxmemory-clients", "0", "7.0", "memory"],
  ["tls-client-key-file", "", "6.2", "string"],
];

for (const [name, value, since, kind, immutable] of MORE_SPECS) {
  const spec: ConfigSpec = { name, value, since, kind };
  if (immutable) spec.immutable = true;
  SPECS.push(spec);
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
}

function present(spec: ConfigSpec, era: Era): boolean {
  if (spec.since !== undefined && era.before(spec.since)) return false;
  return spec.until === undefined || era.before(spec.until);
}

/** The parameters of this version with their values for this persona, in CONFIG GET order. */
function defaultConfig(era: Era, d: ConfigDefaults): ConfigValues {
  const values: ConfigValues = new Map();
  for (const spec of SPECS) {
    if (!present(spec, era)) continue;
    values.set(spec.name, typeof spec.value === "function" ? spec.value(era) : spec.value);
  }
  values.set("dir", d.paths.dir);
  values.set("logfile", d.paths.logfile);
  values.set("pidfile", d.paths.pidfile);
  values.set("daemonize", d.paths.daemonize);
  values.set("port", String(d.port));
  values.set("requirepass", d.requirepass);
  if (values.has("protected-mode")) values.set("protected-mode", d.protectedMode);
  return values;
}

/**
 * A persona's default config per listener port (the port is one of its values), built once
 * per port and shared by the port's sessions until one changes it.
 */
export class DefaultConfigs {
  private readonly byPort = new Map<number, ConfigValues>();

  constructor(
    private readonly era: Era,
    private readonly paths: LayoutPaths,
    private readonly auth: AuthMode,
    private readonly requirepass: string,
  ) {}

  /** The config a new session on this port starts from. */
  forPort(port: number): SessionConfig {
    let base = this.byPort.get(port);
    if (base === undefined) {
      base = defaultConfig(this.era, {
        paths: this.paths,
        port,
        // Open personas are servers someone started with protected mode off; the others keep
        // the default (on), which a password makes moot.
        protectedMode: this.auth === "open" ? "no" : "yes",
        requirepass: this.requirepass,
      });
      // One per listener port; a caller asking for many ports gets them built, not kept.
      if (this.byPort.size < 16) this.byPort.set(port, base);
    }
    return new SessionConfig(base);
  }
}

export function configSpec(era: Era, name: string): ConfigSpec | undefined {
  const spec = SPECS.find((s) => s.name === name);
  return spec !== undefined && present(spec, era) ? spec : undefined;
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
export function invalidValueReason(spec: ConfigSpec, value: string): string | undefined {
  switch (spec.kind) {
    case "bool":
      return /^(yes|no)$/i.test(value) ? undefined : "argument must be 'yes' or 'no'";
    case "int":
      return /^-?\d+$/.test(value) ? undefined : "argument couldn't be parsed into an integer";
    case "memory":
      return parseMemory(value) === undefined ? "argument must be a memory value" : undefined;
    case "enum":
      return spec.choices === undefined || spec.choices.includes(value.toLowerCase())
        ? undefined
        : "argument(s) must be one of the following: " + spec.choices.join(", ");
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
