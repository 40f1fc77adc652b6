/** `redscope honeypot`: listeners with personas, recording and classifying every session. */
import type { Command } from "commander";
import { DEFAULT_CAPTURE } from "../honeypot/capture.js";
import { DEFAULT_LIMITS } from "../honeypot/limits.js";
import { DEFAULT_MEMORY_BYTES } from "../honeypot/memory.js";
import { claimError, PERSONAS } from "../honeypot/personas/index.js";
import { CLOSE_TIMEOUT_MS } from "../honeypot/recorder.js";
import { parseIp } from "../net/ip.js";
import type { Store } from "../store/index.js";
import { logText } from "../untrusted/text.js";
import type { Bound, HoneypotConfig, HoneypotSummary, ListenSpec } from "../usecases/honeypot.js";
import { fail } from "./errors.js";
import { openStoreOrFail, readOrFail } from "./open.js";
import { parseBytes, parseDuration, parseIntIn } from "./units.js";

interface HoneypotFlags {
  persona: string;
  claimVersion?: string;
  listen?: string[];
  tlsCert?: string;
  tlsKey?: string;
  db?: string | false;
  output?: string;
  acceptPassword?: string;
  maxSessions: string;
  maxPerSource: string;
  sourcePrefix: string;
  sourceBytes: string;
  memory: string;
  idleTimeout: string;
  duration?: string;
  listPersonas?: boolean;
  quiet?: boolean;
  recordAll?: boolean;
  captureReplication?: string;
  captureMaxBytes: string;
  captureMaxTotal: string;
  captureTimeout: string;
  captureAllowReserved?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerHoneypot(program: Command): void {
  program
    .command("honeypot")
    .description("a faithful Redis impostor: records and classifies what visitors do")
    .option(
      "--persona <name>",
      "persona of listeners that name none (see --list-personas)",
      "redis-7.0-open",
    )
    .option(
      "--claim-version <x.y.z>",
      "exact version the personas claim (one of their line's, e.g. 7.2.7 for redis-7.2-*); a listener can name its own as /PERSONA@VERSION",
    )
    .option(
      "--listen <spec>",
      "[tls:]ADDR:PORT[/PERSONA[@VERSION]], e.g. 0.0.0.0:6379/redis-5.0-open@5.0.14; repeatable (default 127.0.0.1:6379)",
      collect,
    )
    .option("--tls-cert <file>", "certificate (PEM) for tls: listeners")
    .option("--tls-key <file>", "private key (PEM) for tls: listeners")
    .option(
      "--db <path|url>",
      "store: SQLite file or postgres://… (default $REDSCOPE_DB or ~/.local/share/redscope/redscope.db)",
    )
    .option("--no-db", "do not use the store (then -o is required)")
    .option("-o, --output <file>", "also write sessions and events as JSONL ('-' = stdout)")
    .option(
      "--accept-password <pw>",
      "password personas: this password succeeds (attack chains proceed); default: none does",
    )
    .option(
      "--max-sessions <n>",
      "sessions open at once; when all are taken, a new visitor closes the one idle the longest",
      String(DEFAULT_LIMITS.maxSessions),
    )
    .option(
      "--max-per-source <n>",
      "sessions open at once from one source (see --source-prefix)",
      String(DEFAULT_LIMITS.maxSessionsPerSource),
    )
    .option(
      "--source-prefix <v4,v6>",
      "prefix lengths that make one source for the per-source limits (32,128: each address)",
      `${DEFAULT_LIMITS.sourcePrefix.v4},${DEFAULT_LIMITS.sourcePrefix.v6}`,
    )
    .option(
      "--source-bytes <size>",
      "bytes of records (as written) one source may cause per hour (a burst of that, refilled evenly); past it its connections get Redis's max-clients error and its commands are counted, not recorded (0 = no limit)",
      `${DEFAULT_LIMITS.sourceBytesPerHour / 1024 ** 2}m`,
    )
    .option(
      "--memory <size>",
      "memory the honeypot may hold for visitors in all (arguments, keyspaces, classifier, replies, write queue); a session may hold 1/8 of it",
      `${DEFAULT_MEMORY_BYTES / 1024 ** 2}m`,
    )
    .option("--idle-timeout <t>", "close a session silent this long", "5m")
    .option(
      "--capture-replication <dir>",
      "on SLAVEOF/REPLICAOF, connect to the rogue master as a replica and keep its payload in DIR (<sha256>.bin, mode 0600); the only outbound connection the honeypot makes",
    )
    .option(
      "--capture-max-bytes <n>",
      "payload bytes kept per capture",
      String(DEFAULT_CAPTURE.maxBytes),
    )
    .option("--capture-timeout <t>", "time a capture may take", "30s")
    .option(
      "--capture-max-total <n>",
      "payload bytes the capture directory may hold; then captures stop",
      String(DEFAULT_CAPTURE.maxTotalBytes),
    )
    .option(
      "--capture-allow-reserved",
      "let captures contact loopback, private and other reserved addresses (your own lab only)",
    )
    .option(
      "--record-all",
      `record every command as an event (default: after ${DEFAULT_LIMITS.foldAfterEvents} events a session's repeated plain data commands are only counted)`,
    )
    .option("--duration <t>", "stop after this long (default: until SIGINT/SIGTERM)")
    .option("--list-personas", "list the personas and exit")
    .option("-q, --quiet", "no line per session")
    .action(async (flags: HoneypotFlags) => {
      process.exitCode = await runHoneypot(flags);
    });
}

export function parseListen(
  spec: string,
  defaultPersona: string,
  defaultVersion?: string,
): ListenSpec {
  const m =
    /^(tls:)?(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})(?:\/([a-z0-9.-]+)(?:@([0-9A-Za-z.-]+))?)?$/.exec(
      spec,
    );
  if (!m) {
    fail(
      `--listen ${JSON.stringify(spec).slice(0, 80)}: expected [tls:]ADDR:PORT[/PERSONA[@VERSION]]`,
    );
  }
  const host = m[2]!.replace(/^\[|\]$/g, "");
  if (parseIp(host) === undefined && host !== "localhost") {
    fail(`--listen ${spec}: ${host} is not an IP address`);
  }
  const port = Number(m[3]);
  if (port > 65535) fail(`--listen ${spec}: port must be 0-65535 (0: any free port)`);
  const persona = m[4] ?? defaultPersona;
  const version = m[5] ?? defaultVersion;
  const out: ListenSpec = { tls: m[1] !== undefined, host, port, persona };
  if (version !== undefined) {
    const why = PERSONAS.includes(persona) ? claimError(persona, version) : undefined;
    if (why !== undefined) fail(why);
    out.version = version;
  }
  return out;
}

