/**
 * The honeypot's memory and slot bounds under hostile visitors, next to a real redis-server
 * under the same traffic. Each case starts a fresh `redscope honeypot` (redis-7.0-open, default
 * limits, recording into SQLite) and a fresh redis-server (`save ""`), and reads each process's
 * peak RSS (VmHWM) once the case is over:
 *
 *   a. one 512 MB command: EXISTS with 8,192 arguments of 64 KB;
 *   b. four such sessions at once;
 *   c. a classifier-heavy session: 5,000 commands of 32 arguments of 1 KB (EXISTS: nothing kept);
 *   e. the budget all taken: 12 sessions each holding 31 MB of an unfinished command (under a
 *      session's share, together past the budget);
 *   d. a slowloris of 64 sources (127.1.0.1 … 127.1.63.1, each its own /24) × 32 sessions,
 *      half silent and half sending a byte a second, filling every one of the 2,048 slots;
 *      then 20 new visitors one after another: what each gets and how long its first reply
 *      takes. redis-server runs with `maxclients 2048` for the same picture.
 *
 *   node dist/bench/honeypot-bounds.js [--case a,b,c,d,e] [--memory 256m]
 *
 * Loopback only. Prints a table and one JSON line.
 */
import fs, { readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { redisServerVersion, startRedis } from "../src/lab/redis.js";
import { startHoneypot } from "../test/helpers/honeypot-process.js";
import { freePort } from "../test/helpers/ports.js";

function flagValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const CASES = (flagValue("--case") ?? "a,b,c,d,e").split(",");
const MEMORY = flagValue("--memory");

/** Peak resident set of a process so far (kB → bytes). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

const MB = 1024 * 1024;
const mb = (n: number): string => `${Math.round(n / MB)} MB`;

/**
 * Send `parts()` on one connection as fast as the peer reads, replies read and dropped.
 * Resolves with the bytes sent and whether the peer closed before everything went out. With
 * `hold`, the connection stays open once all is sent (resolving then, `hold` gets the socket).
 */
function flood(
  port: number,
  parts: () => Generator<Buffer>,
  hold?: (sock: net.Socket) => void,
): Promise<{ sent: number; cut: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    hold?.(sock);
    let sent = 0;
    let closed = false;
    let finished = false;
    sock.on("data", () => {});
    sock.on("error", () => {});
    sock.on("close", () => {
      closed = true;
      resolve({ sent, cut: !finished });
    });
    sock.on("connect", async () => {
      for (const b of parts()) {
        if (closed) return;
        sent += b.length;
        if (!sock.write(b)) {
          await new Promise<void>((r) => {
            const go = (): void => {
              sock.off("drain", go);
              sock.off("close", go);
              r();
            };
            sock.on("drain", go);
            sock.on("close", go);
          });
        }
      }
      finished = true;
      if (hold !== undefined) resolve({ sent, cut: false });
      // QUIT: the server answers and closes; a server that cut us has closed already.
      else sock.end("*1\r\n$4\r\nQUIT\r\n");
    });
  });
}

/** EXISTS with 8,192 arguments of 64 KB: 512 MB in one command. */
function* bigCommand(): Generator<Buffer> {
  const ARGS = 8192;
  const body = Buffer.alloc(64 * 1024, 0x61);
  yield Buffer.from(`*${ARGS + 1}\r\n$6\r\nEXISTS\r\n`);
  const head = Buffer.from(`$${body.length}\r\n`);
  const crlf = Buffer.from("\r\n");
  for (let i = 0; i < ARGS; i++) yield Buffer.concat([head, body, crlf]);
}

/** 496 arguments of 64 KB (31 MB) of a command of 8,192: under a session's share, unfinished. */
function* heldCommand(): Generator<Buffer> {
  const all = bigCommand();
  for (let i = 0; i <= 496; i++) yield all.next().value as Buffer;
}

