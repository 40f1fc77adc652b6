/**
 * The honeypot use case: listeners with personas, recorded to the store and/or a JSONL file,
 * with payload capture when asked. A parsed configuration in; listening, session and capture
 * events out; a summary of what was recorded and what could not be written at the end. The CLI
 * keeps the flags, the signals and the lines it prints.
 */
import type { SecureContextOptions } from "node:tls";
import {
  type CaptureOptions,
  type CaptureResult,
  ReplicationCapture,
} from "../honeypot/capture.js";
import type { HoneypotLimits } from "../honeypot/limits.js";
import { MemoryBudget, RECORDER_SHARE } from "../honeypot/memory.js";
import {
  catalogueEntry,
  claimError,
  PERSONAS,
  type PersonaOptions,
  persona,
} from "../honeypot/personas/index.js";
import {
  CLOSE_TIMEOUT_MS,
  type HoneypotRecorder,
  JsonlRecorder,
  type RowCounts,
  StoreRecorder,
  TeeRecorder,
  type Unwritten,
  unwrittenOf,
  WorkerWriter,
} from "../honeypot/recorder.js";
import { HoneypotServer, type HoneypotStats, type ListenerConfig } from "../honeypot/server.js";
import { Session } from "../honeypot/session.js";
import type { HoneypotSessionRow } from "../schema/honeypot.js";
import type { Store } from "../store/index.js";
import { ConfigError } from "./errors.js";

export interface ListenSpec {
  tls: boolean;
  host: string;
  port: number;
  persona: string;
  /** Exact version the persona claims (one of its line's); default: the line's own. */
  version?: string;
}

export interface HoneypotConfig {
  listen: ListenSpec[];
  /** Key and certificate for the TLS listeners. */
  tls?: SecureContextOptions;
  /** Sessions and events go to the store start() is given, and/or to this JSONL file (appended) or stream. */
  output?: { path: string } | { stream: NodeJS.WritableStream };
  /** Password personas accept this password (attack chains proceed); default: none is. */
  acceptPassword?: string;
  limits: HoneypotLimits;
  /** Memory the honeypot may hold for visitors in all (memory.ts). */
  memoryBytes: number;
  /** What SLAVEOF's rogue masters send is kept (the only outbound connections). */
  capture?: CaptureOptions;
  onSessionEnd?: (row: HoneypotSessionRow) => void;
  onCapture?: (row: HoneypotSessionRow, result: CaptureResult) => void;
  /** Recording problems (a failing store, a full queue), one line each, rate-limited. */
  onWarning?: (line: string) => void;
  /** The honeypot cannot go on recording (a damaged store): the caller should stop it. */
  onFatal?: () => void;
}

export interface Bound {
  host: string;
  port: number;
  persona: string;
  tls: boolean;
}

export interface HoneypotSummary {
  stats: HoneypotStats;
  /** Rows the recorders dropped while running (each said by a warning then). */
  dropped: RowCounts;
  /** What could not be written before the deadline at the end, if anything. */
  unwritten: Unwritten | undefined;
}

export class Honeypot {
  private recorder: HoneypotRecorder | undefined;
  private server: HoneypotServer | undefined;

  /** The configuration is checked here: what the user must fix is a ConfigError. */
  constructor(private readonly cfg: HoneypotConfig) {
    if (cfg.listen.length === 0) throw new ConfigError("no listener");
    for (const s of cfg.listen) {
      if (!PERSONAS.includes(s.persona)) {
        throw new ConfigError(`unknown persona ${s.persona} (see --list-personas)`);
      }
      const claim = s.version === undefined ? undefined : claimError(s.persona, s.version);
      if (claim !== undefined) throw new ConfigError(claim);
    }
    if (cfg.acceptPassword !== undefined && !cfg.listen.some((s) => passworded(s.persona))) {
      throw new ConfigError(
        "--accept-password applies to password personas, and none is listening",
      );
    }
    if (cfg.listen.some((s) => s.tls) && cfg.tls === undefined) {
      throw new ConfigError("tls: listeners need --tls-cert and --tls-key");
    }
  }

