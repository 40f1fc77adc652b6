/**
 * The differential corpus (issue 16): parse it, play it over real sockets against a server (a
 * real redis-server when recording, the shipped HoneypotServer when replaying), derive masks from
 * two recordings of the same real server, and compare a reply with a recording under its masks.
 * Shared by the recorder (bench/record-corpus.ts), the replay test (test/honeypot-corpus.test.ts)
 * and the README table (bench/corpus-table.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  PERSONAS,
  type Persona,
  type PersonaOptions,
  persona,
} from "../../src/honeypot/personas/index.js";
import { recordingFor, recording as tableRecording } from "../../src/honeypot/personas/tables.js";
import { encodeCommand, ReplyDecoder, type RespValue } from "../../src/resp/index.js";
import { ReplyFramer, servePersona } from "./honeypot-server.js";
import { freePort } from "./ports.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** test/fixtures/corpus in the source tree (this file runs from dist/test/helpers). */
export const CORPUS_DIR = path.resolve(here, "../../../test/fixtures/corpus");
export const CORPUS_FILE = path.join(CORPUS_DIR, "corpus.txt");
export const RECORDINGS_DIR = path.join(CORPUS_DIR, "recordings");
export const FLOORS_FILE = path.join(CORPUS_DIR, "floors.json");

// ------------------------------------------------------------------------------ the corpus

export interface Step {
  /** Connection number within the case (1, 2, …). */
  conn: number;
  /** `command`: a RESP array of arguments; `raw`: bytes as written; `read`: nothing sent. */
  kind: "command" | "raw" | "read";
  /** Arguments (command) or the one raw string (raw), Latin-1 (one char a byte), `${dir}` unset. */
  parts: string[];
  /** The corpus line, for listings. */
  line: string;
}

export interface Case {
  name: string;
  steps: Step[];
}

/** Values the corpus refers to: `${dir}` is the server's working directory. */
export interface CorpusVars {
  dir: string;
}

const ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', r: "\r", n: "\n", t: "\t" };

/** Words separated by spaces, or "quoted" with \\ \" \r \n \t \xHH escapes. */
export function splitWords(text: string, where: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === " ") {
      i++;
      continue;
    }
    if (text[i] !== '"') {
      const end = text.indexOf(" ", i);
      words.push(text.slice(i, end < 0 ? text.length : end));
      i = end < 0 ? text.length : end;
      continue;
    }
    let word = "";
    i++;
    for (;;) {
      if (i >= text.length) throw new Error(`${where}: unterminated quote`);
      const c = text[i]!;
      if (c === '"') {
        i++;
        break;
      }
      if (c !== "\\") {
        word += c;
        i++;
        continue;
      }
      const e = text[i + 1] ?? "";
      if (e === "x") {
        const hex = text.slice(i + 2, i + 4);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`${where}: bad \\x escape`);
        word += String.fromCharCode(Number.parseInt(hex, 16));
        i += 4;
      } else if (ESCAPES[e] !== undefined) {
        word += ESCAPES[e];
        i += 2;
      } else {
        throw new Error(`${where}: unknown escape \\${e}`);
      }
    }
    if (i < text.length && text[i] !== " ") throw new Error(`${where}: text after a quote`);
    words.push(word);
  }
  return words;
}

/** The corpus file's cases, in order. Throws on any malformed line (with its line number). */
export function parseCorpus(text: string): Case[] {
  const cases: Case[] = [];
  const names = new Set<string>();
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trimEnd();
    const where = `corpus line ${n + 1}`;
    if (line === "" || line.startsWith("#")) continue;
    const header = /^case ([a-z0-9][a-z0-9-]*)$/.exec(line);
    if (header) {
      if (names.has(header[1]!)) throw new Error(`${where}: case ${header[1]} twice`);
      names.add(header[1]!);
      cases.push({ name: header[1]!, steps: [] });
      continue;
    }
    const m = /^([1-9])([>!?])(?: (.*))?$/.exec(line);
    const current = cases.at(-1);
    if (!m || current === undefined) throw new Error(`${where}: not a step: ${line}`);
    const conn = Number(m[1]);
    const rest = m[3] ?? "";
    if (m[2] === "?") {
      if (rest !== "") throw new Error(`${where}: a read step takes nothing`);
      current.steps.push({ conn, kind: "read", parts: [], line });
      continue;
    }
    const parts = splitWords(rest, where);
    if (parts.length === 0) throw new Error(`${where}: empty step`);
    if (m[2] === "!" && parts.length !== 1) throw new Error(`${where}: raw takes one string`);
    current.steps.push({ conn, kind: m[2] === ">" ? "command" : "raw", parts, line });
  }
  return cases;
}

export function loadCorpus(): { cases: Case[]; sha256: string } {
  const text = fs.readFileSync(CORPUS_FILE, "utf8");
  return { cases: parseCorpus(text), sha256: createHash("sha256").update(text).digest("hex") };
}

