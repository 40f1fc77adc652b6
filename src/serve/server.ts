/**
 * `redscope serve`: the dashboard over a store, on Node's own HTTP server. Pages are rendered
 * here; a small static script adds the live parts (Server-Sent Events for scan progress and the
 * honeypot feed, the search count). Nothing is requested from another host.
 */

import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import path from "node:path";
import { buildDiff, buildReport, type Report } from "../report/build.js";
import { buildHoneypotReport } from "../report/honeypot.js";
import { exportCsvHeader, exportCsvRows, exportJsonl } from "../report/hosts.js";
import { honeypotParts, reportParts } from "../report/html.js";
import { matchingResults } from "../report/query.js";
import { diffTables } from "../report/tables.js";
import type { ProbeResult } from "../schema/result.js";
import {
  type ScanInfo,
  type SearchFilter,
  type ShardInfo,
  type ShardProgress,
  type Store,
  StoreDamagedError,
} from "../store/index.js";
import { installedData } from "../store/paths.js";
import { Lru } from "./lru.js";
import {
  auditPage,
  auditsPage,
  DASHBOARD_STYLE,
  diffPage,
  errorPage,
  honeypotPage,
  hostPage,
  loginPage,
  type PageContext,
  type ReportParts,
  reportLinks,
  scanPage,
  scansPage,
  searchPageHtml,
  sessionPage,
} from "./pages.js";
import {
  ALL_SCANS,
  parseSearch,
  ScanCache,
  SearchInputError,
  type SearchParams,
  searchPage,
} from "./search.js";
import {
  cookie,
  Guard,
  isLoopback,
  LOGIN_CSRF_COOKIE,
  localRedirect,
  newToken,
  OWN_ORIGIN,
  parseCookies,
  SECURITY_HEADERS,
  SESSION_COOKIE,
  sameSecret,
} from "./security.js";

export interface DashboardOptions {
  store: Store;
  host: string;
  port: number;
  /** Login token; required (the caller makes one) when `host` is not loopback. */
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** More Host header names to accept (a reverse proxy's, a DNS name). */
  allowHosts?: string[];
  /** The store turned out to be damaged: every page may fail on it, the dashboard should stop. */
  onStoreDamaged?: (e: StoreDamagedError) => void;
  /** Most rows one /export answers with (default EXPORT_ROWS). */
  exportRows?: number;
}

/** Rows an /export streams at most; past it the file says it was cut. */
export const EXPORT_ROWS = 1_000_000;

const MAX_URL = 4096;
const MAX_BODY = 8192;
const MAX_EVENT_STREAMS = 64;
/** A running scan's report is read again after this long. */
const RUNNING_REPORT_MS = 15_000;
/** The honeypot page's report covers this many days back. */
const HONEYPOT_DAYS = 7;
/** Events a transcript page shows: a visitor decides how many a session has. */
const TRANSCRIPT_EVENTS = 2000;
/** A shard that has not written its progress for this long has probably died. */
const STALLED_MS = 30_000;

const webDir = (): string => installedData("web");

/** A scan's report and its HTML (charts drawn once: drawing is most of a page's cost). */
interface Rendered {
  at: number;
  report: Report;
  parts: ReportParts;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sumProgress(shards: ShardInfo[]): ShardProgress | undefined {
  let any = false;
  const out: ShardProgress = {
    done: 0,
    total: 0,
    inFlight: 0,
    elapsedMs: 0,
    updatedAt: "",
    counts: {},
  };
  for (const s of shards) {
    const p = s.finishedAt ? undefined : s.progress;
    const counts = p?.counts ?? s.counts ?? {};
    const n = Object.values(counts).reduce((a, b) => a + b, 0);
    out.done += p?.done ?? n;
    out.total += p?.total ?? n;
    out.inFlight += p?.inFlight ?? 0;
    out.elapsedMs = Math.max(out.elapsedMs, p?.elapsedMs ?? 0);
    if (p && p.updatedAt > out.updatedAt) out.updatedAt = p.updatedAt;
    for (const [k, v] of Object.entries(counts)) out.counts[k] = (out.counts[k] ?? 0) + v;
    if (p) any = true;
  }
  return any ? out : undefined;
}

export class Dashboard {
  private server: http.Server | undefined;
  private guard: Guard | undefined;
  private readonly cache: ScanCache;
  /** Reports made, for the 32 scans last looked at. */
  private readonly reports = new Lru<string, Rendered>(32);
  private honeypotReport: { at: number; parts: ReportParts } | undefined;
  private streams = 0;
  private readonly assets: Map<string, { type: string; body: Buffer }>;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: DashboardOptions) {
    this.cache = new ScanCache(opts.store);
    this.assets = new Map([
      ["/static/app.css", { type: "text/css; charset=utf-8", body: Buffer.from(DASHBOARD_STYLE) }],
      [
        "/static/app.js",
        {
          type: "text/javascript; charset=utf-8",
          body: fs.readFileSync(path.join(webDir(), "app.js")),
        },
      ],
    ]);
  }

