/** `redscope honeypot` as a child process, for tests and benchmarks: started, ready, stopped. */
import { type ChildProcess, spawn } from "node:child_process";
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

/** Start `redscope honeypot ARGS`; resolves once every --listen is listening. */
export async function startHoneypot(args: string[]): Promise<RunningHoneypot> {
  const child = spawn(process.execPath, [BIN, "honeypot", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
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
