/**
 * The differential corpus live (issue 16): Debian's real redis-server 7.0.15, started here twice
 * on 127.0.0.1 (free port, `--save ""`, a temp dir), and the `redis-7.0-open` persona in the
 * shipped HoneypotServer get the same corpus side by side. Masks: where the two live runs
 * differed, together with the committed recording's. The persona must reach the committed floor
 * of `redis-7.0.15`; and the real server must match its own committed recording (else the
 * recording or the instrument is off, and every figure with it).
 */
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import {
  binaryVersion,
  loadCorpus,
  loadFloors,
  loadRecordings,
  mergeMasks,
  percent,
  type Recording,
  recordedReplies,
  recordServer,
  replayRecording,
  tally,
} from "./helpers/corpus.js";

const DEBIAN = "/usr/bin/redis-server";
const requireAll = process.env.CI === "true";
const present = binaryVersion(DEBIAN) === "7.0.15";
const skip = present ? false : `Debian's redis-server 7.0.15 is not installed at ${DEBIAN}`;
if (!present && requireAll) throw new Error(`corpus live prerequisite missing in CI: ${skip}`);

describe("corpus live: Debian's redis-server 7.0.15 and the redis-7.0-open persona", () => {
  const LIVE_SLACK = 7;
  test("the persona reaches the floor against the live server", { skip }, async () => {
    const { cases, sha256 } = loadCorpus();
    const committed = loadRecordings().find((r) => r.label === "redis-7.0.15");
    assert.ok(committed !== undefined, "test/fixtures/corpus/recordings/redis-7.0.15.json");
    assert.equal(committed.corpus_sha256, sha256, "the committed recording is from another corpus");
    // The same working directory as the committed recording, so its paths compare.
    const tmp = path.dirname(committed.pins.dir);
    const server = { label: "redis-7.0.15", bin: DEBIAN, product: "redis" as const };
    const live = await recordServer(server, cases, sha256, tmp || os.tmpdir(), 2);

    // The real server against its own recording, under the recording's masks.
    const self = tally(
      committed,
      cases,
      live.cases.map((c) =>
        c.steps.map((s) => ({ replies: recordedReplies(s), closed: s.closed })),
      ),
    );
    const selfPct = (100 * self.identical) / cases.reduce((n, c) => n + c.steps.length, 0);
    console.log(
      `corpus live: redis-server 7.0.15 against its committed recording: ${self.identical} identical (${selfPct.toFixed(1)}%)`,
    );
    for (const d of self.differences.slice(0, 10)) {
      console.log(`  [${d.case} #${d.step}] ${d.line} (${d.why})`);
    }
    assert.ok(selfPct >= 97, "the real server no longer matches its own recording: re-record it");

    // The persona against the live recording, masks of both.
    const both: Recording = {
      ...live,
      cases: live.cases.map((c, ci) => ({
        name: c.name,
        steps: c.steps.map((s, si) => {
          const masks = mergeMasks(
            [...(s.masks ?? [])],
            committed.cases[ci]!.steps[si]!.masks ?? [],
          );
          return masks.length > 0 ? { ...s, masks } : { ...s };
        }),
      })),
    };
    const r = await replayRecording(both, cases, sha256);
    assert.equal(r.note, undefined, r.note);
    // A live server is not its recording: a reply that depends on timing can differ from run
    // to run without showing in two runs' masks. 1% of slack keeps a loaded CI machine from
    // failing the ratchet; the recorded replay (test/honeypot-corpus.test.ts) has none.
    const floor = (loadFloors()["redis-7.0.15"] ?? 0) - LIVE_SLACK;
    console.log(
      `corpus live: ${r.persona} ${r.identical}/${r.total} identical (${percent(r)}%), floor ${floor}`,
    );
    assert.ok(
      r.identical >= floor,
      `redis-7.0-open: ${r.identical} identical against the live server, below the floor ${floor} ` +
        "(test/fixtures/corpus/floors.json; see test/honeypot-corpus.test.ts for the ratchet)",
    );
  });
});
