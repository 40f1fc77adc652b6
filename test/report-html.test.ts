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
import { buildHoneypotReport } from "../src/report/honeypot.js";
import { renderHoneypotHtml, renderHtml } from "../src/report/html.js";
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
after(() => {
  if (!process.env.KEEP) fs.rmSync(tmp, { recursive: true, force: true });
});
const DB = path.join(tmp, "report.db");
const PAGE = path.join(tmp, "report.html");
const SCREENSHOTS = fileURLToPath(new URL("../../test-output/screenshots/", import.meta.url));
const SCREENSHOT = path.join(SCREENSHOTS, "report.png");

/** What a hostile server can put in INFO, or an attacker in the registries intel reads. */
const HOSTILE = {
  version: "7.0.15<script>alert(1)</script>",
  img: "<img src=x onerror=alert(1)>",
  attr: '"><svg onload=alert(1)>',
  style: "</style><script>alert(2)</script>",
  template: "{{7*7}}",
  bidi: "\u202eexe.txt\u001b[31m",
  /** A country code as an imported file may give it (Shodan's is kept up to 8 characters). */
  country: "<i>\u202e'`",
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

const COUNTRIES = ["US", "DE", "NL", HOSTILE.country];

/** Closed ports among the targets: as in a real scan, far more than the Redis servers found. */
const CLOSED = 300;

/**
 * 64 targets: 24 open (versions as OPEN_VERSIONS, CVEs on 7.0.15, 6.2.6 and the hostile one,
 * two naming other machines), 20 auth, 10 protected, 2 error, 8 timeouts; then CLOSED closed
 * ports. `opened` more of the auth ones are open instead, for an older scan.
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
      country: COUNTRIES[i % COUNTRIES.length]!,
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
      // An imported record's CVE list is the file's word: its ids are data too.
      if (v === HOSTILE.version)
        r.cves!.push({ id: HOSTILE.template, cvss: 5, fixed_in: "7.2.11" });
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
  for (let i = 0; i < CLOSED; i++) {
    out.push({
      ip: `198.18.${i >> 8}.${i & 255}`,
      port: 6379,
      transport: "tcp",
      time: "2026-11-21T10:00:00.000Z",
      shard: "0/1",
      state: "closed",
      detail: "refused",
    });
  }
  return out;
}

/** Every tag in the page: data never opens one, since each `<` in it is escaped. */
const tags = (html: string): string[] => html.match(/<[^>]*>/g) ?? [];

const ALLOWED_TAGS = new Set(
  "html head meta title style body div header p h1 h2 h3 dl dt dd section figure figcaption main footer table caption thead tbody tr th td ul li span code a svg g rect path text defs clippath".split(
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
  for (const tag of tags(page)) {
    if (tag.startsWith("<!") || tag.startsWith("</")) continue;
    const name = /^<([a-zA-Z][\w-]*)/.exec(tag)?.[1]?.toLowerCase() ?? "";
    assert.ok(ALLOWED_TAGS.has(name), `unexpected element: ${tag}`);
    assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, "no event handler attribute");
    // The one link a page has: a figure's SVG as a download, base64 in a data: URL.
    if (name === "a") {
      assert.match(tag, DOWNLOAD_LINK, tag.slice(0, 200));
      continue;
    }
    // No URL in any element or attribute (url(#…) is a chart's clip path, in the page
    // itself); a reference's sources are cited as text.
    assert.doesNotMatch(tag, /https?:|\/\/|url\((?!#)/i, "no URL in markup");
    assert.doesNotMatch(tag, /\s(src|href|xlink:href|action|formaction|srcset)\s*=/i, tag);
  }
}

const DOWNLOAD_LINK =
  /^<a class="download" download="[\w.-]+\.svg" href="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" title="[\w.-]+\.svg">$/;

/** Each figure of a page: its inline SVG, caption text, download file name and file. */
function figures(
  page: string,
): Array<{ svg: string; caption: string; file: string; body: string }> {
  const out = [];
  for (const m of page.matchAll(
    /<figure class="chart" id="figure-(\d+)">\n(<svg[\s\S]*?<\/svg>)\n<figcaption>([\s\S]*?)<a class="download" download="([^"]+)" href="data:image\/svg\+xml;base64,([^"]+)"/g,
  )) {
    assert.equal(Number(m[1]), out.length + 1, "figures numbered in order");
    out.push({
      svg: m[2]!,
      caption: m[3]!.replace(/<[^>]*>/g, "").trim(),
      file: m[4]!,
      body: Buffer.from(m[5]!, "base64").toString("utf8"),
    });
  }
  return out;
}

/** What a page says, as a reader sees it (no tags, entities decoded). */
const text = (page: string): string =>
  page
    .replace(/<style>[\s\S]*?<\/style>/, "")
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");

/**
 * Every count the page writes in prose has its noun in the right number: "1 server",
 * "2 servers", never "1 servers" or "2 server".
 */
function assertPlurals(page: string): number {
  const nouns =
    "Redis node|server|target|scan|session|address|place|day|version string|class|command|byte|version";
  let checked = 0;
  for (const m of text(page).matchAll(
    new RegExp(
      `(?<![\\d.,])(\\d[\\d,]*) (?:open |more |different |redis |valkey )?(${nouns})(es|s)?\\b`,
      "g",
    ),
  )) {
    const one = m[1] === "1";
    assert.equal(m[3] === undefined, one, `number agreement: "${m[0]}"`);
    checked++;
  }
  return checked;
}

const quiet = new WeakMap<Page, { url: string; requests: string[]; messages: string[] }>();

/** Since it opened, the tab requested nothing but its file and logged nothing. */
function assertQuiet(page: Page): void {
  const q = quiet.get(page)!;
  assert.deepEqual(q.requests, [q.url], "the file itself, nothing else");
  assert.deepEqual(q.messages, [], "no dialog or console message");
}

/**
 * No element or attribute in the live DOM that data could have made: the only elements are
 * the ones our markup has, no attribute is an event handler, and the only link is a figure's
 * download of its own SVG.
 */
async function assertNoInjection(page: Page): Promise<void> {
  const found = (await page.evaluate(`(() => {
    const allowed = new Set(${JSON.stringify([...ALLOWED_TAGS])});
    const bad = [];
    for (const el of document.querySelectorAll("*")) {
      const name = el.localName.toLowerCase();
      if (!allowed.has(name)) bad.push("element " + name);
      for (const a of el.attributes) {
        if (/^on/i.test(a.name) || /^(src|srcset|action|formaction|xlink:href)$/i.test(a.name)) {
          bad.push(name + "[" + a.name + "]");
        }
        if (a.name === "href" && !(name === "a" && a.value.startsWith("data:image/svg+xml;base64,"))) {
          bad.push(name + "[href=" + a.value.slice(0, 40) + "]");
        }
      }
    }
    // An <svg> inside a chart's <svg> would be one a label opened.
    if (document.querySelectorAll("svg svg").length > 0) bad.push("nested svg");
    return bad;
  })()`)) as string[];
  assert.deepEqual(found, []);
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
  quiet.set(page, { url, requests, messages });
  assertQuiet(page);
  assert.equal(await page.evaluate("document.querySelectorAll('script').length"), 0);
  assert.equal(await page.evaluate("window.__alerted"), false);
  return page;
}

let html = "";

before(async () => {
  const store = await openStore(DB);
  try {
    for (const [id, startedAt, opened] of [
      ["oldest", "2026-09-01T10:00:00.000Z", 10],
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
  const run = await runCli([
    "report",
    "newer",
    "--reference",
    "nicer-2020",
    "--format",
    "html",
    "-o",
    PAGE,
    "--db",
    DB,
  ]);
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
    // Every scan and publication on the time axis, a scan's time under its date.
    for (const at of [
      "2017",
      "2018",
      "2020-04",
      "2020-04-02",
      "2026-09-01",
      "2026-10-01",
      "2026-11-21",
    ]) {
      assert.match(trend, new RegExp(`<text[^>]*>${at}</text>`), at);
    }
    assert.match(trend, /<text[^>]*>10:00<\/text>/);
  });

  test("figures: numbered, each with a caption stating N, axis titles and ticks, and its SVG as a file", () => {
    const figs = figures(html);
    assert.equal(figs.length, 4);
    const [states, versions, clouds, trend] = figs as [
      (typeof figs)[0],
      (typeof figs)[0],
      (typeof figs)[0],
      (typeof figs)[0],
    ];
    // 24 open, 20 auth, 10 protected, 2 error: 56 Redis nodes among 64 + 300 targets.
    assert.match(
      states.caption,
      /^Figure 1\. Security state: .*56 Redis nodes.*\(N = 56 and 364\)$/,
    );
    assert.match(
      versions.caption,
      /^Figure 2\. Versions per product \(redis 22, valkey 2\) among 24 servers whose version was read \(N = 24\)$/,
    );
    assert.match(
      clouds.caption,
      /^Figure 3\. Servers per cloud provider, region and service, .*\(N = \d+\)$/,
    );
    assert.match(
      trend.caption,
      /^Figure 4\. Servers per state in 3 scans of the same target space, .*closed, timed-out.* on a scale of their own; dashed, on the right-hand scale: counts of open servers published for the whole internet \(NICER 2020\) \(N = 364 targets per scan\)$/,
    );
    const axisNames: Array<[string, string[]]> = [
      ["states", ["Redis nodes", "targets"]],
      ["versions", ["servers", "product and version"]],
      ["clouds", ["servers", "provider, region, service"]],
      [
        "trend",
        [
          "servers in these targets",
          "published, internet-wide",
          "targets",
          "scan start (UTC), or date published",
        ],
      ],
    ];
    for (const [i, f] of figs.entries()) {
      const [name, axes] = axisNames[i]!;
      assert.equal(f.file, `redscope-newer-figure-${i + 1}-${name}.svg`);
      for (const axis of axes)
        assert.match(
          f.svg,
          new RegExp(`<text[^>]*>${axis.replace(/[()]/g, "\\$&")}</text>`),
          `${name}: axis title ${axis}`,
        );
      // Tick values: at least 0 and one more number on a value axis.
      assert.match(f.svg, /<text[^>]*>0<\/text>/, `${name}: ticks`);
      // The file: the same inert SVG, with its namespace and the caption as its title.
      assert.ok(
        f.body.startsWith(
          '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"',
        ),
        name,
      );
      assert.equal(
        f.body,
        `<?xml version="1.0" encoding="UTF-8"?>\n${f.svg
          .replace(/^<svg/, '<svg xmlns="http://www.w3.org/2000/svg"')
          .replace(/^(<svg[^>]*>)/, `$1<title>${f.caption}</title>`)}\n`,
      );
    }
  });

  test("tables: numbered in order, their notes as captions; no literal backtick, `code` as <code>", () => {
    const numbers = [...html.matchAll(/<caption><span class="label">Table (\d+)\.<\/span>/g)].map(
      (m) => Number(m[1]),
    );
    assert.ok(numbers.length >= 10, `tables: ${numbers.length}`);
    assert.deepEqual(
      numbers,
      numbers.map((_, i) => i + 1),
    );
    assert.match(
      html,
      /<caption><span class="label">Table 1\.<\/span> Percent of the 56 Redis nodes found, as the study counted; not counted: 364 targets probed/,
    );
    // The CVE table's note names a command in Markdown backticks.
    assert.match(html, /By version alone: .*\(see <code>redscope intel cves<\/code>\)/);
    // The one backtick left is data: a stored country code, shown as it was.
    assert.deepEqual(html.match(/`/g), ["`"]);
    assert.ok(html.includes("<td>&lt;i&gt;?&#39;`</td>"));
  });

  test("country names beside their codes", () => {
    for (const c of ["United States (US)", "Germany (DE)", "Netherlands (NL)"]) {
      assert.match(
        html,
        new RegExp(`<td>${c.replace(/[()]/g, "\\$&")}</td><td class="num">\\d+</td>`),
        c,
      );
    }
  });

  test("singular and plural agree with every count written", () => {
    assert.ok(assertPlurals(html) > 10);
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

      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.ok(fs.statSync(SCREENSHOT).size > 10_000, "screenshot written");
    } finally {
      await browser.close();
    }
  });

  test("hostile strings in every table and chart label: no element made of them, their text shown", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await openQuietly(browser, PAGE);
      await assertNoInjection(page);
      const cells = await page.locator("td").allTextContents();
      for (const shown of [
        "7.0.15<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "</style><script>alert(2)</script>",
        "{{7*7}}",
        // Bidi override and ESC shown as "?", as on a terminal.
        "?exe.txt?[31m",
        "<i>?'`",
      ]) {
        assert.ok(cells.includes(shown), `a cell shows ${shown}`);
      }
      const labels = await page.locator("svg text").allTextContents();
      for (const shown of [
        "redis 7.0.15<script>alert(1)</s…",
        'aws "><svg onload=alert(1)> </s…',
        "gcp ?exe.txt?[31m {{7*7}}",
      ]) {
        assert.ok(labels.includes(shown), `a chart label shows ${shown}`);
      }
      for (const caption of await page.locator("figcaption, caption, .note").allTextContents()) {
        assert.ok(!caption.includes("`"), `no Markdown backtick in ${caption.slice(0, 80)}`);
      }
    } finally {
      await browser.close();
    }
  });

  test("each figure downloads as its own SVG file, which Chromium opens as SVG", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await openQuietly(browser, PAGE);
      const links = page.locator("figcaption a.download");
      assert.equal(await links.count(), 4);
      for (let i = 0; i < 4; i++) {
        const [download] = await Promise.all([page.waitForEvent("download"), links.nth(i).click()]);
        const name = download.suggestedFilename();
        assert.match(name, new RegExp(`^redscope-newer-figure-${i + 1}-[a-z]+\\.svg$`));
        const saved = path.join(tmp, name);
        await download.saveAs(saved);
        const svg = fs.readFileSync(saved, "utf8");
        assert.match(
          svg,
          /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
        );
        const tab = await browser.newPage();
        try {
          await tab.goto(pathToFileURL(saved).href);
          const doc = (await tab.evaluate(`({
            root: document.documentElement.namespaceURI,
            errors: document.getElementsByTagName("parsererror").length,
            title: document.querySelector("title")?.textContent ?? "",
            texts: document.querySelectorAll("text").length,
            scripts: document.querySelectorAll("script, foreignObject, [onload]").length,
          })`)) as { root: string; errors: number; title: string; texts: number; scripts: number };
          assert.equal(doc.root, "http://www.w3.org/2000/svg");
          assert.equal(doc.errors, 0);
          assert.equal(doc.scripts, 0);
          assert.match(doc.title, new RegExp(`^Figure ${i + 1}\\. .*\\(N = \\d`));
          assert.ok(doc.texts > 5, `figure ${i + 1} has its labels`);
        } finally {
          await tab.close();
        }
      }
      // Downloads, not navigations: the report is still the page, and nothing was fetched.
      assert.equal(page.url(), pathToFileURL(PAGE).href);
      assertQuiet(page);
    } finally {
      await browser.close();
    }
  });

  test("trend: closed ports on a scale of their own, below the Redis-protocol states", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await openQuietly(browser, PAGE);
      const trend = page.locator("#trends figure svg");
      const box = (await trend.boundingBox())!;
      const texts = await trend.locator("text").evaluateAll((els) =>
        els.map((e) => {
          const b = e.getBoundingClientRect();
          return {
            t: e.textContent ?? "",
            anchor: e.getAttribute("text-anchor"),
            x: b.left + b.width / 2,
            y: b.top + b.height / 2,
          };
        }),
      );
      const at = (t: string): number => {
        const found = texts.find((x) => x.t === t);
        assert.ok(found, `text ${t}`);
        return found.y;
      };
      const upper = at("Redis-protocol servers, per state");
      const lower = at("Targets with no Redis-protocol answer, on their own scale");
      assert.ok(upper < lower);
      // Tick labels: a left-hand axis's end at the axis, a right-hand one's start there (the
      // values on the points are centred on them).
      const ticks = (from: number, to: number, side: "left" | "right"): number[] =>
        texts
          .filter((x) => /^[\d,]+$/.test(x.t) && x.y > from && x.y < to)
          .filter((x) =>
            side === "left"
              ? x.anchor === "end" && x.x < box.x + box.width / 2
              : x.anchor === "start" && x.x > box.x + box.width / 2,
          )
          .map((x) => Number(x.t.replaceAll(",", "")));
      const redisTicks = ticks(upper, lower, "left");
      const otherTicks = ticks(lower, box.y + box.height, "left");
      const publishedTicks = ticks(upper, lower, "right");
      // Up to 34 open and 20 auth per scan above; 300 closed and 8 timeouts below.
      const top = Math.max(...redisTicks);
      assert.ok(top >= 34 && top < 100, `Redis-protocol scale ${redisTicks}`);
      assert.ok(Math.max(...otherTicks) >= CLOSED, `the other targets' scale ${otherTicks}`);
      assert.ok(Math.max(...publishedTicks) >= 17_443, `published scale ${publishedTicks}`);
    } finally {
      await browser.close();
    }
  });
});

