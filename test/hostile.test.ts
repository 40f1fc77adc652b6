/**
 * Servers that fight back: the scan must end within its budgets with bounded memory, and it
 * must never send anything outside the allow-list.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { loadFixture } from "../src/lab/replay.js";
import { ALLOWED_COMMANDS, isAllowed } from "../src/probe/allowlist.js";
import { RequestDecoder } from "../src/resp/index.js";
import { parseJsonl, runCli, watchRss } from "./helpers/cli.js";

type Behaviour = (sock: net.Socket) => void;

async function serve(
  behaviour: Behaviour,
  host = "127.0.0.1",
): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on("close", () => socks.delete(s));
    s.on("error", () => s.destroy());
    behaviour(s);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of socks) s.destroy();
      server.close();
    },
  };
}

/** Write `make()` whenever the socket can take more, until it closes. */
function flood(sock: net.Socket, head: string, make: () => Buffer): void {
  sock.write(head);
  const pump = (): void => {
    while (!sock.destroyed && sock.write(make())) {
      // keep the kernel buffer full
    }
  };
  sock.on("drain", pump);
  pump();
}

const tarpit: Behaviour = (s) => {
  const bytes = Buffer.from("+PONG\r\n");
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed) return clearInterval(t);
    s.write(bytes.subarray(i % bytes.length, (i % bytes.length) + 1));
    i++;
  }, 1000);
  s.on("close", () => clearInterval(t));
};
const endlessBulk: Behaviour = (s) => flood(s, "$2147483647\r\n", () => Buffer.alloc(16384, 0x41));
const endlessArray: Behaviour = (s) =>
  flood(s, "*1000000\r\n", () => Buffer.from("$1\r\nA\r\n".repeat(2048)));
const endlessLine: Behaviour = (s) => flood(s, "+", () => Buffer.alloc(16384, 0x42));
const resetMidReply: Behaviour = (s) => {
  s.once("data", () => {
    s.write("$100\r\nabc");
    setTimeout(() => s.resetAndDestroy(), 50);
  });
};
const garbage: Behaviour = (s) => {
  s.once("data", () => s.end(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x0d, 0x0a, 0x9c])));
};

