/**
 * `redscope report --format html`: one self-contained page. What scanned servers wrote comes out
 * escaped, in the tables and inside the charts' SVG; real headless Chromium opens the file with
 * no request beyond it, no script, no dialog and no console message, and draws the charts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { buildReport } from "../src/report/build.js";
import { renderHtml } from "../src/report/html.js";
import type { ProbeResult, Product } from "../src/schema/result.js";
import { openStore } from "../src/store/index.js";
import { runCli } from "./helpers/cli.js";
import { testScan } from "./helpers/scans.js";

const CHROMIUM = "/usr/bin/chromium";
// In CI the browser check must run: a missing Chromium is a failure, not a skip.
const requireAll = process.env.CI === "true";

function skipUnless(ok: boolean, why: string): string | false {
  if (ok) return false;
  if (requireAll) throw new Error(`report-html prerequisite missing in CI: ${why}`);
  return why;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-report-html-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const DB = path.join(tmp, "report.db");
const PAGE = path.join(tmp, "report.html");
const SCREENSHOT = fileURLToPath(new URL("../../test-output/report-html.png", import.meta.url));

/** What a hostile server can put in INFO, or an attacker in the registries intel reads. */
const HOSTILE = {
  version: "7.0.15<script>alert(1)</script>",
  img: "<img src=x onerror=alert(1)>",
  attr: '"><svg onload=alert(1)>',
  style: "</style><script>alert(2)</script>",
  template: "{{7*7}}",
  bidi: "\u202eexe.txt\u001b[31m",
};

const OPEN_VERSIONS: Array<[Product, string, number]> = [
  ["redis", "7.2.4", 10],
  ["redis", "7.0.15", 5],
  ["redis", HOSTILE.version, 4],
  ["redis", "6.2.6", 3],
  ["valkey", "8.0.1", 2],
];

const CLOUDS: Array<ProbeResult["cloud"]> = [
  { provider: "aws", region: "us-east-1", service: "EC2" },
  { provider: "aws", region: HOSTILE.attr, service: HOSTILE.style },
  { provider: "gcp", region: HOSTILE.bidi, service: HOSTILE.template },
  undefined,
];

const ASNS: Array<[number, string]> = [
  [16509, "AMAZON-02"],
  [64512, HOSTILE.img],
  [64513, HOSTILE.template],
  [64514, HOSTILE.bidi],
];

/**
 * 64 targets: 24 open (versions as OPEN_VERSIONS, CVEs on 7.0.15, 6.2.6 and the hostile one,
 * two naming other machines), 20 auth, 10 protected, 2 error, 8 timeouts. `opened` more of the
 * auth ones are open instead, for an older scan.
 */
function results(opened = 0): ProbeResult[] {
  const versions = OPEN_VERSIONS.flatMap(([product, version, n]) =>
    Array.from({ length: n }, () => [product, version] as const),
  );
  const out: ProbeResult[] = [];
  for (let i = 0; i < 64; i++) {
    const [asn, asOrg] = ASNS[i % ASNS.length]!;
    const base = {
      ip: `192.0.2.${i + 1}`,
      port: 6379,
      transport: "tcp" as const,
      time: "2026-11-21T10:00:00.000Z",
      shard: "0/1",
      asn,
      as_org: asOrg,
      country: ["US", "DE", "NL"][i % 3]!,
    };
    const cloud = CLOUDS[i % CLOUDS.length];
    const placed = cloud ? { ...base, cloud } : base;
    const version = versions[i];
    if (version) {
      const [product, v] = version;
      const r: ProbeResult = {
        ...placed,
        state: "open",
        nicer: "Returned version",
        server: { product, version: v, role: "master", os: HOSTILE.style },
      };
      if (v === "7.0.15" || v === HOSTILE.version) {
        r.cves = [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }];
      }
      if (v === "6.2.6") r.cves = [{ id: "CVE-2024-31449", cvss: 7, fixed_in: "7.2.6" }];
      if (i === 0) r.server!.replicas = [{ ip: "198.51.100.7", port: 6380, state: "online" }];
      if (i === 1) Object.assign(r.server!, { role: "slave", master_host: HOSTILE.img });
      out.push(r);
    } else if (i < 44 + opened && i >= 44) {
      out.push({
        ...placed,
        state: "open",
        nicer: "Returned version",
        server: { product: "redis", version: "5.0.7", role: HOSTILE.attr },
      });
    } else if (i < 44) {
      out.push({ ...placed, state: "auth_required", nicer: "Requires authentication" });
    } else if (i < 54) {
      out.push({ ...placed, state: "protected", nicer: "Running protected", detail: "DENIED" });
    } else if (i < 56) {
      out.push({ ...placed, state: "error", nicer: "Encountered error", error: HOSTILE.img });
    } else {
      out.push({ ...base, state: "timeout", detail: "connect_timeout" });
    }
  }
  return out;
}

