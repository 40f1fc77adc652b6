/**
 * zgrab2's own Redis testdata (test/fixtures/zgrab2-testdata/, see its README for where from):
 * records of Redis 5.0.4 probed by name, with a `domain` and no `ip`. Each imports, keeps the
 * name, and classifies as that server's replies show — nothing is resolved; --resolve gives
 * the address.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { ProbeResult } from "../src/schema/result.js";
import { type ImportOptions, readImport } from "../src/sources/import.js";
import { SqliteStore } from "../src/store/index.js";
import { runCli } from "./helpers/cli.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, "../..");
const DIR = path.join(ROOT, "test", "fixtures", "zgrab2-testdata");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-zgrab2-testdata-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function one(file: string, opts: ImportOptions = { format: "auto" }): Promise<ProbeResult> {
  const lines = [];
  for await (const l of readImport(path.join(DIR, file), opts)) lines.push(l);
  assert.equal(lines.length, 1, file);
  assert.equal(lines[0]!.error, undefined, `${file}: ${lines[0]!.error}`);
  return lines[0]!.record!;
}

type Expect = Pick<ProbeResult, "state"> & {
  detail?: string;
  nicer?: string;
  version?: string;
  hint?: string;
};

const OPEN_504: Expect = { state: "open", nicer: "Returned version", version: "5.0.4" };
// zgrab2 --mappings sent RENAMED-PING and RENAMED-INFO, which no server knows: the record shows
// unknown commands and nothing else (Redis answers those before it checks a password).
const MAPPED_AWAY: Expect = {
  state: "error",
  nicer: "Encountered error",
  detail: "UNKNOWN_COMMAND",
  hint: "4.0.11-6.2",
};
const NOAUTH: Expect = {
  state: "auth_required",
  nicer: "Requires authentication",
  detail: "NOAUTH",
  hint: "4.0.11-6.2",
};

/** What each record shows, and why. */
const EXPECTED: Record<string, Expect> = {
  "redis-default-normal.json": OPEN_504,
  "redis-default-inline.json": OPEN_504,
  "redis-default-normal-extra.json": OPEN_504,
  "redis-default-inline-extra.json": OPEN_504,
  "redis-default-normal-mappings.json": MAPPED_AWAY,
  "redis-default-inline-mappings.json": MAPPED_AWAY,
  "redis-password-normal.json": NOAUTH,
  "redis-password-inline.json": NOAUTH,
  // AUTH password! then succeeded, but the server asked for it first.
  "redis-password-normal-extra.json": NOAUTH,
  "redis-password-inline-extra.json": NOAUTH,
  "redis-password-normal-mappings.json": MAPPED_AWAY,
  "redis-password-inline-mappings.json": MAPPED_AWAY,
  // PING and INFO renamed away: unknown commands only, as a password-protected server with
  // them renamed would answer too.
  "redis-renamed-normal.json": MAPPED_AWAY,
  "redis-renamed-inline.json": MAPPED_AWAY,
  // The custom AUTH was answered "no password is set": the server serves everyone, INFO is
  // renamed. The same state and detail as a scan of such a server (test/import-renamed).
  "redis-renamed-normal-extra.json": {
    state: "open",
    detail: "INFO_RENAMED",
    hint: "4.0.11-5.x",
  },
  "redis-renamed-inline-extra.json": { state: "open", detail: "INFO_RENAMED", hint: "4.0.11-5.x" },
  // zgrab2 sent RENAMED-INFO, the server's name for INFO: INFO's text came back.
  "redis-renamed-normal-mappings.json": OPEN_504,
  "redis-renamed-inline-mappings.json": OPEN_504,
};

