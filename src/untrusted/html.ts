/**
 * The one way HTML is written: a tagged template that escapes every interpolated value unless
 * it is already `Html`. Pages and reports build markup only with `html\`…\``, so forgetting to
 * escape is not possible: a plain string is always text.
 *
 *   html`<td class="${cls}">${value}</td>`          value and cls escaped
 *   html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`   arrays joined, Html kept
 *   html`<pre>${preText(json)}</pre>`               newlines and tabs kept, other controls `?`
 *   trustedHtml(svg)                                markup made by our own code (charts, CSS)
 *
 * An interpolated string goes through the terminal form of the text policy (unsafe code points
 * as `?`, no cut: cut with `terminalText(s, max)` first where a cell must stay short), then is
 * escaped for text and quoted attribute values alike. `null`, `undefined` and `false` write
 * nothing; numbers and `true` write their decimal form.
 */
import { escapeHtml, terminalText } from "./text.js";

/** Markup that is safe to write as it is: made by `html`, `preText` or `trustedHtml`. */
export class Html {
  readonly #markup: string;
  constructor(markup: string) {
    this.#markup = markup;
  }
  toString(): string {
    return this.#markup;
  }
}

export type HtmlValue =
  | Html
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | readonly HtmlValue[];

function write(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof Html) return v.toString();
  if (typeof v === "string") return escapeHtml(terminalText(v, Number.POSITIVE_INFINITY));
  if (typeof v === "number" || typeof v === "bigint" || v === true) return String(v);
  let out = "";
  for (const item of v) out += write(item);
  return out;
}

/** The tag: literal parts as written, every value escaped unless it is `Html`. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += write(values[i]) + (strings[i + 1] ?? "");
  return new Html(out);
}

/** Values joined with `sep` (itself a literal), each escaped unless it is `Html`. */
export function joinHtml(values: readonly HtmlValue[], sep: string): Html {
  return new Html(values.map(write).join(sep));
}

/**
 * Text for a `<pre>` block: line breaks and tabs kept (as JSON pretty-printing writes them),
 * every other unsafe code point as `?`, then escaped.
 */
export function preText(s: string): Html {
  return new Html(
    s
      .split(/\r?\n/)
      .map((line) =>
        line
          .split("\t")
          .map((part) => escapeHtml(terminalText(part, Number.POSITIVE_INFINITY)))
          .join("\t"),
      )
      .join("\n"),
  );
}

/**
 * Markup our own code made and vouches for (a chart's SVG, the stylesheet, a script). Never
 * pass it a value that came from a server, a visitor or a stored record.
 */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}
