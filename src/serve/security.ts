/**
 * The dashboard's guard: who may ask (Host check against DNS rebinding, a token and a session
 * cookie when it listens beyond loopback), CSRF tokens on every state change, and the response
 * headers that keep a page from loading or running anything of anyone else's.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import net from "node:net";
import { formatIpv4, formatIpv6, parseIp, peerAddress, unmapIpv4 } from "../net/ip.js";
import { Lru } from "./lru.js";

/**
 * `default-src 'none'`: scripts and styles only from this server's own files, no inline code
 * or style (charts carry presentation attributes instead), requests only back to it, no
 * framing, forms only to it.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with our own
  // forms, and the origin check could not tell them from a foreign page's.
  "Referrer-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

export const SESSION_COOKIE = "redscope_session";
export const LOGIN_CSRF_COOKIE = "redscope_login";
/** A session lasts 12 hours from login. */
const SESSION_MS = 12 * 3600_000;
/** Sessions held at once; the least recently used go first. */
const MAX_SESSIONS = 1000;
/** Failed logins one source (an IPv4 address, an IPv6 /64) may make per minute. */
const LOGIN_FAILURES_PER_MINUTE = 10;
/** Sources whose failed logins are counted at once; the least recently seen go first. */
export const LOGIN_SOURCES = 10_000;

/**
 * The origin request URLs are resolved against. Its host is a stand-in: where a path leads does
 * not depend on the host it is resolved against, only on whether it stays on it.
 */
export const OWN_ORIGIN = "http://dashboard.invalid";
/** Longest `next` kept after login (a search's URL fits); a longer one goes to the scans. */
const MAX_NEXT = 2048;

/** `s` resolved against this dashboard as a browser would, if it stays here. */
function resolveHere(s: string): URL | undefined {
  try {
    const u = new URL(s, OWN_ORIGIN);
    return u.origin === OWN_ORIGIN ? u : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where to send a visitor after login: `next` only if it leads to a page of this dashboard as
 * the browser parses it — the WHATWG URL parser, which drops tabs and newlines, reads `\` as
 * `/` and resolves `.` and `..` — not by looking at its first characters (`/<TAB>/evil.example/`
 * starts with one slash and leads to evil.example). The answer is the parsed path and query,
 * never the raw text, and it is checked again as the Location it becomes: `/.//evil.example`
 * stays here but its path, `//evil.example`, would not.
 */
export function localRedirect(next: string | null | undefined, fallback = "/scans"): string {
  const u = next ? resolveHere(next) : undefined;
  if (u === undefined) return fallback;
  const to = u.pathname + u.search;
  const again = resolveHere(to);
  return again !== undefined && again.pathname + again.search === to && to.length <= MAX_NEXT
    ? to
    : fallback;
}

/**
 * Whom a failed login counts against: an IPv4 address itself (also when a dual-stack socket
 * reports it as ::ffff:a.b.c.d), an IPv6 address by its /64 — one subscriber's network, in
 * which a host may take any address it likes.
 */
export function loginSource(remoteAddress: string): string {
  // A link-local peer comes with its zone ("fe80::1%eth0"), which the parser refuses.
  const ip = parseIp(remoteAddress.split("%", 1)[0]!);
  if (ip === undefined) return remoteAddress;
  const plain = unmapIpv4(ip);
  if (plain.family === 4) return formatIpv4(Number(plain.value));
  return `${formatIpv6((plain.value >> 64n) << 64n)}/64`;
}

export function isLoopback(text: string): boolean {
  const host = peerAddress(text);
  return host === "localhost" || host === "::1" || (net.isIPv4(host) && host.startsWith("127."));
}

export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/** Equal in constant time whatever the lengths (both sides hashed first). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").slice(0, 4096).split(";")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

export function cookie(name: string, value: string, secure: boolean, maxAgeS?: number): string {
  return [
    `${name}=${value}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    ...(secure ? ["Secure"] : []),
    ...(maxAgeS !== undefined ? [`Max-Age=${maxAgeS}`] : []),
  ].join("; ");
}

interface Session {
  csrf: string;
  expires: number;
}

export interface GuardOptions {
  /** Required to log in; undefined: no login (loopback only). */
  token: string | undefined;
  /** Host header values accepted (host:port, lower case). */
  allowedHosts: ReadonlySet<string>;
  /** Listening on every address: any name may reach it (the token guards it then). */
  anyHost: boolean;
  secure: boolean;
}

export class Guard {
  private readonly sessions = new Lru<string, Session>(MAX_SESSIONS);
  /** Failed logins per loginSource in the minute since its first. */
  private readonly failures = new Lru<string, { n: number; since: number }>(LOGIN_SOURCES);
  /** One CSRF token for every form when there is no login (loopback without a token). */
  private readonly openCsrf = newToken();

  constructor(readonly opts: GuardOptions) {}

  get needsLogin(): boolean {
    return this.opts.token !== undefined;
  }

  /** The Host header names this server (DNS rebinding sends the attacker's name). */
  hostAllowed(req: IncomingMessage): boolean {
    const host = (req.headers.host ?? "").toLowerCase();
    return this.opts.allowedHosts.has(host) || (this.opts.anyHost && host !== "");
  }

  /**
   * A state-changing request comes from our own pages: the browser's Sec-Fetch-Site, when
   * sent, says same-origin, and Origin, when sent, names the host the request was sent to
   * (the form's CSRF token is checked beside both).
   */
  sameOrigin(req: IncomingMessage): boolean {
    const site = req.headers["sec-fetch-site"];
    if (site !== undefined && site !== "same-origin" && site !== "none") return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    try {
      return new URL(origin).host.toLowerCase() === (req.headers.host ?? "").toLowerCase();
    } catch {
      return false;
    }
  }

  /** The session of this request, if it has a live one. */
  session(req: IncomingMessage): { id: string; csrf: string } | undefined {
    if (!this.needsLogin) return { id: "", csrf: this.openCsrf };
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expires < Date.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return { id, csrf: s.csrf };
  }

  /** Too many failed logins from this peer's source (loginSource) in the last minute. */
  throttled(remoteAddress: string): boolean {
    return (this.recentFailures(loginSource(remoteAddress))?.n ?? 0) >= LOGIN_FAILURES_PER_MINUTE;
  }

  /** The source's failed logins, if its first was less than a minute ago. */
  private recentFailures(source: string): { n: number; since: number } | undefined {
    const f = this.failures.get(source);
    if (f !== undefined && Date.now() - f.since > 60_000) {
      this.failures.delete(source);
      return undefined;
    }
    return f;
  }

  /** A new session for the right token; undefined (and counted) for a wrong one. */
  login(remoteAddress: string, token: string): { id: string; maxAgeS: number } | undefined {
    if (this.opts.token === undefined || !sameSecret(token, this.opts.token)) {
      const source = loginSource(remoteAddress);
      const f = this.recentFailures(source) ?? { n: 0, since: Date.now() };
      f.n++;
      this.failures.set(source, f);
      return undefined;
    }
    const id = newToken();
    this.sessions.set(id, { csrf: newToken(), expires: Date.now() + SESSION_MS });
    return { id, maxAgeS: SESSION_MS / 1000 };
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }
}
