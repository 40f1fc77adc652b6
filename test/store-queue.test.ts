/**
 * store/queue.ts: the one batching queue behind every sink. Order, batch sizes, the flush
 * barrier, back-pressure, the byte account, coalescing, and each failure policy.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BatchQueue, type QueueOptions } from "../src/store/queue.js";

/** A writer that records batches and can be told to fail or to hold a batch until released. */
function writer<T>() {
  const batches: T[][] = [];
  let failures: unknown[] = [];
  let hold: Promise<void> | undefined;
  let release: (() => void) | undefined;
  return {
    batches,
    failNext(...errors: unknown[]) {
      failures = errors;
    },
    holdNext() {
      hold = new Promise((r) => {
        release = r;
      });
    },
    release() {
      release?.();
      hold = undefined;
    },
    async write(batch: T[]): Promise<void> {
      if (hold) await hold;
      if (failures.length > 0) throw failures.shift();
      batches.push([...batch]);
    },
  };
}

const stop = { mode: "stop" } as const;

describe("BatchQueue", () => {
  test("items go out in order, in batches of at most batchItems, one batch at a time", async () => {
    const w = writer<number>();
    const q = new BatchQueue<number>((b) => w.write(b), { batchItems: 3, failure: stop });
    for (let i = 0; i < 8; i++) q.push(i);
    await q.flush();
    assert.deepEqual(w.batches.flat(), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(w.batches.every((b) => b.length <= 3));
  });

  test("a batch is whole at batchBytes too", async () => {
    const w = writer<string>();
    const q = new BatchQueue<string>((b) => w.write(b), {
      batchItems: 100,
      batchBytes: 10,
      sizeOf: (s) => s.length,
      failure: stop,
    });
    for (const s of ["aaaa", "bbbb", "cccc", "dd"]) q.push(s);
    await q.flush();
    assert.deepEqual(w.batches, [["aaaa", "bbbb", "cccc"], ["dd"]]);
  });

  test("flush is a barrier: it waits for what was pushed before it, not after", async () => {
    const w = writer<number>();
    const q = new BatchQueue<number>((b) => w.write(b), { batchItems: 2, failure: stop });
    q.push(1);
    q.push(2); // a whole batch: goes out now, and is held
    w.holdNext();
    q.push(3);
    q.push(4);
    const flushed = q.flush();
    q.push(5); // after the barrier
    w.holdNext();
    let done = false;
    void flushed.then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, "waits for the held batch");
    w.release();
    await flushed;
    assert.deepEqual(w.batches.flat().slice(0, 4), [1, 2, 3, 4]);
    w.release();
    await q.flush();
    assert.deepEqual(w.batches.flat(), [1, 2, 3, 4, 5]);
  });

  test("a synchronous writer has written when push or flushSync returns", () => {
    const out: string[] = [];
    const q = new BatchQueue<string>((b) => void out.push(b.join("")), {
      batchItems: 2,
      failure: stop,
    });
    q.push("a");
    assert.deepEqual(out, []);
    q.push("b");
    assert.deepEqual(out, ["ab"], "a whole batch is written at once");
    q.push("c");
    q.flushSync();
    assert.deepEqual(out, ["ab", "c"]);
  });

  test("congested past congestedAt; an account that is full drops and says so", async () => {
    const w = writer<number>();
    w.holdNext();
    let taken = 0;
    const dropped: number[] = [];
    const q = new BatchQueue<number>((b) => w.write(b), {
      batchItems: 1,
      congestedAt: 2,
      sizeOf: () => 10,
      account: {
        take: (n) => {
          if (taken + n > 40) return false;
          taken += n;
          return true;
        },
        give: (n) => {
          taken -= n;
        },
      },
      failure: stop,
      events: { dropped: (items) => dropped.push(...items) },
    });
    for (let i = 0; i < 6; i++) q.push(i);
    assert.equal(q.congested, true);
    assert.deepEqual(dropped, [4, 5], "no room for the fifth and sixth");
    w.release();
    await q.flush();
    assert.equal(taken, 0, "every byte given back once written");
    assert.equal(q.congested, false);
  });

  test("a key coalesces: the latest state of a waiting item replaces it in its place", async () => {
    const w = writer<{ id: string; v: number }>();
    w.holdNext();
    const q = new BatchQueue<{ id: string; v: number }>((b) => w.write(b), {
      batchItems: 1,
      key: (x) => x.id,
      failure: stop,
    });
    q.push({ id: "a", v: 0 }); // goes out at once (held)
    q.push({ id: "b", v: 1 });
    q.push({ id: "c", v: 1 });
    q.push({ id: "b", v: 2 });
    q.push({ id: "a", v: 3 }); // "a" is being written: this one queues behind
    w.release();
    await q.flush();
    assert.deepEqual(
      w.batches.flat().map((x) => `${x.id}${x.v}`),
      ["a0", "b2", "c1", "a3"],
    );
  });

  test("stop: the error stays, flush throws it, nothing more is taken", async () => {
    const w = writer<number>();
    const q = new BatchQueue<number>((b) => w.write(b), {
      batchItems: 1,
      failure: { mode: "stop", wrap: (e) => new Error(`wrapped: ${(e as Error).message}`) },
    });
    w.failNext(new Error("disk full"));
    q.push(1);
    await assert.rejects(q.flush(), /wrapped: disk full/);
    assert.equal(q.push(2), false);
    assert.match(q.error?.message ?? "", /disk full/);
    assert.deepEqual(w.batches, []);
  });

  test("drop: the failed batch is lost and said, the next one is written", async () => {
    const w = writer<number>();
    const lost: number[] = [];
    const q = new BatchQueue<number>((b) => w.write(b), {
      batchItems: 2,
      failure: { mode: "drop" },
      events: { dropped: (items, why) => why === "failed" && lost.push(...items) },
    });
    w.failNext(new Error("ENOSPC"));
    for (let i = 0; i < 4; i++) q.push(i);
    assert.equal(await q.flush(), true);
    assert.deepEqual(lost, [0, 1]);
    assert.deepEqual(w.batches.flat(), [2, 3]);
  });

  test("retry: failed batches are tried again until written; refused ones dropped; fatal stops", async () => {
    const w = writer<number>();
    const seen: string[] = [];
    const options: QueueOptions<number> = {
      batchItems: 10,
      failure: {
        mode: "retry",
        firstMs: 1,
        longestMs: 4,
        refuses: (e) => (e as Error).message === "constraint",
        fatal: (e) => (e as Error).message === "damaged",
      },
      events: {
        failing: (e) => seen.push(`failing ${(e as Error).message}`),
        recovered: () => seen.push("recovered"),
        dropped: (items, why) => seen.push(`dropped ${items.join(",")} ${why}`),
        stopped: (e) => seen.push(`stopped ${e.message}`),
      },
    };
    const q = new BatchQueue<number>((b) => w.write(b), options);
    w.failNext(new Error("busy"), new Error("busy"));
    q.push(1);
    q.push(2);
    await q.flush();
    assert.deepEqual(w.batches, [[1, 2]]);
    w.failNext(new Error("constraint"));
    q.push(3);
    await q.flush();
    w.failNext(new Error("damaged"));
    q.push(4);
    await assert.rejects(q.flush(), /damaged/);
    assert.deepEqual(seen, [
      "failing busy",
      "failing busy",
      "recovered",
      "dropped 3 failed",
      "dropped 4 failed",
      "stopped damaged",
    ]);
  });

  test("close under retry gives up at its deadline and says what is left", async () => {
    let tries = 0;
    const q = new BatchQueue<number>(
      async () => {
        tries++;
        throw new Error("down");
      },
      { batchItems: 10, failure: { mode: "retry", firstMs: 1, longestMs: 2 } },
    );
    q.push(1);
    q.push(2);
    assert.equal(await q.close(50), false);
    assert.deepEqual(q.unwritten(), [1, 2]);
    // Past the deadline nothing more is tried (the queue does not spin on its own).
    const after = tries;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(tries, after);
    assert.equal(q.push(3), false);
  });
});