/** 5,000 EXISTS of 32 distinct 1 KB arguments: what the classifier would keep whole. */
function* classifierHeavy(): Generator<Buffer> {
  const ARG = 1024;
  for (let c = 0; c < 5000; c++) {
    const parts: Buffer[] = [Buffer.from("*33\r\n$6\r\nEXISTS\r\n")];
    for (let a = 0; a < 32; a++) {
      const v = Buffer.alloc(ARG, 0x30 + ((c + a) % 40));
      v.write(`${c}:${a}:`, 0, "latin1");
      parts.push(Buffer.from(`$${ARG}\r\n`), v, Buffer.from("\r\n"));
    }
    yield Buffer.concat(parts);
  }
}

interface Server {
  name: string;
  port: number;
  pid: number;
  stop: () => Promise<void>;
}

async function honeypot(dir: string, extra: string[] = []): Promise<Server> {
  const port = await freePort();
  const hp = await startHoneypot([
    "--listen",
    `127.0.0.1:${port}/redis-7.0-open`,
    "--db",
    path.join(dir, `hp-${port}.db`),
    "-q",
    ...(MEMORY !== undefined ? ["--memory", MEMORY] : []),
    ...extra,
  ]);
  return {
    name: "redscope honeypot",
    port,
    pid: hp.child.pid!,
    stop: async () => {
      await hp.stop();
    },
  };
}

async function redis(config: string[] = []): Promise<Server> {
  const port = await freePort();
  const r = await startRedis({ host: "127.0.0.1", port, config: ["protected-mode no", ...config] });
  return {
    name: `redis-server ${redisServerVersion() ?? ""}`.trim(),
    port,
    pid: r.proc.pid!,
    stop: r.stop,
  };
}

interface Row {
  case: string;
  server: string;
  peakRssMB: number;
  note: string;
}

async function floodCase(
  name: string,
  server: Server,
  sessions: number,
  parts: () => Generator<Buffer>,
  hold = false,
): Promise<Row> {
  const held: net.Socket[] = [];
  const keep = hold ? (s: net.Socket) => held.push(s) : undefined;
  const results = await Promise.all(
    Array.from({ length: sessions }, () => flood(server.port, parts, keep)),
  );
  // The held ones still hold what they sent: closed once the peak is read.
  const stillOpen = held.filter((s) => !s.destroyed).length;
  // From another /24: the flood's own source may have spent its hourly recording budget.
  const alive = await visit(server.port, "127.3.0.1");
  alive.sock.destroy();
  const peak = peakRss(server.pid);
  for (const s of held) s.destroy();
  await server.stop();
  const cut = results.filter((r) => r.cut).length + (hold ? sessions - stillOpen : 0);
  const sent = results.reduce((s, r) => s + r.sent, 0);
  return {
    case: name,
    server: server.name,
    peakRssMB: Math.round(peak / MB),
    note: `${mb(sent)} sent, ${cut}/${sessions} sessions cut; then PING → ${alive.reply}`,
  };
}

/**
 * 64 sources × 32 sessions: every one sends a PING (so it is surely accepted), then half stay
 * silent and half send one byte of an unfinished inline line a second; a session that is
 * closed comes back a second later, as a slowloris tool keeps its slots. After three rounds of
 * trickling, 20 new visitors come one after another and stay.
 */
