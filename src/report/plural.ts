/**
 * The one rule for a count written in a report's prose: the noun in the right number ("1 server",
 * "2 servers", "0 servers"). Every note, caption and heading that says how many goes through
 * here, so no "1 servers" is left in any format.
 */

/** The noun alone, singular for exactly one: `plural(2, "server")` is "servers". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** The count and its noun: `count(1, "server")` is "1 server"; `format` writes the number. */
export function count(
  n: number,
  one: string,
  many = `${one}s`,
  format: (n: number) => string = String,
): string {
  return `${format(n)} ${plural(n, one, many)}`;
}
