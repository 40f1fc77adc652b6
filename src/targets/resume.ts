/**
 * Resume bookkeeping. Targets are issued in permutation order (increasing step numbers) but
 * finish in any order. The checkpoint records a watermark (every step below it is finished)
 * plus the finished steps above it — a set bounded by what can be in flight — and the byte
 * offset of the output at that moment. A scan killed with SIGKILL restarts at the watermark,
 * skips the recorded steps, and skips targets whose lines were written after the checkpoint.
 */
import fs from "node:fs";

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
  complete: boolean;
}

export class CompletionTracker {
  /** Issued steps not yet retired, in issue order (= increasing). */
  private issued: number[] = [];
  private head = 0;
  /** Finished steps still in `issued` behind an unfinished one. */
  private done = new Set<number>();

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
    return [...this.done].sort((a, b) => a - b);
  }
}

export function loadResumeState(path: string): ResumeState | undefined {
  if (!fs.existsSync(path)) return undefined;
  const raw = fs.readFileSync(path, "utf8");
  let state: ResumeState;
  try {
    state = JSON.parse(raw) as ResumeState;
  } catch {
    throw new Error(`resume file ${path} is not valid JSON`);
  }
  if (state.version !== RESUME_VERSION || typeof state.watermark !== "number") {
    throw new Error(`resume file ${path} is not a redscope resume file (version ${state.version})`);
  }
  return state;
}

/** Atomic replace: a kill during the write leaves the previous checkpoint intact. */
export function saveResumeState(path: string, state: ResumeState): void {
  const tmp = `${path}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, path);
}
