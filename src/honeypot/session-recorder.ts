/**
 * What the honeypot keeps of a session (its recording policy), apart from its socket: the
 * session row and its events handed to the recorder, each command bounded (a prefix of each
 * argument, its length and hash), repetition folded into counts, what the classifier keeps
 * within its bytes, the source's hourly budget for records; and, when the session ends, its
 * classification and indicators in the final row.
 */
import { createHash } from "node:crypto";
import type { RespCommand } from "../resp/index.js";
import type { HoneypotSessionRow } from "../schema/honeypot.js";
import { classifySession } from "./attacks.js";
import { extractIndicators } from "./indicators.js";
import type { HoneypotLimits } from "./limits.js";
import type { MemoryAccount } from "./memory.js";
import { eventRow, type HoneypotRecorder, serialise, sessionRow } from "./recorder.js";
import type { RecordedCommand, SessionEffect } from "./types.js";

/** Sources a SourceBudget remembers; past it, those whose allowance refilled are forgotten. */
const BUDGET_SOURCES = 65_536;
const HOUR_MS = 3_600_000;

/**
 * Bytes of records each source may cause, as a token bucket: a burst of one hour's allowance,
 * refilled evenly. What is counted is what goes to disk: each event and session row as
 * serialised (a command with 32 arguments of 1 KB costs 32 KB, a PING a hundred bytes). A
 * source with nothing left is turned away with the max-clients error Redis gives a full server
 * (nothing recorded), and its open sessions' commands are answered and counted, not recorded.
 * A record is counted whole once begun, so a source overdraws by at most one record. Memory:
 * at most BUDGET_SOURCES buckets.
 */
export class SourceBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perHour: number,
    private readonly maxSources = BUDGET_SOURCES,
  ) {}

  /** Has `source` any allowance left? */
  has(source: string, now: number): boolean {
    return this.perHour <= 0 || this.bucket(source, now).tokens > 0;
  }

  /** Count `bytes` against `source`'s allowance (it may go below zero: see above). */
  spend(source: string, now: number, bytes: number): void {
    if (this.perHour > 0) this.bucket(source, now).tokens -= bytes;
  }

  /** The source's bucket, refilled up to now. */
  private bucket(source: string, now: number): { tokens: number; at: number } {
    let b = this.buckets.get(source);
    if (b === undefined) {
      if (this.buckets.size >= this.maxSources) this.forget(now);
      b = { tokens: this.perHour, at: now };
      this.buckets.set(source, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.perHour, b.tokens + ((now - b.at) * this.perHour) / HOUR_MS);
      b.at = now;
    }
    return b;
  }

  /** Sources remembered (for tests and stats). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Drop the buckets that have refilled (a new one would be the same); if that frees less than
   * a quarter, the oldest down to half, so a walk over all of them happens at most once per
   * maxSources/4 new sources, not once per connection.
   */
  private forget(now: number): void {
    for (const [ip, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * this.perHour) / HOUR_MS >= this.perHour)
        this.buckets.delete(ip);
    }
    if (this.buckets.size <= this.maxSources * 0.75) return;
    let drop = this.buckets.size - (this.maxSources >> 1);
    for (const ip of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(ip);
    }
  }
}

/** Sources a SourceAuth remembers (the least recently seen forgotten first). */
const AUTH_SOURCES = 16_384;
/** Distinct passwords told apart per source; more still count as attempts. */
const AUTH_PASSWORDS = 32;

/** A source's AUTH attempts across its sessions, as the classifier is told them. */
export interface SourceAuthCount {
  attempts: number;
  /** Distinct passwords (at most AUTH_PASSWORDS are told apart). */
  passwords: number;
  /** Sessions that tried one. */
  sessions: number;
}

/**
 * AUTH attempts per source across its connections, within an hour of its last one: a brute
 * force that sends one password per connection (as hydra, medusa and most bots do) is seen as
 * one, where each session alone shows a single try. Memory: at most AUTH_SOURCES sources, each
 * with AUTH_PASSWORDS 32-bit hashes.
 */
