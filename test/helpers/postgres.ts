/**
 * A real, throwaway PostgreSQL server (Debian's package) for the tests: initdb in a temp
 * directory, the server on 127.0.0.1 and a free port, trust auth, durability off (tests only).
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user the package made.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "./ports.js";

export interface PgServer {
  /**
   * A URL for a database of its own: call with a name per test suite. `socket`: through the
   * server's Unix socket, which a process in another network namespace can reach too.
   */
  database(name: string, via?: "tcp" | "socket"): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "postgres")))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) {
    throw new Error("PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does it)");
  }
  return path.join(root, versions[0], "bin");
}

export async function startPostgres(): Promise<PgServer> {
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-pg-"));
  const data = path.join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): string[] =>
    asRoot ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    execFileSync("chown", ["postgres:postgres", dir]);
  }
  const [initCmd, ...initArgs] = run(path.join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "redscope",
    "--auth=trust",
    "--no-locale",
    "-E",
    "UTF8",
  ]);
  execFileSync(initCmd!, initArgs, { stdio: "pipe" });
  const port = await freePort();
  const [cmd, ...args] = run(path.join(bin, "postgres"), [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=200",
  ]);
  const child: ChildProcess = spawn(cmd!, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (d) => {
    if (log.length < 100_000) log += d;
  });
  const admin = `postgres://redscope@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: admin });
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      await c.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`PostgreSQL did not start: ${log.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    async database(name: string, via: "tcp" | "socket" = "tcp"): Promise<string> {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return via === "socket"
        ? `postgres://redscope@/${name}?host=${encodeURIComponent(dir)}&port=${port}`
        : `postgres://redscope@127.0.0.1:${port}/${name}`;
    },
    async stop(): Promise<void> {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        // Signal the server itself: runuser, its parent as root, does not pass signals on.
        const pid = Number(
          fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0],
        );
        if (pid > 0)
          process.kill(pid, "SIGINT"); // fast shutdown
        else child.kill("SIGINT");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) {
          if (pid > 0) process.kill(pid, "SIGKILL");
          child.kill("SIGKILL");
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