async function slowloris(server: Server): Promise<Row & { waitsMs: number[] }> {
  const socks: net.Socket[] = [];
  let stopping = false;
  let reopened = 0;
  /** Sessions the server closed, silent ones (even i) and trickling ones (odd i). */
  const closed = [0, 0];
  const open = (i: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const sock = net.connect({
        host: "127.0.0.1",
        port: server.port,
        localAddress: `127.1.${i % 64}.1`,
      });
      socks[i] = sock;
      sock.on("error", () => resolve(false));
      sock.once("data", (d) => resolve(d.toString("latin1").startsWith("+PONG")));
      sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
      sock.on("close", () => {
        resolve(false);
        if (stopping) return;
        closed[i % 2]!++;
        setTimeout(() => {
          if (stopping) return;
          reopened++;
          void open(i);
        }, 1000);
      });
    });
  const accepted = await Promise.all(Array.from({ length: 64 * 32 }, (_, i) => open(i)));
  let tick = 0;
  const trickle = setInterval(() => {
    tick++;
    for (let i = 1; i < socks.length; i += 2) if (!socks[i]!.destroyed) socks[i]!.write("x");
  }, 1000);
  await new Promise((r) => setTimeout(r, 3500));
  const waits: number[] = [];
  const replies = new Map<string, number>();
  const visitors: net.Socket[] = [];
  try {
    for (let v = 0; v < 20; v++) {
      const r = await visit(server.port, `127.2.0.${v + 1}`);
      visitors.push(r.sock);
      waits.push(r.ms);
      replies.set(r.reply, (replies.get(r.reply) ?? 0) + 1);
    }
  } finally {
    clearInterval(trickle);
    stopping = true;
  }
  const peak = peakRss(server.pid);
  for (const s of [...socks, ...visitors]) s.destroy();
  await server.stop();
  const sorted = [...waits].sort((a, b) => a - b);
  return {
    case: "d. slowloris, 64 sources × 32",
    server: server.name,
    peakRssMB: Math.round(peak / MB),
    note:
      `${accepted.filter(Boolean).length} of 2048 accepted, ${tick} trickle rounds; 20 new ` +
      `visitors got ${[...replies].map(([r, n]) => `${n}× ${r}`).join(", ")}; first reply after ` +
      `median ${sorted[10]!.toFixed(1)} ms, max ${sorted[19]!.toFixed(1)} ms; ` +
      `the server closed ${closed[0]} silent and ${closed[1]} trickling slowloris sessions ` +
      `(${reopened} came back)`,
    waitsMs: waits,
  };
}

/**
 * A new visitor: one PING; its first reply's first line and the time to it (ms). Its socket
 * is returned open: the caller closes it.
 */
function visit(
  port: number,
  localAddress?: string,
): Promise<{ sock: net.Socket; reply: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.connect({
      host: "127.0.0.1",
      port,
      ...(localAddress ? { localAddress } : {}),
    });
    let got = "";
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve({
        sock,
        reply: got.split("\r\n")[0] || "(closed, no reply)",
        ms: performance.now() - t0,
      });
    };
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\r\n")) finish();
    });
    sock.on("error", () => {});
    sock.on("close", finish);
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    setTimeout(finish, 30_000).unref();
  });
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-bench-bounds-"));
  const rows: Row[] = [];
  const show = (r: Row): void => {
    rows.push(r);
    process.stderr.write(`bench: ${r.case} | ${r.server} | ${r.peakRssMB} MB | ${r.note}\n`);
  };
  try {
    if (CASES.includes("a")) {
      show(await floodCase("a. 512 MB command", await honeypot(dir), 1, bigCommand));
      show(await floodCase("a. 512 MB command", await redis(), 1, bigCommand));
    }
    if (CASES.includes("b")) {
      show(await floodCase("b. 4 × 512 MB commands", await honeypot(dir), 4, bigCommand));
      show(await floodCase("b. 4 × 512 MB commands", await redis(), 4, bigCommand));
    }
    if (CASES.includes("c")) {
      show(await floodCase("c. classifier-heavy", await honeypot(dir), 1, classifierHeavy));
      show(await floodCase("c. classifier-heavy", await redis(), 1, classifierHeavy));
    }
    if (CASES.includes("e")) {
      const e = "e. 12 sessions holding 31 MB";
      show(await floodCase(e, await honeypot(dir), 12, heldCommand, true));
      show(await floodCase(e, await redis(), 12, heldCommand, true));
    }
    if (CASES.includes("d")) {
      show(await slowloris(await honeypot(dir)));
      show(await slowloris(await redis(["maxclients 2048"])));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${os.cpus().length} cores, Node ${process.versions.node}`);
  console.log(`${"case".padEnd(30)} | ${"server".padEnd(20)} | peak RSS | what happened`);
  console.log(`${"-".repeat(30)}-|-${"-".repeat(20)}-|----------|--------------`);
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(30)} | ${r.server.padEnd(20)} | ${`${r.peakRssMB} MB`.padStart(8)} | ${r.note}`,
    );
  }
  console.log(JSON.stringify({ memory: MEMORY ?? "default", rows }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
