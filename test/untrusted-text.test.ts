/** untrusted/text.ts: the record form's fast path agrees with its definition of unsafe. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isUnsafe, safeText } from "../src/untrusted/text.js";

describe("safeText fast path", () => {
  /** The definition: walk code points, escape the unsafe ones, stop at `max` UTF-16 units. */
  // (isUnsafe is the predicate; the fast path's regex must agree with it.)
  function reference(s: string, max: number): string {
    let out = "";
    for (const ch of s) {
      const cp = ch.codePointAt(0) ?? 0;
      const piece = isUnsafe(cp)
        ? cp <= 0xff
          ? `\\x${cp.toString(16).padStart(2, "0")}`
          : `\\u${cp.toString(16).padStart(4, "0")}`
        : ch;
      if (out.length + piece.length > max) break;
      out += piece;
      if (out.length === max) break;
    }
    return out;
  }

  it("equals the code-point walk for any string and length", () => {
    const chars = fc.oneof(
      fc.constantFrom("a", "Z", " ", "\u0000", "\u001b", "\u007f", "\u0085", "\u2028", "\u202e"),
      fc.constantFrom("\u2067", "\ufeff", "\ud83d\ude00", "\ud83d", "\ude00", "é", "<", "\r", "\n"),
    );
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (parts, max) => {
          const s = parts.join("");
          assert.equal(safeText(s, max), reference(s, max));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
