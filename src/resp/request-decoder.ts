import { ChunkDecoder, describeByte } from "./chunk-decoder.js";
import { splitArgs } from "./inline.js";
import { DEFAULT_REQUEST_LIMITS, resolveLimits } from "./limits.js";
import { parseLength } from "./numbers.js";
import type { DecoderLimits, RespCommand } from "./types.js";

const STAR = 0x2a;
const DOLLAR = 0x24;

/** At the first byte of a command: `*` starts a multibulk, anything else an inline line. */
const AT_COMMAND = 0;
const IN_INLINE = 1;
/** The `*<count>` line. */
const IN_COUNT = 2;
/** At the `$` of the next argument. */
const AT_ARG = 3;
/** The `$<length>` line. */
const IN_ARG_LENGTH = 4;
const IN_ARG = 5;
type Phase =
  | typeof AT_COMMAND
  | typeof IN_INLINE
  | typeof IN_COUNT
  | typeof AT_ARG
  | typeof IN_ARG_LENGTH
  | typeof IN_ARG;

/**
 * Decodes what a client sends to a server, the way Redis's processInputBuffer does: multibulk
 * arrays of bulk strings, or inline lines split like sdssplitargs. `*0` and negative counts are
 * skipped, as are empty inline lines. maxDepth does not apply: a multibulk element that is not
 * `$` is already an error. One deliberate difference: Redis skips the two bytes after a header
 * or payload without looking at them; here they must be CR LF (bad_terminator otherwise).
 *
 * Arguments are copies, never views of a pushed chunk: a honeypot keeps them (keys, values,
 * payloads) long after the chunk, and a 3-byte key must not pin a 64 KiB socket read.
 */
export class RequestDecoder extends ChunkDecoder<RespCommand> {
  private phase: Phase = AT_COMMAND;
  private args: Buffer[] = [];
  private left = 0;

  constructor(limits?: Partial<DecoderLimits>) {
    super(resolveLimits(DEFAULT_REQUEST_LIMITS, limits));
  }

  protected decode(chunk: Buffer, out: RespCommand[]): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.phase) {
        case AT_COMMAND:
          this.start = this.pos + i;
          if (chunk[i] === STAR) {
            this.phase = IN_COUNT;
            this.lineAt = this.pos + i + 1;
            i++;
          } else {
            this.phase = IN_INLINE;
            this.lineAt = this.pos + i;
          }
          break;

        case IN_INLINE: {
          i = this.readInlineLine(chunk, i);
          if (i < 0) return;
          const args = splitArgs(this.line.subarray(this.lineFrom, this.lineTo));
          if (args === null) {
            throw this.fail("unbalanced_quotes", "unbalanced quotes in request", this.lineAt);
          }
          this.endCommand();
          if (args.length > 0) out.push({ args, inline: true });
          break;
        }

        case IN_COUNT: {
          i = this.readLine(chunk, i);
          if (i < 0) return;
          const count = parseLength(this.line, this.lineFrom, this.lineTo);
          if (Number.isNaN(count)) {
            throw this.fail("bad_length", "invalid multibulk length", this.lineAt);
          }
          if (count > this.limits.maxElements) {
            throw this.fail(
              "too_many_elements",
              `multibulk of ${count} arguments exceeds ${this.limits.maxElements}`,
              this.lineAt,
            );
          }
          if (count <= 0) {
            this.endCommand();
          } else {
            this.left = count;
            this.phase = AT_ARG;
          }
          break;
        }

        case AT_ARG:
          if (chunk[i] !== DOLLAR) {
            const got = describeByte(chunk[i]!);
            throw this.fail("invalid_type", `expected '$', got ${got}`, this.pos + i);
          }
          this.lineAt = this.pos + i + 1;
          this.phase = IN_ARG_LENGTH;
          i++;
          break;

        case IN_ARG_LENGTH: {
          i = this.readLine(chunk, i);
          if (i < 0) return;
          const length = parseLength(this.line, this.lineFrom, this.lineTo);
          if (!(length >= 0)) throw this.fail("bad_length", "invalid bulk length", this.lineAt);
          if (length > this.limits.maxBulkBytes) {
            throw this.fail(
              "bulk_too_large",
              `bulk of ${length} bytes exceeds ${this.limits.maxBulkBytes}`,
              this.lineAt,
            );
          }
          this.beginPayload(length);
          this.phase = IN_ARG;
          break;
        }

        case IN_ARG:
          i = this.readPayload(chunk, i, true);
          if (i < 0) return;
          this.args.push(this.payloadValue);
          if (--this.left > 0) {
            this.phase = AT_ARG;
          } else {
            out.push({ args: this.args, inline: false });
            this.endCommand();
          }
          break;
      }
    }
  }

  protected override release(): void {
    super.release();
    this.args = [];
  }

  private endCommand(): void {
    this.phase = AT_COMMAND;
    this.start = -1;
    this.args = [];
  }
}
