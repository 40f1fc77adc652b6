/**
 * Thousands of live connections keep their state long enough to be promoted to V8's old space,
 * and by default the heap may grow to several times the live size before a full collection, so
 * garbage piles up into RSS (~230 MB at 5,000 connections against ~170 MB for a bare socket
 * loop). From HIGH_CONCURRENCY on, the heap grows by at most 2× between full collections:
 * measured, ~180 MB at 5,000 connections for 3–9% fewer probes/s. Below it, speed wins.
 * A scan's worker threads (scan-worker.ts) call it with the scan's whole concurrency too: the
 * flag is the process's, and every thread's heap holds connections.
 */
import v8 from "node:v8";

const HIGH_CONCURRENCY = 2000;
let heapBounded = false;

export function boundHeapGrowth(concurrency: number): void {
  if (concurrency < HIGH_CONCURRENCY || heapBounded) return;
  v8.setFlagsFromString("--heap-growing-percent=100");
  heapBounded = true;
}