export class SourceAuth {
  private readonly sources = new Map<
    string,
    SourceAuthCount & { hashes: Set<number>; last: string; at: number }
  >();

  constructor(private readonly maxSources = AUTH_SOURCES) {}

  /** `session` of `source` tried `password` at `now`; returns the source's counts so far. */
  attempt(source: string, session: string, password: string, now: number): SourceAuthCount {
    let t = this.sources.get(source);
    if (t !== undefined && now - t.at >= HOUR_MS) t = undefined;
    if (t === undefined) {
      t = { attempts: 0, passwords: 0, sessions: 0, hashes: new Set(), last: "", at: now };
    }
    this.sources.delete(source);
    if (this.sources.size >= this.maxSources) {
      const oldest = this.sources.keys().next().value;
      if (oldest !== undefined) this.sources.delete(oldest);
    }
    this.sources.set(source, t);
    t.at = now;
    t.attempts++;
    if (t.last !== session) {
      t.last = session;
      t.sessions++;
    }
    const h = fnv1a(password);
    if (!t.hashes.has(h)) {
      if (t.hashes.size < AUTH_PASSWORDS) t.hashes.add(h);
      t.passwords++;
    }
    return { attempts: t.attempts, passwords: t.passwords, sessions: t.sessions };
  }

  get size(): number {
    return this.sources.size;
  }
}

/** FNV-1a, 32 bits: tells passwords apart without keeping them. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Commands that only move data: past the thresholds, more of them say nothing new. Anything
 * that configures, saves, replicates, loads, runs scripts, authenticates or flushes is never
 * folded, and neither is any argument that could carry a payload (see plainArgs).
 */
const FOLDABLE = new Set(
  (
    "PING ECHO GET SET SETNX SETEX PSETEX GETSET MGET MSET APPEND STRLEN INCR INCRBY DECR DECRBY " +
    "EXISTS TYPE TTL PTTL EXPIRE PEXPIRE PERSIST DEL UNLINK LPUSH RPUSH LPOP RPOP LRANGE LLEN " +
    "LINDEX SADD SREM SPOP SMEMBERS SCARD SISMEMBER HSET HGET HMSET HMGET HGETALL HDEL HLEN " +
    "HINCRBY HEXISTS ZADD ZRANGE ZSCORE ZCARD ZREM PUBLISH SELECT DBSIZE TIME"
  ).split(" "),
);

/** Longest argument a folded command may have. */
const FOLD_ARG_BYTES = 128;

/** Every argument short and made of `[A-Za-z0-9_:.-]`: no path, URL, key, cron line or script. */
function plainArgs(cmd: RespCommand): boolean {
  const args = cmd.args;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (argLength(cmd, i) > FOLD_ARG_BYTES) return false;
    for (let j = 0; j < a.length; j++) {
      const c = a[j]!;
      // 0-9 : ; A-Z _ a-z - .   (no '/', space, '*', quotes, '<', '?', '(' …)
      if (
        !(
          (c >= 0x30 && c <= 0x3a) ||
          (c >= 0x41 && c <= 0x5a) ||
          (c >= 0x61 && c <= 0x7a) ||
          c === 0x5f ||
          c === 0x2d ||
          c === 0x2e
        )
      ) {
        return false;
      }
    }
  }
  return true;
}

/** Distinct command names counted per session; the rest are counted under OTHER_NAMES. */
const MAX_COUNTED_NAMES = 256;
const OTHER_NAMES = "(other)";

/** A command name's tally in one session. */
interface NameCount {
  count: number;
  /** The name may be folded (FOLDABLE). */
  foldable: boolean;
  /** Commands of this name counted but not recorded, and their arguments. */
  folded: { count: number; args: number } | undefined;
}

/**
 * One more `name` in a session's counts; returns its tally. A visitor inventing names (a
 * fuzzer, a flood of junk) costs one counter past MAX_COUNTED_NAMES, not one per name.
 */
