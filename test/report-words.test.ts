/**
 * The report's words: a count's noun in the right number, and a country's name beside its
 * code (from the ICU data built into Node), whatever a stored country field holds.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countryName } from "../src/report/countries.js";
import { count, plural } from "../src/report/plural.js";

describe("plural and count", () => {
  test("singular for exactly one, plural otherwise", () => {
    assert.equal(count(1, "server"), "1 server");
    assert.equal(count(0, "server"), "0 servers");
    assert.equal(count(2, "server"), "2 servers");
    assert.equal(count(1, "address", "addresses"), "1 address");
    assert.equal(count(3, "address", "addresses"), "3 addresses");
    assert.equal(plural(1.5, "server"), "servers");
    assert.equal(plural(-1, "server"), "servers");
    assert.equal(
      count(12345, "server", undefined, (n) => n.toLocaleString("en-US")),
      "12,345 servers",
    );
  });
});

describe("countryName", () => {
  test("English name, code beside it; case of the code does not matter", () => {
    assert.equal(countryName("DE"), "Germany (DE)");
    assert.equal(countryName("de"), "Germany (DE)");
    assert.equal(countryName("US"), "United States (US)");
    assert.equal(countryName("XK"), "Kosovo (XK)");
  });

  test("what is not a known two-letter code comes back as it was", () => {
    for (const code of ["", "A1", "O1", "DEU", "276", "<i>", "D\u202eE", "QQ", "-"]) {
      assert.equal(countryName(code), code, JSON.stringify(code));
    }
  });
});
