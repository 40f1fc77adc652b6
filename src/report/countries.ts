/**
 * Country names for the codes the store keeps (ISO 3166-1 alpha-2, as MaxMind and Shodan give
 * them): "Germany (DE)". Names come from the ICU data built into Node (`Intl.DisplayNames`),
 * in English, the report's language. The code stays beside the name: it is what filters,
 * exports and other tools use, and names differ between sources.
 */

let names: Intl.DisplayNames | undefined;

/**
 * "Germany (DE)" for "DE"; a code ICU has no name for (a stored string may be anything an
 * imported file said) comes back as it was, and "" stays "".
 */
export function countryName(code: string): string {
  const c = code.trim().toUpperCase();
  // DisplayNames throws on what is not a region subtag; only two letters are looked up.
  if (!/^[A-Z]{2}$/.test(c)) return code;
  names ??= new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });
  let name: string | undefined;
  try {
    name = names.of(c);
  } catch {
    name = undefined;
  }
  return name === undefined || name === c ? code : `${name} (${c})`;
}
