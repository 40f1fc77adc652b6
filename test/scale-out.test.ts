/**
 * Many machines, one PostgreSQL: four worker processes, each told its shard the way a
 * Kubernetes Indexed Job tells it (JOB_COMPLETION_INDEX, --shard ?/4, the scan id from the
 * environment), write into one scan. Its rows must be exactly those of one unsharded scan.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEMO_CAST, type LabServer, startLabServer } from "../src/lab/replay.js";
import type { ProbeResult } from "../src/schema/result.js";
import { openStore } from "../src/store/index.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";

let pgServer: PgServer;
let url = "";
let port = 0;
const lab: LabServer[] = [];

before(async () => {
  pgServer = await startPostgres();
  url = await pgServer.database("scaleout");
  port = await freePort("127.89.0.1");
  // The demo's cast on 127.89.0.1…12; the rest of the /26 is closed ports.
  for (const [i, member] of DEMO_CAST.entries()) {
    lab.push(await startLabServer(member.name, member.spec, `127.89.0.${i + 1}`, port));
  }
});

after(async () => {
  for (const s of lab) await s.close();
  await pgServer?.stop();
});

/** What a row says about a target, without the per-run fields (time, rtt, scan id, shard). */
function essence(r: ProbeResult): string {
  return JSON.stringify([r.ip, r.port, r.state, r.detail, r.server?.product, r.server?.version]);
}

async function rows(scanId: string): Promise<string[]> {
  const store = await openStore(url);
  try {
    const out: string[] = [];
    for await (const r of store.results({ scanId })) out.push(essence(r));
    return out;
  } finally {
    await store.close();
  }
}

describe("scale-out: N workers, one PostgreSQL", () => {
  test("4 sharded workers write exactly the rows of one unsharded scan", async () => {
    const args = [
      "scan",
      "127.89.0.0/26",
      "-p",
      String(port),
      "--allow-reserved",
      "-q",
      "--seed",
      "20261121",
      "--db",
      url,
      "--connect-timeout",
      "2s",
      "--read-timeout",
      "2s",
    ];
    const workers = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        runCli([...args, "--shard", "?/4"], {
          env: { JOB_COMPLETION_INDEX: String(i), REDSCOPE_SCAN_ID: "k8s-job-1" },
        }),
      ),
    );
    for (const w of workers) assert.equal(w.code, 0, w.stderr);
    const single = await runCli([...args, "--scan-id", "one-machine"]);
    assert.equal(single.code, 0, single.stderr);

    const sharded = await rows("k8s-job-1");
    const whole = await rows("one-machine");
    assert.equal(whole.length, 64);
    assert.deepEqual(sharded, whole);

    const store = await openStore(url);
    try {
      const scan = await store.getScan("k8s-job-1");
      assert.equal(scan?.shardCount, 4);
      assert.ok(scan?.finishedAt, "finished once the last of the 4 shards finished");
      assert.deepEqual(scan?.counts, (await store.getScan("one-machine"))?.counts);
      const shards = await store.listShards("k8s-job-1");
      assert.deepEqual(
        shards.map((s) => s.shard),
        ["0/4", "1/4", "2/4", "3/4"],
      );
      let perShard = 0;
      for (const s of shards) {
        assert.ok(s.finishedAt);
        perShard += Object.values(s.counts ?? {}).reduce((a, b) => a + b, 0);
      }
      assert.equal(perShard, 64, "the shards are disjoint and cover the scan");
    } finally {
      await store.close();
    }

    // A worker restarted by Kubernetes re-runs its shard: nothing is duplicated.
    const again = await runCli([...args, "--shard", "?/4"], {
      env: { JOB_COMPLETION_INDEX: "2", REDSCOPE_SCAN_ID: "k8s-job-1" },
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /stored: 0 new rows for scan k8s-job-1/);
    assert.deepEqual(await rows("k8s-job-1"), whole);
  });

  test("a worker with another seed cannot join the scan", async () => {
    const r = await runCli(
      ["scan", "127.89.0.0/26", "-p", String(port), "--allow-reserved", "-q", "--db", url],
      { env: { REDSCOPE_SCAN_ID: "k8s-job-1" } },
    );
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^redscope: scan id k8s-job-1 already exists in the store with different /,
    );
  });
});
