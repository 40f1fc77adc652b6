/**
 * Resume bookkeeping. Targets are issued in permutation order (increasing step numbers) but
 * finish in any order. A checkpoint records a watermark (every step below it is finished) plus
 * the finished steps above it (a set bounded by what can be in flight), the byte offset of the
 * output and the counts, all taken at one instant; it is saved only once the output and the
 * store hold everything it covers. The checkpoint is the one truth: a scan killed with SIGKILL
 * takes its output and its store back to it (what was written after it is cut off and deleted)
 * and probes again everything it does not cover, so every target ends up in every sink once.
 */
import fs from "node:fs";
import os from "node:os";

export const RESUME_VERSION = 1;

export interface ResumeState {
  version: number;
  /** Identity of the scan: target space, ports, shard. A different scan must not resume here. */
  fingerprint: string;
  seed: string;
  shard: string;
  scanId: string;
  startedAt: string;
  /** Every step below this is finished. */
  watermark: number;
  /** Finished steps at or above the watermark. */
  doneAbove: number[];
  /** Output file and its size when the checkpoint was taken (all lines for finished steps). */
  output: { path: string; bytes: number };
  /** Results per state up to the checkpoint. */
  counts: Record<string, number>;
  /** Results per NICER row up to the checkpoint (absent in files of older versions). */
  nicer?: Record<string, number>;
  complete: boolean;
}

export class CompletionTracker {
  /** Issued steps not yet retired, in issue order (= increasing). */
  private issued: number[] = [];
  private head = 0;
  /** Finished steps still in `issued` behind an unfinished one. */
  private done = new Set<number>();
  /** Steps an earlier run finished above its watermark, not walked past yet in this run. */
  private readonly preDone: Set<number>;

  /** `preDone`: the checkpoint's doneAbove, when resuming. */
  constructor(preDone: readonly number[] = []) {
    this.preDone = new Set(preDone);
  }

  /**
   * The permutation reached `step`: if an earlier run finished it, retire it and say so (it is
   * not probed again). Until it is reached, it stays in doneAbove(), so a checkpoint taken
   * before then still covers it.
   */
  finishedBefore(step: number): boolean {
    if (!this.preDone.delete(step)) return false;
    this.issue(step);
    this.complete(step);
    return true;
  }

  issue(step: number): void {
    this.issued.push(step);
  }

  complete(step: number): void {
    this.done.add(step);
    while (this.head < this.issued.length && this.done.has(this.issued[this.head]!)) {
      this.done.delete(this.issued[this.head]!);
      this.head++;
    }
    // Compact now and then so the array does not grow with the scan.
    if (this.head > 4096 && this.head * 2 > this.issued.length) {
      this.issued = this.issued.slice(this.head);
      this.head = 0;
    }
  }

  /** `next` is the permutation's position (the next step it would consider). */
  watermark(next: number): number {
    return this.head < this.issued.length ? this.issued[this.head]! : next;
  }

  doneAbove(): number[] {
    return [...this.done, ...this.preDone].sort((a, b) => a - b);
  }
}

/** A resume file that cannot be used; the message says which and why. */
export class ResumeFileError extends Error {}

export function loadResumeState(path: string): ResumeState | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ResumeFileError(
      `cannot read resume file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let state: ResumeState;
  try {
    state = JSON.parse(raw) as ResumeState;
  } catch {
    throw new ResumeFileError(`resume file ${path} is not valid JSON`);
  }
  const bad = invalidField(state);
  if (bad !== undefined) {
    throw new ResumeFileError(
      `resume file ${path} is not a redscope resume file of version ${RESUME_VERSION} (${bad})`,
    );
  }
  return state;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The first field that is missing or of the wrong shape, if any. */
function invalidField(s: ResumeState): string | undefined {
  if (typeof s !== "object" || s === null) return "not an object";
  if (s.version !== RESUME_VERSION) return `version ${String(s.version)}`;
  for (const k of ["fingerprint", "seed", "shard", "scanId", "startedAt"] as const) {
    if (typeof s[k] !== "string") return k;
  }
  if (!isCount(s.watermark)) return "watermark";
  if (!Array.isArray(s.doneAbove) || !s.doneAbove.every(isCount)) return "doneAbove";
  if (typeof s.output !== "object" || s.output === null) return "output";
  if (typeof s.output.path !== "string" || !isCount(s.output.bytes)) return "output";
  if (typeof s.counts !== "object" || s.counts === null) return "counts";
  if (!Object.values(s.counts).every(isCount)) return "counts";
  if (s.nicer !== undefined) {
    if (typeof s.nicer !== "object" || s.nicer === null) return "nicer";
    if (!Object.values(s.nicer).every(isCount)) return "nicer";
  }
  if (typeof s.complete !== "boolean") return "complete";
  return undefined;
}

/**
 * Atomic and durable replace: a kill (or a power cut) during the write leaves the previous
 * checkpoint intact.
 */
export function saveResumeState(path: string, state: ResumeState): void {
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify(state));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
}

/**
 * Hold a resume file for this process: two runs resuming one scan at once would write the same
 * output twice. The lock (`FILE.lock`: host and pid) is left behind by a kill; a later run on
 * the same host finds its process gone and takes it over. Returns the release function.
 */
export function lockResumeFile(path: string): () => void {
  const lock = `${path}.lock`;
  const me = `${os.hostname()} ${process.pid}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(lock, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new ResumeFileError(
          `cannot lock resume file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        );
      }
      const holder = readLock(lock);
      if (holder !== undefined && isRunningHere(holder)) {
        throw new ResumeFileError(
          `resume file ${path} is in use by another redscope (${holder.host} pid ${holder.pid}); if none runs, delete ${lock}`,
        );
      }
      fs.rmSync(lock, { force: true });
      continue;
    }
    fs.writeSync(fd, me);
    fs.closeSync(fd);
    return () => {
      if (readLock(lock)?.pid === process.pid) fs.rmSync(lock, { force: true });
    };
  }
  throw new ResumeFileError(`cannot lock resume file ${path}: ${lock} keeps coming back`);
}

function readLock(lock: string): { host: string; pid: number } | undefined {
  try {
    const [host, pid] = fs.readFileSync(lock, "utf8").trim().split(" ");
    const n = Number(pid);
    return host && Number.isSafeInteger(n) && n > 0 ? { host, pid: n } : undefined;
  } catch {
    return undefined;
  }
}

/** The lock's process may still run: on this host and alive, or on another host (unknowable). */
function isRunningHere(holder: { host: string; pid: number }): boolean {
  if (holder.host !== os.hostname()) return true;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
