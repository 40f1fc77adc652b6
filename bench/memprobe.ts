/**
 * Where a measured Node tool's memory goes (bench/scan.ts): loaded into it with
 * `node --import …/dist/bench/memprobe.js` when REDSCOPE_BENCH_MEMPROBE names a file. Samples
 * process.memoryUsage() every 100 ms and, at exit, writes the peak of each part and the split at
 * the sample with the highest RSS as one JSON object to that file. Only the main thread of the
 * process that loaded it first writes: the variable is removed from the environment at once,
 * so workers and child processes it starts do not.
 */
import fs from "node:fs";
import { isMainThread } from "node:worker_threads";

const out = process.env["REDSCOPE_BENCH_MEMPROBE"];
if (out && isMainThread) {
  delete process.env["REDSCOPE_BENCH_MEMPROBE"];
  const keys = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] as const;
  const peak: Record<string, number> = {};
  let atPeakRss: NodeJS.MemoryUsage | undefined;
  let samples = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    samples++;
    for (const k of keys) peak[k] = Math.max(peak[k] ?? 0, m[k]);
    if (!atPeakRss || m.rss >= atPeakRss.rss) atPeakRss = m;
  };
  const timer = setInterval(sample, 100);
  timer.unref();
  process.on("exit", () => {
    sample();
    fs.writeFileSync(out, `${JSON.stringify({ peak, atPeakRss, samples })}\n`);
  });
}