/** How the corpus and a recording's args write the server's directory and port. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the corpus's own placeholder syntax
export const DIR_VAR = "${dir}";
// biome-ignore lint/suspicious/noTemplateCurlyInString: the corpus's own placeholder syntax
const PORT_VAR = "${port}";

/** The bytes a step sends. */
export function stepBytes(step: Step, vars: CorpusVars): Buffer {
  const parts = step.parts.map((p) => Buffer.from(p.replaceAll(DIR_VAR, vars.dir), "latin1"));
  if (step.kind === "read") return Buffer.alloc(0);
  return step.kind === "raw" ? parts[0]! : encodeCommand(parts);
}

// ------------------------------------------------------------------------------ playing

/** What one step got: the replies' bytes, as framed by the project's reply decoder. */
export interface StepResult {
  /** Each complete reply's bytes; a trailing incomplete reply as its own last element. */
  replies: Buffer[];
  /** The server had closed the connection when the step ended. */
  closed: boolean;
}

/**
 * How long to wait. Recording (a real server): a step ends once the connection closed, or the
 * last reply is complete and nothing more came for `quietMs`, or nothing came for `silentMs`.
 * Replay (`expect` given): a step ends as soon as the expected number of replies (and the
 * expected close) arrived, or the connection closed, or after `silentMs` without a byte.
 */
export interface PlayTiming {
  quietMs: number;
  silentMs: number;
}

export const RECORD_TIMING: PlayTiming = { quietMs: 60, silentMs: 1000 };
export const REPLAY_TIMING: PlayTiming = { quietMs: 250, silentMs: 3000 };
/** Replay: how long a step that expects no reply waits for one it should not get. */
const REPLAY_NO_REPLY_MS = 100;

class Conn {
  private readonly framer = new ReplyFramer();
  private replies: Buffer[] = [];
  private wake: (() => void) | undefined;
  private lastByte = 0;
  closed = false;

  constructor(readonly sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      this.lastByte = Date.now();
      this.replies.push(...this.framer.push(d));
      this.wake?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on("error", () => {});
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: "127.0.0.1", port }, () => resolve(new Conn(sock)));
      sock.once("error", reject);
    });
  }

  /** Everything received and not yet taken, the incomplete rest last. */
  take(): StepResult {
    const rest = this.framer.rest;
    const replies = this.replies.splice(0);
    return { replies: rest.length > 0 ? [...replies, rest] : replies, closed: this.closed };
  }

  private get pending(): boolean {
    return this.framer.rest.length > 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.max(1, ms));
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = undefined;
    });
  }

  /** Waits until the step is over (see PlayTiming); returns what it got. */
  async step(
    request: Buffer,
    timing: PlayTiming,
    expect?: { replies: number; closed: boolean },
  ): Promise<StepResult> {
    const sent = Date.now();
    // A read step counts what already arrived; a request waits for bytes sent after it.
    if (request.length > 0 || (this.replies.length === 0 && !this.pending)) this.lastByte = 0;
    if (request.length > 0 && !this.closed) this.sock.write(request);
    for (;;) {
      if (this.closed) break;
      const got = this.replies.length;
      const now = Date.now();
      if (expect !== undefined) {
        if (expect.replies === 0 && !expect.closed) {
          if (got > 0 || this.pending || now - sent >= REPLAY_NO_REPLY_MS) break;
          await this.sleep(REPLAY_NO_REPLY_MS - (now - sent));
          continue;
        }
        if (got >= expect.replies && !this.pending && !expect.closed) break;
      }
      if (this.lastByte === 0) {
        if (now - sent >= timing.silentMs) break;
        await this.sleep(timing.silentMs - (now - sent));
        continue;
      }
      const quietFor = now - this.lastByte;
      const settled = expect === undefined ? got > 0 && !this.pending : true;
      if (settled && quietFor >= timing.quietMs) break;
      if (!settled && now - this.lastByte >= timing.silentMs) break;
      await this.sleep((settled ? timing.quietMs : timing.silentMs) - quietFor);
    }
    return this.take();
  }

  close(): void {
    this.sock.destroy();
  }
}

/** One case as played: per step what it got. */
export type CaseResult = StepResult[];

/**
 * Plays every case against 127.0.0.1:`port`, in order; each case on fresh connections closed at
 * its end. With `expected` (a recording), each step waits for what the recording got; what
 * arrives after a connection's last step before the case ends is added to that step.
 */
export async function playCorpus(
  cases: Case[],
  port: number,
  vars: CorpusVars,
  expected?: Recording,
): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const [ci, c] of cases.entries()) {
    const conns = new Map<number, Conn>();
    const results: StepResult[] = [];
    const lastStepOf = new Map<number, number>();
    try {
      for (const [si, step] of c.steps.entries()) {
        let conn = conns.get(step.conn);
        if (conn === undefined) {
          conn = await Conn.open(port);
          conns.set(step.conn, conn);
        }
        const want = expected?.cases[ci]?.steps[si];
        const timing = expected === undefined ? RECORD_TIMING : REPLAY_TIMING;
        const expect =
          want === undefined
            ? undefined
            : { replies: recordedReplies(want).length, closed: want.closed };
        results.push(await conn.step(stepBytes(step, vars), timing, expect));
        lastStepOf.set(step.conn, si);
      }
      if (expected !== undefined) {
        for (const [n, si] of lastStepOf) {
          const extra = conns.get(n)!.take();
          const r = results[si]!;
          r.replies.push(...extra.replies);
          r.closed = extra.closed;
        }
      }
    } finally {
      for (const conn of conns.values()) conn.close();
    }
    out.push(results);
  }
  return out;
}

