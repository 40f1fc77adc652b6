/**
 * Records what each real server build answers about itself: its command table (COMMAND, and
 * COMMAND DOCS where it exists), its parameters (CONFIG GET *) and its INFO (default and all),
 * in RESP2 and, where the version has HELLO, in RESP3, and `<C> HELP` of every container command
 * the build has (7.0+: the commands with subcommands in its COMMAND table; before, the commands
 * of HELP_CANDIDATES it has; only the replies that are arrays are kept). The replies are kept as
 * the server sent them (base64 in a gzipped JSON file per build, data/tables/<name>.json.gz),
 * never re-typed: the personas answer COMMAND, CONFIG and HELP from them
 * (src/honeypot/personas/tables.ts).
 *
 * HELP is asked of a second run of the build started with `--enable-debug-command yes` where
 * the build has that setting (7.0+), so DEBUG HELP is recorded too; the other replies come from
 * the first run, started as the fixtures' "open" configuration.
 *
 * Each server runs as the INFO fixtures' "open" configuration (/work/shared/fixtures/README.md:
 * `--protected-mode no`, 3.2+), bound to 127.0.0.1 on a free port, with `--save ''` and a
 * temporary working directory, and is killed afterwards. Run from the repository root:
 *
 *   npx tsc -p tsconfig.json && node dist/scripts/record-tables.js [SERVERS_DIR] [name...]
 *
 * SERVERS_DIR defaults to /work/servers (scripts/build-servers.sh builds it); names default to
 * every build found there (redis-7.2.4, valkey-8.0.1, keydb-6.3.4 …).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { encodeCommand, ReplyDecoder } from "../src/resp/index.js";
import type { RespValue } from "../src/resp/types.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const OUT = path.join(ROOT, "data", "tables");

/** What is recorded, by key: the request's words. `@3` keys are asked after HELLO 3. */
const REQUESTS: Array<[key: string, words: string[]]> = [
  ["command", ["COMMAND"]],
  ["command_docs", ["COMMAND", "DOCS"]],
  ["config_get", ["CONFIG", "GET", "*"]],
  ["info", ["INFO"]],
  ["info_all", ["INFO", "all"]],
];
const RESP3_REQUESTS = new Set(["command", "command_docs", "config_get"]);

