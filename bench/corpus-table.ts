/**
 * The README's corpus table: replays the differential corpus against the persona of every
 * recording (test/fixtures/corpus/recordings) and prints version, persona, identical, total, %.
 * Each version's differing requests are listed in dist/corpus/<label>.txt.
 *
 *   npm run build && node dist/bench/corpus-table.js [--write-floors]
 *
 * --write-floors stores today's identical counts as the floors the test asserts (the ratchet:
 * run it when a persona got better, and commit test/fixtures/corpus/floors.json).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  FLOORS_FILE,
  formatDifferences,
  loadCorpus,
  loadFloors,
  loadRecordings,
  percent,
  type ReplayResult,
  replayRecording,
} from "../test/helpers/corpus.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const LISTINGS = path.resolve(here, "../corpus");

async function main(): Promise<void> {
  const writeFloors = process.argv.includes("--write-floors");
  const { cases, sha256 } = loadCorpus();
  fs.mkdirSync(LISTINGS, { recursive: true });
  const results: ReplayResult[] = [];
  for (const rec of loadRecordings()) {
    const r = await replayRecording(rec, cases, sha256);
    results.push(r);
    if (r.note === undefined) {
      fs.writeFileSync(path.join(LISTINGS, `${r.label}.txt`), formatDifferences(r));
    }
  }
  console.log("| recorded server | reports | persona | identical | total | % |");
  console.log("|---|---|---|---:|---:|---:|");
  for (const r of results) {
    const persona = r.note === undefined ? `\`${r.persona}\`` : `${r.note}`;
    const figures = r.note === undefined ? [r.identical, r.total, percent(r)] : ["–", r.total, "–"];
    console.log(`| ${r.label} | ${r.version} | ${persona} | ${figures.join(" | ")} |`);
  }
  console.log(`\nlistings of the differing requests: ${LISTINGS}/<label>.txt`);
  if (writeFloors) {
    const floors = { ...loadFloors() };
    for (const r of results) if (r.note === undefined) floors[r.label] = r.identical;
    fs.writeFileSync(FLOORS_FILE, `${JSON.stringify(floors, null, 2)}\n`);
    console.log(`floors written to ${FLOORS_FILE}`);
  }
}

await main();