// ------------------------------------------------------------------------------ recordings

/**
 * Where two runs of the same real server differed, so any value is accepted there. `path` is
 * the reply's index in the step, then element indexes (a map's pairs flattened key, value);
 * `tokens`, where given, are the indexes of the words that differed in that text value (see
 * tokenize); without it the whole value at `path` is accepted if its RESP type matches. An
 * empty path means the step itself was unstable (reply count or close differed between runs).
 * `unordered` marks an aggregate whose elements came in another order (see below).
 */
export interface Mask {
  path: number[];
  tokens?: number[];
  /**
   * The aggregate at `path` came in another order (a hash table's): its elements, taken one at
   * a time (1) or as pairs (2: name, value, names unique), are compared as a multiset, each
   * exactly except the values of the names in `vary`, which differed between runs (type only).
   */
  unordered?: 1 | 2;
  vary?: string[];
  /** With `unordered: 1`: the order inside the elements varied too; compared sorted at every level. */
  deep?: boolean;
}

export interface RecordedStep {
  /** The step's replies concatenated, as Latin-1 text (one char a byte). */
  reply: string;
  /** Byte length of each reply in `reply` (the last may be an incomplete reply). */
  lengths: number[];
  closed: boolean;
  masks?: Mask[];
}

export interface Recording {
  /** `redis-7.0.15`, `valkey-8.0.1` … (the file name without .json). */
  label: string;
  product: "redis" | "valkey" | "keydb";
  /** The version the server reports (INFO redis_version / valkey_version). */
  version: string;
  /** The server binary and the arguments it ran with (port and dir as placeholders). */
  server: string;
  args: string[];
  /** Values a persona pins to compare fairly: the server's working dir, and INFO's lines. */
  pins: { dir: string; executable?: string; configFile: string; os?: string };
  corpus_sha256: string;
  recorded: string;
  cases: Array<{ name: string; steps: RecordedStep[] }>;
}

export function recordedReplies(step: RecordedStep): Buffer[] {
  const bytes = Buffer.from(step.reply, "latin1");
  const out: Buffer[] = [];
  let at = 0;
  for (const n of step.lengths) {
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

export function toRecordedStep(r: StepResult): RecordedStep {
  return {
    reply: Buffer.concat(r.replies).toString("latin1"),
    lengths: r.replies.map((b) => b.length),
    closed: r.closed,
  };
}

export function loadRecordings(): Recording[] {
  if (!fs.existsSync(RECORDINGS_DIR)) return [];
  return fs
    .readdirSync(RECORDINGS_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(RECORDINGS_DIR, f), "utf8")) as Recording);
}

/** Decodes one complete reply with the project's reply decoder; undefined if it is not one. */
function decodeOne(bytes: Buffer): RespValue | undefined {
  try {
    const values = new ReplyDecoder({
      maxBulkBytes: 512 * 1024 * 1024,
      maxElements: 16 * 1024 * 1024,
      maxDepth: 64,
    }).push(bytes);
    return values.length === 1 ? values[0] : undefined;
  } catch {
    return undefined;
  }
}

const TYPE_CHAR: Record<RespValue["type"], string> = {
  simple: "+",
  error: "-",
  integer: ":",
  bulk: "$",
  array: "*",
  null: "_",
  boolean: "#",
  double: ",",
  bignum: "(",
  verbatim: "=",
  map: "%",
  set: "~",
  push: ">",
  attribute: "|",
};

/** Children of an aggregate (maps flattened key, value), or undefined for a leaf. */
function children(v: RespValue): RespValue[] | undefined {
  switch (v.type) {
    case "array":
      return v.value ?? undefined;
    case "set":
    case "push":
      return v.value;
    case "map":
    case "attribute":
      return v.value.flat();
    default:
      return undefined;
  }
}

/** A leaf's text (for token masks and listings); aggregates and nulls have none. */
function leafText(v: RespValue): string | undefined {
  switch (v.type) {
    case "simple":
    case "error":
      return v.value;
    case "integer":
    case "bignum":
      return String(v.value);
    case "double":
      return String(v.value);
    case "boolean":
      return String(v.value);
    case "bulk":
      return v.value === null ? undefined : v.value.toString("latin1");
    case "verbatim":
      return `${v.format}:${v.value.toString("latin1")}`;
    default:
      return undefined;
  }
}

/**
 * A text value cut into words and the separators between them: separators are runs of
 * whitespace and of , : = [ ] " ' ( ) / @ ; < > and the words are what lies between. So
 * `tcp_port:6379`, `addr=127.0.0.1:51234` and `used_cpu_sys:0.01` each end in one word.
 */