function countCommand(counts: Map<string, NameCount>, name: string): NameCount {
  let c = counts.get(name);
  if (c === undefined) {
    const key = counts.size < MAX_COUNTED_NAMES ? name : OTHER_NAMES;
    c = counts.get(key);
    if (c === undefined) {
      c = { count: 0, foldable: key === name && FOLDABLE.has(name), folded: undefined };
      counts.set(key, c);
    }
  }
  c.count++;
  return c;
}

/** Longest name commandName remembers between requests (command names are short). */
const NAME_MEMO_BYTES = 24;

/** Bytes of effects kept per session for the classifier (each is at most about 1 KB). */
const EFFECT_BYTES = 256 * 1024;

/** What a command kept for the classifier costs: its objects and strings (a byte a character). */
function recordedBytes(r: RecordedCommand): number {
  let n = 160 + r.name.length;
  for (let i = 0; i < r.args.length; i++) n += 56 + r.args[i]!.length + (r.argHashes[i] ? 80 : 0);
  return n;
}

/** Add `from`'s counts into `into` (a copy when both have some). */
function mergeCounts(
  into: Map<string, { count: number; args: number }>,
  from: Map<string, { count: number; args: number }>,
): Map<string, { count: number; args: number }> {
  if (from.size === 0) return into;
  if (into.size === 0) return from;
  const out = new Map(Array.from(into, ([k, v]) => [k, { ...v }]));
  for (const [name, f] of from) {
    const c = out.get(name);
    if (c === undefined) out.set(name, { ...f });
    else {
      c.count += f.count;
      c.args += f.args;
    }
  }
  return out;
}

export interface SessionRecorderOptions {
  /** The session row as it starts (counters at zero, an empty record). */
  row: HoneypotSessionRow;
  /** The source prefix its records are counted under (SourceBudget). */
  source: string;
  /** Its share of the memory budget (what the classifier keeps draws from it). */
  memory: MemoryAccount;
  limits: HoneypotLimits;
  recorder: HoneypotRecorder;
  budget: SourceBudget;
  /** The source's AUTH attempts across its sessions (a brute force one try per connection). */
  auth?: SourceAuth;
  /** The server's clock (ms), read once per socket event. */
  clock: () => number;
}

export class SessionRecorder {
  readonly row: HoneypotSessionRow;
  private readonly source: string;
  private readonly memory: MemoryAccount;
  private readonly limits: HoneypotLimits;
  private readonly recorder: HoneypotRecorder;
  private readonly budget: SourceBudget;
  private readonly auth: SourceAuth | undefined;
  /** The source's AUTH counts after this session's last attempt, if it made one. */
  private sourceAuth: SourceAuthCount | undefined;
  private readonly clock: () => number;
  private readonly t0: number;
  private seq = 0;
  private readonly commands: RecordedCommand[] = [];
  private readonly effects: SessionEffect[] = [];
  /** Bytes `commands` hold (classifierBytes bounds it). */
  private classified = 0;
  /** Bytes `effects` hold (EFFECT_BYTES bounds it). */
  private effectBytes = 0;
  /** Commands past classifierBytes, counted by name for the classifier. */
  private readonly unclassified = new Map<string, { count: number; args: number }>();
  private readonly counts = new Map<string, NameCount>();
  /** Commands counted but not recorded (repetition folding): name → commands and arguments. */
  private readonly folded = new Map<string, { count: number; args: number }>();
  /** Commands recorded as events. */
  private recorded = 0;
  /** ISO time of the read being handled: every event of one read carries it. */
  private now: string | undefined;
  /** Commands not recorded because the source's budget was spent (SourceBudget). */
  private overBudget = 0;
  /** The last command name's bytes and its decoded form (nameOf). */
  private nameBytes: Buffer | undefined;
  private name = "";

  constructor(o: SessionRecorderOptions) {
    this.row = o.row;
    this.source = o.source;
    this.memory = o.memory;
    this.limits = o.limits;
    this.recorder = o.recorder;
    this.budget = o.budget;
    this.auth = o.auth;
    this.clock = o.clock;
    this.t0 = o.clock();
  }

  /** The session begins: its first row and a `connect` event. */
  begin(transport: "tcp" | "tls"): void {
    this.recorder.write(sessionRow({ ...this.row }));
    this.event("connect", undefined, { transport });
  }

