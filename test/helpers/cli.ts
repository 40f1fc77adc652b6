/** Run the built CLI as a user would, as a child process. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ProbeResult } from "../../src/schema/result.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(here, "../../src/cli/bin.js");

/**
 * Scans write to the store by default: tests never touch the user's own database. Each test
 * process gets a throwaway one unless a test names its own.
 */
const scratch = mkdtempSync(path.join(os.tmpdir(), "redscope-cli-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
export const SCRATCH_DB = path.join(scratch, "redscope.db");
// Children spawned any other way inherit it too.
process.env.REDSCOPE_DB = SCRATCH_DB;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCli(
  args: string[],
  opts: {
    stdin?: string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onSpawn?: (pid: number) => void;
  } = {},
): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    if (p.pid !== undefined) opts.onSpawn?.(p.pid);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    p.on("error", reject);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
    p.stdin.end(opts.stdin ?? "");
  });
}

export function parseJsonl(text: string): ProbeResult[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ProbeResult);
}

/** Peak resident memory of a running process, sampled from /proc until it exits. */
export function watchRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = 0;
  const read = (): void => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const m = /VmHWM:\s+(\d+) kB/.exec(status) ?? /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** `redscope scan TARGETS --allow-reserved -o - -q EXTRA…`; asserts exit 0; results by ip:port. */
export async function scanJson(
  targets: string[],
  extra: string[] = [],
): Promise<{ results: ProbeResult[]; byTarget: Map<string, ProbeResult>; run: CliRun }> {
  const run = await runCli(["scan", ...targets, "--allow-reserved", "-o", "-", "-q", ...extra]);
  if (run.code !== 0) throw new Error(`scan exited ${run.code}: ${run.stderr}`);
  const results = parseJsonl(run.stdout);
  const byTarget = new Map<string, ProbeResult>();
  for (const r of results)
    byTarget.set(r.ip.includes(":") ? `[${r.ip}]:${r.port}` : `${r.ip}:${r.port}`, r);
  return { results, byTarget, run };
}
