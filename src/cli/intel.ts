/** `redscope intel`: download the cloud providers' IP range files, show what is loaded, look up. */
import path from "node:path";
import type { Command } from "commander";
import { type CloudSourceStatus, loadCloudIndex } from "../intel/clouds.js";
import { CveMatcher, type CveTable, cveTableIn } from "../intel/cves.js";
import { defaultIntelDir } from "../intel/dirs.js";
import { Enricher } from "../intel/enrich.js";
import { type CveUpdateResult, updateCveTable, updateIntel } from "../intel/update.js";
import { parseIp } from "../net/ip.js";
import type { Product } from "../schema/result.js";
import { fail } from "./errors.js";
import { renderTable } from "./format.js";
import { parseDuration } from "./units.js";

export interface IntelFlags {
  intelDir?: string;
  timeout?: string;
  mirror?: string;
  cveUrl?: string;
}

/** Where the subcommands print; tests pass their own. */
export interface IntelOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: IntelOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const INTEL_DIR_HELP =
  "intel directory (default: $REDSCOPE_INTEL_DIR, else $XDG_DATA_HOME/redscope/intel, else ~/.local/share/redscope/intel)";

export function registerIntelCommand(program: Command, io: IntelOutput = STDIO): void {
  const intel = program
    .command("intel")
    .description("cloud provider IP ranges, from the providers' own published files");
  intel
    .command("update")
    .description(
      "download each provider's IP ranges file and the CVE table; a failed or invalid download keeps the old file",
    )
    .option("--intel-dir <dir>", INTEL_DIR_HELP)
    .option("--timeout <t>", "budget of each download", "60s")
    .option("--mirror <url>", "download from a mirror serving the intel directory's file names")
    .option(
      "--cve-url <url>",
      "where to fetch the CVE table cves.json (default $REDSCOPE_CVE_URL, else <mirror>/cves.json, else the project's published table)",
    )
    .action(async (flags: IntelFlags) => {
      process.exitCode = await runIntelUpdate(flags, io);
    });
  intel
    .command("show")
    .description("what is loaded: sources, prefix counts, dates")
    .option("--intel-dir <dir>", INTEL_DIR_HELP)
    .action(async (flags: IntelFlags) => {
      process.exitCode = await runIntelShow(flags, io);
    });
  intel
    .command("cves")
    .description("known CVEs of a product version, with what a version alone cannot tell")
    .argument("<product>", "redis, valkey, keydb, dragonfly, garnet, msopentech, elasticache")
    .argument("<version>", "as INFO reports it, e.g. 7.0.15 or 3.0.504")
    .option("--intel-dir <dir>", INTEL_DIR_HELP)
    .action(async (product: string, version: string, flags: IntelFlags) => {
      process.exitCode = await runIntelCves(product, version, flags, io);
    });
  intel
    .command("lookup")
    .description("the cloud provider, region, service, ASN and country of each address")
    .argument("<ip...>", "IPv4 or IPv6 addresses")
    .option("--intel-dir <dir>", INTEL_DIR_HELP)
    .action(async (ips: string[], flags: IntelFlags) => {
      process.exitCode = await runIntelLookup(ips, flags, io);
    });
}

/**
 * The CVE verdict for one product and version, with what a version alone cannot tell
 * (distro packaging, build options): the notes a result record has no field for.
 */
export async function runIntelCves(
  product: string,
  version: string,
  flags: IntelFlags,
  io: IntelOutput = STDIO,
): Promise<number> {
  if (!(PRODUCTS as readonly string[]).includes(product)) {
    fail(
      `unknown product ${JSON.stringify(product).slice(0, 40)}: use one of ${PRODUCTS.join(", ")}`,
    );
  }
  const dir = intelDir(flags);
  let table: CveTable;
  try {
    table = cveTableIn(dir).table;
  } catch (e) {
    fail((e as Error).message);
  }
  const m = new CveMatcher(table).match({ product: product as Product, version });
  const rows = [["cve", "cvss", "fixed in", ""]];
  for (const c of m.cves) {
    rows.push([c.id, c.cvss?.toString() ?? "-", c.fixed_in ?? "-", c.unfixed ? "unfixed" : ""]);
  }
  for (const c of m.possible ?? []) {
    rows.push([c.id, c.cvss?.toString() ?? "-", c.fixed_in ?? "-", "possible"]);
  }
  io.out(
    `${product} ${version}: basis ${m.basis}${m.judged ? `, judged as ${m.product ?? "redis"} ${m.judged}` : ""}\n`,
  );
  if (rows.length > 1) io.out(`${renderTable(rows, [false, true, false, false])}\n`);
  else io.out(m.basis === "none" ? "not judged (see the note)\n" : "no known CVE applies\n");
  for (const n of m.notes ?? []) io.out(`note: ${n}\n`);
  return 0;
}

const PRODUCTS = [
  "redis",
  "valkey",
  "keydb",
  "dragonfly",
  "garnet",
  "msopentech",
  "elasticache",
  "unknown",
] as const satisfies readonly Product[];

function intelDir(flags: IntelFlags): string {
  return flags.intelDir !== undefined ? path.resolve(flags.intelDir) : defaultIntelDir();
}