  /** A new read (or a timer) begins: the events from here on carry a new time. */
  tick(): void {
    this.now = undefined;
  }

  /**
   * A command arrived: counted, then recorded, or folded into its name's count (a plain data
   * command repeated past the thresholds). Returns its name as the counters show it.
   */
  command(cmd: RespCommand): string {
    const limits = this.limits;
    this.row.commands++;
    const name = this.nameOf(cmd);
    const seen = countCommand(this.counts, name);
    if (
      seen.foldable &&
      limits.foldAfterEvents > 0 &&
      this.recorded >= limits.foldAfterEvents &&
      seen.count > limits.foldAfterName &&
      plainArgs(cmd)
    ) {
      let f = seen.folded;
      if (f === undefined) {
        f = { count: 0, args: 0 };
        seen.folded = f;
        this.folded.set(name, f);
      }
      f.count++;
      f.args += cmd.args.length - 1;
    } else this.record(cmd, name);
    return name;
  }

  /** What a command did (a file saved, a master followed): an event, and kept for the classifier. */
  effect(effect: SessionEffect): void {
    if (effect.kind === "auth" && this.auth !== undefined) {
      this.sourceAuth = this.auth.attempt(this.source, this.row.id, effect.password, this.clock());
    }
    this.keepEffect(effect);
    this.event("effect", effect.kind, { effect });
  }

  /**
   * The command's name as the counters and events show it (upper case, at most 64 bytes). A
   * pipeline repeats one name: the last one's bytes are compared before decoding again.
   */
  private nameOf(cmd: RespCommand): string {
    const first = cmd.args[0];
    if (first === undefined) return "";
    const memo = this.nameBytes;
    if (memo !== undefined && memo.length === first.length) {
      let i = 0;
      while (i < first.length && memo[i] === first[i]) i++;
      if (i === first.length) return this.name;
    }
    const name = first.toString("latin1", 0, Math.min(64, first.length)).toUpperCase();
    if (first.length <= NAME_MEMO_BYTES) {
      // A copy: a view would keep the whole request (and its payload) alive.
      this.nameBytes = Buffer.from(first);
      this.name = name;
    }
    return name;
  }

  /**
   * A command as events and the classifier keep it (bounded: a prefix of each argument, its
   * length and hash), kept for the classifier while the session's classifierBytes and memory
   * share allow, else counted by name; recorded as an event while its source has budget.
   */
  private record(cmd: RespCommand, name: string): void {
    const limits = this.limits;
    const keep = this.recorded < limits.maxEventsPerSession;
    const classify = this.classified < limits.classifierBytes;
    if (!keep && !classify) {
      this.countUnclassified(name, cmd.args.length - 1);
      return;
    }
    const recorded = boundCommand(cmd, name, Date.now() - this.t0, limits);
    if (classify) {
      const bytes = recordedBytes(recorded);
      if (this.classified + bytes <= limits.classifierBytes && this.memory.take(bytes)) {
        this.classified += bytes;
        this.commands.push(recorded);
      } else {
        // Past the share nothing more is kept, even a smaller command: one cut-off point.
        this.classified = limits.classifierBytes;
        this.countUnclassified(name, cmd.args.length - 1);
      }
    } else this.countUnclassified(name, cmd.args.length - 1);
    if (!keep) return;
    if (!this.budget.has(this.source, this.clock())) {
      this.overBudget++;
      return;
    }
    this.recorded++;
    this.event("command", name, {
      args: recorded.args,
      lengths: recorded.argLengths,
      sha256: recorded.argHashes,
      inline: recorded.inline,
      ...(cmd.args.length - 1 > recorded.args.length ? { argc: cmd.args.length } : {}),
    });
  }

  private countUnclassified(name: string, args: number): void {
    let c = this.unclassified.get(name);
    if (c === undefined) {
      // As many names as countCommand keeps apart; the rest under its OTHER_NAMES.
      const key = this.unclassified.size < MAX_COUNTED_NAMES ? name : OTHER_NAMES;
      c = this.unclassified.get(key) ?? { count: 0, args: 0 };
      this.unclassified.set(key, c);
    }
    c.count++;
    c.args += args;
  }

