/**
 * The public references the dashboard links ids to, and the search links it writes: the
 * shipped functions, read back with the shipped query parser.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { attackReference, cveReference } from "../src/report/links.js";
import { parseQuery } from "../src/report/query.js";
import { exportHref, searchHref } from "../src/serve/pages.js";

test("CVE and ATT&CK ids lead to NVD and MITRE; anything else to nowhere", () => {
  assert.equal(cveReference("CVE-2025-49844"), "https://nvd.nist.gov/vuln/detail/CVE-2025-49844");
  assert.equal(attackReference("T1190"), "https://attack.mitre.org/techniques/T1190/");
  assert.equal(attackReference("T1053.003"), "https://attack.mitre.org/techniques/T1053/003/");
  for (const bad of ["CVE-2025-1", "cve-2025-49844", "CVE-2025-49844/../x", "javascript:x", ""])
    assert.equal(cveReference(bad), undefined, bad);
  for (const bad of ["T119", "T1053.3", "T1053.003/x", "t1190", "https://evil.example/"])
    assert.equal(attackReference(bad), undefined, bad);
});

test("search and export links carry the whole filter in q=, read back as the same query", () => {
  const q = {
    state: "open",
    versionRange: { op: "<" as const, version: "6" },
    country: "DE",
    text: "a b",
  };
  const u = new URL(searchHref("scan 1", q), "http://x.invalid");
  assert.equal(u.pathname, "/search");
  assert.equal(u.searchParams.get("scan"), "scan 1");
  assert.deepEqual(parseQuery(u.searchParams.get("q")!), q);
  assert.equal(
    exportHref("new", { state: "open", country: "DE" }, "jsonl"),
    "/export?scan=new&q=state%3Aopen+country%3ADE&format=jsonl",
  );
});