/** Every tag in the page: data never opens one, since each `<` in it is escaped. */
const tags = (html: string): string[] => html.match(/<[^>]*>/g) ?? [];

const ALLOWED_TAGS = new Set(
  "html head meta title style body div header p h1 h2 h3 dl dt dd section figure main footer table thead tbody tr th td ul li span svg g rect path text defs clippath".split(
    " ",
  ),
);

/** The page can load nothing, run nothing and holds no element that could. */
function assertInert(page: string): void {
  assert.match(page, /^<!DOCTYPE html>\n/);
  assert.match(
    page,
    /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:[^"]*">/,
  );
  assert.doesNotMatch(page, /<script/i);
  // url(#…) is a chart's clip path: a fragment of the page itself.
  assert.doesNotMatch(page, /https?:|\/\/|url\((?!#)/i, "no URL anywhere");
  for (const tag of tags(page)) {
    if (tag.startsWith("<!") || tag.startsWith("</")) continue;
    const name = /^<([a-zA-Z][\w-]*)/.exec(tag)?.[1]?.toLowerCase() ?? "";
    assert.ok(ALLOWED_TAGS.has(name), `unexpected element: ${tag}`);
    assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, "no event handler attribute");
    assert.doesNotMatch(tag, /\s(src|href|xlink:href|action|formaction|srcset)\s*=/i, tag);
  }
}

/**
 * The file in a new Chromium tab, checked to have loaded nothing but itself, run no script,
 * opened no dialog and logged nothing (a CSP violation would log).
 */
async function openQuietly(browser: Browser, file: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1024, height: 900 } });
  const requests: string[] = [];
  const messages: string[] = [];
  page.on("request", (req) => requests.push(req.url()));
  page.on("dialog", (d) => {
    messages.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => messages.push(`pageerror: ${e.message}`));
  // Runs before the page's own scripts (it has none): any alert the page ran would set this.
  await page.addInitScript({
    content: "window.__alerted = false; window.alert = () => { window.__alerted = true; };",
  });
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: "load" });
  assert.deepEqual(requests, [url], "the file itself, nothing else");
  assert.deepEqual(messages, [], "no dialog or console message");
  assert.equal(await page.evaluate("document.querySelectorAll('script').length"), 0);
  assert.equal(await page.evaluate("window.__alerted"), false);
  return page;
}

let html = "";

before(async () => {
  const store = await openStore(DB);
  try {
    for (const [id, startedAt, opened] of [
      ["older", "2026-10-01T10:00:00.000Z", 8],
      ["newer", "2026-11-21T10:00:00.000Z", 0],
    ] as const) {
      await store.beginScan(testScan(id, startedAt));
      await store.beginShard({ scanId: id, shard: "0/1", startedAt });
      await store.insertResults(id, results(opened));
      await store.finishShard(id, "0/1", await store.stateCounts(id));
    }
  } finally {
    await store.close();
  }
  const run = await runCli(["report", "newer", "--format", "html", "-o", PAGE, "--db", DB]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "");
  html = fs.readFileSync(PAGE, "utf8");
});

