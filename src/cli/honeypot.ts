/** `redscope honeypot`: listeners with personas, recording and classifying every session. */
import type { Command } from "commander";
import { DEFAULT_CAPTURE, ReplicationCapture } from "../honeypot/capture.js";
import { PERSONAS, persona } from "../honeypot/personas/index.js";
import {
  type HoneypotRecorder,
  JsonlRecorder,
  StoreRecorder,
  TeeRecorder,
  WorkerWriter,
} from "../honeypot/recorder.js";
import { DEFAULT_LIMITS, HoneypotServer, type ListenerConfig } from "../honeypot/server.js";
import { Session } from "../honeypot/session.js";
import type { Store } from "../store/index.js";
import { JsonlFileSink, JsonlStreamSink } from "../store/jsonl.js";
import { parseIp } from "../targets/index.js";
import { fail } from "./errors.js";
import { openStoreOrFail, readOrFail } from "./open.js";
import { parseDuration, parseIntIn } from "./units.js";

interface HoneypotFlags {
  persona: string;
  listen?: string[];
  tlsCert?: string;
  tlsKey?: string;
  db?: string | false;
  output?: string;
  acceptPassword?: string;
  maxSessions: string;
  maxPerSource: string;
  sourceEvents: string;
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
      "--listen <spec>",
      "[tls:]ADDR:PORT[/PERSONA], e.g. 0.0.0.0:6379/redis-5.0-open; repeatable (default 127.0.0.1:6379)",
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
    .option("--max-sessions <n>", "sessions open at once", String(DEFAULT_LIMITS.maxSessions))
    .option(
      "--max-per-source <n>",
      "sessions open at once from one address",
      String(DEFAULT_LIMITS.maxSessionsPerSource),
    )
    .option(
      "--source-events <n>",
      "events one address may cause per hour (a burst of n, refilled evenly); past it its connections get Redis's max-clients error and its commands are counted, not recorded (0 = no limit)",
      String(DEFAULT_LIMITS.sourceEventsPerHour),
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

interface ListenSpec {
  tls: boolean;
  host: string;
  port: number;
  persona: string;
}

export function parseListen(spec: string, defaultPersona: string): ListenSpec {
  const m = /^(tls:)?(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})(?:\/([a-z0-9.-]+))?$/.exec(spec);
  if (!m) fail(`--listen ${JSON.stringify(spec).slice(0, 80)}: expected [tls:]ADDR:PORT[/PERSONA]`);
  const host = m[2]!.replace(/^\[|\]$/g, "");
  if (parseIp(host) === undefined && host !== "localhost") {
    fail(`--listen ${spec}: ${host} is not an IP address`);
  }
  const port = Number(m[3]);
  if (port > 65535) fail(`--listen ${spec}: port must be 0-65535 (0: any free port)`);
  const name = m[4] ?? defaultPersona;
  if (!PERSONAS.includes(name)) fail(`unknown persona ${name} (see --list-personas)`);
  return { tls: m[1] !== undefined, host, port, persona: name };
}

export async function runHoneypot(flags: HoneypotFlags): Promise<number> {
  if (flags.listPersonas) {
    process.stdout.write(`${PERSONAS.join("\n")}\n`);
    return 0;
  }
  if (!PERSONAS.includes(flags.persona))
    fail(`unknown persona ${flags.persona} (see --list-personas)`);
  const specs = (flags.listen ?? ["127.0.0.1:6379"]).map((s) => parseListen(s, flags.persona));
  const passworded = (name: string): boolean => name.endsWith("-password");
  if (flags.acceptPassword !== undefined && !specs.some((s) => passworded(s.persona))) {
    fail("--accept-password applies to password personas, and none is listening");
  }
  const maxSessions = parseIntIn("--max-sessions", flags.maxSessions, 1, 1_000_000);
  const maxPerSource = parseIntIn("--max-per-source", flags.maxPerSource, 1, 1_000_000);
  const sourceEvents = parseIntIn("--source-events", flags.sourceEvents, 0, 1_000_000_000);
  const captureMaxBytes = parseIntIn("--capture-max-bytes", flags.captureMaxBytes, 1, 2 ** 31);
  const captureTimeoutMs = parseDuration("--capture-timeout", flags.captureTimeout);
  const captureMaxTotal = parseIntIn("--capture-max-total", flags.captureMaxTotal, 1, 2 ** 50);
  const idleTimeoutMs = parseDuration("--idle-timeout", flags.idleTimeout);
  const durationMs =
    flags.duration !== undefined ? parseDuration("--duration", flags.duration) : undefined;
  let tlsOptions: { cert: Buffer; key: Buffer } | undefined;
  if (specs.some((s) => s.tls)) {
    if (!flags.tlsCert || !flags.tlsKey) fail("tls: listeners need --tls-cert and --tls-key");
    tlsOptions = {
      cert: readOrFail(flags.tlsCert, "--tls-cert"),
      key: readOrFail(flags.tlsKey, "--tls-key"),
    };
  }
  if (flags.db === false && flags.output === undefined) {
    fail("--no-db needs -o FILE (or -o - for stdout): sessions must be recorded somewhere");
  }

  const recorders: HoneypotRecorder[] = [];
  let store: Store | undefined;
  if (flags.db !== false) {
    store = await openStoreOrFail(typeof flags.db === "string" ? flags.db : undefined);
    // SQLite is written from a thread of its own; PostgreSQL's client does not block anyway.
    recorders.push(
      new StoreRecorder(store.kind === "sqlite" ? new WorkerWriter(store.location) : store),
    );
  }
  if (flags.output !== undefined) {
    recorders.push(
      new JsonlRecorder(
        flags.output === "-"
          ? new JsonlStreamSink(process.stdout)
          : new JsonlFileSink(flags.output, true),
      ),
    );
  }
  const recorder = recorders.length === 1 ? recorders[0]! : new TeeRecorder(recorders);

  // One persona instance per listener: its identity (run_id, uptime) is stable across sessions.
  const listeners: ListenerConfig[] = specs.map((s) => {
    // Open and protected personas have no password to accept.
    const opts =
      flags.acceptPassword !== undefined && passworded(s.persona)
        ? { acceptPassword: flags.acceptPassword }
        : {};
    const p = persona(s.persona, opts);
    const l: ListenerConfig = {
      host: s.host,
      port: s.port,
      persona: s.persona,
      makeSession: (ctx) => new Session(p, ctx),
    };
    if (s.tls && tlsOptions) l.tls = tlsOptions;
    return l;
  });
  const log = flags.output === "-" ? process.stderr : process.stdout;
  let capture: ReplicationCapture | undefined;
  if (flags.captureReplication !== undefined) {
    try {
      capture = new ReplicationCapture({
        ...DEFAULT_CAPTURE,
        dir: flags.captureReplication,
        maxBytes: captureMaxBytes,
        maxTotalBytes: captureMaxTotal,
        timeoutMs: captureTimeoutMs,
        allowReserved: flags.captureAllowReserved === true,
      });
    } catch (e) {
      await recorder.close();
      await store?.close();
      fail(`--capture-replication ${flags.captureReplication}: ${(e as Error).message}`);
    }
  }
  const server = new HoneypotServer(
    listeners,
    recorder,
    {
      ...DEFAULT_LIMITS,
      maxSessions,
      maxSessionsPerSource: maxPerSource,
      sourceEventsPerHour: sourceEvents,
      idleTimeoutMs,
      ...(flags.recordAll ? { foldAfterEvents: 0 } : {}),
    },
    flags.quiet
      ? undefined
      : (row) =>
          log.write(
            `${row.endedAt} ${row.srcIp}:${row.srcPort} -> ${row.listener} ${row.persona}: ` +
              `${row.commands} commands, ${row.bytesIn} bytes${row.classes ? `, ${row.classes}` : ""}\n`,
          ),
    capture,
    flags.quiet
      ? undefined
      : (row, c) =>
          log.write(
            // The host and the master's message are the attacker's words: printable ASCII only.
            `capture from ${printable(c.host)}:${c.port} (session of ${row.srcIp}): ${c.status}, ` +
              `${c.bytes} bytes${c.file ? ` -> ${c.file}` : ""}${c.message ? ` (${printable(c.message)})` : ""}\n`,
          ),
  );
  let bound: Awaited<ReturnType<HoneypotServer["start"]>>;
  try {
    bound = await server.start();
  } catch (e) {
    await recorder.close();
    await store?.close();
    const err = e as NodeJS.ErrnoException;
    fail(
      `cannot listen: ${err.code ?? err.message}${err.code === "EADDRINUSE" ? " (port in use)" : ""}`,
    );
  }
  for (const b of bound) {
    const tlsNote = specs.find((s) => s.port === b.port || s.port === 0)?.tls ? " (TLS)" : "";
    log.write(`listening on ${b.host}:${b.port} as ${b.persona}${tlsNote}\n`);
  }
  if (store) log.write(`recording to ${store.location}\n`);

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (durationMs !== undefined) setTimeout(stop, durationMs).unref();
  });
  // The recorder is closed (its writer thread ended) also when the last flush fails: a thread
  // left running would keep the process from exiting. That failure is then the error.
  await server
    .stop()
    .finally(() => recorder.close())
    .finally(() => store?.close());
  const s = server.stats;
  log.write(
    `stopped: ${s.sessions} sessions, ${s.commands} commands, ${s.refused} refused over limits` +
      `${recorder.dropped > 0 ? `, ${recorder.dropped} event details dropped under load` : ""}\n`,
  );
  return 0;
}

/** Text a visitor chose, fit for the operator's terminal: printable ASCII, 100 characters. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 100);
}