  /** Listen; resolves with the URL once bound (port 0: a free one). */
  async start(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => {
        const damaged = this.damaged(e);
        if (res.headersSent) res.destroy();
        else if (damaged)
          this.send(res, 500, "text/plain", "the store is damaged: see the server's log\n");
        else this.send(res, 500, "text/plain", "internal error\n");
        if (!damaged) process.stderr.write(`redscope serve: ${(e as Error).stack ?? String(e)}\n`);
      });
    };
    const server = this.opts.tls
      ? https.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler)
      : http.createServer(handler);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.on("connection", (s: net.Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    const h = this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host;
    const hosts = new Set([`${h}:${port}`.toLowerCase()]);
    if (isLoopback(this.opts.host)) {
      for (const n of ["localhost", "127.0.0.1", "[::1]"]) hosts.add(`${n}:${port}`);
    }
    for (const a of this.opts.allowHosts ?? []) {
      hosts.add(a.toLowerCase());
      hosts.add(`${a}:${port}`.toLowerCase());
    }
    this.guard = new Guard({
      token: this.opts.token,
      allowedHosts: hosts,
      secure: this.opts.tls !== undefined,
      anyHost: this.opts.host === "0.0.0.0" || this.opts.host === "::",
    });
    void this.warm();
    return `${this.opts.tls ? "https" : "http"}://${h}:${port}/`;
  }

  /**
   * The newest finished scan's report and CVE index, made in the background at start: on a
   * million results they take seconds, which the first visitor would otherwise wait through.
   */
  private async warm(): Promise<void> {
    try {
      const scan = (await this.opts.store.listScans()).filter((s) => s.finishedAt).at(-1);
      if (!scan) return;
      await this.report(scan);
      await this.cache.cveIndex(scan.id);
    } catch (e) {
      // A visitor's request will meet the same error and show it; a damaged store stops us now.
      this.damaged(e);
    }
  }

  /** Whether `e` says the store is damaged; if so, the owner hears it (onStoreDamaged). */
  private damaged(e: unknown): boolean {
    if (!(e instanceof StoreDamagedError)) return false;
    this.opts.onStoreDamaged?.(e);
    return true;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private send(
    res: http.ServerResponse,
    status: number,
    type: string,
    body: string | Buffer,
    extra: Record<string, string | string[]> = {},
  ): void {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      "Content-Type": type,
      "Content-Length": Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  }

  private html(res: http.ServerResponse, status: number, body: string, extra = {}): void {
    this.send(res, status, "text/html; charset=utf-8", body, extra);
  }

  private redirect(
    res: http.ServerResponse,
    to: string,
    extra: Record<string, string | string[]> = {},
  ): void {
    this.send(res, 303, "text/plain", "", { Location: to, ...extra });
  }

  /** The request's form; undefined when it was refused (too large: 413 sent). */
  private async form(
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<URLSearchParams | undefined> {
    try {
      return await readForm(req);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      this.send(res, e.status, "text/plain", `${e.message}\n`);
      return undefined;
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const guard = this.guard!;
    if ((req.url ?? "").length > MAX_URL)
      return this.send(res, 414, "text/plain", "URL too long\n");
    // DNS rebinding: a page on another name that resolves here must not read the dashboard.
    if (!guard.hostAllowed(req)) return this.send(res, 421, "text/plain", "unknown Host\n");
    const method = req.method ?? "GET";
    if (!["GET", "HEAD", "POST"].includes(method)) {
      return this.send(res, 405, "text/plain", "method not allowed\n", {
        Allow: "GET, HEAD, POST",
      });
    }
    const url = new URL(req.url ?? "/", OWN_ORIGIN);
    const p = url.pathname;
    const asset = this.assets.get(p);
    if (asset && method !== "POST") return this.send(res, 200, asset.type, asset.body);
    // There is no icon: say so without an error page (a browser asks on every visit).
    if (p === "/favicon.ico") return this.send(res, 204, "text/plain", "");
    if (p === "/login") return this.login(req, res, method, url);

    const session = guard.session(req);
    if (!session) {
      if (method === "GET" || method === "HEAD") {
        return this.redirect(res, `/login?next=${encodeURIComponent(p + url.search)}`);
      }
      return this.send(res, 401, "text/plain", "log in first\n");
    }
    const ctx = (here: PageContext["here"]): PageContext => ({
      csrf: session.csrf,
      login: guard.needsLogin,
      here,
    });
    if (method === "POST") {
      const form = await this.form(req, res);
      if (!form) return;
      if (!guard.sameOrigin(req) || !sameSecret(form.get("csrf") ?? "", session.csrf)) {
        return this.html(
          res,
          403,
          errorPage(ctx(""), 403, "this form did not come from the dashboard"),
        );
      }
      if (p === "/logout") {
        guard.logout(session.id);
        return this.redirect(res, "/login", {
          "Set-Cookie": cookie(SESSION_COOKIE, "", guard.opts.secure, 0),
        });
      }
      return this.html(res, 404, errorPage(ctx(""), 404, "no such page"));
    }
    try {
      await this.route(req, res, url, ctx);
    } catch (e) {
      if (e instanceof HttpError)
        return this.html(res, e.status, errorPage(ctx(""), e.status, e.message));
      throw e;
    }
  }

  private async route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    ctx: (here: PageContext["here"]) => PageContext,
  ): Promise<void> {
    const p = url.pathname;
    const store = this.opts.store;
    /** The decoded path parameter of `/prefix/<param>`, or undefined for another path. */
    const param = (prefix: string): string | undefined => {
      if (!p.startsWith(prefix)) return undefined;
      const rest = p.slice(prefix.length);
      return rest === "" || rest.includes("/") ? undefined : decode(rest);
    };
    if (p === "/") return this.redirect(res, "/scans");
    if (p === "/scans") {
      const scans = await store.listScans();
      const entries = await Promise.all(
        scans.map(async (scan) => {
          if (scan.finishedAt) return { scan };
          const progress = sumProgress(await store.listShards(scan.id));
          return progress ? { scan, progress } : { scan };
        }),
      );
      return this.html(res, 200, scansPage(ctx("scans"), entries));
    }
    const scanId = param("/scans/");
    if (scanId !== undefined) {
      const scan = await store.getScan(scanId);
      if (!scan) throw new HttpError(404, "no such scan");
      const shards = await store.listShards(scan.id);
      const { report, parts } = await this.report(scan);
      return this.html(
        res,
        200,
        scanPage(ctx("scans"), scan, shards, sumProgress(shards), parts, report.generatedAt),
      );
    }
    if (p === "/search") return this.search(res, url, ctx("search"));
    if (p === "/api/count") return this.count(res, url);
    if (p === "/export") return this.export(req, res, url);
    const hostIp = param("/hosts/");
    if (hostIp !== undefined) {
      const ip = hostIp.slice(0, 64);
      return this.html(res, 200, hostPage(ctx("search"), ip, await store.hostResults(ip, 500)));
    }
    if (p === "/diff") {
      const a = url.searchParams.get("a") ?? "";
      const b = url.searchParams.get("b") ?? "";
      if (!(await store.getScan(a)) || !(await store.getScan(b))) {
        throw new HttpError(404, "choose two scans that exist");
      }
      const d = await buildDiff(store, a, b);
      return this.html(res, 200, diffPage(ctx("scans"), d, diffTables(d)));
    }
    if (p === "/honeypot") {
      const before = url.searchParams.get("before") ?? undefined;
      const recent = await store.recentHoneypotSessions(50, before?.slice(0, 40));
      const older = recent.length === 50 ? recent[recent.length - 1]!.startedAt : undefined;
      return this.html(
        res,
        200,
        honeypotPage(ctx("honeypot"), await this.honeypot(), recent, older),
      );
    }
    const sessionId = param("/honeypot/sessions/");
    if (sessionId !== undefined) {
      const s = await store.getHoneypotSession(sessionId);
      if (!s) throw new HttpError(404, "no such session");
      return this.html(
        res,
        200,
        sessionPage(
          ctx("honeypot"),
          s,
          await store.honeypotEvents(s.id, TRANSCRIPT_EVENTS + 1),
          TRANSCRIPT_EVENTS,
        ),
      );
    }
    if (p === "/audits")
      return this.html(res, 200, auditsPage(ctx("audits"), await store.listAudits(200)));
    const auditId = param("/audits/");
    if (auditId !== undefined) {
      const a = await store.getAudit(auditId);
      if (!a) throw new HttpError(404, "no such audit");
      return this.html(res, 200, auditPage(ctx("audits"), a));
    }
    if (p === "/events/scans") return this.events(req, res, this.scanEvents());
    if (p === "/events/honeypot") return this.events(req, res, await this.honeypotEvents());
    throw new HttpError(404, "no such page");
  }

  private async login(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    url: URL,
  ): Promise<void> {
    const guard = this.guard!;
    const secure = guard.opts.secure;
    if (!guard.needsLogin) return this.redirect(res, localRedirect(url.searchParams.get("next")));
    if (method !== "POST") {
      const csrf = newToken();
      return this.html(res, 200, loginPage(csrf, localRedirect(url.searchParams.get("next"))), {
        "Set-Cookie": cookie(LOGIN_CSRF_COOKIE, csrf, secure),
      });
    }
    const form = await this.form(req, res);
    if (!form) return;
    const expected = parseCookies(req.headers.cookie).get(LOGIN_CSRF_COOKIE) ?? "";
    const next = localRedirect(form.get("next"));
    const again = (status: number, why: string): void => {
      const csrf = newToken();
      this.html(res, status, loginPage(csrf, next, why), {
        "Set-Cookie": cookie(LOGIN_CSRF_COOKIE, csrf, secure),
      });
    };
    if (
      !guard.sameOrigin(req) ||
      expected === "" ||
      !sameSecret(form.get("csrf") ?? "", expected)
    ) {
      return again(403, "the login form expired: try again");
    }
    const ip = req.socket.remoteAddress ?? "";
    if (guard.throttled(ip)) return again(429, "too many wrong tokens: wait a minute");
    const s = guard.login(ip, form.get("token") ?? "");
    if (!s) return again(401, "wrong token");
    return this.redirect(res, next, {
      "Set-Cookie": [
        cookie(SESSION_COOKIE, s.id, secure, s.maxAgeS),
        cookie(LOGIN_CSRF_COOKIE, "", secure, 0),
      ],
    });
  }

  /** A scan's report: kept for a finished scan, read again every 15 s for a running one. */
  private async report(scan: ScanInfo): Promise<Rendered> {
    const c = this.reports.get(scan.id);
    if (
      c &&
      (scan.finishedAt !== undefined
        ? c.report.scan.finishedAt === scan.finishedAt
        : Date.now() - c.at < RUNNING_REPORT_MS)
    ) {
      return c;
    }
    const report = await buildReport(this.opts.store, scan);
    const parts = reportParts(report, reportLinks(scan.id));
    const rendered = { at: Date.now(), report, parts };
    this.reports.set(scan.id, rendered);
    return rendered;
  }

  private async honeypot(): Promise<ReportParts> {
    if (this.honeypotReport && Date.now() - this.honeypotReport.at < 10_000)
      return this.honeypotReport.parts;
    const now = new Date();
    const from = new Date(now.getTime() - HONEYPOT_DAYS * 86_400_000).toISOString();
    const h = await buildHoneypotReport(this.opts.store, { from });
    const parts = honeypotParts(h, `the last ${HONEYPOT_DAYS} days`, now.toISOString());
    this.honeypotReport = { at: Date.now(), parts };
    return parts;
  }

  /** The search form's fields; no scan named: the newest of `scans`. */
  private searchParams(url: URL, scans: ScanInfo[]): SearchParams {
    const p = parseSearch(url.searchParams);
    if (p.scan === "") p.scan = scans[scans.length - 1]?.id ?? "";
    return p;
  }

  private async search(res: http.ServerResponse, url: URL, ctx: PageContext): Promise<void> {
    const scans = await this.opts.store.listScans();
    let params: SearchParams = { scan: scans[scans.length - 1]?.id ?? "", query: {} };
    try {
      params = this.searchParams(url, scans);
    } catch (e) {
      if (e instanceof SearchInputError) {
        // The query as typed stays in the box, with the one line that says what is wrong.
        const typed = url.searchParams.get("q") ?? "";
        const scan = url.searchParams.get("scan")?.slice(0, 200) || params.scan;
        return this.html(
          res,
          400,
          searchPageHtml(ctx, { ...params, scan }, scans, undefined, e.message, typed),
        );
      }
      throw e;
    }
    if (
      params.scan !== "" &&
      params.scan !== ALL_SCANS &&
      !scans.some((s) => s.id === params.scan)
    ) {
      return this.html(res, 404, searchPageHtml(ctx, params, scans, undefined, "no such scan"));
    }
    const newestFirst = scans.map((s) => s.id).reverse();
    const page =
      params.scan === ""
        ? undefined
        : await searchPage(this.opts.store, this.cache, params, newestFirst);
    return this.html(res, 200, searchPageHtml(ctx, params, scans, page, undefined));
  }

  private async count(res: http.ServerResponse, url: URL): Promise<void> {
    let params: SearchParams;
    try {
      params = this.searchParams(url, await this.opts.store.listScans());
    } catch (e) {
      if (e instanceof SearchInputError)
        return this.send(res, 400, "application/json", JSON.stringify({ error: e.message }));
      throw e;
    }
    // A text filter reads every row: its count stops sooner.
    const cap = params.query.text !== undefined ? 10_000 : 1_000_000;
    // scan=all: each scan counted, newest first, up to what is left of the cap.
    const scans =
      params.scan === ALL_SCANS
        ? (await this.opts.store.listScans()).map((s) => s.id).reverse()
        : [params.scan];
    let n = 0;
    for (const scan of scans) {
      if (n >= cap) break;
      const filter = await this.cache.filter({ ...params, scan });
      n += await this.opts.store.countResults(scan, filter, cap - n);
    }
    return this.send(res, 200, "application/json", JSON.stringify({ n, capped: n >= cap }));
  }

  /**
   * `/export?scan=ID&q=QUERY&format=csv|jsonl`: every result the search matches, streamed
   * through the per-result export (src/report/hosts.ts) a batch at a time, as a download. At
   * most `exportRows` rows: past that, a header and the file's last line say it was cut.
   */
  private async export(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<void> {
    const bad = (msg: string): void => this.send(res, 400, "text/plain; charset=utf-8", `${msg}\n`);
    let params: SearchParams;
    try {
      params = parseSearch(url.searchParams);
    } catch (e) {
      if (e instanceof SearchInputError) return bad(e.message);
      throw e;
    }
    const format = url.searchParams.get("format") ?? "csv";
    if (format !== "csv" && format !== "jsonl") return bad("format: csv or jsonl");
    if (params.scan === "") return bad("scan=ID (or scan=all): which scan to export");
    const store = this.opts.store;
    // One scan, or every scan newest first (as the search across scans pages them); each
    // row carries its scan_id.
    let scans: string[];
    if (params.scan === ALL_SCANS) {
      scans = (await store.listScans()).map((s) => s.id).reverse();
    } else {
      if (!(await store.getScan(params.scan)))
        return this.send(res, 404, "text/plain", "no such scan\n");
      scans = [params.scan];
    }
    const filters = new Map<string, SearchFilter>();
    for (const id of scans) filters.set(id, await this.cache.filter({ ...params, scan: id }));
    const cap = this.opts.exportRows ?? EXPORT_ROWS;
    let counted = 0;
    for (const id of scans) {
      counted += await store.countResults(id, filters.get(id)!, cap + 1 - counted);
      if (counted > cap) break;
    }
    const more = counted > cap;
    const name = `redscope-${params.scan.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 80)}.${format}`;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type":
        format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      "Content-Disposition": `attachment; filename="${name}"`,
      "Cache-Control": "no-store",
      ...(more ? { "X-Redscope-Truncated": `first ${cap} rows` } : {}),
    });
    if (req.method === "HEAD") return void res.end();
    const write = async (text: string): Promise<void> => {
      if (text !== "" && !res.write(text)) await once(res, "drain");
    };
    let gone = false;
    res.once("close", () => {
      gone = true;
    });
    if (format === "csv") await write(exportCsvHeader());
    let n = 0;
    let batch: ProbeResult[] = [];
    const flush = async (): Promise<void> => {
      await write(format === "csv" ? exportCsvRows(batch) : exportJsonl(batch));
      batch = [];
    };
    walk: for (const id of scans) {
      for await (const r of matchingResults(store, id, filters.get(id)!)) {
        if (gone || n >= cap) break walk;
        batch.push(r);
        n++;
        if (batch.length >= 1000) await flush();
      }
    }
    if (!gone) await flush();
    if (more && !gone) {
      const note = `cut at the first ${cap} rows: narrow the query, or use redscope report --hosts`;
      await write(
        format === "csv"
          ? `# ${note}\r\n`
          : `${JSON.stringify({ truncated: true, rows: cap, note })}\n`,
      );
    }
    res.end();
  }

  /**
   * Server-Sent Events: `tick` runs once a second and what it returns is sent. At most 64
   * streams at once; each ends with its connection.
   */
  private events(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    tick: () => Promise<string | undefined>,
  ): void {
    if (this.streams >= MAX_EVENT_STREAMS) {
      this.send(res, 503, "text/plain", "too many live views\n");
      return;
    }
    this.streams++;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "text/event-stream; charset=utf-8",
      Connection: "keep-alive",
    });
    res.write("retry: 3000\n\n");
    let busy = false;
    let beat = 0;
    const run = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        const data = await tick();
        if (data !== undefined) res.write(`data: ${data}\n\n`);
        else if (++beat % 15 === 0) res.write(": keep-alive\n\n");
      } catch (e) {
        this.damaged(e);
        res.destroy();
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void run(), 1000);
    this.timers.add(timer);
    void run();
    req.on("close", () => {
      clearInterval(timer);
      this.timers.delete(timer);
      this.streams--;
    });
  }

  /** Progress of running scans, and the news that a watched one finished. */
  private scanEvents(): () => Promise<string | undefined> {
    const watched = new Set<string>();
    return async () => {
      const store = this.opts.store;
      const out: Array<Record<string, unknown>> = [];
      for (const scan of await store.listScans()) {
        if (scan.finishedAt && !watched.has(scan.id)) continue;
        if (scan.finishedAt) {
          watched.delete(scan.id);
          const done = Object.values(scan.counts ?? {}).reduce((a, b) => a + b, 0);
          out.push({ id: scan.id, finished: true, done, total: done });
          continue;
        }
        watched.add(scan.id);
        const p = sumProgress(await store.listShards(scan.id));
        out.push({
          id: scan.id,
          finished: false,
          done: p?.done ?? 0,
          total: p?.total ?? 0,
          counts: p?.counts ?? {},
          stalled: p !== undefined && Date.now() - Date.parse(p.updatedAt) > STALLED_MS,
        });
      }
      return out.length > 0 ? JSON.stringify({ scans: out }) : undefined;
    };
  }

  /** Sessions that started or changed since the stream's last look. */
  private async honeypotEvents(): Promise<() => Promise<string | undefined>> {
    const store = this.opts.store;
    const key = (s: { id: string; endedAt?: string; commands: number }): string =>
      `${s.endedAt ?? ""}/${s.commands}`;
    const seen = new Map<string, string>();
    for (const s of await store.recentHoneypotSessions(50)) seen.set(s.id, key(s));
    return async () => {
      const changed = [];
      for (const s of await store.recentHoneypotSessions(50)) {
        if (seen.get(s.id) === key(s)) continue;
        seen.set(s.id, key(s));
        changed.push({
          id: s.id,
          startedAt: s.startedAt,
          srcIp: s.srcIp,
          persona: s.persona,
          commands: s.commands,
          classes: s.classes,
          endedAt: s.endedAt ?? null,
        });
      }
      if (seen.size > 1000) for (const k of [...seen.keys()].slice(0, 500)) seen.delete(k);
      return changed.length > 0 ? JSON.stringify({ sessions: changed }) : undefined;
    };
  }
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, "bad URL encoding");
  }
}

/** An urlencoded form body, at most 8 KB. */
async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) {
      req.destroy();
      throw new HttpError(413, "form too large");
    }
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
