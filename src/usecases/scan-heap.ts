/**
 * Thousands of live connections keep their state long enough to be promoted to V8's old space,
 * and by default the heap may grow to several times the live size before a full collection, so
 * garbage piles up into RSS (~230 MB at 5,000 connections against ~170 MB for a bare socket
 * loop). From HIGH_CONCURRENCY on, the heap grows by at most 2× between full collections
 * (measured, ~180 MB at 5,000 live connections for 3–9% fewer probes/s), and the young
 * generation stays at its initial size instead of doubling up to 2 × 16 MB: a scan allocates
 * fast enough to make V8 grow it to the maximum, which then sits in RSS (the growth factor is
 * read at each growth, so it can be set now; the maximum size cannot). Measured in the
 * silent-heavy mix (bench/scan.ts, 20,000 targets at 5,000 in flight, A/B interleaved):
 * 144–172 MB against 189–194 MB, for the same CPU time within the noise. Below it, speed wins.
 *
 * A scan's worker threads (scan-worker.ts) call it with the scan's whole concurrency too: the
 * flags are the process's, and every thread's heap holds connections.
 */
import v8 from "node:v8";

const HIGH_CONCURRENCY = 2000;
let heapBounded = false;

export function boundHeapGrowth(concurrency: number): void {
  if (concurrency < HIGH_CONCURRENCY || heapBounded) return;
  v8.setFlagsFromString("--heap-growing-percent=100");
  v8.setFlagsFromString("--semi-space-growth-factor=1");
  heapBounded = true;
}
