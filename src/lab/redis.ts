/**
 * Real `redis-server` processes for the lab: started with a throwaway config on loopback (or
 * inside a network namespace the caller made), stopped with the lab.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface RedisProcess {
  host: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export function redisServerPath(): string | undefined {
  const r = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

export function redisServerVersion(bin = "redis-server"): string | undefined {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return /v=(\S+)/.exec(r.stdout)?.[1];
}

export interface RedisStartOptions {
  host: string;
  port: number;
  /** Extra config lines, e.g. ["requirepass s3cret", "protected-mode yes"]. */
  config?: string[];
  /** Run inside this network namespace (`ip netns exec NAME`). */
  netns?: string;
  /** Treat the server as up when this port accepts (e.g. the TLS port). */
  readyPort?: number;
  bin?: string;
}

export async function startRedis(opts: RedisStartOptions): Promise<RedisProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-redis-"));
  const conf = [
    `bind ${opts.host}`,
    `port ${opts.port}`,
    `dir ${dir}`,
    'save ""',
    "appendonly no",
    "daemonize no",
    `logfile ${path.join(dir, "redis.log")}`,
    ...(opts.config ?? []),
  ];
  const confPath = path.join(dir, "redis.conf");
  fs.writeFileSync(confPath, `${conf.join("\n")}\n`);
  const bin = opts.bin ?? "redis-server";
  const cmd = opts.netns ? "ip" : bin;
  const args = opts.netns ? ["netns", "exec", opts.netns, bin, confPath] : [confPath];
  const proc = spawn(cmd, args, { stdio: "ignore" });
  let exited = false;
  proc.once("exit", () => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    if (!exited) {
      proc.kill("SIGKILL");
      await new Promise((r) => proc.once("exit", r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const readyPort = opts.readyPort ?? opts.port;
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(opts.host, readyPort, opts.netns))) {
    if (exited || Date.now() > deadline) {
      const log = fs.existsSync(path.join(dir, "redis.log"))
        ? fs.readFileSync(path.join(dir, "redis.log"), "utf8").slice(-2000)
        : "";
      await stop();
      throw new Error(`redis-server did not start on ${opts.host}:${readyPort}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: opts.host, port: opts.port, dir, proc, stop };
}

/** Is something listening? Inside a namespace we ask `ss`, since our sockets live outside it. */
async function canConnect(host: string, port: number, netns?: string): Promise<boolean> {
  if (netns) {
    const r = spawnSync("ip", ["netns", "exec", netns, "ss", "-Hltn", `sport = :${port}`], {
      encoding: "utf8",
    });
    return r.status === 0 && r.stdout.trim().length > 0;
  }
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