export async function runHoneypot(flags: HoneypotFlags): Promise<number> {
  if (flags.listPersonas) {
    process.stdout.write(`${PERSONAS.join("\n")}\n`);
    return 0;
  }
  const listen = (flags.listen ?? ["127.0.0.1:6379"]).map((s) =>
    parseListen(s, flags.persona, flags.claimVersion),
  );
  const maxSessions = parseIntIn("--max-sessions", flags.maxSessions, 1, 1_000_000);
  const maxPerSource = parseIntIn("--max-per-source", flags.maxPerSource, 1, 1_000_000);
  const sourcePrefix = parseSourcePrefix(flags.sourcePrefix);
  const sourceBytes =
    flags.sourceBytes.trim() === "0"
      ? 0
      : parseBytes("--source-bytes", flags.sourceBytes, 1024, 2 ** 40);
  const memoryBytes = parseBytes("--memory", flags.memory, 16 * 1024 ** 2, 2 ** 40);
  const captureMaxBytes = parseIntIn("--capture-max-bytes", flags.captureMaxBytes, 1, 2 ** 31);
  const captureTimeoutMs = parseDuration("--capture-timeout", flags.captureTimeout);
  const captureMaxTotal = parseIntIn("--capture-max-total", flags.captureMaxTotal, 1, 2 ** 50);
  const idleTimeoutMs = parseDuration("--idle-timeout", flags.idleTimeout);
  const durationMs =
    flags.duration !== undefined ? parseDuration("--duration", flags.duration) : undefined;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (listen.some((s) => s.tls) && flags.tlsCert && flags.tlsKey) {
    tls = {
      cert: readOrFail(flags.tlsCert, "--tls-cert"),
      key: readOrFail(flags.tlsKey, "--tls-key"),
    };
  }
  if (flags.db === false && flags.output === undefined) {
    fail("--no-db needs -o FILE (or -o - for stdout): sessions must be recorded somewhere");
  }
  // Recording problems (a failing store, a full queue) are said on stderr, rate-limited.
  const warn = (line: string): void => {
    process.stderr.write(`redscope honeypot: ${line}\n`);
  };
  const log = flags.output === "-" ? process.stderr : process.stdout;
  /** Ends the wait below (set once the honeypot runs; a no-op until then). */
  let stopNow = (): void => {};
  const config: HoneypotConfig = {
    listen,
    ...(tls !== undefined ? { tls } : {}),
    ...(flags.output !== undefined
      ? { output: flags.output === "-" ? { stream: process.stdout } : { path: flags.output } }
      : {}),
    ...(flags.acceptPassword !== undefined ? { acceptPassword: flags.acceptPassword } : {}),
    limits: {
      ...DEFAULT_LIMITS,
      maxSessions,
      maxSessionsPerSource: maxPerSource,
      sourcePrefix,
      sourceBytesPerHour: sourceBytes,
      idleTimeoutMs,
      ...(flags.recordAll ? { foldAfterEvents: 0 } : {}),
    },
    memoryBytes,
    ...(flags.captureReplication !== undefined
      ? {
          capture: {
            ...DEFAULT_CAPTURE,
            dir: flags.captureReplication,
            maxBytes: captureMaxBytes,
            maxTotalBytes: captureMaxTotal,
            timeoutMs: captureTimeoutMs,
            allowReserved: flags.captureAllowReserved === true,
          },
        }
      : {}),
    onWarning: warn,
    onFatal: () => stopNow(),
    ...(flags.quiet
      ? {}
      : {
          onSessionEnd: (row) =>
            log.write(
              `${row.endedAt} ${row.srcIp}:${row.srcPort} -> ${row.listener} ${row.persona}: ` +
                `${row.commands} commands, ${row.bytesIn} bytes${row.classes ? `, ${row.classes}` : ""}\n`,
            ),
          onCapture: (row, c) =>
            log.write(
              // The host and the master's message are the attacker's words.
              `capture from ${logText(c.host)}:${c.port} (session of ${row.srcIp}): ${c.status}, ` +
                `${c.bytes} bytes${c.file ? ` -> ${c.file}` : ""}${c.message ? ` (${logText(c.message)})` : ""}\n`,
            ),
        }),
  };
  // The configuration is checked before the store is opened (a bad flag leaves no file).
  // Loaded here, not with the CLI: it instantiates the Lua VM (WebAssembly, ~30 MB of RSS),
  // which every other command (a scan at 5,000 connections above all) would carry for nothing.
  const { Honeypot } = await import("../usecases/honeypot.js");
  const honeypot = new Honeypot(config);
  let store: Store | undefined;
  if (flags.db !== false) {
    store = await openStoreOrFail(typeof flags.db === "string" ? flags.db : undefined);
  }
  let bound: Bound[];
  try {
    bound = await honeypot.start(store);
  } catch (e) {
    await store?.close();
    throw e;
  }
  for (const b of bound) {
    log.write(`listening on ${b.host}:${b.port} as ${b.persona}${b.tls ? " (TLS)" : ""}\n`);
  }
  if (store) log.write(`recording to ${store.location}\n`);

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    stopNow = stop;
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (durationMs !== undefined) setTimeout(stop, durationMs).unref();
  });
  // Shutting down takes a bounded time in every state: sessions end at once, the recorder
  // tries for CLOSE_TIMEOUT_MS to write what it holds, the store gets a moment to close. Past
  // that (a store that hangs), or at a second signal, the process ends anyway.
  const hard = setTimeout(() => {
    warn("shutdown did not finish in time; exiting with what was not written lost");
    process.exit(1);
  }, CLOSE_TIMEOUT_MS + 10_000);
  hard.unref();
  const again = (): void => {
    warn("second signal: exiting now");
    process.exit(1);
  };
  process.once("SIGINT", again);
  process.once("SIGTERM", again);
  let summary: HoneypotSummary;
  try {
    // Throws StoreDamagedError when the store's file is damaged (main prints it: exit 2).
    summary = await honeypot.stop(CLOSE_TIMEOUT_MS);
  } finally {
    if (store !== undefined) await Promise.race([store.close().catch(() => {}), sleep(2000)]);
  }
  const { stats: s, dropped: d, unwritten } = summary;
  log.write(
    `stopped: ${s.sessions} sessions, ${s.commands} commands, ${s.refused} refused over limits` +
      `${s.evicted > 0 ? `, ${s.evicted} idle sessions closed for new visitors` : ""}` +
      `${d.events + d.sessions > 0 ? `, ${d.events} events and ${d.sessions} sessions dropped (see above)` : ""}\n`,
  );
  if (unwritten !== undefined) {
    warn(
      `${unwritten.sessions} sessions and ${unwritten.events} events could not be written ` +
        `before exiting (${unwritten.reason || "the store did not answer in time"})`,
    );
    return 1;
  }
  return 0;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref());

/** `--source-prefix 24,64`: the IPv4 and IPv6 prefix lengths that make one source. */
function parseSourcePrefix(s: string): { v4: number; v6: number } {
  const m = /^(\d{1,2}),(\d{1,3})$/.exec(s.trim());
  const v4 = Number(m?.[1]);
  const v6 = Number(m?.[2]);
  if (!m || v4 < 8 || v4 > 32 || v6 < 16 || v6 > 128) {
    fail(
      `invalid --source-prefix "${s}": expected IPv4,IPv6 prefix lengths like 24,64 (8-32, 16-128)`,
    );
  }
  return { v4, v6 };
}
