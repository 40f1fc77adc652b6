/**
 * The lab: real redis-server processes (Debian's package) in real configurations, plus
 * non-Redis peers, each scanned by the real CLI and classified as the taxonomy says.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type RedisProcess,
  redisServerPath,
  redisServerVersion,
  startRedis,
} from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import type { ProbeResult } from "../src/schema/result.js";
import { makeCert, tlsConfig } from "./helpers/certs.js";
import { scanJson } from "./helpers/cli.js";
import { canMakeNetns, createTestHost, dropTcpPort, type TestHost } from "./helpers/netns.js";
import { freePort } from "./helpers/ports.js";

const HAVE_REDIS = redisServerPath() !== undefined;
// In CI every lab test must run: a missing redis-server or netns is a failure, not a skip.
const requireAll = process.env.CI === "true";

function skipUnless(ok: boolean, why: string): string | false {
  if (ok) return false;
  if (requireAll) throw new Error(`lab prerequisite missing in CI: ${why}`);
  return why;
}

const FAST = ["--connect-timeout", "1500ms", "--read-timeout", "2s", "--host-timeout", "6s"];

async function scan(targets: string[], extra: string[] = []): Promise<Map<string, ProbeResult>> {
  return (await scanJson(targets, [...FAST, ...extra])).byTarget;
}

describe("lab of real servers", {
  skip: skipUnless(HAVE_REDIS, "redis-server not installed"),
}, () => {
  const procs: RedisProcess[] = [];
  const closers: Array<() => void> = [];
  const t: Record<string, string> = {};
  let version = "";
  let certs: { cert: string; key: string };
  let tmp = "";

  before(async () => {
    version = redisServerVersion() ?? "";
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-lab-"));
    certs = makeCert(tmp);
    const h = "127.0.0.1";
    const start = async (name: string, config: string[], opts: { tlsPort?: boolean } = {}) => {
      const port = await freePort();
      if (opts.tlsPort) {
        const tlsPort = await freePort();
        procs.push(
          await startRedis({
            host: h,
            port: 0,
            readyPort: tlsPort,
            config: [...tlsConfig(tlsPort, certs), ...config],
          }),
        );
        t[name] = `${h}:${tlsPort}`;
      } else {
        procs.push(await startRedis({ host: h, port, config }));
        t[name] = `${h}:${port}`;
      }
    };
    await start("open", ["protected-mode no"]);
    await start("requirepass", ["requirepass s3cret-pass"]);
    await start("acl_default_off", ["user default off", "user admin on >adminpw ~* &* +@all"]);
    await start("maxclients", ["protected-mode no", "maxclients 1"]);
    await start("busy", ["protected-mode no", "busy-reply-threshold 100"]);
    await start("info_renamed", ["protected-mode no", 'rename-command INFO ""']);
    await start("tls", ["protected-mode no", "tls-auth-clients no"], { tlsPort: true });
    await start("tls_mutual", ["protected-mode no", "tls-auth-clients yes"], { tlsPort: true });

    // Hold the only client slot so the scanner is the client too many.
    const [mh, mp] = t.maxclients!.split(":");
    const holder = net.connect({ host: mh, port: Number(mp) });
    await new Promise((r) => holder.once("connect", r));
    closers.push(() => holder.destroy());

    // A script that never ends makes every other client see BUSY.
    const [bh, bp] = t.busy!.split(":");
    const looper = net.connect({ host: bh, port: Number(bp) });
    await new Promise((r) => looper.once("connect", r));
    looper.write(encodeCommand(["EVAL", "while true do end", "0"]));
    closers.push(() => looper.destroy());
    await new Promise((r) => setTimeout(r, 300)); // past busy-reply-threshold

    const httpServer = http.createServer((_req, res) => res.end("hello"));
    await new Promise<void>((r) => httpServer.listen(0, h, () => r()));
    t.http = `${h}:${(httpServer.address() as net.AddressInfo).port}`;
    closers.push(() => httpServer.close());

    t.closed = `${h}:${await freePort()}`;
  });

  after(async () => {
    for (const c of closers) c();
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("one scan classifies every plaintext server as the taxonomy says", async () => {
    const names = [
      "open",
      "requirepass",
      "acl_default_off",
      "maxclients",
      "busy",
      "info_renamed",
      "http",
      "closed",
    ];
    const res = await scan(names.map((n) => t[n]!));
    const get = (n: string): ProbeResult => {
      const r = res.get(t[n]!);
      assert.ok(r, `no result for ${n} (${t[n]})`);
      return r;
    };
    assert.equal(res.size, names.length, "one result per target");

    const open = get("open");
    assert.equal(open.state, "open");
    assert.equal(open.nicer, "Returned version");
    assert.equal(open.server?.product, "redis");
    assert.equal(open.server?.version, version);
    assert.equal(open.server?.role, "master");
    assert.match(open.server?.run_id ?? "", /^[0-9a-f]{40}$/);
    assert.equal(open.transport, "tcp");

    const rp = get("requirepass");
    assert.equal(rp.state, "auth_required");
    assert.equal(rp.detail, "NOAUTH");
    assert.equal(rp.nicer, "Requires authentication");
    assert.equal(rp.server?.version, undefined, "no version without auth");
    assert.ok(rp.server?.version_hint, "HELLO's NOAUTH wording dates the server");

    const acl = get("acl_default_off");
    assert.equal(acl.state, "auth_required");

    const mc = get("maxclients");
    assert.equal(mc.state, "busy");
    assert.equal(mc.detail, "MAXCLIENTS");
    assert.equal(mc.nicer, "Reported busy");

    const busy = get("busy");
    assert.equal(busy.state, "busy");
    assert.equal(busy.detail, "BUSY");

    const ren = get("info_renamed");
    assert.equal(ren.state, "open");
    assert.equal(ren.detail, "INFO_RENAMED");
    assert.equal(ren.server?.version, version, "HELLO 3 still tells the version");

    const h = get("http");
    assert.equal(h.state, "not_redis");
    assert.equal(h.detail, "http");

    assert.equal(get("closed").state, "closed");
  });

  test("TLS-only server: --tls and --tls-auto read it, certificate facts recorded", async () => {
    const viaTls = (await scan([t.tls!], ["--tls"])).get(t.tls!);
    assert.equal(viaTls?.state, "open");
    assert.equal(viaTls?.transport, "tls");
    assert.equal(viaTls?.server?.version, version);
    assert.match(viaTls?.tls?.subject ?? "", /CN=lab\.redscope\.test/);
    assert.ok(viaTls?.tls?.sans?.includes("DNS:lab.redscope.test"));
    assert.equal(viaTls?.tls?.self_signed, true);
    assert.ok(viaTls?.tls?.valid_to);

    const auto = await scan([t.tls!, t.open!], ["--tls-auto"]);
    assert.equal(auto.get(t.tls!)?.transport, "tls", "fell back to TLS");
    assert.equal(auto.get(t.tls!)?.state, "open");
    assert.equal(auto.get(t.open!)?.transport, "tcp", "plaintext server stays plaintext");
    assert.equal(auto.get(t.open!)?.state, "open");

    const plain = (await scan([t.tls!])).get(t.tls!);
    assert.notEqual(plain?.state, "open", "plaintext probe cannot read a TLS port");
  });

  test("TLS with client certificates required is authentication", async () => {
    const r = (await scan([t.tls_mutual!], ["--tls"])).get(t.tls_mutual!);
    assert.equal(r?.state, "auth_required");
    assert.equal(r?.detail, "TLS_CLIENT_CERT");
    assert.equal(r?.transport, "tls");
  });
});

describe("lab hosts in a network namespace", {
  skip: skipUnless(HAVE_REDIS && canMakeNetns(), "needs root, ip netns and redis-server"),
}, () => {
  let host: TestHost;
  let redis: RedisProcess;
  const dropPort = 6390;

  before(async () => {
    host = createTestHost("lab");
    // Default configuration: protected mode on, no password. Seen from the root namespace the
    // scanner is a non-loopback peer, as an internet scanner would be.
    redis = await startRedis({
      host: host.hostIp,
      port: 6379,
      netns: host.ns,
      config: ["protected-mode yes"],
    });
    dropTcpPort(host, dropPort);
  });

  after(async () => {
    await redis?.stop();
    host?.destroy();
  });

  test("protected mode seen from a non-loopback peer", async () => {
    const target = `${host.hostIp}:6379`;
    const r = (await scan([target])).get(target);
    assert.equal(r?.state, "protected");
    assert.equal(r?.detail, "DENIED");
    assert.equal(r?.nicer, "Running protected");
    assert.match(r?.error ?? "", /^DENIED /);
    assert.ok(r?.server?.version_hint, "DENIED wording dates the server");
  });

  test("a silently dropping address times out within the connect budget", async () => {
    const target = `${host.hostIp}:${dropPort}`;
    const t0 = Date.now();
    const r = (await scan([target], ["--connect-timeout", "1s"])).get(target);
    assert.equal(r?.state, "timeout");
    assert.ok(Date.now() - t0 < 15_000);
  });
});
