/**
 * One classification for the same bytes: a real redis-server with INFO renamed away
 * (`rename-command INFO ""`, on 127.0.0.1) is scanned by redscope, and its replies are
 * presented as zgrab2 and as Shodan keep them, then imported. Scan and imports go through one
 * reply reader (classify/replies.ts) and one classifier, and give the same state and detail.
 *
 * Where the bytes differ, so may the verdict, and the test shows why: a banner holding only the
 * reply to INFO (`-ERR unknown command 'INFO'…`) is what a password-protected server with INFO
 * renamed sends too, byte for byte (Redis looks the command up before it checks the password),
 * so it cannot show an open server; the scan's PONG and HELLO map do.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { classifyExchange } from "../src/classify/index.js";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { DEFAULT_PROBE } from "../src/probe/redis.js";
import { encodeCommand, ReplyDecoder } from "../src/resp/index.js";
import type { RespValue } from "../src/resp/types.js";
import type { ProbeResult } from "../src/schema/result.js";
import { readImport } from "../src/sources/import.js";
import { fromBytes } from "./helpers/classify.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";

const HOST = "127.0.0.1";
const TIME = "2026-03-02T10:15:00Z";
const servers: RedisProcess[] = [];
let open: RedisProcess;
let locked: RedisProcess;

/** What the server sends back for these commands, pipelined, until it closes (after QUIT). */
function exchange(port: number, commands: string[][]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: HOST, port }, () => {
      s.write(Buffer.concat(commands.map((c) => encodeCommand(c))));
    });
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

/** zgrab2's way: one command, its reply, then the next (each reply decoded as it arrives). */
function oneByOne(port: number, commands: string[][]): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const decoder = new ReplyDecoder();
    const replies: RespValue[] = [];
    const s = net.connect({ host: HOST, port }, () => s.write(encodeCommand(commands[0]!)));
    s.on("data", (d: Buffer) => {
      const before = replies.length;
      replies.push(...decoder.push(d));
      if (replies.length > before && replies.length < commands.length) {
        s.write(encodeCommand(commands[replies.length]!));
      }
    });
    s.on("error", reject);
    s.on("close", () => resolve(replies));
  });
}

/** The reply to INFO alone: INFO, then QUIT so that the server closes, without QUIT's +OK. */
async function infoAlone(port: number): Promise<Buffer> {
  const bytes = await exchange(port, [["INFO"], ["QUIT"]]);
  assert.equal(bytes.subarray(-5).toString(), "+OK\r\n");
  return bytes.subarray(0, -5);
}

function decodeAll(bytes: Buffer): RespValue[] {
  return new ReplyDecoder().push(bytes);
}

/** A reply as zgrab2's redis module writes it (modules/redis/types.go). */
function zgrab2Text(v: RespValue): string {
  if (v.type === "error") return `(Error: ${v.value})`;
  if (v.type === "simple") return v.value;
  if (v.type === "bulk") return v.value === null ? "<null>" : v.value.toString("utf8");
  throw new Error(`no zgrab2 rendering for ${v.type}`);
}

async function importOne(text: string): Promise<ProbeResult> {
  const lines = [];
  for await (const l of readImport(Readable.from([Buffer.from(`${text}\n`)]), { format: "auto" })) {
    lines.push(l);
  }
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.error, undefined, lines[0]!.error);
  return lines[0]!.record!;
}

const verdict = (r: ProbeResult) => ({ state: r.state, detail: r.detail, error: r.error });

