/**
 * Lines of a byte stream (an import file, `scan --stream`'s stdin), each at most `max` bytes:
 * a longer one is skipped up to its newline and reported with its length, so memory stays
 * bounded by `max` whatever the input, a 1 GB line without a newline included. A read error (a
 * truncated .gz) ends the stream with an error line; what came before is kept.
 */

export interface RawLine {
  line: number;
  text?: string;
  error?: string;
}

export async function* splitLines(
  input: AsyncIterable<Buffer>,
  max: number,
): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let over = false;
  let line = 0;
  const take = (): RawLine => {
    line++;
    if (over) return { line, error: `line too long: ${size} bytes (at most ${max})` };
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    if (buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    // A UTF-8 byte order mark on the first line is an editor's, not the record's.
    if (line === 1 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    return { line, text: buf.toString("utf8") };
  };
  try {
    for await (const chunk of input) {
      let start = 0;
      while (start < chunk.length) {
        const nl = chunk.indexOf(0x0a, start);
        const end = nl < 0 ? chunk.length : nl;
        if (!over) {
          if (size + end - start > max) {
            over = true;
            parts = [];
          } else if (end > start) parts.push(chunk.subarray(start, end));
        }
        size += end - start;
        if (nl < 0) break;
        yield take();
        parts = [];
        size = 0;
        over = false;
        start = nl + 1;
      }
    }
  } catch (e) {
    yield { line: line + 1, error: `read error: ${(e as Error).message}` };
    return;
  }
  if (size > 0) yield take();
}