describe("report --honeypot --format html", () => {
  const db = path.join(tmp, "honeypot.db");
  const file = path.join(tmp, "honeypot.html");
  const shot = path.join(SCREENSHOTS, "report-honeypot.png");
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
              : i === 1
                ? [{ class: HOSTILE.attr, attack: [HOSTILE.img], evidence: [] }]
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
    const figs = figures(page);
    assert.deepEqual(
      figs.map((f) => f.file),
      [
        "redscope-honeypot-figure-1-sessions-per-day.svg",
        "redscope-honeypot-figure-2-attack-classes.svg",
      ],
    );
    assert.match(
      figs[0]!.caption,
      /^Figure 1\. Honeypot sessions per day \(UTC\), those with an attack in red, over 3 days \(N = 30 sessions\)$/,
    );
    assert.match(
      figs[1]!.caption,
      /^Figure 2\. Honeypot sessions per attack class, 4 classes; .*\(N = 30 sessions\)$/,
    );
    assert.match(figs[0]!.svg, /<text[^>]*>day \(UTC\)<\/text>/);
    assert.match(figs[0]!.svg, /<text[^>]*>sessions<\/text>/);
    assert.match(figs[1]!.svg, /<text[^>]*>attack class<\/text>/);
    assert.ok(assertPlurals(page) >= 3);
  });

  test("Chromium: no request, script or dialog; charts drawn; screenshot", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const tab = await openQuietly(browser, file);
      await assertNoInjection(tab);
      // The only links: each figure's SVG, as a download.
      assert.equal(await tab.locator("a").count(), 2);
      assert.equal(
        await tab.locator("figcaption a.download[href^='data:image/svg+xml;base64,']").count(),
        2,
      );
      const labels = await tab.locator("svg text").allTextContents();
      assert.ok(
        labels.includes('"><svg onload=alert(1)>'),
        "a stored attack class, as a chart label",
      );
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

describe("counts of one: singular everywhere", () => {
  test("one target, one open server, one session", async () => {
    const db = path.join(tmp, "one.db");
    const store = await openStore(db);
    let scanPage = "";
    let honeypotPage = "";
    try {
      await store.beginScan(testScan("one", "2026-11-21T10:00:00.000Z"));
      await store.beginShard({
        scanId: "one",
        shard: "0/1",
        startedAt: "2026-11-21T10:00:00.000Z",
      });
      await store.insertResults("one", [
        {
          ip: "192.0.2.1",
          port: 6379,
          transport: "tcp",
          time: "2026-11-21T10:00:00.000Z",
          shard: "0/1",
          state: "open",
          nicer: "Returned version",
          country: "DE",
          cloud: { provider: "aws", region: "eu-central-1", service: "EC2" },
          server: { product: "redis", version: "6.2.6", role: "master" },
          cves: [{ id: "CVE-2024-31449", cvss: 7, fixed_in: "7.2.6" }],
        },
      ]);
      await store.finishShard("one", "0/1", await store.stateCounts("one"));
      const report = await buildReport(store, (await store.getScan("one"))!);
      scanPage = renderHtml(report);
      await store.upsertHoneypotSessions([
        {
          id: "s1",
          sensor: "sensor-1",
          listener: "127.0.0.1:6379",
          persona: "redis-5.0-open",
          srcIp: "198.51.100.1",
          srcPort: 40000,
          startedAt: "2026-11-18T10:00:00.000Z",
          endedAt: "2026-11-18T10:00:05.000Z",
          bytesIn: 1,
          bytesOut: 1,
          commands: 1,
          classes: "scan",
          record: { findings: [{ class: "scan", attack: ["T1595.001"], evidence: [] }] } as never,
        },
      ]);
      const h = await buildHoneypotReport(store, {});
      honeypotPage = renderHoneypotHtml(h, "all", "2026-11-21T10:00:00.000Z");
    } finally {
      await store.close();
    }
    const words = text(scanPage);
    for (const one of [
      "1 Redis node found",
      "1 target probed",
      "1 server whose version was read",
      "1 different version string",
      "1 server in the 1 place listed",
    ]) {
      assert.ok(words.includes(one), one);
    }
    assert.ok(assertPlurals(scanPage) >= 5);
    const hp = text(honeypotPage);
    assert.ok(hp.includes("1 session from 1 address, 1 command"), hp.slice(0, 2000));
    assert.ok(hp.includes("over 1 day (N = 1 session)"));
    assert.ok(assertPlurals(honeypotPage) >= 4);
  });
});