describe("hostile servers", () => {
  const servers: Record<string, { port: number; close(): void }> = {};

  before(async () => {
    Object.assign(servers, {
      tarpit: await serve(tarpit),
      endlessBulk: await serve(endlessBulk),
      endlessArray: await serve(endlessArray),
      endlessLine: await serve(endlessLine),
      resetMidReply: await serve(resetMidReply),
      garbage: await serve(garbage),
    });
  });
  after(() => {
    for (const s of Object.values(servers)) s.close();
  });

  test("each is classified within its budgets", async () => {
    const targets = Object.values(servers).map((s) => `127.0.0.1:${s.port}`);
    const hostTimeout = 4000;
    const r = await runCli([
      "scan",
      ...targets,
      "--allow-reserved",
      "-o",
      "-",
      "-q",
      "--read-timeout",
      "2s",
      "--host-timeout",
      `${hostTimeout}ms`,
      "--max-bytes",
      "256k",
    ]);
    assert.equal(r.code, 0, r.stderr);
    // All run concurrently, and the scan ends: the tarpit writes forever, so without the host
    // budget it would not (the wall time is not asserted: a loaded machine is slow).
    const byPort = new Map(parseJsonl(r.stdout).map((x) => [x.port, x]));
    assert.equal(byPort.size, targets.length);
    const st = (name: string) => byPort.get(servers[name]!.port)!;

    // The tarpit never completes a reply: it is cut by the host budget, not waited for.
    assert.ok(["error", "silent"].includes(st("tarpit").state), st("tarpit").state);
    // Cut at the budget, not after it: the margin only has to tell a budget from none, so a
    // late timer on a loaded machine does not fail it.
    assert.ok((st("tarpit").rtt_ms ?? 0) < 2 * hostTimeout, `${st("tarpit").rtt_ms} ms`);
    // Oversized announcements are refused at the header; endless streams stop at the budgets.
    assert.equal(st("endlessBulk").state, "error");
    assert.equal(st("endlessArray").state, "error");
    assert.equal(st("endlessLine").state, "error");
    assert.equal(st("resetMidReply").state, "error");
    assert.equal(st("garbage").state, "not_redis");
    for (const x of byPort.values()) {
      assert.ok((x.error ?? "").length <= 300, "error text is truncated");
    }
  });

  test("memory stays bounded while 2,000 connections are flooded", async () => {
    // Listening on all of 127.0.0.0/8 makes every loopback address a flooding server.
    const flooder = await serve(endlessArray, "0.0.0.0");
    try {
      let peak = 0;
      let watch: { stop(): number } | undefined;
      const r = await runCli(
        [
          "scan",
          "127.1.0.0/21",
          "-p",
          String(flooder.port),
          "--allow-reserved",
          "-o",
          "-",
          "-q",
          "--concurrency",
          "500",
          "--rate",
          "0",
          "--max-bytes",
          "64k",
          "--host-timeout",
          "5s",
        ],
        { onSpawn: (pid) => (watch = watchRss(pid)), timeoutMs: 120_000 },
      );
      peak = watch?.stop() ?? 0;
      assert.equal(r.code, 0, r.stderr);
      const results = parseJsonl(r.stdout);
      assert.equal(results.length, 2048);
      assert.ok(results.every((x) => x.state === "error"));
      // 500 connections × 64 KiB of budget, plus the runtime: well under 300 MB.
      assert.ok(
        peak > 0 && peak < 300 * 1024 * 1024,
        `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
      );
    } finally {
      flooder.close();
    }
  });
});

describe("read-only proof", () => {
  test("a whole scan sends nothing outside the allow-list", async () => {
    const fx = loadFixture("redis-7.4.1-open");
    const reply = new Map(fx.probes.map((p) => [p.probe, Buffer.from(p.reply_b64, "base64")]));
    const received: string[][] = [];
    let rawBytes = 0;
    const recorder = await serve((s) => {
      const dec = new RequestDecoder();
      s.on("data", (chunk: Buffer) => {
        rawBytes += chunk.length;
        let cmds: ReturnType<RequestDecoder["push"]>;
        try {
          cmds = dec.push(chunk);
        } catch {
          received.push(["<bytes that are not a RESP command>", chunk.toString("hex", 0, 32)]);
          return s.destroy();
        }
        for (const c of cmds) {
          const args = c.args.map((a) => a.toString("latin1"));
          received.push(args);
          const name = args[0]?.toUpperCase();
          if (name === "QUIT") return s.end(reply.get("quit") ?? "");
          s.write(reply.get(name === "PING" ? "ping" : name === "HELLO" ? "hello3" : "info") ?? "");
        }
      });
    }, "0.0.0.0");
    try {
      // Many targets (all loopback addresses reach the recorder), with TLS fallback enabled.
      const r = await runCli([
        "scan",
        "127.2.0.0/26",
        "-p",
        String(recorder.port),
        "--allow-reserved",
        "-o",
        "-",
        "-q",
        "--tls-auto",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJsonl(r.stdout).filter((x) => x.state === "open").length, 64);
      assert.ok(received.length >= 64 * 4);
      assert.ok(rawBytes > 0);
      for (const args of received) {
        assert.ok(
          isAllowed(args),
          `sent a command outside the allow-list: ${JSON.stringify(args)}`,
        );
      }
      const distinct = new Set(received.map((a) => a.join(" ")));
      const allowed = new Set(ALLOWED_COMMANDS.map((c) => c.join(" ")));
      for (const d of distinct) assert.ok(allowed.has(d));
    } finally {
      recorder.close();
    }
  });
});