describe("zgrab2's own testdata", () => {
  test("every redis-*.json file of it is here and expected", () => {
    const files = fs.readdirSync(DIR).filter((f) => /^redis-.*\.json$/.test(f));
    assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort());
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    test(`${file}: ${want.state}${want.detail ? `/${want.detail}` : ""}, kept by its name`, async () => {
      const r = await one(file);
      assert.equal(r.state, want.state);
      assert.equal(r.detail, want.detail);
      assert.equal(r.nicer, want.nicer);
      assert.equal(r.server?.version, want.version);
      assert.equal(r.server?.product, want.version === undefined ? undefined : "redis");
      assert.equal(r.server?.version_hint, want.hint);
      // No address in the record, none made up: the name is the key, in a form no address
      // or host name has.
      assert.equal(r.ip, "(target)");
      assert.equal(r.hostname, "target");
      assert.equal(r.port, 6379);
      assert.equal(r.transport, "tcp");
      assert.match(r.time, /^2019-06-20T21:1\d:\d\d\.000Z$/);
    });
  }

  test("with --resolve the address is the file's; a name it lacks keeps none", async () => {
    const map = new Map<string, string | null>([["target", "192.0.2.7"]]);
    const r = await one("redis-password-normal.json", { format: "zgrab2", resolve: map });
    assert.deepEqual([r.ip, r.hostname, r.state], ["192.0.2.7", "target", "auth_required"]);
    const other = await one("redis-password-normal.json", {
      format: "zgrab2",
      resolve: new Map([["elsewhere", "192.0.2.8"]]),
    });
    assert.equal(other.ip, "(target)");
    // Two addresses for one name: which one zgrab2 dialled is not known.
    const twice = await one("redis-password-normal.json", {
      format: "zgrab2",
      resolve: new Map([["target", null]]),
    });
    assert.equal(twice.ip, "(target)");
  });

  test("the CLI stores them by name, says so, and report reads the scan", async () => {
    const db = path.join(tmp, "named.db");
    const file = path.join(DIR, "redis-default-normal.json");
    const run = await runCli(["import", file, "--db", db, "--no-intel", "--scan-id", "named"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /note: 1 record has a name and no address .*give --resolve FILE/);
    const store = SqliteStore.open(db);
    try {
      const rows: ProbeResult[] = [];
      for await (const r of store.results({ scanId: "named" })) rows.push(r);
      assert.deepEqual(
        rows.map((r) => [r.ip, r.hostname, r.state, r.server?.version]),
        [["(target)", "target", "open", "5.0.4"]],
      );
    } finally {
      await store.close();
    }
    const report = await runCli(["report", "named", "--db", db]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^open +1 +100\.00%/m);

    // A redscope JSONL export of it comes back in as it was written.
    const jsonl = path.join(tmp, "named.jsonl");
    fs.writeFileSync(
      jsonl,
      `${JSON.stringify({ ip: "(target)", port: 6379, transport: "tcp", time: "2019-06-20T21:12:37.000Z", state: "open", hostname: "target" })}\n`,
    );
    const back = await runCli(["import", jsonl, "--db", db, "--no-intel", "--scan-id", "back"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /1 records? read, 1 imported/);
  });

  test("--resolve files: hosts and name-ip lines; a bad line is one line, exit 2", async () => {
    const db = path.join(tmp, "resolve.db");
    const file = path.join(DIR, "redis-renamed-normal-extra.json");
    const hosts = path.join(tmp, "hosts");
    fs.writeFileSync(
      hosts,
      "# zdns output and a hosts file, mixed\n192.0.2.1 other.example alias\nTARGET.,192.0.2.9 # comment\n",
    );
    const run = await runCli(["import", file, "--db", db, "--no-intel", "--resolve", hosts]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /no address/);
    const id = /scan (\S+) \(import:zgrab2\)/.exec(run.stdout)![1]!;
    const store = SqliteStore.open(db);
    try {
      const rows: ProbeResult[] = [];
      for await (const r of store.results({ scanId: id })) rows.push(r);
      assert.deepEqual(
        rows.map((r) => [r.ip, r.hostname, r.state, r.detail]),
        [["192.0.2.9", "target", "open", "INFO_RENAMED"]],
      );
    } finally {
      await store.close();
    }

    const cases: Array<[string, RegExp]> = [
      ["target 999.1.2.3\n", /hosts-bad:1: expected "name ip", "name,ip" or "ip name…"/],
      ["192.0.2.1 bad_name\n", /hosts-bad:1: "bad_name" is not a host name: label "bad_name"/],
      ["\n\ntarget\n", /hosts-bad:3: expected/],
    ];
    for (const [text, message] of cases) {
      const bad = path.join(tmp, "hosts-bad");
      fs.writeFileSync(bad, text);
      const r = await runCli(["import", file, "--db", db, "--no-intel", "--resolve", bad]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    const missing = await runCli(["import", file, "--db", db, "--resolve", path.join(tmp, "no")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^redscope: cannot read --resolve .*no: ENOENT$/m);
    const shodan = path.join(ROOT, "test", "fixtures", "import", "shodan-redis.jsonl");
    const wrong = await runCli(["import", shodan, "--db", db, "--resolve", hosts]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--resolve is for zgrab2 files/);
  });
});
