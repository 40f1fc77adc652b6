import assert from "node:assert/strict";
import { test } from "node:test";
import { Html, html, joinHtml, preText, trustedHtml } from "../src/untrusted/html.js";

test("html: every interpolated string is escaped, in text and in attributes", () => {
  const evil = `"><script>alert('x')</script>&`;
  const out = html`<a title="${evil}">${evil}</a>`.toString();
  assert.equal(
    out,
    `<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</a>`,
  );
  assert.ok(!out.includes("<script>"));
});

test("html: control characters and bidi marks become ?, nothing is cut", () => {
  const long = "a".repeat(5000);
  assert.equal(html`${"a\u001b[31mb\u202ec\nd"}`.toString(), "a?[31mb?c?d");
  assert.equal(html`${long}`.toString(), long);
});

test("html: Html values are kept, arrays joined, null/undefined/false write nothing", () => {
  const rows = ["<1>", "2"].map((x) => html`<li>${x}</li>`);
  assert.equal(html`<ul>${rows}</ul>`.toString(), "<ul><li>&lt;1&gt;</li><li>2</li></ul>");
  assert.equal(html`${null}${undefined}${false}${0}${true}${12n}`.toString(), "0true12");
  assert.equal(joinHtml(["<a>", html`<b>`], ", ").toString(), "&lt;a&gt;, <b>");
  assert.ok(html`x` instanceof Html);
  assert.equal(String(trustedHtml("<svg></svg>")), "<svg></svg>");
});

test("preText keeps line breaks and tabs of pretty-printed JSON, escapes the rest", () => {
  const json = JSON.stringify({ a: "<x>", b: [1] }, null, 2);
  assert.equal(
    preText(json).toString(),
    "{\n  &quot;a&quot;: &quot;&lt;x&gt;&quot;,\n  &quot;b&quot;: [\n    1\n  ]\n}",
  );
  assert.equal(preText("a\tb\r\nc\u0007").toString(), "a\tb\nc?");
});