  /**
   * Record to `store` (written off the main thread for SQLite) and/or the output, and listen;
   * the bound addresses (port 0 → the kernel's choice). The store stays its opener's to close.
   */
  async start(store?: Store): Promise<Bound[]> {
    const cfg = this.cfg;
    if (store === undefined && cfg.output === undefined) {
      throw new ConfigError("sessions must be recorded somewhere: a store or an output file");
    }
    const memory = new MemoryBudget(cfg.memoryBytes);
    const warn = (line: string): void => cfg.onWarning?.(line);
    let capture: ReplicationCapture | undefined;
    if (cfg.capture !== undefined) {
      try {
        capture = new ReplicationCapture(cfg.capture);
      } catch (e) {
        throw new ConfigError(`--capture-replication ${cfg.capture.dir}: ${(e as Error).message}`);
      }
    }
    const recorders: HoneypotRecorder[] = [];
    if (store !== undefined) {
      // SQLite is written from a thread of its own; PostgreSQL's client does not block anyway.
      recorders.push(
        new StoreRecorder(store.kind === "sqlite" ? new WorkerWriter(store.location) : store, {
          memory: memory.open(cfg.memoryBytes * RECORDER_SHARE),
          warn,
          // A damaged store cannot record: the honeypot stops, and says so as its last line.
          onFatal: () => cfg.onFatal?.(),
        }),
      );
    }
    if (cfg.output !== undefined) {
      const target = "path" in cfg.output ? { path: cfg.output.path, append: true } : cfg.output;
      recorders.push(new JsonlRecorder(target, { warn }));
    }
    const recorder = recorders.length === 1 ? recorders[0]! : new TeeRecorder(recorders);
    this.recorder = recorder;

    // One persona instance per listener: its identity (run_id, uptime) is stable across sessions.
    const listeners: ListenerConfig[] = cfg.listen.map((s) => {
      // Open and protected personas have no password to accept.
      const opts: PersonaOptions =
        cfg.acceptPassword !== undefined && passworded(s.persona)
          ? { acceptPassword: cfg.acceptPassword }
          : {};
      if (s.version !== undefined) opts.version = s.version;
      const p = persona(s.persona, opts);
      const l: ListenerConfig = {
        host: s.host,
        port: s.port,
        persona: s.persona,
        makeSession: (ctx) => new Session(p, ctx),
      };
      if (s.tls && cfg.tls !== undefined) l.tls = cfg.tls;
      return l;
    });
    const server = new HoneypotServer(listeners, recorder, {
      limits: cfg.limits,
      memory,
      ...(capture !== undefined ? { capture } : {}),
      ...(cfg.onSessionEnd !== undefined ? { onSessionEnd: cfg.onSessionEnd } : {}),
      ...(cfg.onCapture !== undefined ? { onCapture: cfg.onCapture } : {}),
    });
    let bound: Awaited<ReturnType<HoneypotServer["start"]>>;
    try {
      bound = await server.start();
    } catch (e) {
      await server.stop();
      await recorder.close();
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(
        `cannot listen: ${err.code ?? err.message}${err.code === "EADDRINUSE" ? " (port in use)" : ""}`,
      );
    }
    this.server = server;
    return bound.map((b, i) => ({ ...b, tls: cfg.listen[i]?.tls === true }));
  }

  /**
   * End every session, then write what the recorders hold within `deadlineMs`. Throws
   * StoreDamagedError when the store's file is damaged.
   */
  async stop(deadlineMs = CLOSE_TIMEOUT_MS): Promise<HoneypotSummary> {
    const server = this.server;
    const recorder = this.recorder;
    if (server === undefined || recorder === undefined) throw new Error("honeypot not started");
    await server.stop();
    const unwritten = (await recorder.close(deadlineMs)) ? undefined : unwrittenOf(recorder);
    return { stats: server.stats, dropped: recorder.dropped, unwritten };
  }
}

/** A persona that asks for a password (the catalogue says). */
function passworded(name: string): boolean {
  return catalogueEntry(name).auth === "password";
}