/** Containers whose HELP is tried before 7.0 (no subcommands in COMMAND to list them). */
const HELP_CANDIDATES = [
  "client",
  "config",
  "command",
  "module",
  "memory",
  "latency",
  "object",
  "debug",
  "script",
  "slowlog",
  "cluster",
  "xinfo",
  "xgroup",
  "pubsub",
  "acl",
  "function",
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One connection: send a request, read exactly one reply (its raw bytes). */
class Client {
  private waiting: ((b: Buffer) => void) | undefined;
  private decoder = new ReplyDecoder({
    maxBulkBytes: 64 * 1024 * 1024,
    maxElements: 10_000_000,
    maxLineBytes: 1024 * 1024,
  });
  private raw: Buffer[] = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (chunk: Buffer) => {
      this.raw.push(chunk);
      const values = this.decoder.push(chunk);
      if (values.length > 0 && this.waiting !== undefined) {
        const bytes = Buffer.concat(this.raw);
        this.raw = [];
        const w = this.waiting;
        this.waiting = undefined;
        w(bytes);
      }
    });
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: "127.0.0.1", port }, () => resolve(new Client(sock)));
      sock.once("error", reject);
    });
  }
  request(words: string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${words.join(" ")}`)), 20_000);
      this.waiting = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
      this.sock.write(encodeCommand(words));
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

function decodeOne(bytes: Buffer): RespValue {
  const [v] = new ReplyDecoder({
    maxBulkBytes: bytes.length,
    maxElements: 10_000_000,
    maxLineBytes: bytes.length,
  }).push(bytes);
  if (v === undefined) throw new Error("incomplete reply");
  return v;
}

async function waitForServer(port: number, child: ChildProcess): Promise<Client> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      return await Client.connect(port);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("server did not start within 10 s");
}

function binaryOf(dir: string): string {
  for (const b of ["redis-server", "keydb-server", "valkey-server"]) {
    const p = path.join(dir, b);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`no server binary in ${dir}`);
}

/** config.c (KeyDB: config.cpp) of the build's release tag in the local git mirrors. */
function configSource(product: string, version: string): string | undefined {
  const mirrors = process.env.MIRRORS ?? "/work/.mirror";
  const [repo, tag, file] =
    product === "valkey"
      ? ["valkey-io+valkey", version, "src/config.c"]
      : product === "keydb"
        ? ["Snapchat+KeyDB", `v${version}`, "src/config.cpp"]
        : ["redis+redis", version, "src/config.c"];
  try {
    return execFileSync("git", ["-C", path.join(mirrors, repo, "repo"), "show", `${tag}:${file}`], {
      encoding: "latin1",
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch {
    return undefined;
  }
}

/**
 * What CONFIG SET accepts, read from the tag's config.c: every standard config (6.0+) with its
 * alias and flags (IMMUTABLE_CONFIG, PROTECTED_CONFIG …), and the names configSetCommand's
 * hand-written chain handles before 7.0 (config_set_*_field and strcasecmp on argv[2]).
 */
function configRules(source: string): {
  standard: Array<[string, string | null, string]>;
  special: string[];
} {
  const standard: Array<[string, string | null, string]> = [];
  const re = /create\w+Config\(\s*"([^"]+)"\s*,\s*(?:"([^"]+)"|NULL)\s*,\s*([A-Z_|\s]+?)\s*,/g;
  for (const m of source.matchAll(re)) {
    standard.push([m[1]!, m[2] ?? null, m[3]!.replace(/\s+/g, "")]);
  }
  const special = new Set<string>();
  const start = source.indexOf("void configSetCommand(");
  if (start >= 0) {
    const end = source.indexOf("\n}\n", start);
    const body = source.slice(start, end);
    for (const m of body.matchAll(/config_set_\w+_field\(\s*"([^"]+)"(?:\s*,\s*"([^"]+)")?/g)) {
      special.add(m[1]!);
      if (m[2] !== undefined) special.add(m[2]);
    }
    for (const m of body.matchAll(/strcasecmp\(c->argv\[2\]->ptr,\s*"([^"]+)"\)/g))
      special.add(m[1]!);
  }
  return { standard, special: [...special] };
}

/** One run of a build on 127.0.0.1 (free port, `--save ''`, a temporary dir), killed after. */
async function withServer<T>(
  binary: string,
  extra: string[],
  run: (first: Client, port: number, args: string[]) => Promise<T>,
): Promise<T> {
  const port = await freePort();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "record-tables-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", work];
  const child = spawn(binary, [...args, ...extra], { stdio: "ignore", cwd: work });
  try {
    return await run(
      await waitForServer(port, child),
      port,
      args.map((a) => (a === work ? "<tmpdir>" : a === String(port) ? "<port>" : a)),
    );
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The container commands of a COMMAND reply: those with subcommands (7.0+), else candidates. */
function helpContainers(command: RespValue): string[] {
  const entries = command.type === "array" ? (command.value ?? []) : [];
  const names = new Set<string>();
  const containers: string[] = [];
  for (const e of entries) {
    if (e.type !== "array" || e.value === null) continue;
    const [name, , , , , , , , , subs] = e.value;
    if (name?.type !== "bulk" || name.value === null) continue;
    const n = name.value.toString("latin1").toLowerCase();
    names.add(n);
    if (subs?.type === "array" && (subs.value?.length ?? 0) > 0) containers.push(n);
  }
  for (const c of HELP_CANDIDATES) if (names.has(c) && !containers.includes(c)) containers.push(c);
  return containers;
}

async function record(serversDir: string, name: string): Promise<void> {
  const [product, version] = [name.slice(0, name.indexOf("-")), name.slice(name.indexOf("-") + 1)];
  const major = Number(version.split(".")[0]);
  const minor = Number(version.split(".")[1]);
  const hasProtectedMode = product !== "redis" || major > 3 || (major === 3 && minor >= 2);
  const serverArgs = hasProtectedMode ? ["--protected-mode", "no"] : [];
  const binary = binaryOf(path.join(serversDir, name));
  const replies: Record<string, string> = {};
  const args = await withServer(binary, serverArgs, async (c2, port, args) => {
    for (const [key, words] of REQUESTS) {
      const bytes = await c2.request(words);
      if (bytes[0] === 0x2d) {
        process.stderr.write(`${name}: ${words.join(" ")}: ${bytes.toString("latin1").trim()}\n`);
        continue;
      }
      replies[key] = bytes.toString("base64");
    }
    c2.close();
    const c3 = await Client.connect(port);
    const hello = await c3.request(["HELLO", "3"]);
    if (hello[0] === 0x25) {
      for (const [key, words] of REQUESTS) {
        if (!RESP3_REQUESTS.has(key) || replies[key] === undefined) continue;
        replies[`${key}@3`] = (await c3.request(words)).toString("base64");
      }
    }
    c3.close();
    return args;
  });
  const hasDebugSetting =
    replies.config_get !== undefined &&
    Buffer.from(replies.config_get, "base64").includes("enable-debug-command");
  const helpArgs = [...serverArgs, ...(hasDebugSetting ? ["--enable-debug-command", "yes"] : [])];
  await withServer(binary, helpArgs, async (c) => {
    for (const container of helpContainers(decodeOne(Buffer.from(replies.command!, "base64")))) {
      const bytes = await c.request([container.toUpperCase(), "HELP"]);
      if (bytes[0] === 0x2a) replies[`help:${container}`] = bytes.toString("base64");
      else process.stderr.write(`${name}: ${container} HELP: ${bytes.toString("latin1").trim()}\n`);
    }
    c.close();
  });
  {
    const info = decodeOne(Buffer.from(replies.info!, "base64"));
    const text = info.type === "bulk" && info.value !== null ? info.value.toString("latin1") : "";
    const reported = /(?:valkey_version|redis_version):(\S+)/.exec(
      text.includes("valkey_version") ? text.replace(/redis_version:\S+/, "") : text,
    )?.[1];
    const file = {
      server: product,
      version,
      reported_version: reported,
      server_args: serverArgs,
      recorded_with: args,
      help_server_args: helpArgs,
      replies,
      config_rules: (() => {
        const source = configSource(product, version === "8.0-m01" ? "8.0-m01" : version);
        return source === undefined ? undefined : configRules(source);
      })(),
    };
    fs.mkdirSync(OUT, { recursive: true });
    const out = path.join(OUT, `${name}.json.gz`);
    fs.writeFileSync(out, zlib.gzipSync(`${JSON.stringify(file, null, 1)}\n`, { level: 9 }));
    process.stdout.write(`${name}: ${Object.keys(replies).join(" ")} -> ${out}\n`);
  }
}

async function main(): Promise<void> {
  const serversDir = process.argv[2] ?? "/work/servers";
  let names = process.argv.slice(3);
  if (names.length === 0) {
    names = fs
      .readdirSync(serversDir)
      .filter((n) => /^(redis|valkey|keydb)-/.test(n))
      .sort();
  }
  for (const name of names) await record(serversDir, name);
}

await main();
