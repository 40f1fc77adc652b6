/**
 * The scan engine's memory is bounded by its concurrency, counted structurally: with C
 * connections held open by a silent peer, the heap holds C attempts and C probe sessions and at
 * most C more timers, whatever the number of targets; once targets complete, nothing of them is
 * retained (the next ones take their places); at the end, none. Counted in V8 heap snapshots
 * (each taken after a full GC, so only reachable objects count), at moments chosen by events
 * (connections accepted, results delivered), never by the clock.
 *
 * The engine and the Redis probe are the shipped ones; the peer is a TCP listener on 127.0.0.1
 * that accepts and says nothing, as a silent internet host does after the handshake.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import v8 from "node:v8";
import { type EngineTarget, ScanEngine } from "../src/engine/engine.js";
import { RedisProbe } from "../src/probe/redis.js";
import type { ProbeResult } from "../src/schema/result.js";

/** Live objects per constructor name, from a heap snapshot of this process. */
async function countObjects(names: readonly string[]): Promise<Record<string, number>> {
  const chunks: Buffer[] = [];
  for await (const c of v8.getHeapSnapshot()) chunks.push(c as Buffer);
  const snap = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const objectType = snap.snapshot.meta.node_types[0].indexOf("object");
  const wanted = new Set(names);
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (let i = 0; i < snap.nodes.length; i += width) {
    if (snap.nodes[i + typeAt] !== objectType) continue;
    const name = snap.strings[snap.nodes[i + nameAt]!]!;
    if (wanted.has(name)) out[name]! += 1;
  }
  return out;
}

const PER_TARGET = ["Attempt", "RedisSession", "ReplyReader"] as const;

test("engine: in-flight state is bounded by --concurrency, and released when a target completes", async () => {
  const C = 40;
  const TARGETS = 5 * C;
  // The silent peer: holds every connection it accepts until told to let a batch go.
  const held: net.Socket[] = [];
  let accepted = 0;
  let closeOnAccept = false;
  const acceptedEvents = new EventTarget();
  const server = net.createServer((s) => {
    accepted++;
    s.on("error", () => {});
    if (closeOnAccept) s.destroy();
    else held.push(s);
    acceptedEvents.dispatchEvent(new Event("accepted"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const untilAccepted = async (n: number): Promise<void> => {
    while (accepted < n) await once(acceptedEvents, "accepted");
  };

  const before = await countObjects(["Timeout", ...PER_TARGET]);
  let next = 0;
  const results: ProbeResult[] = [];
  const resultEvents = new EventTarget();
  const engine = new ScanEngine(
    new RedisProbe({ maxReplyBytes: 64 * 1024 }),
    {
      concurrency: C,
      rate: 0,
      // Budgets far beyond the test: every end comes from the peer, none from a timer.
      budgets: {
        connectTimeoutMs: 600_000,
        readTimeoutMs: 600_000,
        hostTimeoutMs: 600_000,
        maxBytesPerHost: 64 * 1024,
      },
      transport: "tcp",
    },
    (): EngineTarget | undefined =>
      next < TARGETS ? { ip: "127.0.0.1", port, seq: next++ } : undefined,
    (_t, r) => {
      // Only the state is kept: what the engine retains is what is measured.
      results.push({ ip: r.ip, port: r.port, state: r.state } as ProbeResult);
      resultEvents.dispatchEvent(new Event("result"));
    },
  );
  const untilResults = async (n: number): Promise<void> => {
    while (results.length < n) await once(resultEvents, "result");
  };
  const done = engine.run();

  try {
    // 1. C connections up and silent: C attempts and sessions, at most C more timers.
    await untilAccepted(C);
    // The attempts exist from launch; a session opens on the client's 'connect', which may
    // come a moment after the peer's accept: at most C.
    assert.equal(engine.stats.inFlight, C);
    assert.equal(engine.stats.launched, C, "no target beyond the concurrency was started");
    let first = await countObjects(["Timeout", ...PER_TARGET]);
    assert.equal(first["Attempt"], C);
    assert.ok(first["RedisSession"]! <= C, JSON.stringify(first));
    assert.ok(first["Timeout"]! - before["Timeout"]! <= C, JSON.stringify({ before, first }));

    // 2. Let one batch of C go: their results come out, the next C take their places, and
    // nothing of the finished ones stays behind.
    for (const s of held.splice(0)) s.destroy();
    await untilResults(C);
    await untilAccepted(2 * C);
    first = await countObjects(["Timeout", ...PER_TARGET]);
    assert.equal(engine.stats.completed, C);
    assert.equal(first["Attempt"], C, JSON.stringify(first));
    assert.ok(first["RedisSession"]! <= C, JSON.stringify(first));
    assert.ok(first["ReplyReader"]! <= C, JSON.stringify(first));
    assert.ok(first["Timeout"]! - before["Timeout"]! <= C, JSON.stringify({ before, first }));

    // 3. The rest: closed as they come. At the end the engine holds nothing per target.
    closeOnAccept = true;
    for (const s of held.splice(0)) s.destroy();
    await done;
    // run() resolves inside the last socket's close callback, before Node detaches that
    // socket's native handle (which holds it, and with it its attempt, until the callback
    // returns): one turn of the event loop, and it is detached.
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(results.length, TARGETS);
    assert.equal(accepted, TARGETS);
    const after = await countObjects(["Timeout", ...PER_TARGET]);
    for (const n of PER_TARGET) assert.equal(after[n], 0, `${n} left: ${JSON.stringify(after)}`);
    assert.ok(after["Timeout"]! <= before["Timeout"]!, JSON.stringify({ before, after }));
  } finally {
    engine.stop();
    for (const s of held) s.destroy();
    server.close();
  }
});
