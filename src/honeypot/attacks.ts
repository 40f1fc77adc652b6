/**
 * The attack classifier: what one honeypot session tried, as AttackFindings with MITRE ATT&CK
 * technique ids and short evidence. Pure; reads the recorder's RecordedCommands (and the
 * session's SessionEffects, when given) and never runs or fetches anything.
 *
 * The shapes are those of research/honeypot.md §2; the classes are §2.5's. A session can have
 * several classes (a cron write that downloads a miner is file_write_cron and dropper); they
 * come back most severe first (SEVERITY_ORDER). Classes are per session, with one thing known
 * of the session's source: its AUTH attempts across its connections (SessionMeta.sourceAuth),
 * so a brute force spread over many one-AUTH connections is a brute force in each of them.
 *
 * ATT&CK mapping, decided class by class (a technique only where its ATT&CK definition is what
 * the session itself does; the research notes cite [37] for T1053.003 and [38] for T1098.004,
 * the other ids are mapped here from the technique definitions and said so):
 * - scan: T1595.001 Scanning IP Blocks when the session only checked that something answers
 *   (nothing sent, PING, QUIT), T1595.002 Vulnerability Scanning when it read what software
 *   answered (INFO, HELLO, COMMAND, CONFIG GET, an unknown command whose error text dates the
 *   version, §3.3). Not T1046 Network Service Discovery: that is Discovery from inside a
 *   compromised network; an internet honeypot sees Reconnaissance from outside.
 * - bruteforce: T1110.001 Password Guessing: many passwords against the one default user.
 * - file_write_ssh: T1098.004 SSH Authorized Keys [38]. file_write_cron: T1053.003 Cron [37].
 * - file_write_webshell: T1505.003 Web Shell: a PHP/JSP file saved into a web root is that
 *   technique's definition (no source in the notes names it for Redis).
 * - file_write: none. What a file in an unknown place is for is the technique, and it is not
 *   known.
 * - rogue_replication: T1105 Ingress Tool Transfer: SLAVEOF makes the server fetch the
 *   attacker's RDB or module from the attacker's host (§2.2; the notes find no source mapping
 *   the chain as a whole). Plus T1190 when the shape is CVE-2026-23631's (DarkReplica).
 * - module_load: T1129 Shared Modules for MODULE LOAD (redis-server dlopen()s an attacker's
 *   .so); T1059.004 Unix Shell for `system.exec`/`system.rev`, which hand their argument to
 *   /bin/sh (exp.so [42]).
 * - lua_exploit: T1190 Exploit Public-Facing Application when a CVE shape matched (the
 *   evidence names it). T1059.011 Lua is not used: the notes find no source applying it to
 *   Redis, and every EVAL is Lua by design, so it would tag ordinary scripts as well. Tokens
 *   without a CVE shape (`io.popen` alone) get no technique. T1059.004 Unix Shell for the
 *   command a script handed a CVE-2022-0543 `io.popen`/`os.execute` on a persona that claims
 *   a vulnerable Debian build (the script effect's `command`; nothing ran).
 * - destructive: T1485 Data Destruction (FLUSHALL, FLUSHDB, DEL of many keys); T1531 Account
 *   Access Removal for CONFIG SET requirepass / ACL SETUSER default, which lock the owner out.
 * - ransom: T1485. Not T1486 Data Encrypted for Impact: Redis "ransom" wipes the data and
 *   leaves a note, nothing is encrypted (Duo's "fake ransomware" [33]).
 * - http_cross_protocol: none. It says which protocol was spoken, not what for: a web crawler
 *   and an SSRF relay look alike here, and what an SSRF body does is classified on its own.
 * - exfiltration: T1048 Exfiltration Over Alternative Protocol only for MIGRATE, which makes
 *   the server push keys over a new connection to a host the client names. Not T1041: there
 *   is no C2 channel. Reading data out (SYNC/PSYNC, DUMP, mass GET) and a PUBLISH stream (the
 *   NICER story: a misconfigured cluster leaking its own data to the honeypot) get none.
 * - dropper: T1105 Ingress Tool Transfer: a download-and-run line (`curl …|sh`).
 */

import type { AttackClass, AttackFinding } from "../schema/honeypot.js";
import { safeText } from "../untrusted/text.js";
import {
  addressScope,
  argumentText,
  configSetPairs,
  decodedPayloads,
  findCronLines,
  findLuaTokens,
  foreignModuleCommand,
  hasSshKey,
  passwordTried,
  ScanBudget,
  scriptBody,
} from "./indicators.js";
import type { RecordedCommand, SessionEffect } from "./types.js";