describe("report --format html: the file", () => {
  test("no script, no event handler, no URL, no element data could have opened", () => {
    assertInert(html);
  });

  test("hostile strings appear escaped in the tables", () => {
    for (const escaped of [
      "7.0.15&lt;script&gt;alert(1)&lt;/script&gt;",
      "&lt;img src=x onerror=alert(1)&gt;",
      "&quot;&gt;&lt;svg onload=alert(1)&gt;",
      "&lt;/style&gt;&lt;script&gt;alert(2)&lt;/script&gt;",
      "{{7*7}}",
      // Bidi override and ESC replaced, as on a terminal.
      "?exe.txt?[31m",
    ]) {
      assert.ok(html.includes(`<td>${escaped}</td>`), `table cell ${escaped}`);
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    assert.doesNotMatch(html, /[\u0000-\u0008\u000b-\u001f\u202a-\u202e\u2066-\u2069]/);
  });

  test("charts are inline SVG, with their labels escaped too", () => {
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    assert.equal(svgs.length, 4, "states, versions, clouds, trend");
    const [, versions, clouds, trend] = svgs as [string, string, string, string];
    assert.match(versions, /<text[^>]*>redis 7\.0\.15&lt;script&gt;alert\(1\)&lt;\/s…<\/text>/);
    assert.match(versions, /<text[^>]*>redis 7\.2\.4<\/text>/);
    assert.match(clouds, /<text[^>]*>aws &quot;&gt;&lt;svg onload=alert\(1\)&gt; &lt;\/s…<\/text>/);
    assert.match(clouds, /<text[^>]*>gcp \?exe\.txt\?\[31m \{\{7\*7\}\}<\/text>/);
    assert.match(trend, /<text[^>]*>2026-10-01 10:00<\/text>/);
  });

  test("--diff: the change tables follow the report", async () => {
    const file = path.join(tmp, "diff.html");
    const run = await runCli([
      "report",
      "--diff",
      "older",
      "newer",
      "-f",
      "html",
      "-o",
      file,
      "--db",
      DB,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const page = fs.readFileSync(file, "utf8");
    assert.match(page, /<h2>Changes from scan older to scan newer<\/h2>/);
    assert.match(page, /<td>remediated \(open before, not now\)<\/td><td class="num">8<\/td>/);
    assert.ok(page.indexOf('<section id="diff">') > page.indexOf('<section id="trends">'));
  });

  test("without trends three charts; an empty scan still renders", async () => {
    const store = await openStore(DB);
    try {
      const scan = (await store.getScan("newer"))!;
      const report = await buildReport(store, scan);
      const page = renderHtml({ ...report, trends: report.trends.slice(-1) });
      assert.equal(page.match(/<svg/g)?.length, 3);
      await store.beginScan({ ...testScan("empty", "2026-11-22T10:00:00.000Z"), targets: "-" });
      const empty = renderHtml(await buildReport(store, (await store.getScan("empty"))!));
      assert.equal(empty.match(/<svg/g)?.length, 1, "the states chart alone");
      assert.match(empty, /no server with a known CVE/);
    } finally {
      await store.close();
    }
  });
});

describe("report --format html: in headless Chromium", {
  skip: skipUnless(fs.existsSync(CHROMIUM), `${CHROMIUM} not installed`),
}, () => {
  test("loads with no request, script or dialog; draws the charts; screenshot", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await openQuietly(browser, PAGE);
      const svgs = page.locator("svg");
      assert.equal(await svgs.count(), 4);
      for (let i = 0; i < 4; i++) {
        const svg = svgs.nth(i);
        const box = await svg.boundingBox();
        assert.ok(
          box && box.width > 300 && box.height > 100,
          `chart ${i} box ${JSON.stringify(box)}`,
        );
        assert.ok((await svg.locator("rect, path").count()) > 3, `chart ${i} draws`);
      }
      const body = (await page.locator("body").textContent()) ?? "";
      assert.match(body, /redis 7\.2\.4/, "the most common version, on its bar");
      assert.match(body, /7\.0\.15<script>alert\(1\)<\/script>/, "shown as text");

      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.ok(fs.statSync(SCREENSHOT).size > 10_000, "screenshot written");
    } finally {
      await browser.close();
    }
  });
});

describe("report --honeypot --format html", () => {
  const db = path.join(tmp, "honeypot.db");
  const file = path.join(tmp, "honeypot.html");
  const shot = fileURLToPath(new URL("../../test-output/report-honeypot.png", import.meta.url));
  let page = "";

  before(async () => {
    const store = await openStore(db);
    try {
      const rows = [];
      for (let i = 0; i < 30; i++) {
        const day = `2026-11-${String(18 + (i % 3)).padStart(2, "0")}`;
        const attack = i % 2 === 0;
        rows.push({
          id: `s${i}`,
          sensor: "sensor-1",
          listener: "127.0.0.1:6379",
          persona: i % 3 === 0 ? "redis-5.0-open" : "redis-7.4-password",
          srcIp: `198.51.100.${i % 5}`,
          srcPort: 40000 + i,
          startedAt: `${day}T10:${String(i).padStart(2, "0")}:00.000Z`,
          endedAt: `${day}T10:${String(i).padStart(2, "0")}:05.000Z`,
          bytesIn: 100,
          bytesOut: 50,
          commands: 4,
          classes: attack ? "file_write_cron,bruteforce" : "scan",
          record: {
            findings: attack
              ? [
                  { class: "file_write_cron", attack: ["T1053.003"], evidence: [HOSTILE.img] },
                  { class: "bruteforce", attack: ["T1110.001"], evidence: [] },
                ]
              : [{ class: "scan", attack: ["T1595.001"], evidence: [] }],
            indicators: {
              urls: attack ? ["http://evil.example/x.sh", HOSTILE.attr] : [],
              cron_lines: attack ? [`*/1 * * * * ${HOSTILE.style}`] : [],
              passwords: attack ? ["123456", HOSTILE.version, HOSTILE.bidi] : [],
            },
          } as never,
        });
      }
      await store.upsertHoneypotSessions(rows);
    } finally {
      await store.close();
    }
    const run = await runCli(["report", "--honeypot", "--db", db, "-f", "html", "-o", file]);
    assert.equal(run.code, 0, run.stderr);
    page = fs.readFileSync(file, "utf8");
  });

  test("the same rules as a scan's page; visitors' strings escaped; two charts", () => {
    // A visitor's URL is text, never a link: the one URL in the page is escaped data.
    assertInert(page.replaceAll("http://evil.example/x.sh", "evil.example/x.sh"));
    for (const escaped of [
      "7.0.15&lt;script&gt;alert(1)&lt;/script&gt;",
      "&quot;&gt;&lt;svg onload=alert(1)&gt;",
      "*/1 * * * * &lt;/style&gt;&lt;script&gt;alert(2)&lt;/script&gt;",
      "?exe.txt?[31m",
    ]) {
      assert.ok(page.includes(`<td>${escaped}</td>`), `table cell ${escaped}`);
    }
    for (const title of [
      "Honeypot sessions per day",
      "Attack classes",
      "Top sources",
      "Passwords tried",
      "Indicators",
    ]) {
      assert.ok(page.includes(`<h2>${title}</h2>`), title);
    }
    assert.match(page, /<td>file_write_cron<\/td><td>T1053\.003<\/td><td class="num">15<\/td>/);
    const svgs = page.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    assert.equal(svgs.length, 2, "sessions per day, attack classes");
    assert.match(svgs[0]!, /<text[^>]*>2026-11-18<\/text>/);
    assert.match(svgs[1]!, /<text[^>]*>file_write_cron<\/text>/);
  });

  test("Chromium: no request, script or dialog; charts drawn; screenshot", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const tab = await openQuietly(browser, file);
      assert.equal(await tab.locator("a").count(), 0);
      const svgs = tab.locator("svg");
      assert.equal(await svgs.count(), 2);
      for (let i = 0; i < 2; i++) {
        const box = await svgs.nth(i).boundingBox();
        assert.ok(box && box.width > 300 && box.height > 60, `chart ${i} ${JSON.stringify(box)}`);
        assert.ok((await svgs.nth(i).locator("rect, path").count()) > 3, `chart ${i} draws`);
      }
      const body = (await tab.locator("body").textContent()) ?? "";
      assert.match(body, /7\.0\.15<script>alert\(1\)<\/script>/, "a password, shown as text");
      fs.mkdirSync(path.dirname(shot), { recursive: true });
      await tab.screenshot({ path: shot, fullPage: true });
      assert.ok(fs.statSync(shot).size > 10_000, "screenshot written");
    } finally {
      await browser.close();
    }
  });
});