  /**
   * An effect for the classifier. Effects have a share of their own: they are small and say
   * what an attack did (the files it saved, the master it followed), so commands padded in
   * front of them must not crowd them out.
   */
  private keepEffect(effect: SessionEffect): void {
    let bytes = 96;
    for (const v of Object.values(effect)) bytes += typeof v === "string" ? v.length + 24 : 8;
    if (this.effectBytes + bytes > EFFECT_BYTES || !this.memory.take(bytes)) return;
    this.effectBytes += bytes;
    this.effects.push(effect);
  }

  /**
   * Hand an event to the recorder. Its serialised size is what it will take on disk: that is
   * what its source's budget is charged, and what the recorder's queue counts.
   */
  event(kind: string, name: string | undefined, record: Record<string, unknown>): void {
    this.now ??= new Date().toISOString();
    const row = {
      sessionId: this.row.id,
      seq: this.seq++,
      time: this.now,
      kind,
      record,
      ...(name !== undefined ? { name } : {}),
    };
    const serialised = serialise(row);
    this.budget.spend(this.source, this.clock(), serialised.bytes);
    this.recorder.write(eventRow(row, serialised));
  }

  /** The session ends: classify what it did, extract indicators, write its final row. */
  finish(): HoneypotSessionRow {
    const findings = classifySession(this.commands, this.effects, {
      bytesIn: this.row.bytesIn,
      sentNothing: this.row.commands === 0,
      // What the classifier did not keep still counts, as folded commands do.
      folded: mergeCounts(this.folded, this.unclassified),
      ...(this.sourceAuth !== undefined ? { sourceAuth: this.sourceAuth } : {}),
    });
    const indicators = extractIndicators(this.commands, this.effects);
    this.now = undefined;
    const folded = this.folded.size > 0 ? { folded: Object.fromEntries(this.folded) } : {};
    this.event("close", undefined, {
      commands: this.row.commands,
      bytes_in: this.row.bytesIn,
      ...folded,
    });
    const final: HoneypotSessionRow = {
      ...this.row,
      endedAt: new Date().toISOString(),
      classes: findings.map((f) => f.class).join(","),
      record: {
        findings,
        indicators,
        command_counts: Object.fromEntries(Array.from(this.counts, ([k, c]) => [k, c.count])),
        ...(this.row.commands > this.commands.length
          ? { classified_commands: this.commands.length }
          : {}),
        ...(this.row.commands > this.recorded ? { events_recorded: this.recorded } : {}),
        // The source had spent its hour's budget: these commands were answered, not recorded.
        ...(this.overBudget > 0 ? { over_source_budget: this.overBudget } : {}),
        ...folded,
      },
    };
    const serialised = serialise(final);
    this.budget.spend(this.source, this.clock(), serialised.bytes);
    this.recorder.write(sessionRow(final, serialised));
    return final;
  }
}

/** Argument i's whole length (the decoder kept a prefix of the longer ones). */
function argLength(cmd: RespCommand, i: number): number {
  return cmd.cut?.lengths[i] ?? cmd.args[i]!.length;
}

/** The bounded form of a command: what events keep and the classifier reads. */
function boundCommand(
  cmd: RespCommand,
  name: string,
  t: number,
  limits: HoneypotLimits,
): RecordedCommand {
  const end = Math.min(cmd.args.length, limits.eventArgs);
  const args: string[] = [];
  const argLengths: number[] = [];
  const argHashes: Array<string | null> = [];
  for (let i = 1; i < end; i++) {
    const a = cmd.args[i]!;
    const length = argLength(cmd, i);
    args.push(a.subarray(0, limits.eventArgBytes).toString("latin1"));
    argLengths.push(length);
    argHashes.push(
      cmd.cut?.sha256[i] ??
        (length > limits.eventArgBytes ? createHash("sha256").update(a).digest("hex") : null),
    );
  }
  return { t, name, args, argLengths, argHashes, inline: cmd.inline };
}
