/**
 * A problem with what the user asked to scan: a malformed address, port, range, shard or seed,
 * or a target inside the default blocklist. The message is one line, meant to be printed as is
 * (it names the offending token, where it came from when known, and why it was refused).
 */
export class TargetSpecError extends Error {
  override readonly name = "TargetSpecError";
}

/**
 * A token for an error message: in double quotes, cut at 80 characters, with control
 * characters, quotes and backslashes escaped — target files and stdin may hold anything, and a
 * message must stay one harmless line on a terminal.
 */
export function quote(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  let out = '"';
  for (const ch of cut) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}
