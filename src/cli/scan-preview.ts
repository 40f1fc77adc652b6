/**
 * `redscope scan --list-targets` (nmap's -sL) and `--dry-run`: the scan's own targets, order and
 * counts, with nothing sent and nothing opened. Listing is `ip:port` a line (`[v6]:port`), the
 * form `-iL` reads back, so `--list-targets > t.txt` and `scan -iL t.txt` probe the same set.
 */
import { once } from "node:events";
import { endpointText } from "../net/ip.js";
import type { ScanConfig, ScanPreview } from "../usecases/scan.js";
import { formatDurationClock } from "./format.js";

/** Lines are written in chunks of about this many characters. */
const CHUNK_CHARS = 64 * 1024;
/** Steps of the permutation walked to count a shard's or a cap's share exactly (else estimated). */
const EXACT_COUNT_STEPS = 2n ** 25n;
/** Rules listed by name in a dry run; the rest are summed in one line. */
const RULES_SHOWN = 10;

/** Every target in scan order on `out`; stops quietly when the reader goes away (`| head`). */
export async function listTargets(p: ScanPreview, out: NodeJS.WritableStream): Promise<void> {
  let closed = false;
  const onError = (): void => {
    closed = true;
  };
  out.on("error", onError);
  const walk = p.walk();
  let chunk = "";
  try {
    for (;;) {
      const next = walk.next();
      if (next !== undefined) chunk += `${endpointText(next.target.ip, next.target.port)}\n`;
      if (chunk.length >= CHUNK_CHARS || (next === undefined && chunk !== "")) {
        if (!out.write(chunk)) await Promise.race([once(out, "drain"), once(out, "error")]);
        chunk = "";
      }
      if (next === undefined || closed) break;
    }
  } finally {
    out.off("error", onError);
  }
}

const n = (v: bigint | number): string => v.toLocaleString("en-US");
const plural = (v: bigint | number, one: string, many: string): string =>
  `${n(v)} ${BigInt(v) === 1n ? one : many}`;

/** Sorted ports as -p takes them, runs folded: 6379,7000-7005. */
function portsText(ports: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1] === ports[j]! + 1) j++;
    out.push(j > i ? `${ports[i]}-${ports[j]}` : String(ports[i]));
    i = j + 1;
  }
  return out.join(",");
}

/** 0.4 s, 12 s, 1:02:03 (h:mm:ss past a minute). */
function durationWords(ms: number): string {
  if (ms < 60_000) return `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
  return formatDurationClock(ms);
}

/** The dry run's counts, a `name: value` line each. */
export function showDryRun(p: ScanPreview, cfg: ScanConfig, out: NodeJS.WritableStream): void {
  const space = p.space;
  const lines: string[] = ["dry run: nothing sent, nothing stored"];
  const portCount = space.ports.length;
  lines.push(
    `targets: ${n(space.size)} (${plural(space.addressCount, "address", "addresses")} × ${plural(portCount, "port", "ports")}` +
      `${space.pairCount > 0 ? ` + ${plural(space.pairCount, "ip:port pair", "ip:port pairs")}` : ""})`,
  );
  lines.push(`ports: ${portsText(space.ports)}`);

  const b = p.breakdown;
  lines.push(
    `reserved (default blocklist): ${n(space.skipped.reserved)} addresses skipped` +
      (b.allowedReserved > 0n ? `; ${n(b.allowedReserved)} allowed by --allow-reserved` : ""),
  );
  lines.push(...ruleLines(b.reserved));
  lines.push(`excluded (--exclude): ${n(space.skipped.excluded)} addresses and pairs`);
  lines.push(...ruleLines(b.excluded));

  // This run's share: the shard's part of the permutation, less what a resume file covers, capped.
  const walk = p.walk();
  const perm = walk.permutation;
  let share: string;
  let probes: number;
  if (perm.length <= EXACT_COUNT_STEPS) {
    probes = walk.countRest();
    share = n(probes);
  } else {
    // Elements of the cycle are spread evenly: the shard's steps hold its share of the space.
    const estimate = (space.size * perm.length) / (perm.prime - 1n);
    probes = Math.min(Number(estimate), cfg.maxTargets ?? Number.POSITIVE_INFINITY);
    share = `about ${n(probes)}`;
  }
  const parts = [`shard ${p.shard}`];
  if (p.resumed) parts.push("after the resume file's checkpoint");
  if (cfg.maxTargets !== undefined) parts.push(`--max-targets ${n(cfg.maxTargets)}`);
  lines.push(`this run probes: ${share} (${parts.join(", ")})`);
  lines.push(
    `order: seed ${p.seed}${cfg.seed === undefined && !p.resumed ? ` (random: pass --seed ${p.seed} to scan in this order)` : ""}`,
  );
  lines.push(`duration: ${durationText(probes, cfg)}`);
  lines.push(`target space: ${p.targetSpace.slice(0, 16)} (scans with the same one form a trend)`);
  out.write(`${lines.join("\n")}\n`);
}

function ruleLines(rules: ReadonlyArray<{ rule: string; addresses: bigint }>): string[] {
  const out = rules.slice(0, RULES_SHOWN).map((r) => `  ${r.rule}: ${n(r.addresses)}`);
  if (rules.length > RULES_SHOWN) {
    let rest = 0n;
    for (const r of rules.slice(RULES_SHOWN)) rest += r.addresses;
    out.push(`  ${rules.length - RULES_SHOWN} more rules: ${n(rest)}`);
  }
  return out;
}

/**
 * At least the time the rate allows; at most the time if every target used its whole host
 * budget with every connection slot busy (whichever is longer), plus one budget for the last.
 */
function durationText(probes: number, cfg: ScanConfig): string {
  const host = cfg.budgets.hostTimeoutMs;
  const byRate = cfg.rate > 0 ? (probes * 1000) / cfg.rate : 0;
  const worst = Math.max(byRate, (probes * host) / cfg.concurrency) + (probes > 0 ? host : 0);
  const least =
    cfg.rate > 0
      ? `at least ${durationWords(byRate)} at --rate ${n(cfg.rate)}/s`
      : "no rate limit (--rate 0)";
  return `${least}; at most ${durationWords(worst)} if every target takes its whole --host-timeout (${host / 1000}s, --concurrency ${n(cfg.concurrency)})`;
}