export function tokenize(text: string): string[] {
  return text.split(/([\s,:=[\]"'()/@;<>]+)/);
}

/** Masks for where run `a` and run `b` of a step differ (see Mask). */
export function deriveMasks(a: RecordedStep, b: RecordedStep): Mask[] {
  if (a.closed !== b.closed || a.lengths.length !== b.lengths.length) return [{ path: [] }];
  const masks: Mask[] = [];
  const ra = recordedReplies(a);
  const rb = recordedReplies(b);
  for (const [i, x] of ra.entries()) {
    const y = rb[i]!;
    if (x.equals(y)) continue;
    const va = decodeOne(x);
    const vb = decodeOne(y);
    if (va === undefined || vb === undefined) masks.push({ path: [i] });
    else diffValues(va, vb, [i], masks);
  }
  return masks;
}

/**
 * A value as one string: type, lengths and bytes (for multiset comparison). `deep`: the
 * elements of every aggregate inside taken in sorted order, for replies built from hash tables
 * at several levels (COMMAND: the commands, and each one's subcommands).
 */
function canon(v: RespValue, deep = false): string {
  const c = children(v);
  if (c !== undefined) {
    const inner = c.map((x) => canon(x, deep));
    if (deep) inner.sort();
    return `${TYPE_CHAR[v.type]}${c.length}[${inner.join(",")}]`;
  }
  const t = leafText(v);
  return t === undefined ? `${TYPE_CHAR[v.type]}null` : `${TYPE_CHAR[v.type]}${t.length}:${t}`;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The names of a name, value list (a map, or a flat array of even length whose names are
 * distinct leaves), as canonical strings; undefined if it is not one.
 */
function pairKeys(v: RespValue, items: RespValue[]): string[] | undefined {
  if (items.length % 2 !== 0 || items.length === 0) return undefined;
  if (v.type !== "map" && v.type !== "array") return undefined;
  const keys: string[] = [];
  for (let i = 0; i < items.length; i += 2) {
    if (children(items[i]!) !== undefined) return undefined;
    keys.push(canon(items[i]!));
  }
  return new Set(keys).size === keys.length ? keys : undefined;
}

/** Are `a` and `b`, cut in groups of `size`, the same groups in some order? (`deep`: see canon) */
function sameMultiset(a: RespValue[], b: RespValue[], size: 1 | 2, deep = false): boolean {
  if (a.length !== b.length || a.length % size !== 0) return false;
  const groups = (xs: RespValue[]): string[] => {
    const out: string[] = [];
    for (let i = 0; i < xs.length; i += size) {
      out.push(
        xs
          .slice(i, i + size)
          .map((x) => canon(x, deep))
          .join("|"),
      );
    }
    return out.sort();
  };
  const ga = groups(a);
  const gb = groups(b);
  return ga.every((g, i) => g === gb[i]);
}

function diffValues(a: RespValue, b: RespValue, at: number[], masks: Mask[]): void {
  if (a.type !== b.type) {
    masks.push({ path: at });
    return;
  }
  const ca = children(a);
  const cb = children(b);
  if (ca !== undefined || cb !== undefined) {
    if (ca === undefined || cb === undefined || ca.length !== cb.length) {
      masks.push({ path: at });
      return;
    }
    const ka = pairKeys(a, ca);
    const kb = pairKeys(b, cb);
    const inOrder = sameList(
      ca.map((x) => canon(x)),
      cb.map((x) => canon(x)),
    );
    const reordered =
      ka !== undefined &&
      kb !== undefined &&
      !sameList(ka, kb) &&
      sameList([...ka].sort(), [...kb].sort());
    if (!inOrder && ka !== undefined && sameMultiset(ca, cb, 2)) {
      masks.push({ path: at, unordered: 2 });
    } else if (!inOrder && sameMultiset(ca, cb, 1)) {
      masks.push({ path: at, unordered: 1 });
    } else if (
      !inOrder &&
      sameMultiset(ca, cb, 1, true) &&
      !ca.every((x, i) => canon(x, true) === canon(cb[i]!, true))
    ) {
      masks.push({ path: at, unordered: 1, deep: true });
    } else if (reordered) {
      const vb = new Map(kb.map((k, i) => [k, canon(cb[2 * i + 1]!)]));
      const vary = ka.filter((k, i) => canon(ca[2 * i + 1]!) !== vb.get(k));
      masks.push({ path: at, unordered: 2, vary });
    } else {
      for (const [i, x] of ca.entries()) diffValues(x, cb[i]!, [...at, i], masks);
    }
    return;
  }
  const ta = leafText(a);
  const tb = leafText(b);
  if (ta === tb) return;
  if (ta === undefined || tb === undefined) {
    masks.push({ path: at });
    return;
  }
  const wa = tokenize(ta);
  const wb = tokenize(tb);
  const separatorsAgree = wa.length === wb.length && wa.every((w, i) => i % 2 === 0 || w === wb[i]);
  if (!separatorsAgree) {
    masks.push({ path: at });
    return;
  }
  const tokens = wa.flatMap((w, i) => (i % 2 === 0 && w !== wb[i] ? [i] : []));
  masks.push({ path: at, tokens });
}

/** Unions the masks of another pair of runs into `into` (for recordings made more than twice). */
export function mergeMasks(into: Mask[], more: Mask[]): Mask[] {
  const key = (m: Mask): string => m.path.join(".");
  const byPath = new Map(into.map((m) => [key(m), m]));
  for (const m of more) {
    const have = byPath.get(key(m));
    if (have === undefined) {
      byPath.set(key(m), m);
    } else if (have.unordered !== undefined || m.unordered !== undefined) {
      if (have.unordered !== m.unordered) byPath.set(key(m), { path: m.path });
      else if (m.deep) have.deep = true;
      else if (have.vary !== undefined || m.vary !== undefined) {
        have.vary = [...new Set([...(have.vary ?? []), ...(m.vary ?? [])])];
      }
    } else if (have.tokens !== undefined) {
      if (m.tokens === undefined) delete have.tokens;
      else have.tokens = [...new Set([...have.tokens, ...m.tokens])].sort((x, y) => x - y);
    }
  }
  return [...byPath.values()];
}

// ------------------------------------------------------------------------------ comparing

export type Verdict =
  | { same: true; masked: boolean }
  | { same: false; why: string; want: Buffer; got: Buffer };

/**
 * Is what a step got identical to the recording, byte for byte outside the masks? A reply with
 * masks is compared element by element: every unmasked element's type and value exactly, a
 * masked element's type only, a token-masked text word by word except the masked words.
 */
export function compareStep(want: RecordedStep, got: StepResult): Verdict {
  const wantBytes = Buffer.from(want.reply, "latin1");
  const gotBytes = Buffer.concat(got.replies);
  const masks = want.masks ?? [];
  const no = (why: string): Verdict => ({ same: false, why, want: wantBytes, got: gotBytes });
  if (masks.some((m) => m.path.length === 0)) return { same: true, masked: true };
  if (want.closed !== got.closed) return no(want.closed ? "not closed" : "closed");
  if (masks.length === 0) {
    return wantBytes.equals(gotBytes) ? { same: true, masked: false } : no("bytes");
  }
  const wr = recordedReplies(want);
  if (wr.length !== got.replies.length) return no(`${got.replies.length} replies`);
  for (const [i, w] of wr.entries()) {
    const g = got.replies[i]!;
    const here = masks.filter((m) => m.path[0] === i);
    if (here.length === 0) {
      if (!w.equals(g)) return no(`reply ${i}`);
      continue;
    }
    const vw = decodeOne(w);
    const vg = decodeOne(g);
    if (vw === undefined || vg === undefined) {
      // Not decodable (an incomplete reply): only a whole-reply mask accepts it.
      if (here.some((m) => m.path.length === 1 && m.tokens === undefined)) continue;
      return no(`reply ${i} undecodable`);
    }
    const bad = matchMasked(vw, vg, [i], here);
    if (bad !== undefined) return no(`reply ${i}: ${bad}`);
  }
  return { same: true, masked: true };
}

function sameNumberList(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Undefined if `got` matches `want` under the masks, else where it does not. */
function matchMasked(
  want: RespValue,
  got: RespValue,
  at: number[],
  masks: Mask[],
): string | undefined {
  const where = at.slice(1).join(".") || "top";
  if (want.type !== got.type)
    return `${where}: type ${TYPE_CHAR[got.type]} for ${TYPE_CHAR[want.type]}`;
  const mask = masks.find((m) => sameNumberList(m.path, at));
  const cw = children(want);
  const cg = children(got);
  if (mask?.unordered !== undefined) {
    if (cw === undefined || cg === undefined) return `${where}: null aggregate`;
    if (mask.unordered === 1) {
      return sameMultiset(cw, cg, 1, mask.deep) ? undefined : `${where}: other elements`;
    }
    return samePairs(want, cw, got, cg, new Set(mask.vary ?? []), where);
  }
  if (mask !== undefined && mask.tokens === undefined) return undefined;
  if (cw !== undefined || cg !== undefined) {
    if (cw === undefined || cg === undefined) return `${where}: null aggregate`;
    if (cw.length !== cg.length) return `${where}: ${cg.length} elements for ${cw.length}`;
    const inner = masks.filter(
      (m) => m.path.length > at.length && sameNumberList(m.path.slice(0, at.length), at),
    );
    for (const [i, x] of cw.entries()) {
      const bad =
        inner.length === 0
          ? sameValue(x, cg[i]!)
            ? undefined
            : `${[...at.slice(1), i].join(".")}: differs`
          : matchMasked(x, cg[i]!, [...at, i], inner);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  const tw = leafText(want);
  const tg = leafText(got);
  if (mask === undefined) return sameValue(want, got) ? undefined : `${where}: differs`;
  if (tw === undefined || tg === undefined) return tw === tg ? undefined : `${where}: null`;
  const ww = tokenize(tw);
  const wg = tokenize(tg);
  if (ww.length !== wg.length) return `${where}: ${wg.length} words for ${ww.length}`;
  const skip = new Set(mask.tokens);
  for (const [i, w] of ww.entries()) {
    if (!skip.has(i) && w !== wg[i])
      return `${where}: word ${i} ${JSON.stringify(wg[i])} for ${JSON.stringify(w)}`;
  }
  return undefined;
}

/** Name, value lists equal in any order, values of `vary` names by type only. */
function samePairs(
  want: RespValue,
  cw: RespValue[],
  got: RespValue,
  cg: RespValue[],
  vary: Set<string>,
  where: string,
): string | undefined {
  const kw = pairKeys(want, cw) ?? [];
  const kg = pairKeys(got, cg);
  if (kg === undefined) return `${where}: not a list of distinct names`;
  const values = new Map(kg.map((k, i) => [k, cg[2 * i + 1]!]));
  for (const [i, k] of kw.entries()) {
    const g = values.get(k);
    const name = k.slice(k.indexOf(":") + 1);
    if (g === undefined) return `${where}: ${name} missing`;
    const w = cw[2 * i + 1]!;
    if (vary.has(k) ? w.type !== g.type : canon(w) !== canon(g)) return `${where}: ${name} differs`;
  }
  return kw.length === kg.length ? undefined : `${where}: ${kg.length} names for ${kw.length}`;
}

/** Exact equality of two decoded values (types, values, bytes). */
function sameValue(a: RespValue, b: RespValue): boolean {
  if (a.type !== b.type) return false;
  const ca = children(a);
  const cb = children(b);
  if (ca !== undefined || cb !== undefined) {
    if (ca === undefined || cb === undefined || ca.length !== cb.length) return false;
    return ca.every((x, i) => sameValue(x, cb[i]!));
  }
  if (a.type === "array" && b.type === "array") return a.value === b.value;
  if (a.type === "bulk" && b.type === "bulk") {
    return a.value === null || b.value === null ? a.value === b.value : a.value.equals(b.value);
  }
  if (a.type === "double" && b.type === "double") return Object.is(a.value, b.value);
  return leafText(a) === leafText(b);
}

// ------------------------------------------------------------------------------ real servers

/** The real servers the corpus is recorded from: label, binary, product. */
export interface RealServer {
  label: string;
  bin: string;
  product: Recording["product"];
}

/** Where scripts/build-servers.sh put the builds (REDSCOPE_SERVERS overrides). */
export const SERVERS_DIR = process.env.REDSCOPE_SERVERS ?? "/work/servers";

/**
 * Every server recorded: the builds of scripts/build-servers.sh, and Debian's redis-server
 * 7.0.15 as `redis-7.0.15` (the 7.0.15 build is recorded as `redis-7.0.15-build`, a check that
 * the two agree).
 */
export function realServers(): RealServer[] {
  const builds: Array<[string, Recording["product"], string]> = [
    ["redis-2.8.24", "redis", "redis-server"],
    ["redis-3.0.7", "redis", "redis-server"],
    ["redis-3.2.12", "redis", "redis-server"],
    ["redis-4.0.14", "redis", "redis-server"],
    ["redis-5.0.8", "redis", "redis-server"],
    ["redis-5.0.14", "redis", "redis-server"],
    ["redis-6.0.20", "redis", "redis-server"],
    ["redis-6.2.16", "redis", "redis-server"],
    ["redis-7.0.15-build", "redis", "redis-server"],
    ["redis-7.2.4", "redis", "redis-server"],
    ["redis-7.4.1", "redis", "redis-server"],
    ["redis-8.0-m01", "redis", "redis-server"],
    ["valkey-7.2.7", "valkey", "redis-server"],
    ["valkey-8.0.1", "valkey", "redis-server"],
    ["keydb-6.3.4", "keydb", "keydb-server"],
  ];
  return [
    { label: "redis-7.0.15", bin: "/usr/bin/redis-server", product: "redis" },
    ...builds.map(([label, product, exe]) => ({
      label,
      product,
      bin: path.join(SERVERS_DIR, label.replace(/-build$/, ""), exe),
    })),
  ];
}

/**
 * The server's arguments. Protected mode arrived in Redis 3.2; older servers refuse the option.
 * `binds`: the listening addresses, all loopback; runs after the first listen on a second one
 * as well, so that `bind` (our choice, not the version's) varies between runs and is masked.
 */
function serverArgs(version: string, port: number, dir: string, binds: string[]): string[] {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const protectedMode = major > 3 || (major === 3 && minor >= 2);
  return [
    "--port",
    String(port),
    "--bind",
    ...binds,
    ...(protectedMode ? ["--protected-mode", "no"] : []),
    "--save",
    "",
    "--dir",
    dir,
  ];
}

export function binaryVersion(bin: string): string | undefined {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return /v=(\S+)/.exec(r.stdout)?.[1];
}

const running = new Set<ChildProcess>();

/** Kills every real server this process started and has not stopped yet (on SIGINT/SIGTERM). */
export function killRealServers(): void {
  for (const proc of running) proc.kill("SIGKILL");
}

/** Is something listening on 127.0.0.1:port? Asked of `ss`, so the server sees no connection. */
function listening(port: number): boolean {
  const r = spawnSync("ss", ["-Hltn", `sport = :${port}`], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes(`127.0.0.1:${port}`);
}

/**
 * Plays the corpus once against a fresh `bin` on 127.0.0.1 (a free port, `--save ""`, its own
 * directory `dir`, emptied first), after `ageMs` of the server's life; kills it afterwards.
 * An older run (ageMs > 0) also listens on 127.0.0.2 (see serverArgs).
 */
export async function runRealServer(
  server: RealServer,
  cases: Case[],
  dir: string,
  ageMs = 0,
): Promise<{ results: CaseResult[]; args: string[]; port: number }> {
  const version = binaryVersion(server.bin);
  if (version === undefined) throw new Error(`${server.bin}: no version`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const binds = ageMs > 0 ? ["127.0.0.1", "127.0.0.2"] : ["127.0.0.1"];
  const args = serverArgs(version, port, dir, binds);
  const proc = spawn(server.bin, args, { cwd: dir, stdio: "ignore" });
  running.add(proc);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      exited = true;
      running.delete(proc);
      resolve();
    }),
  );
  try {
    const deadline = Date.now() + 10_000;
    while (!listening(port)) {
      if (exited || Date.now() > deadline) throw new Error(`${server.label} did not start`);
      await new Promise((r) => setTimeout(r, 25));
    }
    if (ageMs > 0) await new Promise((r) => setTimeout(r, ageMs));
    const results = await playCorpus(cases, port, { dir });
    return { results, args, port };
  } finally {
    if (!exited) proc.kill("SIGKILL");
    await exit;
  }
}

/** INFO's line `key:` in a recorded reply text, if present. */
function infoLine(text: string, key: string): string | undefined {
  return new RegExp(`\\r\\n${key}:([^\\r]*)\\r\\n`).exec(text)?.[1];
}

/**
 * Records `server` three times from fresh starts (each run older than the one before by 1.1 s,
 * on another port, the later ones on a second loopback address too) and keeps the first run's bytes, with masks where any other run differed
 * from it. The working directory is the same path every time (`<tmp>/redscope-corpus-<label>`),
 * so paths are not masked. Three runs, not two, so that orders that vary with the hash seed
 * (SCAN, KEYS, SMEMBERS of two keys) are caught more often than by chance agreement.
 */
export async function recordServer(
  server: RealServer,
  cases: Case[],
  sha256: string,
  tmp: string,
  runs = 3,
): Promise<Recording> {
  const dir = path.join(tmp, `redscope-corpus-${server.label}`);
  const all: Array<Awaited<ReturnType<typeof runRealServer>>> = [];
  for (let i = 0; i < Math.max(2, runs); i++) {
    all.push(await runRealServer(server, cases, dir, i * 1100));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const one = all[0]!;
  const recorded = cases.map((c, ci) => ({
    name: c.name,
    steps: c.steps.map((_, si) => {
      const a = toRecordedStep(one.results[ci]![si]!);
      let masks: Mask[] = [];
      for (const other of all.slice(1)) {
        masks = mergeMasks(masks, deriveMasks(a, toRecordedStep(other.results[ci]![si]!)));
      }
      return masks.length > 0 ? { ...a, masks } : a;
    }),
  }));
  const info = recorded.find((c) => c.name === "nmap-redis-info")?.steps[0]?.reply ?? "";
  const version =
    infoLine(info, "valkey_version") ??
    infoLine(info, "redis_version") ??
    binaryVersion(server.bin)!;
  const pins: Recording["pins"] = { dir, configFile: infoLine(info, "config_file") ?? "" };
  const executable = infoLine(info, "executable");
  if (executable !== undefined) pins.executable = executable;
  const os = infoLine(info, "os");
  if (os !== undefined) pins.os = os;
  return {
    label: server.label,
    product: server.product,
    version,
    server: server.bin,
    args: one.args.map((a) => (a === String(one.port) ? PORT_VAR : a === dir ? DIR_VAR : a)),
    pins,
    corpus_sha256: sha256,
    recorded: new Date().toISOString(),
    cases: recorded,
  };
}

// ------------------------------------------------------------------------------ replaying against personas

/**
 * Which persona line answers for each recorded server. A line the catalogue does not have yet is
 * reported as "no persona" and picked up as soon as `<line>-open` exists.
 */
export const PERSONA_LINE: Readonly<Record<string, string>> = {
  "redis-2.8.24": "redis-2.8",
  "redis-3.0.7": "redis-3.0",
  "redis-3.2.12": "redis-3.2",
  "redis-4.0.14": "redis-4.0",
  "redis-5.0.8": "redis-5.0",
  "redis-5.0.14": "redis-5.0",
  "redis-6.0.20": "redis-6.0",
  "redis-6.2.16": "redis-6.2",
  "redis-7.0.15": "redis-7.0",
  "redis-7.0.15-build": "redis-7.0",
  "redis-7.2.4": "redis-7.2",
  "redis-7.4.1": "redis-7.4",
  "redis-8.0-m01": "redis-8.0",
  "valkey-7.2.7": "valkey-7.2",
  "valkey-8.0.1": "valkey-8",
  "keydb-6.3.4": "keydb-6.3",
};

/**
 * How the recorded server was started, as CONFIG shows it: its command line's settings (save,
 * bind, protected-mode; port and dir are the listener's and the pinned dir), and, as it ran
 * without a config file, the version's own defaults for the log and pid files and daemonize
 * (read from its recorded table) where a persona claims an install layout's.
 */
function launchConfig(rec: Recording): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < rec.args.length; i += 2) {
    const name = rec.args[i]!.replace(/^--/, "");
    if (name === "port" || name === "dir") continue;
    out[name] = rec.args[i + 1]!;
  }
  const table = recordingFor(rec.product, rec.version);
  if (table !== undefined) {
    const defaults = new Map(tableRecording(table).config);
    for (const name of ["logfile", "pidfile", "daemonize"]) {
      const v = defaults.get(name);
      if (v !== undefined) out[name] = v;
    }
  }
  return out;
}

/** The open persona of a recording's line, claiming its exact version and pinned to its paths. */
export function personaOf(rec: Recording): { persona?: Persona; name?: string; note?: string } {
  const line = PERSONA_LINE[rec.label];
  if (line === undefined) return { note: "no persona line in PERSONA_LINE" };
  const name = `${line}-open`;
  if (!PERSONAS.includes(name)) return { name, note: "no persona" };
  // The recordings are of servers just started: the persona claims the same state.
  const opts: PersonaOptions = {
    version: rec.version,
    dir: rec.pins.dir,
    configFile: rec.pins.configFile,
    fresh: true,
  };
  if (rec.pins.executable !== undefined) opts.executable = rec.pins.executable;
  // The recorded build's own hash, as `os` and the paths: another build of the version differs.
  const info = rec.cases.find((c) => c.name === "nmap-redis-info")?.steps[0]?.reply ?? "";
  const buildId = infoLine(info, "redis_build_id");
  if (buildId !== undefined) opts.buildId = buildId;
  if (rec.pins.os !== undefined) opts.os = rec.pins.os;
  opts.config = launchConfig(rec);
  try {
    return { persona: persona(name, opts), name };
  } catch (e) {
    return { name, note: `persona refuses: ${(e as Error).message}` };
  }
}

export interface Difference {
  case: string;
  step: number;
  line: string;
  why: string;
  want: Buffer;
  got: Buffer;
}

export interface ReplayResult {
  label: string;
  version: string;
  persona?: string;
  /** Why there is no figure (no persona, stale recording). */
  note?: string;
  total: number;
  identical: number;
  /** Of the identical, how many were compared under masks; unstable: skipped as a whole. */
  masked: number;
  unstable: number;
  differences: Difference[];
}

/** Plays the corpus against the recording's persona in the shipped HoneypotServer; compares. */
export async function replayRecording(
  rec: Recording,
  cases: Case[],
  sha256: string,
): Promise<ReplayResult> {
  const total = cases.reduce((n, c) => n + c.steps.length, 0);
  const base = {
    label: rec.label,
    version: rec.version,
    total,
    identical: 0,
    masked: 0,
    unstable: 0,
  };
  const { persona: p, name, note } = personaOf(rec);
  const result: ReplayResult = { ...base, differences: [] };
  if (name !== undefined) result.persona = name;
  if (rec.corpus_sha256 !== sha256) {
    result.note = "recorded from another corpus: re-record (node dist/bench/record-corpus.js)";
    return result;
  }
  if (p === undefined) {
    result.note = note ?? "no persona";
    return result;
  }
  const srv = await servePersona(p);
  try {
    const got = await playCorpus(cases, srv.port, { dir: rec.pins.dir }, rec);
    return { ...result, ...tally(rec, cases, got) };
  } finally {
    await srv.close();
  }
}

/** Counts identical steps of `got` against the recording and lists the others. */
export function tally(
  rec: Recording,
  cases: Case[],
  got: CaseResult[],
): Pick<ReplayResult, "identical" | "masked" | "unstable" | "differences"> {
  const out = { identical: 0, masked: 0, unstable: 0, differences: [] as Difference[] };
  for (const [ci, c] of cases.entries()) {
    for (const [si, step] of c.steps.entries()) {
      const want = rec.cases[ci]!.steps[si]!;
      const verdict = compareStep(want, got[ci]![si]!);
      if (verdict.same) {
        out.identical++;
        if (want.masks?.some((m) => m.path.length === 0)) out.unstable++;
        else if (verdict.masked) out.masked++;
      } else {
        const { why, want: w, got: g } = verdict;
        out.differences.push({ case: c.name, step: si + 1, line: step.line, why, want: w, got: g });
      }
    }
  }
  return out;
}

export function percent(r: ReplayResult): string {
  return r.total === 0 ? "0.0" : ((100 * r.identical) / r.total).toFixed(1);
}

/** The differences as a compact listing, one block per request, for working through them. */
export function formatDifferences(r: ReplayResult, width = 160): string {
  const show = (b: Buffer): string => JSON.stringify(b.subarray(0, width).toString("latin1"));
  const lines = [
    `${r.label} (persona ${r.persona ?? "-"}, version ${r.version}): ${r.identical}/${r.total} identical (${percent(r)}%)`,
  ];
  for (const d of r.differences) {
    lines.push(
      `\n[${d.case} #${d.step}] ${d.line}  (${d.why})`,
      `  want ${d.want.length} B: ${show(d.want)}`,
      `  got  ${d.got.length} B: ${show(d.got)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Committed floors: identical requests per recording label (a ratchet, see the test). */
export function loadFloors(): Record<string, number> {
  return fs.existsSync(FLOORS_FILE) ? JSON.parse(fs.readFileSync(FLOORS_FILE, "utf8")) : {};
}
