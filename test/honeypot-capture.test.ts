/**
 * `--capture-replication`: a visitor's SLAVEOF makes the honeypot fetch the rogue master's
 * payload, bounded, into a file named by its hash that is never executable; without the flag
 * no connection is made. The rogue master is the test's own server on loopback, answering the
 * replica handshake as redis-rogue-server does.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { type RunningHoneypot, startHoneypot } from "./helpers/honeypot-process.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-hp-capture-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface RogueMaster {
  port: number;
  /** The commands each replica sent, one array per connection. */
  seen: string[][];
  close(): Promise<void>;
}

/**
 * A rogue master: +PONG, +OK to REPLCONF, then +FULLRESYNC and the payload, either with its
 * length (`$N`) or EOF-marked as a diskless master sends it.
 */
async function rogueMaster(payload: Buffer, eofMarked = false): Promise<RogueMaster> {
  const seen: string[][] = [];
  const server = net.createServer((sock) => {
    const mine: string[] = [];
    seen.push(mine);
    let buf = "";
    sock.on("error", () => {});
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      // Commands arrive as RESP arrays; the name and first argument are enough here.
      for (;;) {
        const m = /^\*(\d+)\r\n((?:\$\d+\r\n[^\r\n]*\r\n)+)/.exec(buf);
        if (!m) return;
        const args = [...m[2]!.matchAll(/\$\d+\r\n([^\r\n]*)\r\n/g)].map((x) => x[1]!);
        if (args.length < Number(m[1])) return;
        buf = buf.slice(m[0].length);
        mine.push(args.join(" "));
        const name = args[0]!.toUpperCase();
        if (name === "PING") sock.write("+PONG\r\n");
        else if (name === "REPLCONF") sock.write("+OK\r\n");
        else if (name === "PSYNC") {
          sock.write(`+FULLRESYNC ${"a".repeat(40)} 1\r\n`);
          if (eofMarked) {
            const mark = randomBytes(20).toString("hex");
            sock.write(
              Buffer.concat([Buffer.from(`\n\n$EOF:${mark}\r\n`), payload, Buffer.from(mark)]),
            );
          } else {
            sock.write(Buffer.concat([Buffer.from(`$${payload.length}\r\n`), payload]));
          }
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The honeypot on one redis-5.0-open listener (SLAVEOF is allowed there). */
async function honeypot(args: string[]): Promise<RunningHoneypot & { port: number }> {
  const hp = await startHoneypot(["--listen", "127.0.0.1:0/redis-5.0-open", ...args]);
  return { ...hp, port: hp.ports.get("redis-5.0-open")! };
}

/** Send SLAVEOF and wait for its +OK. */
async function slaveof(port: number, host: string, masterPort: number | string): Promise<string> {
  const sock = net.connect({ host: "127.0.0.1", port });
  const args = ["SLAVEOF", host, String(masterPort)];
  sock.write(`*3\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`);
  const reply = await new Promise<string>((resolve, reject) => {
    sock.once("data", (d) => resolve(d.toString("latin1")));
    sock.once("error", reject);
  });
  sock.destroy();
  return reply;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function captureEvents(
  jsonl: string,
): Array<{ name: string; record: { capture: Record<string, unknown> } }> {
  return fs
    .readFileSync(jsonl, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === "event" && r.kind === "capture");
}

describe("honeypot --capture-replication", () => {
  test("the rogue master's module is kept as <sha256>.bin, 0600, after a replica's handshake", async () => {
    const payload = Buffer.concat([
      Buffer.from("\x7fELF\x02\x01\x01", "latin1"),
      randomBytes(300_000),
    ]);
    const sha = createHash("sha256").update(payload).digest("hex");
    const master = await rogueMaster(payload);
    const dir = path.join(tmp, "payloads");
    const jsonl = path.join(tmp, "capture.jsonl");
    // Loopback is reserved: allowed here, as an operator would for a lab. The directory may
    // hold about one payload: a second capture finds it full.
    const hp = await honeypot([
      "--no-db",
      "-o",
      jsonl,
      "--capture-replication",
      dir,
      "--capture-allow-reserved",
      "--capture-max-total",
      "300000",
    ]);
    try {
      assert.equal(await slaveof(hp.port, "127.0.0.1", master.port), "+OK\r\n");
      const file = path.join(dir, `${sha}.bin`);
      await until("the payload file", () => fs.existsSync(file));
      assert.deepEqual(fs.readFileSync(file), payload);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, "never executable");
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.startsWith(".partial")),
        [],
        "no partial file left",
      );
      assert.deepEqual(master.seen, [
        [
          "PING",
          `REPLCONF listening-port ${hp.port}`,
          "REPLCONF capa eof capa psync2",
          "PSYNC ? -1",
        ],
      ]);
      await until("the capture line", () => /: captured, /.test(hp.output()));
      // The source's next connection finds the server still replicating, as a real one would.
      assert.equal(
        await slaveof(hp.port, "127.0.0.1", master.port),
        "+OK Already connected to specified master\r\n",
      );
      assert.equal(await slaveof(hp.port, "NO", "ONE"), "+OK\r\n");
      await slaveof(hp.port, "127.0.0.1", master.port);
      await until("the second capture line", () => /: full, 0 bytes/.test(hp.output()));
      assert.equal(master.seen.length, 1, "a full directory contacts no one");
    } finally {
      assert.equal((await hp.stop()).code, 0);
      await master.close();
    }
    assert.match(
      hp.output(),
      new RegExp(`capture from 127\\.0\\.0\\.1:${master.port} .*: captured, 300007 bytes`),
    );
    const [ev] = captureEvents(jsonl);
    assert.equal(ev?.name, "captured");
    assert.equal(ev?.record.capture.sha256, sha);
    assert.equal(ev?.record.capture.bytes, payload.length);
    assert.equal(ev?.record.capture.announced, payload.length);
    assert.equal(ev?.record.capture.psync, `+FULLRESYNC ${"a".repeat(40)} 1`);
  });

  test("an EOF-marked (diskless) payload; a payload over the byte cap is cut and marked", async () => {
    const payload = randomBytes(50_000);
    const master = await rogueMaster(payload, true);
    const big = await rogueMaster(randomBytes(200_000));
    const dir = path.join(tmp, "payloads2");
    const jsonl = path.join(tmp, "capture2.jsonl");
    const hp = await honeypot([
      "--no-db",
      "-o",
      jsonl,
      "--capture-replication",
      dir,
      "--capture-max-bytes",
      "100000",
      "--capture-allow-reserved",
    ]);
    try {
      await slaveof(hp.port, "127.0.0.1", master.port);
      await slaveof(hp.port, "127.0.0.1", big.port);
      await until("two payload files", () => fs.readdirSync(dir).length === 2);
    } finally {
      assert.equal((await hp.stop()).code, 0);
      await master.close();
      await big.close();
    }
    const events = captureEvents(jsonl);
    const byPort = (p: number) => events.find((e) => e.record.capture.port === p)!.record.capture;
    const diskless = byPort(master.port);
    assert.equal(diskless.status, "captured");
    assert.equal(diskless.announced, -1);
    assert.equal(diskless.sha256, createHash("sha256").update(payload).digest("hex"));
    const cut = byPort(big.port);
    assert.equal(cut.status, "truncated");
    assert.equal(cut.bytes, 100_000);
    assert.equal(fs.statSync(String(cut.file)).size, 100_000);
  });

  test("without the flag, for a reserved address, or for a name, no connection is made", async () => {
    const master = await rogueMaster(randomBytes(1000));
    const jsonl = path.join(tmp, "none.jsonl");
    const hp = await honeypot(["--no-db", "-o", jsonl]);
    try {
      assert.equal(await slaveof(hp.port, "127.0.0.1", master.port), "+OK\r\n");
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(master.seen, []);
    } finally {
      assert.equal((await hp.stop()).code, 0);
    }
    assert.deepEqual(captureEvents(jsonl), []);

    const dir = path.join(tmp, "payloads3");
    const jsonl2 = path.join(tmp, "named.jsonl");
    const hp2 = await honeypot(["--no-db", "-o", jsonl2, "--capture-replication", dir]);
    try {
      // Without --capture-allow-reserved the sensor's own network is out of reach.
      await slaveof(hp2.port, "127.0.0.1", master.port);
      await until("the first capture event", () => hp2.output().includes("capture from 127.0.0.1"));
      await slaveof(hp2.port, "localhost", master.port);
      await until("the second capture event", () =>
        hp2.output().includes("capture from localhost"),
      );
    } finally {
      assert.equal((await hp2.stop()).code, 0);
      await master.close();
    }
    assert.deepEqual(master.seen, [], "reserved addresses and names are not contacted");
    const [loopback, named] = captureEvents(jsonl2).map((e) => e.record.capture);
    assert.equal(loopback?.status, "refused");
    assert.match(String(loopback?.message), /^127\.0\.0\.0\/8 \(.*\) is not contacted/);
    assert.equal(named?.status, "refused");
  });
});
