/**
 * The Redis probe: what the scanner sends and how the bytes that come back become a ProbeResult.
 *
 * One write, one round trip: PING, HELLO 3, INFO and QUIT are pipelined. A protected-mode or
 * max-clients server answers on accept and closes, an open one answers all four, a
 * password-protected one answers NOAUTH to PING and INFO while HELLO's error wording dates it.
 */
import type tls from "node:tls";
import { classifyExchange, type Exchange } from "../classify/index.js";
import { ReplyReader } from "../classify/replies.js";
import type {
  EngineTarget,
  ProbeModule,
  ProbeSession,
  TransportOutcome,
  Verdict,
} from "../engine/engine.js";
import type { ProbeResult, TlsFacts } from "../schema/result.js";
import { buildRequest } from "./allowlist.js";

export const DEFAULT_PROBE: readonly (readonly string[])[] = [
  ["PING"],
  ["HELLO", "3"],
  ["INFO"],
  ["QUIT"],
];

export interface RedisProbeOptions {
  commands?: readonly (readonly string[])[];
  /** Largest single reply accepted (INFO of a big server); also bounded by the host byte budget. */
  maxReplyBytes: number;
  scanId?: string;
  shard?: string;
}

class RedisSession implements ProbeSession {
  /** The bytes as they arrive, read by the one reader imports use too (classify/replies.ts). */
  readonly reader: ReplyReader;

  constructor(
    private readonly req: Buffer,
    private readonly expected: number,
    maxReplyBytes: number,
  ) {
    this.reader = new ReplyReader({ maxReplyBytes });
  }

  request(): Buffer {
    return this.req;
  }

  onData(chunk: Buffer): Verdict {
    if (!this.reader.push(chunk)) return "abort";
    // An error on accept (DENIED, max clients) is followed by a close: nothing more will come.
    if (this.reader.replies.length >= this.expected) return "done";
    return "more";
  }
}

export class RedisProbe implements ProbeModule<ProbeResult> {
  private readonly request: Buffer;
  private readonly sent: string[];

  constructor(private readonly opts: RedisProbeOptions) {
    const commands = opts.commands ?? DEFAULT_PROBE;
    this.request = buildRequest(commands);
    this.sent = commands.map((c) => c[0]!);
  }

  open(_target: EngineTarget): ProbeSession {
    return new RedisSession(this.request, this.sent.length, this.opts.maxReplyBytes);
  }

  finish(
    target: EngineTarget,
    session: ProbeSession,
    outcome: TransportOutcome,
    canRetryTls: boolean,
  ): { result: ProbeResult; retryTls?: boolean } {
    const s = (session as RedisSession).reader;
    const exchange: Exchange = {
      sent: this.sent,
      replies: s.replies,
      head: s.head,
      bytesReceived: outcome.bytesReceived,
      closedByPeer: outcome.closedByPeer,
      reset: outcome.reset,
      readTimedOut: outcome.readTimedOut,
    };
    if (s.protocolError) exchange.protocolError = s.protocolError;
    if (outcome.budgetExceeded) exchange.budgetExceeded = outcome.budgetExceeded;
    if (outcome.connectError) exchange.connectError = outcome.connectError;
    if (outcome.tlsError) exchange.tlsError = outcome.tlsError;
    const c = classifyExchange(exchange);

    const startMs = Date.now() - outcome.elapsedMs;
    const result: ProbeResult = {
      ip: target.ip,
      port: target.port,
      transport: outcome.transport,
      time: new Date(startMs).toISOString(),
      state: c.state,
    };
    if (c.nicer) result.nicer = c.nicer;
    if (c.detail) result.detail = c.detail;
    if (c.error) result.error = c.error;
    if (c.server && Object.keys(c.server).length > 0) result.server = c.server;
    if (outcome.peerCertificate) {
      result.tls = certificateFacts(outcome.peerCertificate, outcome);
    }
    if (target.hostname) result.hostname = target.hostname;
    result.rtt_ms = Math.round(outcome.elapsedMs);
    if ((outcome.attempts ?? 1) > 1) result.attempts = outcome.attempts;
    if (this.opts.scanId) result.scan_id = this.opts.scanId;
    if (this.opts.shard) result.shard = this.opts.shard;

    return { result, retryTls: canRetryTls && looksLikeTls(exchange) };
  }
}

/**
 * After a plaintext attempt: is the peer a TLS server? It either answered with a TLS record
 * (an alert, 0x15 0x03) or dropped the connection without a byte — which is what Redis's
 * tls-port does with a plaintext client.
 */
function looksLikeTls(ex: Exchange): boolean {
  if (ex.connectError) return false;
  if (ex.head.length >= 2 && (ex.head[0] === 0x15 || ex.head[0] === 0x16) && ex.head[1] === 0x03)
    return true;
  return ex.bytesReceived === 0 && (ex.closedByPeer || ex.reset);
}

const MAX_CERT_STRING = 256;
const MAX_SANS = 64;

function certificateFacts(cert: tls.PeerCertificate, outcome: TransportOutcome): TlsFacts {
  const facts: TlsFacts = {};
  const subject = distinguishedName(cert.subject);
  const issuer = distinguishedName(cert.issuer);
  if (subject) facts.subject = subject;
  if (issuer) facts.issuer = issuer;
  if (cert.valid_from) facts.valid_from = toIso(cert.valid_from);
  if (cert.valid_to) facts.valid_to = toIso(cert.valid_to);
  if (cert.subjectaltname) {
    facts.sans = cert.subjectaltname
      .split(", ")
      .slice(0, MAX_SANS)
      .map((s) => clip(s.replace(/^IP Address:/, "IP:")));
  }
  if (cert.fingerprint256)
    facts.fingerprint_sha256 = cert.fingerprint256.replace(/:/g, "").toLowerCase();
  if (subject !== undefined && subject === issuer) facts.self_signed = true;
  if (outcome.tlsProtocol) facts.protocol = outcome.tlsProtocol;
  if (outcome.tlsCipher) facts.cipher = outcome.tlsCipher;
  return facts;
}

function distinguishedName(dn: unknown): string | undefined {
  if (!dn || typeof dn !== "object") return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(dn as Record<string, unknown>)) {
    const values = Array.isArray(v) ? v : [v];
    for (const one of values) parts.push(`${k}=${String(one)}`);
  }
  return parts.length ? clip(parts.join(", ")) : undefined;
}

function toIso(s: string): string {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? clip(s) : d.toISOString();
}

/** Certificate fields are chosen by whoever runs the server: bound and de-control them. */
function clip(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > MAX_CERT_STRING ? `${clean.slice(0, MAX_CERT_STRING)}…` : clean;
}