export interface SessionMeta {
  /** Bytes the client sent. */
  bytesIn: number;
  /** The client closed before the persona would have. */
  closedEarly?: boolean;
  /**
   * The client sent no command. An empty command list without it means the commands were
   * not handed over (not that there were none), so the session is not called a scan. Whether
   * any byte came is read from bytesIn: a TLS hello is no command, and worth telling apart.
   */
  sentNothing?: boolean;
  /**
   * The source's AUTH attempts across its connections so far, this session's included (the
   * session recorder's SourceAuth): one password per connection is a brute force too.
   */
  sourceAuth?: { attempts: number; passwords: number; sessions: number };
  /**
   * Commands counted but not recorded (the server's repetition folding): only plain data
   * commands whose name the session already showed, so they add to counts, not to evidence.
   */
  folded?: ReadonlyMap<string, { count: number; args: number }>;
}

/**
 * Most severe first: running code on the host, then persistence on it, then getting tools onto
 * it, then destroying or taking data, then knocking at the door.
 */
export const SEVERITY_ORDER: readonly AttackClass[] = [
  "module_load",
  "lua_exploit",
  "rogue_replication",
  "file_write_ssh",
  "file_write_cron",
  "file_write_webshell",
  "dropper",
  "ransom",
  "destructive",
  "file_write",
  "exfiltration",
  "bruteforce",
  "http_cross_protocol",
  "scan",
];

export const MAX_EVIDENCE = 5;
export const MAX_EVIDENCE_CHARS = 200;
/** Characters of one argument shown in evidence. */
const EVIDENCE_ARG_CHARS = 60;

/** AUTH attempts (with at least two distinct passwords) that make a brute force. */
const BRUTEFORCE_ATTEMPTS = 3;
/** DEL/UNLINK of this many keys in one session is wiping, not housekeeping. */
const DESTRUCTIVE_DELETES = 10;
/** PUBLISH messages that make a stream (NICER saw ~1,700 an hour from one leaking cluster). */
const PUBLISH_STREAM = 100;
/** Keys read one by one that make a dump of the keyspace. */
const DUMP_READS = 50;
/** Distinct passwords remembered per session; more only raise the count shown as "≥". */
const MAX_TRACKED_PASSWORDS = 10_000;

/** Commands that change data or the server, run code, or move data: not a scanner's. */
const ACTING_COMMANDS = new Set(
  (
    "SET SETNX SETEX PSETEX GETSET GETDEL GETEX MSET MSETNX APPEND INCR INCRBY INCRBYFLOAT " +
    "DECR DECRBY SETRANGE SETBIT BITOP BITFIELD DEL UNLINK EXPIRE PEXPIRE EXPIREAT PEXPIREAT " +
    "PERSIST RENAME RENAMENX MOVE COPY RESTORE RESTORE-ASKING MIGRATE DUMP SWAPDB FLUSHALL " +
    "FLUSHDB HSET HSETNX HMSET HDEL HINCRBY HINCRBYFLOAT LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP " +
    "LSET LINSERT LREM LTRIM LMOVE BLMOVE RPOPLPUSH BRPOPLPUSH LMPOP BLPOP BRPOP SADD SREM " +
    "SPOP SMOVE SINTERSTORE SUNIONSTORE SDIFFSTORE ZADD ZREM ZINCRBY ZPOPMIN ZPOPMAX ZMPOP " +
    "ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX ZUNIONSTORE ZINTERSTORE ZDIFFSTORE " +
    "ZRANGESTORE XADD XDEL XTRIM XGROUP XCLAIM XAUTOCLAIM GEOADD PFADD PFMERGE PUBLISH " +
    "SPUBLISH EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO SAVE BGSAVE BGREWRITEAOF " +
    "SHUTDOWN SLAVEOF REPLICAOF SYNC PSYNC REPLCONF FAILOVER DEBUG"
  ).split(" "),
);

/**
 * Containers whose subcommands differ: only these subcommands only read. Any other
 * (CONFIG SET, MODULE LOAD, SCRIPT LOAD, CLIENT KILL, ACL SETUSER, …) acts.
 */