/** One line per source; exit status 1 when any source failed (its old file, if any, is kept). */
export async function runIntelUpdate(flags: IntelFlags, io: IntelOutput = STDIO): Promise<number> {
  const dir = intelDir(flags);
  const timeoutMs = parseDuration("--timeout", flags.timeout ?? "60s");
  if (flags.mirror !== undefined && !/^https?:\/\/[^\s]+$/.test(flags.mirror)) {
    fail(`invalid --mirror "${flags.mirror}": expected an http:// or https:// URL`);
  }
  const cveUrl = flags.cveUrl ?? process.env.REDSCOPE_CVE_URL;
  if (cveUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(cveUrl)) {
    fail(`invalid CVE table URL "${cveUrl}": expected an http:// or https:// URL`);
  }
  let results: Awaited<ReturnType<typeof updateIntel>>;
  let cves: CveUpdateResult;
  try {
    const base = flags.mirror !== undefined ? { baseUrl: flags.mirror } : {};
    [results, cves] = await Promise.all([
      updateIntel(dir, { timeoutMs, ...base }),
      updateCveTable(dir, { timeoutMs, ...base, ...(cveUrl !== undefined ? { url: cveUrl } : {}) }),
    ]);
  } catch (e) {
    fail(`cannot create intel directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const width = Math.max(...results.map((r) => r.source.length), "cves".length);
  for (const r of results) {
    const name = r.source.padEnd(width);
    if (r.ok) {
      const skipped = r.skipped > 0 ? `, ${count(r.skipped)} malformed skipped` : "";
      io.out(`${name}  ok      ${count(r.prefixes)} prefixes, ${size(r.bytes)}${skipped}\n`);
    } else {
      io.out(`${name}  failed  ${r.reason}\n`);
    }
  }
  const name = "cves".padEnd(width);
  if (cves.ok) {
    io.out(
      `${name}  ok      ${count(cves.entries)} entries, updated ${cves.updated}, ${size(cves.bytes)}\n`,
    );
  } else {
    io.out(`${name}  failed  ${cves.reason}\n`);
  }
  io.out(`intel directory: ${dir}\n`);
  return results.every((r) => r.ok) && cves.ok ? 0 : 1;
}

export async function runIntelShow(flags: IntelFlags, io: IntelOutput = STDIO): Promise<number> {
  const dir = intelDir(flags);
  const { index, sources } = await loadCloudIndex(dir);
  const rows = [["source", "state", "prefixes", "skipped", "date", "date from", "file"]];
  for (const s of sources) {
    rows.push([
      s.id,
      s.state,
      s.state === "loaded" ? count(s.loaded) : "",
      s.state === "loaded" ? count(s.skipped) : "",
      s.date ? s.date.toISOString().slice(0, 10) : "",
      s.dateFrom ?? "",
      path.relative(dir, s.path),
    ]);
  }
  io.out(`${renderTable(rows, [false, false, true, true, false, false, false])}\n`);
  for (const s of sources) {
    const note = sourceNote(s);
    if (note) io.out(`${s.id}: ${note}\n`);
  }
  const { v4, v6 } = index.intervals;
  io.out(
    `intel directory: ${dir}\n` +
      `index: ${count(index.prefixCount)} prefixes in ${count(v4)} IPv4 and ${count(v6)} IPv6 intervals\n`,
  );
  if (index.prefixCount === 0) io.out('no cloud ranges loaded: run "redscope intel update"\n');
  const { status } = await Enricher.load(dir);
  const t = status.cveTable;
  io.out(`CVE table: ${count(t.entries)} CVEs, updated ${t.updated} (${t.path})\n`);
  for (const g of status.geo) {
    io.out(
      `MaxMind ${g.role}: ${g.databaseType}, built ${g.buildDate?.slice(0, 10) ?? "?"}, IPv${g.ipVersion}, ${count(g.nodeCount)} nodes (${path.relative(dir, g.file)})\n`,
    );
  }
  if (status.geo.length === 0) {
    io.out("no MaxMind DB (GeoLite2-ASN.mmdb, GeoLite2-Country.mmdb …): no ASN or country\n");
  }
  return 0;
}

function sourceNote(s: CloudSourceStatus): string | undefined {
  if (s.state === "error") return s.error;
  if (s.skipped > 0) {
    const examples = s.skippedSamples.map((x) => JSON.stringify(x)).join(", ");
    return `${count(s.skipped)} malformed entries skipped, e.g. ${examples}`;
  }
  return undefined;
}

/** A table of address, provider, region, service; "-" where the files say nothing. */
export async function runIntelLookup(
  ips: string[],
  flags: IntelFlags,
  io: IntelOutput = STDIO,
): Promise<number> {
  for (const ip of ips) {
    if (parseIp(ip) === undefined) fail(`not an IP address: ${JSON.stringify(ip).slice(0, 60)}`);
  }
  const dir = intelDir(flags);
  const enricher = await Enricher.load(dir);
  if (enricher.status.cloudPrefixes === 0) {
    io.err(`redscope: warning: no cloud ranges in ${dir}: run "redscope intel update"\n`);
  }
  const rows = [["address", "provider", "region", "service", "asn", "as_org", "country"]];
  for (const ip of ips) {
    const p = enricher.place(ip);
    rows.push([
      ip,
      p.cloud?.provider ?? "-",
      p.cloud?.region ?? "-",
      p.cloud?.service ?? "-",
      p.asn !== undefined ? String(p.asn) : "-",
      p.as_org ?? "-",
      p.country ?? "-",
    ]);
  }
  io.out(`${renderTable(rows, [false, false, false, false, true, false, false])}\n`);
  return 0;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function size(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${Math.ceil(bytes / 1024)} KiB`
    : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
