/**
 * A SQLite store with damaged pages, as every command that opens the store meets it: one line
 * that names the file and how to check it, exit 2, no stack — and the file is left as it was.
 * The store is a real scan's (the real CLI, closed loopback ports); its pages are damaged where
 * they lie, so the header still opens and the damage is met in the middle of the work.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { openStore, StoreDamagedError } from "../src/store/index.js";
import { BIN, type CliRun, runCli, scanJson } from "./helpers/cli.js";
import { startHoneypot } from "./helpers/honeypot-process.js";

let tmp = "";
let made = "";

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-damage-"));
  made = path.join(tmp, "made.db");
  // 1,024 closed loopback targets: about 120 pages of results and indexes.
  await scanJson(["127.9.0.0/22"], ["-p", "1", "--db", made, "--scan-id", "first"]);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * A copy of the scan's store with every page of the tables (and their indexes) that `damaged`
 * picks overwritten; the pages it keeps are SQLite's own. Returns its path.
 */
function damagedCopy(name: string, damaged: (table: string) => boolean): string {
  const file = path.join(tmp, name);
  fs.copyFileSync(made, file);
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  const rows = db.prepare("SELECT name, tbl_name AS t FROM sqlite_schema").all() as Array<{
    name: string;
    t: string;
  }>;
  const names = new Set(rows.filter((r) => damaged(r.t)).map((r) => r.name));
  const pages = (
    db.prepare("SELECT name, pageno FROM dbstat").all() as Array<{
      name: string;
      pageno: number;
    }>
  ).filter((p) => names.has(p.name));
  const total = db.pragma("page_count", { simple: true }) as number;
  db.close();
  assert.ok(pages.length > 10 || !damaged("results"), `${pages.length} of ${total} pages`);
  const fd = fs.openSync(file, "r+");
  for (const p of pages) {
    fs.writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (p.pageno - 1) * pageSize);
  }
  fs.closeSync(fd);
  return file;
}

const sha256 = (file: string): string =>
  createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Exit 2 and exactly the one line that names the file and the check. */
function assertDamageLine(code: number | null, stderr: string, file: string): void {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.deepEqual(
    { code, lines: lines.length },
    { code: 2, lines: 1 },
    `exit ${code}, stderr:\n${stderr}`,
  );
  assert.equal(
    lines[0],
    `redscope: the SQLite store ${file} is damaged (database disk image is malformed): ` +
      `check it with sqlite3 ${file} 'PRAGMA integrity_check'`,
  );
}

describe("a damaged SQLite store", () => {
  test("report: one line naming the file and PRAGMA integrity_check, exit 2; the file untouched", async () => {
    // A report reads the counts kept as results are stored (result_aggregates), not the rows.
    const file = damagedCopy("report.db", (t) => t === "results" || t === "result_aggregates");
    const before = sha256(file);
    const r = await runCli(["report", "--db", file]);
    assertDamageLine(r.code, r.stderr, file);
    assert.equal(sha256(file), before, "not rewritten");
  });

  test("scan: the same line when its inserts meet the damage; what the store held is kept", async () => {
    const file = damagedCopy("scan.db", (t) => t === "results");
    const size = fs.statSync(file).size;
    const r = await runCli([
      "scan",
      "127.9.8.0/30",
      "-p",
      "1",
      "--allow-reserved",
      "--db",
      file,
      "--scan-id",
      "second",
      "-q",
    ]);
    assertDamageLine(r.code, r.stderr, file);
    // Not deleted, not truncated, and its undamaged tables still read.
    assert.ok(fs.statSync(file).size >= size);
    const db = new Database(file, { readonly: true });
    const scans = db.prepare("SELECT id FROM scans ORDER BY id").all() as Array<{ id: string }>;
    db.close();
    assert.ok(scans.some((s) => s.id === "first"));
  });

  test("import and serve: the same line, exit 2", async () => {
    const lines = path.join(tmp, "lines.jsonl");
    fs.writeFileSync(lines, (await scanJson(["127.9.9.0/30"], ["-p", "1", "--no-db"])).run.stdout);
    const importFile = damagedCopy("import.db", (t) => t === "results");
    const imported = await runCli(["import", lines, "--db", importFile, "-q"]);
    assertDamageLine(imported.code, imported.stderr, importFile);

    // serve meets it when it makes the newest scan's report (at start, or for a visitor).
    const serveFile = damagedCopy("serve.db", (t) => t === "results");
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--db", serveFile, "--listen", "127.0.0.1:0"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    let visited = false;
    child.stderr.on("data", (d) => {
      stderr += d;
      const m = /dashboard on (\S+) over/.exec(stderr);
      if (m && !visited) {
        visited = true;
        void fetch(`${m[1]}scans/first`).catch(() => undefined);
      }
    });
    // Bounded: a dashboard that goes on serving over the damage is killed (and fails here).
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    clearTimeout(killer);
    assertDamageLine(code, stderr.replace(/^redscope serve: dashboard on .*\n/m, ""), serveFile);
  });

  test("honeypot: the same line when its recorder meets the damage, and it exits", async () => {
    const file = damagedCopy("honeypot.db", (t) => t.startsWith("honeypot_"));
    const hp = await startHoneypot(["--db", file, "--listen", "127.0.0.1:0/redis-7.0-open", "-q"]);
    // A visitor: its session is written when it ends, at the latest when the honeypot stops.
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port: hp.ports.get("redis-7.0-open")! }, () =>
        s.end("PING\r\nQUIT\r\n"),
      );
      s.on("data", () => undefined);
      s.on("error", reject);
      s.on("close", () => resolve());
    });
    // Bounded: a honeypot that does not exit after SIGTERM is killed (and fails here).
    const killer = setTimeout(() => hp.child.kill("SIGKILL"), 30_000);
    const { code, out } = await hp.stop();
    clearTimeout(killer);
    assertDamageLine(code, out.replace(/^listening on .*\n|^recording to .*\n/gm, ""), file);
  });

  test("the store itself: a query's promise and an iteration both reject with StoreDamagedError", async () => {
    const file = damagedCopy("api.db", (t) => t === "results");
    const store = await openStore(file);
    try {
      // Undamaged tables still read.
      assert.deepEqual(
        (await store.listScans()).map((s) => s.id),
        ["first"],
      );
      await assert.rejects(store.groupCounts("first", ["state"]), StoreDamagedError);
      await assert.rejects(
        async () => {
          for await (const _ of store.results({ scanId: "first" })) break;
        },
        (e: unknown) => e instanceof StoreDamagedError && e.file === file,
      );
    } finally {
      await store.close();
    }
  });

  test("a file that is not SQLite at all: the same line, with SQLite's word for it", async () => {
    const file = path.join(tmp, "notes.txt");
    fs.writeFileSync(file, "not a database\n".repeat(1000));
    const r: CliRun = await runCli(["report", "--db", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `redscope: the SQLite store ${file} is damaged (file is not a database): ` +
        `check it with sqlite3 ${file} 'PRAGMA integrity_check'\n`,
    );
    assert.equal(fs.readFileSync(file, "utf8"), "not a database\n".repeat(1000));
  });
});
