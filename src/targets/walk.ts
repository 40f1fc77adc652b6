/**
 * The scan order, target by target: the permutation (seed, shard, resume position) over the
 * target space, with the steps an earlier run finished skipped and the `--max-targets` cap. One
 * walk serves the scan itself and `scan --list-targets` / `--dry-run`, so a listing shows exactly
 * what a scan with the same flags would probe, in the same order.
 */
import { CyclicPermutation, type Shard } from "./cyclic.js";
import { CompletionTracker } from "./resume.js";
import type { Target, TargetSpace } from "./space.js";

export interface WalkOptions {
  seed: bigint;
  shard?: Shard;
  /** Resume: continue after this many steps, skipping the ones finished above it. */
  resume?: { watermark: number; doneAbove: readonly number[] };
  /** Hand out at most this many targets. */
  maxTargets?: number;
  /** Keep the issued steps for checkpoints (a scan); a listing does not (default true). */
  track?: boolean;
}

export interface WalkStep {
  target: Target;
  /** Position in the permutation (what a resume checkpoint counts in). */
  step: number;
}

export class TargetWalk {
  readonly permutation: CyclicPermutation;
  /** Issued targets' completion, for checkpoints (the scan reports each one done). */
  readonly tracker: CompletionTracker;
  /** Targets handed out. */
  issued = 0;
  /** True once the whole permutation (this shard's part) was walked, not stopped by the cap. */
  walked = false;

  constructor(
    readonly space: TargetSpace,
    private readonly opts: WalkOptions,
  ) {
    this.permutation = opts.resume
      ? CyclicPermutation.resumeAt(space.size, opts.seed, opts.shard, opts.resume.watermark)
      : new CyclicPermutation(space.size, opts.seed, opts.shard);
    this.tracker = new CompletionTracker(opts.resume?.doneAbove);
  }

  /** The next target in scan order, or undefined at the end (or at the cap). */
  next(): WalkStep | undefined {
    const perm = this.permutation;
    for (;;) {
      if (this.opts.maxTargets !== undefined && this.issued >= this.opts.maxTargets) {
        return undefined;
      }
      const index = perm.next();
      if (index === undefined) {
        this.walked = true;
        return undefined;
      }
      const step = perm.position - 1;
      // Finished before the kill, and covered by the checkpoint: not probed again.
      if (this.tracker.finishedBefore(step)) continue;
      if (this.opts.track !== false) this.tracker.issue(step);
      this.issued++;
      return { target: this.space.at(index), step };
    }
  }

  /** How many targets are left to hand out: walks the rest of the permutation (no targets made). */
  countRest(): number {
    const perm = this.permutation;
    let n = 0;
    for (;;) {
      if (this.opts.maxTargets !== undefined && this.issued + n >= this.opts.maxTargets) return n;
      if (perm.next() === undefined) return n;
      if (!this.tracker.finishedBefore(perm.position - 1)) n++;
    }
  }
}