const READING_SUBCOMMANDS: Readonly<Record<string, ReadonlySet<string>>> = {
  CONFIG: new Set(["GET", "HELP"]),
  CLIENT: new Set(["LIST", "INFO", "ID", "GETNAME", "SETNAME", "SETINFO", "HELP"]),
  MODULE: new Set(["LIST", "HELP"]),
  ACL: new Set(["WHOAMI", "LIST", "USERS", "CAT", "GETUSER", "LOG", "HELP"]),
  CLUSTER: new Set(["INFO", "NODES", "SLOTS", "SHARDS", "MYID", "KEYSLOT", "HELP"]),
  SCRIPT: new Set(["EXISTS", "HELP"]),
  FUNCTION: new Set(["LIST", "STATS", "HELP"]),
  SLOWLOG: new Set(["GET", "LEN", "HELP"]),
};

/** Commands that tell a scanner only that something answers (T1595.001, not .002). */
const LIVENESS_COMMANDS = new Set(["PING", "QUIT", "ECHO"]);

/** Reads of one key each, and MGET's many: a dump when there are many. */
const KEY_READS = new Set([
  "GET",
  "HGETALL",
  "HGET",
  "HVALS",
  "LRANGE",
  "SMEMBERS",
  "ZRANGE",
  "XRANGE",
  "GETRANGE",
]);

/** Commands whose arguments become the keyspace a SAVE writes into the file. */
const VALUE_WRITERS = new Set([
  "SET",
  "SETNX",
  "SETEX",
  "PSETEX",
  "GETSET",
  "SETRANGE",
  "APPEND",
  "MSET",
  "MSETNX",
  "HSET",
  "HSETNX",
  "HMSET",
  "LPUSH",
  "RPUSH",
  "LPUSHX",
  "RPUSHX",
  "LSET",
  "LINSERT",
  "SADD",
  "ZADD",
  "XADD",
]);

const HTTP_METHODS = new Set([
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "OPTIONS",
  "CONNECT",
  "TRACE",
  "PATCH",
]);
const HTTP_VERSION_RE = /^HTTP\/\d(?:\.\d)?$/i;

// ---------- payload shapes ----------

/** Something that fetches: a downloader, a URL, or bash's /dev/tcp. */
const DOWNLOAD_RE =
  /\b(?:curl|wget|lynx|fetch|tftp|ftpget|aria2c)\b|\b(?:https?|ftp|tftp):\/\/|\/dev\/tcp\//i;
/** Something that runs what was fetched: a pipe into a shell, `sh -c`, `bash .cmd`, chmod +x. */
const RUN_RE =
  /\|\s*(?:ba|da|z|k)?sh\b|\b(?:ba|da|z)?sh\s+(?:-c\b|\.?\/?[\w.-]*\.sh\b|\.[\w-]+)|\bchmod\s+(?:[+ugoa]*x|[0-7]{3,4})\b|\|\s*(?:python[23]?|perl|php)\b/i;
const PHP_RE = /<\?(?:php|=)|<%[@=!]?\s*(?:page|eval|execute|Runtime)/i;

/** `dir` values that are a place SSH, cron or a web server reads files from (§2.1). */
const SSH_DIR_RE = /(?:^|\/)\.ssh\/?$/i;
const SSH_FILE_RE = /^authorized_keys2?$/i;
const CRON_DIR_RE = /cron/i;
const CRON_FILE_RE = /^(?:crontab|cron\.\w+)$/i;
const WEB_DIR_RE =
  /^\/(?:var\/www|srv\/(?:www|http)|usr\/share\/nginx|usr\/local\/(?:nginx|apache2?)|opt\/lampp|www)(?:\/|$)|\/(?:html|htdocs|wwwroot|public_html|webapps)(?:\/|$)/i;
const WEB_FILE_RE = /\.(?:php\d?|phtml|phar|jspx?|aspx?|ashx|cgi)$/i;

/**
 * Ransom-note signals (§2.4): two distinct ones make a note. The `crackit` key alone makes one
 * only where the session destroyed data (see dataFindings).
 */
const RANSOM_SIGNALS: ReadonlyArray<readonly [string, RegExp]> = [
  ["payment", /\b(?:bitcoin|btc|monero|xmr|ransom|pay(?:ment)?|wallet)\b/i],
  ["bitcoin address", /\b(?:bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})\b/],
  ["recovery", /\b(?:back(?:ed)?[ _-]?up|restore|recover|decrypt)\b/i],
  [
    "contact",
    /(?<![\w.+-])[\w.+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,4}\.[a-z]{2,24}\b/i,
  ],
  ["note key", /^(?:read[_-]?me|warning|ransom\w*|how[_-]?to[_-]?\w+)$/i],
];
const CRACKIT_KEY = "crackit";

// ---------- Lua CVE shapes (§2.3) ----------

interface LuaShape {
  cve: string;
  matches(tokens: ReadonlySet<string>, script: string): boolean;
}

