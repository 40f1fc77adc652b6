/**
 * Recording that recovers: `redscope honeypot` writing its SQLite store on a disk that fills
 * up (a small tmpfs in a mount namespace of its own) keeps the sessions of the outage, says on
 * stderr that writes fail and when they work again, and writes them once the disk has room.
 * Shutting down while the store cannot be written ends within its deadline, says what was not
 * written and exits non-zero.
 *
 * Every wait is for an event (a line on stderr, a row in the store, the process's exit).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { encodeCommand } from "../src/resp/index.js";
import { type RunningHoneypot, startHoneypot, Visitor } from "./helpers/honeypot-process.js";

const STORE_MODULE = new URL("../src/store/index.js", import.meta.url).pathname;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-hp-recording-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Root may make a mount namespace (and a tmpfs in it). */
function canUnshareMounts(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("unshare", ["-m", "true"]).status === 0;
}

/**
 * Wait for `ready()` to hold, checking again after each short pause, while `hp` runs. The
 * bound only turns a wait that would never end into a failure that shows the honeypot's output.
 */
async function waitFor(hp: RunningHoneypot, what: string, ready: () => boolean): Promise<void> {
  const giveUp = Date.now() + 60_000;
  while (!ready()) {
    if (hp.child.exitCode !== null || Date.now() > giveUp) {
      throw new Error(`still waiting for ${what}; the honeypot said:\n${hp.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fill the file system that holds `dir` until it refuses another byte. */
function fill(dir: string): string {
  const file = path.join(dir, "filler");
  const fd = fs.openSync(file, "w");
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, "ENOSPC");
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** One visitor: PING, QUIT, and the close. */
async function visit(port: number): Promise<void> {
  const v = await Visitor.connect(port);
  await v.send(Buffer.concat([encodeCommand(["PING"]), encodeCommand(["QUIT"])]));
  await v.closed;
  assert.equal(v.received, "+PONG\r\n+OK\r\n");
}

/**
 * Sessions that have ended in the store at `db` as the process `pid` sees it: read from inside
 * its mount namespace (SQLite resolves /proc/PID/root to this namespace's files, not its).
 */
function endedSessions(pid: number, db: string): number {
  const script = `
    const { openStore } = await import(${JSON.stringify(STORE_MODULE)});
    const store = await openStore(${JSON.stringify(db)});
    let n = 0;
    for await (const s of store.honeypotSessions()) if (s.endedAt !== undefined) n++;
    await store.close();
    console.log(n);`;
  const r = spawnSync(
    "nsenter",
    ["-t", String(pid), "-m", "--", process.execPath, "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

/**
 * `redscope honeypot` in a mount namespace of its own, recording (`record`: its flags, given
 * the directory) on an 8 MB tmpfs there; `disk` is that tmpfs as this process reaches it.
 */
async function onSmallDisk(record: (dir: string) => string[]): Promise<{
  hp: RunningHoneypot;
  port: number;
  pid: number;
  dir: string;
  disk: string;
}> {
  const mount = fs.mkdtempSync(path.join(tmp, "disk-"));
  const hp = await startHoneypot(
    ["--listen", "127.0.0.1:0/redis-7.0-open", ...record(mount), "-q"],
    [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t tmpfs -o size=8m tmpfs "$0" && exec "$@"',
      mount,
    ],
  );
  const pid = hp.child.pid!;
  return {
    hp,
    port: hp.ports.get("redis-7.0-open")!,
    pid,
    dir: mount,
    disk: `/proc/${pid}/root${mount}`,
  };
}

/** onSmallDisk with the SQLite store there, once one session is in it. */
async function storeOnSmallDisk(): Promise<
  Awaited<ReturnType<typeof onSmallDisk>> & { db: string }
> {
  const on = await onSmallDisk((dir) => ["--db", path.join(dir, "hp.db")]);
  const db = path.join(on.dir, "hp.db");
  await visit(on.port);
  await waitFor(on.hp, "the first session in the store", () => endedSessions(on.pid, db) === 1);
  return { ...on, db };
}

describe("honeypot recording on a disk that fills up", {
  skip: !canUnshareMounts() && "needs root for a mount namespace",
}, () => {
  test("the sessions of the outage are written once the disk has room again, and stderr says so", {
    timeout: 180_000,
  }, async (t) => {
    const { hp, port, pid, db, disk } = await storeOnSmallDisk();
    try {
      const filler = fill(disk);
      for (let i = 0; i < 20; i++) await visit(port);
      await waitFor(hp, "a line about the failing store", () =>
        /redscope honeypot: cannot write to the store since \S+ \(SQLITE_FULL/.test(hp.output()),
      );
      assert.equal(endedSessions(pid, db), 1, "nothing written while the disk is full");

      fs.rmSync(filler);
      await waitFor(hp, "a line about the store working again", () =>
        /redscope honeypot: writing to the store again after [\d.]+ s of failures/.test(
          hp.output(),
        ),
      );
      await waitFor(hp, "the 20 sessions of the outage", () => endedSessions(pid, db) === 21);
      const stopped = await hp.stop();
      for (const line of stopped.out.split("\n")) if (line) t.diagnostic(line);
      assert.equal(stopped.code, 0, stopped.out);
    } finally {
      if (hp.child.exitCode === null) hp.child.kill("SIGKILL");
    }
  });

  test("SIGTERM while the disk is full ends within the deadline, says what is lost, exits 1", {
    timeout: 180_000,
  }, async (t) => {
    const { hp, port, disk } = await storeOnSmallDisk();
    try {
      fill(disk);
      for (let i = 0; i < 5; i++) await visit(port);
      // The operator stops the sensor: it must exit (the test's timeout catches a hang).
      const stopped = await hp.stop();
      for (const line of stopped.out.split("\n")) if (line) t.diagnostic(line);
      assert.equal(stopped.code, 1, stopped.out);
      assert.match(
        stopped.out,
        /redscope honeypot: \d+ sessions and \d+ events could not be written before exiting \(SQLITE_FULL/,
      );
      const lost = /(\d+) sessions and (\d+) events could not be written/.exec(stopped.out)!;
      assert.ok(Number(lost[1]) >= 5, stopped.out);
      assert.doesNotMatch(stopped.out, /internal error/);
    } finally {
      if (hp.child.exitCode === null) hp.child.kill("SIGKILL");
    }
  });

  test("JSONL output on a full disk loses the lines that failed, says so, and resumes", {
    timeout: 180_000,
  }, async (t) => {
    const { hp, port, disk } = await onSmallDisk((dir) => [
      "--no-db",
      "-o",
      path.join(dir, "hp.jsonl"),
    ]);
    try {
      const filler = fill(disk);
      // More than one 64 KB batch of lines: one must fail.
      for (let i = 0; i < 100; i++) await visit(port);
      await waitFor(hp, "a line about the lost lines", () =>
        /redscope honeypot: \d+ events and \d+ sessions dropped since the last message: cannot write the JSONL output \(ENOSPC/.test(
          hp.output(),
        ),
      );
      fs.rmSync(filler);
      const file = path.join(disk, "hp.jsonl");
      const before = fs.statSync(file).size;
      for (let i = 0; i < 100; i++) await visit(port);
      assert.ok(fs.statSync(file).size > before, "written again");
      const stopped = await hp.stop();
      for (const line of stopped.out.split("\n")) if (line) t.diagnostic(line);
      assert.equal(stopped.code, 0, stopped.out);
      assert.match(stopped.out, /stopped: 200 sessions, .* events and \d+ sessions dropped/);
    } finally {
      if (hp.child.exitCode === null) hp.child.kill("SIGKILL");
    }
  });
});
