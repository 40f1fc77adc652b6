/**
 * The floor of what Node can do for one scan probe: keep C sockets in flight; each connects,
 * writes one pipelined request, counts the bytes that come back until the server closes, and
 * closes. No parsing, no classification, no output per target. redscope's scanner is measured
 * against this loop (bench/scan.ts), on the same targets at the same concurrency.
 *
 *   node dist/bench/rawloop.js --targets FILE [--port 6379] [--concurrency 1000]
 *        [--request info-quit|redscope] [--connect-timeout-ms 10000] [--read-timeout-ms 10000]
 *        [--limit N] [--max-runtime-ms 300000]
 *
 * FILE holds one target a line: an IPv4 address (port --port) or `a.b.c.d:port`. --limit: only
 * the first N. The connect budget runs until the connection is up, then the read budget (the
 * socket's idle timer, re-armed by every chunk), as redscope's --connect-timeout and
 * --read-timeout. Prints one JSON object on stdout:
 * { targets, ok, failed, timeouts, bytes, seconds, probesPerSec, request }.
 * `ok` = the server sent bytes and closed the connection itself, without a socket error.
 */
import fs from "node:fs";
import net from "node:net";
import { buildRequest } from "../src/probe/allowlist.js";
import { DEFAULT_PROBE } from "../src/probe/redis.js";

interface Args {
  targets: string;
  port: number;
  concurrency: number;
  request: "info-quit" | "redscope";
  connectTimeoutMs: number;
  readTimeoutMs: number;
  limit: number;
  maxRuntimeMs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    targets: "",
    port: 6379,
    concurrency: 1000,
    request: "info-quit",
    connectTimeoutMs: 10_000,
    readTimeoutMs: 10_000,
    limit: 0,
    maxRuntimeMs: 300_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    i++;
    switch (k) {
      case "--targets":
        a.targets = v;
        break;
      case "--port":
        a.port = positiveInt(k, v);
        break;
      case "--concurrency":
        a.concurrency = positiveInt(k, v);
        break;
      case "--request":
        if (v !== "info-quit" && v !== "redscope") throw new Error(`--request: ${v}`);
        a.request = v;
        break;
      case "--socket-timeout-ms":
        a.connectTimeoutMs = positiveInt(k, v);
        a.readTimeoutMs = a.connectTimeoutMs;
        break;
      case "--connect-timeout-ms":
        a.connectTimeoutMs = positiveInt(k, v);
        break;
      case "--read-timeout-ms":
        a.readTimeoutMs = positiveInt(k, v);
        break;
      case "--limit":
        a.limit = positiveInt(k, v);
        break;
      case "--max-runtime-ms":
        a.maxRuntimeMs = positiveInt(k, v);
        break;
      default:
        throw new Error(`unknown option ${k}`);
    }
  }
  if (!a.targets) throw new Error("--targets FILE is required");
  return a;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: not a positive integer: ${v}`);
  return n;
}

/** INFO then QUIT, pipelined: the server answers both and closes first. */
const INFO_QUIT = Buffer.from("*1\r\n$4\r\nINFO\r\n*1\r\n$4\r\nQUIT\r\n", "latin1");

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const lines = fs
    .readFileSync(args.targets, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const targets = (args.limit > 0 ? lines.slice(0, args.limit) : lines).map((l) => {
    const i = l.indexOf(":");
    return i < 0 ? { ip: l, port: args.port } : { ip: l.slice(0, i), port: Number(l.slice(i + 1)) };
  });
  // The same bytes redscope writes (PING, HELLO 3, INFO, QUIT) when asked, to separate the
  // server's share of the cost from the client's.
  const request = args.request === "redscope" ? buildRequest(DEFAULT_PROBE) : INFO_QUIT;
  let next = 0;
  let inFlight = 0;
  let ok = 0;
  let failed = 0;
  let timeouts = 0;
  let bytes = 0;
  const t0 = performance.now();

  const finishAll = (): void => {
    const seconds = (performance.now() - t0) / 1000;
    const out = {
      targets: targets.length,
      ok,
      failed,
      timeouts,
      bytes,
      seconds,
      probesPerSec: targets.length / seconds,
      request: args.request,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  };

  // Bounded in time whatever happens: a stuck run reports what it has and exits non-zero.
  const guard = setTimeout(() => {
    process.stderr.write(`rawloop: max runtime ${args.maxRuntimeMs} ms reached\n`);
    failed += targets.length - ok - failed;
    finishAll();
    process.exit(2);
  }, args.maxRuntimeMs);

  const launch = (): void => {
    const t = targets[next++];
    if (t === undefined) return;
    inFlight++;
    let got = 0;
    let error = false;
    const s = net.connect({ host: t.ip, port: t.port, noDelay: true });
    s.setTimeout(args.connectTimeoutMs, () => {
      error = true;
      timeouts++;
      s.destroy();
    });
    s.once("connect", () => {
      s.setTimeout(args.readTimeoutMs);
      s.write(request);
    });
    s.on("data", (c: Buffer) => {
      got += c.length;
    });
    s.on("error", () => {
      error = true;
    });
    // allowHalfOpen is false: the server's FIN ends our side too, then 'close' fires.
    s.once("close", () => {
      inFlight--;
      bytes += got;
      if (!error && got > 0) ok++;
      else failed++;
      if (next < targets.length) launch();
      else if (inFlight === 0) {
        clearTimeout(guard);
        finishAll();
      }
    });
  };

  if (targets.length === 0) {
    clearTimeout(guard);
    finishAll();
    return;
  }
  for (let i = 0; i < args.concurrency && next < targets.length; i++) launch();
}

main();