const GETMETATABLE_OF_STRING_RE = /getmetatable\s*\(\s*(?:"[^"\n]{0,64}"|'[^'\n]{0,64}')\s*\)/;

const LUA_SHAPES: readonly LuaShape[] = [
  {
    // Debian/Ubuntu's packaging leaves `package` reachable: load liblua's io and popen.
    cve: "CVE-2022-0543",
    matches: (t) =>
      t.has("package.loadlib") || t.has("luaopen_") || [...t].some((x) => x.startsWith("liblua")),
  },
  {
    // RediShell: parser use-after-free driven by GC pressure around loadstring.
    cve: "CVE-2025-49844",
    matches: (t) => t.has("loadstring") && (t.has("collectgarbage") || t.has("string.rep")),
  },
  { cve: "CVE-2025-46817", matches: (t) => t.has("unpack(") },
  {
    cve: "CVE-2025-46818",
    matches: (t, script) =>
      t.has("getmetatable") &&
      GETMETATABLE_OF_STRING_RE.test(script) &&
      /__(?:new)?index/.test(script),
  },
];

/** Tokens that only make sense as an escape from Redis's Lua sandbox, with or without a CVE. */
const ESCAPE_TOKENS = new Set(["io.popen", "os.execute", "debug."]);

// ---------- evidence ----------

/** An argument as evidence: its head, safe for any terminal, `…` where something is left out. */
function evidenceArg(text: string, cut: boolean): string {
  const shown = safeText(text, EVIDENCE_ARG_CHARS);
  return cut || shown.length < text.length ? shown + "…" : shown;
}

/** A command as evidence: name and the heads of its first arguments. */
function renderCommand(cmd: RecordedCommand, maxArgs = 4): string {
  const name = foreignModuleCommand(cmd.name) ?? cmd.name.toUpperCase();
  const parts = [safeText(name, 64)];
  for (let i = 0; i < Math.min(cmd.args.length, maxArgs); i++) {
    const { text, cut } = argumentText(cmd, i);
    parts.push(evidenceArg(text, cut));
  }
  if (cmd.args.length > maxArgs) parts.push(`(+${cmd.args.length - maxArgs} args)`);
  return safeText(parts.join(" "), MAX_EVIDENCE_CHARS);
}

class FindingBuilder {
  private readonly evidence = new Map<AttackClass, string[]>();
  private readonly attack = new Map<AttackClass, Set<string>>();

  add(cls: AttackClass, evidence: string, ...techniques: string[]): void {
    const list = this.evidence.get(cls) ?? [];
    this.evidence.set(cls, list);
    const ids = this.attack.get(cls) ?? new Set<string>();
    this.attack.set(cls, ids);
    for (const id of techniques) ids.add(id);
    if (list.length >= MAX_EVIDENCE) return;
    const line = safeText(evidence, MAX_EVIDENCE_CHARS);
    if (!list.includes(line)) list.push(line);
  }

  get size(): number {
    return this.evidence.size;
  }

  findings(): AttackFinding[] {
    return SEVERITY_ORDER.filter((cls) => this.evidence.has(cls)).map((cls) => ({
      class: cls,
      attack: [...(this.attack.get(cls) ?? [])].sort(),
      evidence: this.evidence.get(cls) ?? [],
    }));
  }
}

// ---------- the session ----------

/** What the keyspace held that makes a saved file a key, a crontab or a script. */
interface PayloadFacts {
  sshKey?: string;
  cronLine?: string;
  php?: string;
}

class SessionFacts {
  private readonly out = new FindingBuilder();
  private readonly budget = new ScanBudget();

  // scan
  private commands = 0;
  private acting = false;
  private onlyLiveness = true;
  private readonly probes: string[] = [];

  // brute force
  private authCommands = 0;
  private authEffects = 0;
  private readonly passwords = new Set<string>();
  private readonly authEvidence: string[] = [];

  // file write
  private dir?: string;
  private dbfilename?: string;
  private configEvidence: string[] = [];
  /** dir or dbfilename was set in this session: a SAVE now writes somewhere chosen. */
  private configured = false;
  /** … and set again since the last SAVE. */
  private pendingWrite = false;
  private readonly payload: PayloadFacts = {};

  // replication
  private replicatedTo?: string;
  private functionLoaded = false;
  private replicaWritable = false;
  private fcall = false;

  // destruction and data
  private destroyed = false;
  private readonly flushes: string[] = [];
  private deletedKeys = 0;
  private ransomNote?: string;
  /** A `crackit` key written: a ransom note only where data was destroyed (dataDestroyed). */
  private crackitNote?: string;
  /**
   * Keys were removed (a flush that emptied a non-empty keyspace, DEL of many keys), as the
   * session's effects tell; `destroyed` is set by the attempt alone.
   */
  private dataDestroyed = false;
  private publishes = 0;
  private readonly channels: string[] = [];
  private keyReads = 0;
  private dumps = 0;

  command(cmd: RecordedCommand): void {
    const name = cmd.name.toUpperCase();
    const args = cmd.args;
    const sub = args[0]?.toUpperCase() ?? "";
    this.commands++;
    this.noteScan(cmd, name, sub);
    this.noteHttp(cmd, name);

    const password = passwordTried(name, args);
    if (password !== undefined) {
      this.authCommands++;
      if (this.passwords.size < MAX_TRACKED_PASSWORDS) this.passwords.add(password);
      if (this.authEvidence.length < 3) this.authEvidence.push(renderCommand(cmd));
      return;
    }

    for (const [i, [key, value]] of configSetPairs(name, args).entries()) {
      this.configSet(key, value, argumentText(cmd, 2 * i + 2).cut);
    }
    switch (name) {
      case "SAVE":
      case "BGSAVE":
        this.save(name);
        break;
      case "SLAVEOF":
      case "REPLICAOF":
        this.replicaOf(args[0] ?? "", renderCommand(cmd));
        break;
      case "MODULE":
        if (sub === "LOAD" || sub === "LOADEX") {
          this.out.add("module_load", renderCommand(cmd), "T1129");
        } else if (sub === "UNLOAD") {
          this.out.add("module_load", renderCommand(cmd));
        }
        break;
      case "FLUSHALL":
      case "FLUSHDB":
        this.destroyed = true;
        if (this.flushes.length < MAX_EVIDENCE) this.flushes.push(renderCommand(cmd));
        this.out.add("destructive", renderCommand(cmd), "T1485");
        break;
      case "DEL":
      case "UNLINK":
        this.deletedKeys += args.length;
        break;
      case "ACL":
        if (sub === "SETUSER" && args[1]?.toLowerCase() === "default") {
          this.lockOut(renderCommand(cmd));
        }
        break;
      case "FCALL":
      case "FCALL_RO":
        this.fcall = true;
        break;
      case "PUBLISH":
      case "SPUBLISH":
        this.publishes++;
        if (this.channels.length < 3 && args[0] && !this.channels.includes(args[0])) {
          this.channels.push(args[0]);
        }
        break;
      case "SYNC":
      case "PSYNC":
        this.out.add("exfiltration", renderCommand(cmd) + " (client asked for a full copy)");
        break;
      case "MIGRATE":
        this.out.add("exfiltration", renderCommand(cmd), "T1048");
        break;
      case "DUMP":
        this.dumps++;
        this.keyReads++;
        break;
      case "MGET":
        this.keyReads += args.length;
        break;
      default:
        if (KEY_READS.has(name)) this.keyReads++;
    }

    const moduleCommand = foreignModuleCommand(name);
    if (moduleCommand !== undefined) {
      const shell = moduleCommand === "system.exec" || moduleCommand === "system.rev";
      this.out.add("module_load", renderCommand(cmd), ...(shell ? ["T1059.004"] : []));
    }

    const script = scriptBody(name, args);
    if (script !== undefined) {
      if (name === "FUNCTION") this.functionLoaded = true;
      this.lua(cmd, this.budget.take(script));
    }

    this.payloads(cmd, name);
  }

  /** `count` more `name` commands with `args` arguments in all, seen only as counts. */
  folded(name: string, count: number, args: number): void {
    this.commands += count;
    if (!LIVENESS_COMMANDS.has(name)) this.onlyLiveness = false;
    if (ACTING_COMMANDS.has(name)) this.acting = true;
    switch (name) {
      case "PUBLISH":
      case "SPUBLISH":
        this.publishes += count;
        break;
      case "DEL":
      case "UNLINK":
        this.deletedKeys += args;
        break;
      case "MGET":
        this.keyReads += args;
        break;
      default:
        if (KEY_READS.has(name)) this.keyReads += count;
    }
  }

  effect(effect: SessionEffect): void {
    switch (effect.kind) {
      case "auth":
        this.authEffects++;
        if (this.passwords.size < MAX_TRACKED_PASSWORDS) this.passwords.add(effect.password);
        break;
      case "config_set":
        this.configSet(effect.key.toLowerCase(), effect.value, false);
        break;
      case "save":
        this.dir = effect.dir;
        this.dbfilename = effect.dbfilename;
        this.save("SAVE");
        break;
      case "replicaof":
        this.replicaOf(effect.host, `replica of ${effect.host}:${effect.port}`);
        break;
      case "module_load":
        this.out.add(
          "module_load",
          effect.loaded === true
            ? `module ${effect.module ?? "?"} loaded from ${effect.path} (sha256 ${effect.sha256 ?? "?"})`
            : `module loaded from ${effect.path}`,
          "T1129",
        );
        break;
      case "flush":
        this.destroyed = true;
        if (effect.keys === undefined || effect.keys > 0) this.dataDestroyed = true;
        this.out.add(
          "destructive",
          effect.keys === undefined ? "keyspace flushed" : `keyspace flushed: ${effect.keys} keys`,
          "T1485",
        );
        break;
      case "script":
        // The body, if any, was read from its SCRIPT LOAD or EVAL; a command is what the
        // script handed a CVE-2022-0543 io.popen / os.execute (the honeypot ran nothing).
        if (effect.command !== undefined) {
          this.out.add("lua_exploit", `shell command via Lua: ${effect.command}`, "T1059.004");
        }
        break;
    }
  }

  private noteScan(cmd: RecordedCommand, name: string, sub: string): void {
    const reading = READING_SUBCOMMANDS[name];
    // Module commands (`JSON.SET`, `system.exec`) are nothing a scanner needs to send.
    if (
      ACTING_COMMANDS.has(name) ||
      (reading !== undefined && !reading.has(sub)) ||
      name.includes(".")
    ) {
      this.acting = true;
    }
    if (!LIVENESS_COMMANDS.has(name)) this.onlyLiveness = false;
    if (this.probes.length < MAX_EVIDENCE) {
      const line = renderCommand(cmd, 2);
      if (!this.probes.includes(line)) this.probes.push(line);
    }
  }

  private noteHttp(cmd: RecordedCommand, name: string): void {
    const versioned = cmd.args.some((a) => HTTP_VERSION_RE.test(a));
    // Redis command names never end in ':'; HTTP header lines always do (`Host:`).
    const header = name.length > 1 && name.endsWith(":");
    if ((HTTP_METHODS.has(name) && (name !== "GET" || versioned)) || header || versioned) {
      this.out.add("http_cross_protocol", renderCommand(cmd, 3));
    }
  }

  private configSet(key: string, value: string, cut: boolean): void {
    const line = `CONFIG SET ${safeText(key, 64)} ${evidenceArg(value, cut)}`;
    switch (key) {
      case "dir":
        this.dir = value;
        break;
      case "dbfilename":
        this.dbfilename = value;
        // The rogue-server chain names the replicated RDB after the module it loads (§2.2).
        if (/\.so$/i.test(value)) this.out.add("module_load", line);
        break;
      case "requirepass":
        this.lockOut(line);
        return;
      case "replica-read-only":
      case "slave-read-only":
        if (value.toLowerCase() === "no") this.replicaWritable = true;
        return;
      default:
        return;
    }
    this.configured = true;
    this.pendingWrite = true;
    this.configEvidence = [
      ...this.configEvidence.filter((l) => !l.startsWith(`CONFIG SET ${key} `)),
      line,
    ];
  }

  private save(name: string): void {
    if (!this.configured) return;
    this.fileWrite(true, name);
    this.pendingWrite = false;
  }

  /**
   * A write to the current dir/dbfilename, classified now: the file holds the keyspace as it
   * is at this SAVE, so later SETs are not in it.
   */
  private fileWrite(saved: boolean, how: string): void {
    const kind = this.targetKind(saved);
    if (kind === undefined) return;
    const [cls, technique, payload] = kind;
    for (const line of [...this.configEvidence, how]) this.out.add(cls, line, ...technique);
    if (payload) this.out.add(cls, payload);
  }

  private replicaOf(host: string, evidence: string): void {
    if (host.toUpperCase() === "NO") {
      if (this.replicatedTo !== undefined) this.out.add("rogue_replication", evidence);
      return;
    }
    const scope = addressScope(host);
    // Pointing the server at itself replicates nothing from anyone.
    if (scope === "loopback" || scope === "unspecified") return;
    this.replicatedTo = host;
    const where = scope === "private" || scope === "link_local" ? ` (${scope} address)` : "";
    this.out.add("rogue_replication", evidence + where, "T1105");
  }

  private lockOut(line: string): void {
    this.destroyed = true;
    this.out.add("destructive", line, "T1531");
  }

  private lua(cmd: RecordedCommand, script: string): void {
    const tokens = new Set(findLuaTokens(script));
    const cves = LUA_SHAPES.filter((shape) => shape.matches(tokens, script)).map((s) => s.cve);
    const escapes = [...tokens].filter((t) => ESCAPE_TOKENS.has(t));
    if (cves.length === 0 && escapes.length === 0) return;
    const listed = [...tokens].join(", ");
    for (const cve of cves) this.out.add("lua_exploit", `${cve}: ${listed}`, "T1190");
    if (cves.length === 0) for (const t of escapes) this.out.add("lua_exploit", `token ${t}`);
    this.out.add("lua_exploit", renderCommand(cmd, 2));
  }

  /** What every argument carries: download-and-run lines; for written values, file contents. */
  private payloads(cmd: RecordedCommand, name: string): void {
    const written = VALUE_WRITERS.has(name);
    const signals = new Set<string>();
    for (let i = 0; i < cmd.args.length; i++) {
      const { text } = argumentText(cmd, i);
      const searched = this.budget.take(text);
      if (searched === "") continue;
      const texts = [searched, ...decodedPayloads(searched).map((d) => this.budget.take(d))];
      this.dropper(texts);
      if (!written) continue;
      this.writtenValue(searched, texts);
      for (const [signal, re] of RANSOM_SIGNALS) {
        if ((signal !== "note key" || i === 0) && re.test(searched)) signals.add(signal);
      }
    }
    if (!written || this.ransomNote !== undefined) return;
    if (cmd.args[0]?.toLowerCase() === CRACKIT_KEY) this.crackitNote ??= renderCommand(cmd, 2);
    if (signals.size >= 2) {
      const named = RANSOM_SIGNALS.map(([signal]) => signal).filter((s) => signals.has(s));
      this.ransomNote = `note (${named.join(", ")}): ${renderCommand(cmd, 2)}`;
    }
  }

  private dropper(texts: readonly string[]): void {
    if (!texts.some((t) => RUN_RE.test(t))) return;
    for (const [n, text] of texts.entries()) {
      const at = text.search(DOWNLOAD_RE);
      if (at < 0) continue;
      const start = Math.max(text.lastIndexOf("\n", at) + 1, at - 40);
      const end = text.indexOf("\n", at);
      const line = text.slice(start, end < 0 ? undefined : end).trim();
      this.out.add("dropper", (n > 0 ? "base64-decoded: " : "") + line, "T1105");
      return;
    }
  }

  private writtenValue(text: string, texts: readonly string[]): void {
    if (this.payload.sshKey === undefined && hasSshKey(text)) {
      this.payload.sshKey = `value holds an SSH key: ${text.trim()}`;
    }
    if (this.payload.cronLine === undefined) {
      const line = texts.flatMap((t) => findCronLines(t))[0];
      if (line !== undefined) this.payload.cronLine = `value holds a cron line: ${line}`;
    }
    if (this.payload.php === undefined && PHP_RE.test(text)) {
      this.payload.php = `value holds a script: ${text.trim()}`;
    }
  }

  findings(meta?: SessionMeta): AttackFinding[] {
    this.bruteforce(meta);
    if (this.pendingWrite) this.fileWrite(false, "no SAVE: attempted");
    this.replicationCve();
    this.dataFindings(meta);
    if (this.out.size === 0 && !this.acting) this.scan(meta);
    return this.out.findings();
  }

  private bruteforce(meta?: SessionMeta): void {
    const attempts = Math.max(this.authCommands, this.authEffects);
    const source = meta?.sourceAuth;
    if (
      (attempts < BRUTEFORCE_ATTEMPTS || this.passwords.size < 2) &&
      attempts > 0 &&
      source !== undefined &&
      source.sessions > 1 &&
      source.attempts >= BRUTEFORCE_ATTEMPTS &&
      source.passwords >= 2
    ) {
      this.out.add(
        "bruteforce",
        `${source.attempts} AUTH attempts, ${source.passwords} distinct passwords from this ` +
          `source over ${source.sessions} connections`,
        "T1110.001",
      );
      for (const line of this.authEvidence) this.out.add("bruteforce", line);
      return;
    }
    if (attempts < BRUTEFORCE_ATTEMPTS || this.passwords.size < 2) return;
    const distinct =
      this.passwords.size >= MAX_TRACKED_PASSWORDS
        ? `≥${MAX_TRACKED_PASSWORDS}`
        : this.passwords.size;
    this.out.add(
      "bruteforce",
      `${attempts} AUTH attempts, ${distinct} distinct passwords`,
      "T1110.001",
    );
    for (const line of this.authEvidence) this.out.add("bruteforce", line);
  }

  /** The class of a write, by where it goes, else by what the keyspace held (§2.1). */
  private targetKind(
    saved: boolean,
  ): readonly [AttackClass, readonly string[], string | undefined] | undefined {
    const dir = this.dir ?? "";
    const file = this.dbfilename ?? "";
    const p = this.payload;
    if (SSH_DIR_RE.test(dir) || SSH_FILE_RE.test(file))
      return ["file_write_ssh", ["T1098.004"], p.sshKey];
    if (
      CRON_DIR_RE.test(dir) ||
      CRON_FILE_RE.test(file) ||
      (/^\/etc\/?$/.test(dir) && file === "crontab")
    ) {
      return ["file_write_cron", ["T1053.003"], p.cronLine];
    }
    if (WEB_DIR_RE.test(dir) || WEB_FILE_RE.test(file))
      return ["file_write_webshell", ["T1505.003"], p.php];
    if (p.sshKey) return ["file_write_ssh", ["T1098.004"], p.sshKey];
    if (p.cronLine) return ["file_write_cron", ["T1053.003"], p.cronLine];
    if (p.php) return ["file_write_webshell", ["T1505.003"], p.php];
    // An unsaved switch back to an RDB name is a clean-up; an unsaved .so is module staging.
    if (!saved && /\.(?:rdb|so)$/i.test(file)) return undefined;
    return ["file_write", [], undefined];
  }

  private replicationCve(): void {
    if (
      this.replicatedTo !== undefined &&
      this.functionLoaded &&
      (this.replicaWritable || this.fcall)
    ) {
      this.out.add(
        "rogue_replication",
        "CVE-2026-23631 (DarkReplica): FUNCTION LOAD + REPLICAOF + writable replica/FCALL",
        "T1190",
      );
    }
  }

  private dataFindings(meta?: SessionMeta): void {
    if (this.deletedKeys >= DESTRUCTIVE_DELETES) {
      this.destroyed = true;
      this.dataDestroyed = true;
      this.out.add("destructive", `DEL of ${this.deletedKeys} keys`, "T1485");
    }
    // The 2015 `crackit` chain (FLUSHALL, an SSH key under `crackit`, SAVE into ~/.ssh) is an
    // SSH-key write; it is ransom only where it destroyed data, not on an empty server.
    const note = this.ransomNote ?? (this.dataDestroyed ? this.crackitNote : undefined);
    if (this.destroyed && note !== undefined) {
      this.out.add("ransom", note, "T1485");
      for (const line of this.flushes) this.out.add("ransom", line);
    }
    if (this.publishes >= PUBLISH_STREAM) {
      const bytes = meta ? `, ${meta.bytesIn} bytes in` : "";
      this.out.add("exfiltration", `${this.publishes} PUBLISH${bytes}`);
      this.out.add("exfiltration", `channels: ${this.channels.join(", ")}`);
    }
    if (this.keyReads >= DUMP_READS) this.out.add("exfiltration", `${this.keyReads} keys read`);
    if (this.dumps > 0) this.out.add("exfiltration", `DUMP of ${this.dumps} keys`);
  }

  private scan(meta?: SessionMeta): void {
    if (this.commands === 0) {
      if (!meta?.sentNothing) return;
      const closed = meta.closedEarly ? ", then closed" : "";
      const what =
        meta.bytesIn > 0
          ? `${meta.bytesIn} bytes, no complete command${closed}`
          : `connected and sent nothing${closed}`;
      this.out.add("scan", what, "T1595.001");
      return;
    }
    const technique = this.onlyLiveness ? "T1595.001" : "T1595.002";
    for (const line of this.probes) this.out.add("scan", line, technique);
  }
}

/**
 * The attack classes of one session, most severe first. `effects` (what the persona let the
 * commands do) add what the commands alone do not say; `meta` lets a session without any
 * command still count as a scan.
 */
export function classifySession(
  commands: readonly RecordedCommand[],
  effects: readonly SessionEffect[] = [],
  meta?: SessionMeta,
): AttackFinding[] {
  const facts = new SessionFacts();
  for (const cmd of commands) facts.command(cmd);
  for (const [name, f] of meta?.folded ?? []) facts.folded(name, f.count, f.args);
  for (const effect of effects) facts.effect(effect);
  return facts.findings(meta);
}
