/**
 * Records the differential corpus (test/fixtures/corpus/corpus.txt) from real servers: each is
 * started from scratch several times (--runs) on 127.0.0.1 (free port, `--save ""`, a temp dir of its own) and
 * the corpus played against it; the first run's replies are kept, with masks where the two runs
 * differed. Writes test/fixtures/corpus/recordings/<label>.json.
 *
 *   npm run build && node dist/bench/record-corpus.js [--runs N] [label …]
 *
 * --runs (default 3): runs per server. Orders that follow a hash seed (KEYS, SCAN, SMEMBERS of
 * two or three keys) agree between three runs by chance often enough to leave one unmasked in
 * some recording; more runs catch more of them.
 * Labels: see realServers() in test/helpers/corpus.ts (all by default; missing binaries are
 * skipped with a note). REDSCOPE_SERVERS points at the builds (default /work/servers).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  killRealServers,
  loadCorpus,
  RECORDINGS_DIR,
  type Recording,
  realServers,
  recordServer,
} from "../test/helpers/corpus.js";

/** One step a line, so a diff of two recordings shows which replies changed. */
export function formatRecording(rec: Recording): string {
  const { cases, ...head } = rec;
  const lines = [JSON.stringify(head, null, 2).replace(/\n}$/, ","), '  "cases": ['];
  for (const [ci, c] of cases.entries()) {
    lines.push(`    {"name": ${JSON.stringify(c.name)}, "steps": [`);
    for (const [si, s] of c.steps.entries()) {
      lines.push(`      ${JSON.stringify(s)}${si < c.steps.length - 1 ? "," : ""}`);
    }
    lines.push(`    ]}${ci < cases.length - 1 ? "," : ""}`);
  }
  lines.push("  ]", "}");
  return `${lines.join("\n")}\n`;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killRealServers();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--runs");
  const runs = at >= 0 ? Number(args.splice(at, 2)[1]) : 3;
  if (!Number.isInteger(runs) || runs < 2 || runs > 20) {
    console.error("--runs: a whole number from 2 to 20");
    process.exit(2);
  }
  const wanted = args;
  const servers = realServers().filter((s) => wanted.length === 0 || wanted.includes(s.label));
  const { cases, sha256 } = loadCorpus();
  const requests = cases.reduce((n, c) => n + c.steps.length, 0);
  console.log(`corpus: ${cases.length} cases, ${requests} requests`);
  fs.mkdirSync(RECORDINGS_DIR, { recursive: true });
  const queue = servers.filter((s) => {
    if (fs.existsSync(s.bin)) return true;
    console.log(`${s.label}: ${s.bin} missing, skipped`);
    return false;
  });
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      const t0 = Date.now();
      const rec = await recordServer(s, cases, sha256, os.tmpdir(), runs);
      fs.writeFileSync(path.join(RECORDINGS_DIR, `${s.label}.json`), formatRecording(rec));
      const steps = rec.cases.flatMap((c) => c.steps);
      const masked = steps.filter((x) => x.masks !== undefined).length;
      const unstable = steps.filter((x) => x.masks?.some((m) => m.path.length === 0)).length;
      console.log(
        `${s.label}: version ${rec.version}, ${masked} of ${steps.length} replies masked in part` +
          ` (${unstable} unstable), ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  };
  const parallel = Number(process.env.RECORD_PARALLEL ?? 2);
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
}

await main();
