/**
 * The one policy for attacker-controlled text. What a scanned server, a honeypot visitor or a
 * downloaded file says ends up in records, terminals, HTML and logs; each destination has a
 * form here, all built on one definition of what is unsafe:
 *
 * - record   (JSONL, SQL, the values reports read): unsafe code points escaped as `\xHH`/`\uHHHH`,
 *            so nothing is lost; cut to a bound.
 * - label    (a name matched and shown, such as a cloud region): unsafe code points dropped.
 * - terminal (tables, status lines): unsafe code points as `?`, long text cut with `…`.
 * - html     (reports, the dashboard): the terminal form, then HTML-escaped.
 * - log      (the operator's one-line log of what a visitor did): printable ASCII only.
 *
 * HTML escaping is the renderer's last step, never the record's: a terminal report must show
 * `<script>` as the server wrote it.
 */

/** Longest `error` / short fact string kept in a result. */
export const MAX_ERROR_CHARS = 256;

/**
 * Code points that must not reach a terminal or a log viewer raw: C0 controls (incl. ESC, CR,
 * LF, TAB), DEL, C1 controls, line/paragraph separators, bidi embedding/override/isolate marks
 * (Trojan Source), zero-width no-break space, and lone surrogates.
 */
export function isUnsafe(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    (cp >= 0x200e && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

/** isUnsafe's set as a regex (kept in step with it; a test checks): one match, and every one. */
const UNSAFE_SET =
  "[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufeff]|\\p{Cs}";
const UNSAFE = new RegExp(UNSAFE_SET, "u");
const UNSAFE_ALL = new RegExp(UNSAFE_SET, "gu");

function escapeCodePoint(cp: number): string {
  return cp <= 0xff
    ? "\\x" + cp.toString(16).padStart(2, "0")
    : "\\u" + cp.toString(16).padStart(4, "0");
}

/** `s` cut to at most `max` UTF-16 units, never in the middle of a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return s.slice(0, end);
}

/**
 * The record form: `s` with unsafe code points written as `\xHH` / `\uHHHH`, cut to at most
 * `max` UTF-16 units. An escape is never cut in half. Cost is bounded by `max`, not `s.length`.
 */
export function safeText(s: string, max = MAX_ERROR_CHARS): string {
  // Almost every string is plain printable text: return it (or its head) without rebuilding
  // it a character at a time.
  if (s.length <= max ? !UNSAFE.test(s) : !UNSAFE.test(s.slice(0, max + 1))) return cut(s, max);
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const piece = isUnsafe(cp) ? escapeCodePoint(cp) : ch;
    if (out.length + piece.length > max) break;
    out += piece;
    if (out.length === max) break;
  }
  return out;
}

/** The label form: unsafe code points dropped, surrounding space trimmed, cut to `max`. */
export function labelText(s: string, max: number): string {
  return cut(
    s
      .slice(0, 4 * max)
      .replace(UNSAFE_ALL, "")
      .trim(),
    max,
  );
}

/** The terminal form: unsafe code points as `?`; longer than `max`, cut and ended with `…`. */
export function terminalText(s: string, max = 80): string {
  const clean = s.replace(UNSAFE_ALL, "?");
  return clean.length > max ? `${cut(clean, max - 1)}…` : clean;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** HTML-escaped (text and attribute values alike). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** The HTML form: the terminal form, escaped. */
export function htmlText(s: string, max = 300): string {
  return escapeHtml(terminalText(s, max));
}

/** The log form: printable ASCII only (anything else as `?`), cut to `max`. */
export function logText(s: string, max = 100): string {
  return s.slice(0, max).replace(/[^\x20-\x7e]/g, "?");
}
