/**
 * Streaming targets (`scan --stream`): lines arrive while the scan runs — the two-stage
 * `zmap … | redscope scan -iL - --stream` pipeline — and are probed in arrival order (zmap's
 * output is already randomised). Same formats, blocklist and excludes as a file; a bad line is
 * reported and skipped rather than ending a long pipeline. Memory is bounded by the queue, which
 * the caller keeps short by pausing its input (see `backlog`).
 */

import { findInterval, type Interval, mergeIntervals } from "../net/intervals.js";
import { formatIpv4, parseIpv4 } from "../net/ip.js";
import { Blocklist, type ReservedAllowance } from "./blocklist.js";
import { TargetSpecError } from "./errors.js";
import { buildTargetSpace, type Target } from "./space.js";
import { type AddressRange, emptyTargetInput, TargetLineParser } from "./spec.js";

export interface StreamTargetOptions {
  ports: readonly number[];
  allowReserved: ReservedAllowance;
  exclude: readonly AddressRange[];
  sourceName: string;
  /** Told about every line that is skipped, with a one-line reason. */
  onSkip: (message: string) => void;
}

/** Targets of one line, handed out by index. */
interface LineTargets {
  size: bigint;
  at(index: bigint): Target;
}

export class StreamTargets {
  private readonly parser: TargetLineParser;
  /** Line spaces not yet fully handed out (a CIDR line expands lazily). */
  private readonly pending: Array<{ space: LineTargets; next: bigint }> = [];
  private queued = 0n;
  private readonly exclude4: Interval[];
  private readonly blocklist: Blocklist;
  private lineNo = 0;
  skippedLines = 0;
  ended = false;

  constructor(private readonly opts: StreamTargetOptions) {
    this.parser = new TargetLineParser(opts.sourceName);
    this.exclude4 = mergeIntervals(opts.exclude.filter((r) => r.family === 4));
    this.blocklist = new Blocklist(opts.allowReserved);
  }

  /** Targets accepted but not yet handed out. */
  get backlog(): bigint {
    return this.queued;
  }

  addLine(line: string): void {
    this.lineNo++;
    // Fast path: a bare IPv4 address, which is all zmap prints by default.
    const v4 = parseIpv4(line.trim());
    if (v4 !== undefined) {
      this.addIpv4(v4, line.trim());
      return;
    }
    const input = emptyTargetInput();
    try {
      this.parser.line(line, this.lineNo, input);
      if (input.hostnames.length > 0) {
        throw new TargetSpecError(
          `${this.opts.sourceName}:${this.lineNo}: hostnames are not resolved in --stream mode`,
        );
      }
      if (input.ranges.length + input.pairs.length === 0) return;
      this.enqueue(buildTargetSpace(input, this.opts.ports, this.opts));
    } catch (e) {
      if (!(e instanceof TargetSpecError)) throw e;
      this.skippedLines++;
      this.opts.onSkip(e.message);
    }
  }

  /** A line that could not be read (too long): counted and reported like a bad one. */
  skipLine(reason: string): void {
    this.lineNo++;
    this.skippedLines++;
    this.opts.onSkip(`${this.opts.sourceName}:${this.lineNo}: ${reason}; skipped`);
  }

  private addIpv4(v4: number, text: string): void {
    const value = BigInt(v4);
    const r = this.blocklist.entryFor(4, value);
    if (r) {
      this.skippedLines++;
      this.opts.onSkip(
        `${this.opts.sourceName}:${this.lineNo}: ${text} is in ${r.cidr} (${r.name}); skipped (--allow-reserved ${r.cidr} to scan it)`,
      );
      return;
    }
    if (findInterval(this.exclude4, value) >= 0) return;
    const ip = formatIpv4(v4);
    const ports = this.opts.ports;
    this.enqueue({
      size: BigInt(ports.length),
      at: (i: bigint): Target => ({ ip, port: ports[Number(i)]!, family: 4 }),
    });
  }

  private enqueue(space: LineTargets): void {
    if (space.size === 0n) return;
    this.pending.push({ space, next: 0n });
    this.queued += space.size;
  }

  /** The next target, or undefined when none is queued right now (see `ended`). */
  next(): Target | undefined {
    const head = this.pending[0];
    if (head === undefined) return undefined;
    const t = head.space.at(head.next);
    head.next++;
    this.queued--;
    if (head.next >= head.space.size) this.pending.shift();
    return t;
  }
}
