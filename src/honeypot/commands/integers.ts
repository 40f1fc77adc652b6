/**
 * Integer arguments as handlers read them.
 */

/**
 * A decimal integer of at most 16 digits (exact in a JS number), as the connection, replication
 * and scripting commands read theirs (protocol versions, ports, client ids, numkeys).
 */
export function parseInteger(text: string): number | undefined {
  return /^(0|-?[1-9][0-9]{0,15})$/.test(text) ? Number(text) : undefined;
}