describe("a server with INFO renamed, scanned and imported", () => {
  before(async () => {
    open = await startRedis({
      host: HOST,
      port: await freePort(),
      config: ["protected-mode no", 'rename-command INFO ""'],
    });
    servers.push(open);
    locked = await startRedis({
      host: HOST,
      port: await freePort(),
      config: ["requirepass s3cret-pass", 'rename-command INFO ""'],
    });
    servers.push(locked);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  test("scan, zgrab2 and a Shodan banner of the same replies: open/INFO_RENAMED", async () => {
    const scan = await runCli([
      "scan",
      `${HOST}:${open.port}`,
      "--allow-reserved",
      "--no-db",
      "--no-intel",
      "-q",
      "-o",
      "-",
    ]);
    assert.equal(scan.code, 0, scan.stderr);
    const scanned = JSON.parse(scan.stdout.split("\n")[0]!) as ProbeResult;
    assert.deepEqual(verdict(scanned), {
      state: "open",
      detail: "INFO_RENAMED",
      error: "ERR unknown command 'INFO', with args beginning with: ",
    });

    // zgrab2 sends PING, INFO, NONEXISTENT and QUIT and writes each reply as a string.
    const zgrab2Replies = decodeAll(
      await exchange(open.port, [["PING"], ["INFO"], ["NONEXISTENT"], ["QUIT"]]),
    );
    assert.equal(zgrab2Replies.length, 4);
    const [ping, info, nonexistent, quit] = zgrab2Replies.map(zgrab2Text);
    const zgrab2 = await importOne(
      JSON.stringify({
        ip: HOST,
        data: {
          redis: {
            status: "success",
            protocol: "redis",
            result: {
              ping_response: ping,
              info_response: info,
              nonexistent_response: nonexistent,
              quit_response: quit,
            },
            timestamp: TIME,
          },
        },
      }),
    );
    assert.deepEqual(verdict(zgrab2), verdict(scanned));

    // The bytes the scan read (PING, HELLO 3, INFO, QUIT), kept as a banner's data: the same
    // bytes, whoever kept them, give the same verdict, facts included.
    const bytes = await exchange(
      open.port,
      DEFAULT_PROBE.map((c) => [...c]),
    );
    const banner = await importOne(
      JSON.stringify({
        ip_str: HOST,
        port: open.port,
        transport: "tcp",
        timestamp: TIME,
        data: bytes.toString("utf8"),
      }),
    );
    assert.deepEqual(verdict(banner), verdict(scanned));
    assert.equal(banner.nicer, scanned.nicer);
    assert.deepEqual(banner.server, scanned.server);
  });

  test("the reply to INFO alone is a password-protected server's too: not open", async () => {
    const alone = await infoAlone(open.port);
    const lockedAlone = await infoAlone(locked.port);
    assert.ok(alone.length > 0);
    assert.deepEqual(alone, lockedAlone, "Redis looks the command up before the password");
    // That server's scan shows the password (its PING and HELLO are refused).
    const scan = await runCli([
      "scan",
      `${HOST}:${locked.port}`,
      "--allow-reserved",
      "--no-db",
      "--no-intel",
      "-q",
      "-o",
      "-",
    ]);
    assert.equal(scan.code, 0, scan.stderr);
    const scanned = JSON.parse(scan.stdout.split("\n")[0]!) as ProbeResult;
    assert.deepEqual([scanned.state, scanned.detail], ["auth_required", "NOAUTH"]);

    const banner = await importOne(
      JSON.stringify({
        ip_str: HOST,
        port: open.port,
        transport: "tcp",
        timestamp: TIME,
        data: alone.toString("utf8"),
      }),
    );
    assert.deepEqual(verdict(banner), {
      state: "error",
      detail: "UNKNOWN_COMMAND",
      error: "ERR unknown command 'INFO', with args beginning with: ",
    });
  });

  // zgrab2's --custom-commands may hold an AUTH: its answer tells whether a password is set, in
  // every era's wording (checked against the real servers).
  const ERAS: Array<[string, string, boolean, string]> = [
    ["redis-2.8.24", "/work/servers/redis-2.8.24/redis-server", false, "<=4.0.10"],
    ["redis-5.0.14", "/work/servers/redis-5.0.14/redis-server", true, "4.0.11-5.x"],
    ["redis-6.0.20", "/work/servers/redis-6.0.20/redis-server", true, "6.0-6.2"],
    ["redis-7.4.1", "/work/servers/redis-7.4.1/redis-server", true, ">=7.0"],
    ["valkey-8.0.1", "/work/servers/valkey-8.0.1/valkey-server", true, ">=7.0"],
  ];
  for (const [name, bin, protectedMode, hint] of ERAS) {
    test(`${name}, PING and INFO renamed away: AUTH "no password is set" shows it open`, async () => {
      const renamed = ['rename-command PING ""', 'rename-command INFO ""'];
      const server = await startRedis({
        host: HOST,
        port: await freePort(),
        bin,
        config: [...(protectedMode ? ["protected-mode no"] : []), ...renamed],
      });
      servers.push(server);
      const withPassword = await startRedis({
        host: HOST,
        port: await freePort(),
        bin,
        config: ["requirepass s3cret-pass", ...renamed],
      });
      servers.push(withPassword);
      const zgrab2Record = async (port: number): Promise<ProbeResult> => {
        const commands = [["PING"], ["INFO"], ["NONEXISTENT"], ["AUTH", "password!"], ["QUIT"]];
        const texts = (await oneByOne(port, commands)).map(zgrab2Text);
        assert.equal(texts.length, 5);
        return importOne(
          JSON.stringify({
            domain: "redis.example.net",
            data: {
              redis: {
                status: "success",
                result: {
                  ping_response: texts[0],
                  info_response: texts[1],
                  nonexistent_response: texts[2],
                  custom_responses: [
                    { command: "AUTH", arguments: "password!", response: texts[3] },
                  ],
                  quit_response: texts[4],
                },
                timestamp: TIME,
              },
            },
          }),
        );
      };
      const r = await zgrab2Record(server.port);
      assert.deepEqual([r.state, r.detail, r.server?.version_hint], ["open", "INFO_RENAMED", hint]);
      const locked = await zgrab2Record(withPassword.port);
      // Only the AUTH shows the password here (the rest are unknown commands): it was wrong.
      assert.deepEqual([locked.state, locked.detail], ["auth_required", "WRONGPASS"]);
    });
  }
});

test("a banner cut inside a reply reads as the scanner reads the same cut bytes (incomplete, not too large)", async () => {
  // Shodan keeps a few KiB of a banner: a bulk whose header announces more than was kept is
  // cut short, as a scan's read cut by its timeout is; the reply cap is the scanner's, not the
  // banner's length.
  const data = "-ERR unknown command 'HELLO'\r\n$4000\r\n# Server\r\nredis_version:7.0.15\r\n";
  const banner = await importOne(
    JSON.stringify({ ip_str: HOST, port: 6379, transport: "tcp", timestamp: TIME, data }),
  );
  const scanned = classifyExchange(
    fromBytes(Buffer.from(data), { sent: ["INFO"], closedByPeer: true }),
  );
  assert.deepEqual(
    { state: banner.state, detail: banner.detail },
    { state: scanned.state, detail: scanned.detail },
  );
  assert.notEqual(banner.detail, "PROTOCOL");
});
