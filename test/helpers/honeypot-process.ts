/** `redscope honeypot` as a child process, for tests and benchmarks: started, ready, stopped. */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { BIN } from "./cli.js";

export interface RunningHoneypot {
  child: ChildProcess;
  /** The bound port of each listener, by persona name. */
  ports: Map<string, number>;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
  /** SIGTERM, then its exit code and output. */
  stop: () => Promise<{ code: number | null; out: string }>;
}

/**
 * Start `redscope honeypot ARGS`; resolves once every --listen is listening. `via`: a command
 * that runs it (e.g. `unshare …`), given node's command line as its last arguments; it must
 * exec it, so that the child's pid is the honeypot's.
 */
export async function startHoneypot(args: string[], via: string[] = []): Promise<RunningHoneypot> {
  const argv = [process.execPath, BIN, "honeypot", ...args];
  const [cmd, ...rest] = [...via, ...argv];
  const child = spawn(cmd!, rest, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A test that failed (or timed out) before stopping it must not leave it running.
  const reap = (): void => {
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  process.once("exit", reap);
  child.once("exit", () => process.off("exit", reap));
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const listeners = Math.max(1, args.filter((a) => a === "--listen").length);
  const deadline = Date.now() + 20_000;
  while ((out.match(/listening on /g) ?? []).length < listeners) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`honeypot did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const ports = new Map<string, number>();
  for (const m of out.matchAll(/listening on \S+:(\d+) as (\S+)/g)) ports.set(m[2]!, Number(m[1]));
  return {
    child,
    ports,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return { code: child.exitCode, out };
      const closed = new Promise<number | null>((r) => child.once("close", r));
      child.kill("SIGTERM");
      const code = await closed;
      return { code, out };
    },
  };
}

/**
 * One connection: send requests, collect everything until the server closes, or `quietMs`
 * after the last byte, or `firstByteMs` when nothing comes at all.
 */
export function converse(
  port: number,
  requests: Buffer[],
  quietMs = 300,
  firstByteMs = quietMs * 3,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let got = "";
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    sock.on("data", (d) => {
      got += d.toString("latin1");
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    });
    sock.on("close", done);
    sock.on("error", reject);
    sock.on("connect", () => {
      for (const r of requests) sock.write(r);
      timer = setTimeout(done, firstByteMs);
    });
  });
}

/** The rows of a JSONL file the honeypot wrote. */
export function readRows<T>(file: string): T[] {
  return fs
    .readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as T);
}

/**
 * A visitor's connection for tests that wait for events, not clocks: what came back so far,
 * a promise for the close, and `until` to wait for a reply.
 */
export class Visitor {
  received = "";
  readonly closed: Promise<void>;
  /** The visitor's own port (the session row's srcPort). */
  readonly port: number;
  private waiters: Array<() => void> = [];

  private constructor(readonly sock: net.Socket) {
    this.port = sock.localPort ?? 0;
    sock.on("data", (d: Buffer) => {
      this.received += d.toString("latin1");
      for (const w of this.waiters) w();
    });
    sock.on("error", () => {});
    this.closed = new Promise((resolve) => sock.once("close", () => resolve()));
    void this.closed.then(() => {
      for (const w of this.waiters) w();
    });
  }

  /** Connect to 127.0.0.1:port, from `localAddress` (any 127.x.y.z) if given. */
  static connect(port: number, localAddress?: string): Promise<Visitor> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({
        host: "127.0.0.1",
        port,
        ...(localAddress ? { localAddress } : {}),
      });
      sock.once("error", reject);
      sock.once("connect", () => resolve(new Visitor(sock)));
    });
  }

  /** Write, waiting for the socket to take it (false: the server closed first). */
  async send(data: Buffer | string): Promise<boolean> {
    if (this.sock.destroyed) return false;
    return new Promise((resolve) => {
      this.sock.write(data, (e) => resolve(e == null));
    });
  }

  /** Resolves with everything received once `done(received)` holds, or the connection closes. */
  until(done: (received: string) => boolean): Promise<string> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done(this.received) || this.sock.destroyed || this.sock.readableEnded) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(this.received);
        }
      };
      this.waiters.push(check);
      check();
    });
  }

  /** Send one command and wait for `expect` to have arrived (or the close). */
  async ask(request: Buffer, expect: string): Promise<string> {
    const before = this.received.length;
    await this.send(request);
    const got = await this.until((r) => r.slice(before).includes(expect));
    return got.slice(before);
  }
}
