/**
 * Downloads each provider's published IP ranges file into the intel directory, under the names
 * `loadCloudIndex` reads (CLOUD_SOURCES). A download replaces the file it updates only once it is
 * complete, within the size cap, and parsed by its own parser with at least one usable prefix; it
 * is written to a temporary file in the same directory and renamed over the old one, so a failed,
 * truncated or hostile download never costs the good file already there.
 *
 * The CVE table (`cves.json`) is refreshed the same way: from the project's published table, or
 * a URL the user points at a mirror; validated by the one table parser (parseCveTable) before it
 * replaces anything, and never replacing a table with an older one (by its `updated` date).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import {
  CLOUD_SOURCES,
  type CloudSourceFile,
  type CloudSourceId,
  MAX_INTEL_FILE_BYTES,
} from "./clouds.js";
import {
  type CveTable,
  CveTableError,
  cveTableIn,
  defaultCveTablePath,
  loadCveTable,
  parseCveTable,
} from "./cves.js";

/** The providers' own URLs. Azure's file moves every week: see AZURE_DOWNLOAD_PAGE. */
export const SOURCE_URLS: Readonly<Record<Exclude<CloudSourceId, "azure">, string>> = {
  aws: "https://ip-ranges.amazonaws.com/ip-ranges.json",
  gcp: "https://www.gstatic.com/ipranges/cloud.json",
  oracle: "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json",
  digitalocean: "https://digitalocean.com/geo/google.csv",
  "cloudflare-v4": "https://www.cloudflare.com/ips-v4",
  "cloudflare-v6": "https://www.cloudflare.com/ips-v6",
};

/**
 * Microsoft's download page for "Azure IP Ranges and Service Tags – Public Cloud". The file itself
 * is published weekly under a new name (ServiceTags_Public_YYYYMMDD.json) that only this page
 * links to; Microsoft documents no stable URL for it.
 */
export const AZURE_DOWNLOAD_PAGE = "https://www.microsoft.com/en-us/download/details.aspx?id=56519";

/** Only a link of exactly this form, on Microsoft's download host, is followed. */
const AZURE_LINK =
  /https:\/\/download\.microsoft\.com\/download\/(?:[0-9A-Za-z-]{1,64}\/){1,8}ServiceTags_Public_(\d{8})\.json/g;

/**
 * The project's published CVE table (data/intel/cves.json on its main branch). `--cve-url` or
 * $REDSCOPE_CVE_URL replace it, and `--mirror` serves it as `${mirror}/cves.json`.
 */
export const CVE_TABLE_URL =
  "https://raw.githubusercontent.com/redscope/redscope/main/data/intel/cves.json";

/** The file name in the intel directory that cveTableIn reads. */
export const CVE_TABLE_FILE = "cves.json";

/** The bundled table is some 100 kB; a CVE table past this is not one. */
const MAX_CVE_TABLE_BYTES = 4 * 1024 * 1024;

/** The download page is HTML of some hundred kB; more than this is not that page. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;
const USER_AGENT = "redscope (intel update)";

export interface UpdateOptions {
  /**
   * A mirror serving the files under the intel directory's names (`${baseUrl}/aws-ip-ranges.json`,
   * …). It replaces every provider URL, and Azure's file is then fetched without the page lookup.
   */
  baseUrl?: string;
  /** One URL per source, over baseUrl and the defaults; "azure-page" replaces the download page. */
  urls?: Partial<Record<CloudSourceId | "azure-page", string>>;
  fetch?: typeof fetch;
  /** Budget of each request, body included (default 60 s). */
  timeoutMs?: number;
  /** Largest file accepted (default MAX_INTEL_FILE_BYTES). */
  maxBytes?: number;
}

interface UpdateTarget {
  readonly source: CloudSourceId;
  /** The file written. */
  readonly path: string;
  /** Where the file was (or was to be) downloaded from, once known. */
  readonly url?: string;
}

export type UpdateResult = UpdateTarget &
  (
    | {
        readonly ok: true;
        readonly bytes: number;
        readonly prefixes: number;
        readonly skipped: number;
      }
    | { readonly ok: false; readonly reason: string; readonly bytes?: number }
  );

/** A source that could not be updated, with a reason fit for one line. */
class UpdateFailure extends Error {}

/**
 * Updates every source in `dir` (created if need be), all at once; one result per source, in
 * CLOUD_SOURCES order. Throws only when `dir` cannot be created.
 */
export async function updateIntel(dir: string, opts: UpdateOptions = {}): Promise<UpdateResult[]> {
  await fs.mkdir(dir, { recursive: true });
  return Promise.all(CLOUD_SOURCES.map((source) => updateSource(source, dir, opts)));
}

async function updateSource(
  source: CloudSourceFile & { id: CloudSourceId },
  dir: string,
  opts: UpdateOptions,
): Promise<UpdateResult> {
  const target: { source: CloudSourceId; path: string; url?: string } = {
    source: source.id,
    path: path.join(dir, source.file),
  };
  const maxBytes = opts.maxBytes ?? MAX_INTEL_FILE_BYTES;
  let bytes: number | undefined;
  try {
    let published: Date | undefined;
    const direct = directUrl(source, opts);
    if (direct !== undefined) {
      target.url = direct;
    } else {
      const page = opts.urls?.["azure-page"] ?? AZURE_DOWNLOAD_PAGE;
      const html = (await download(page, MAX_PAGE_BYTES, opts)).toString("utf8");
      const link = findAzureServiceTagsLink(html);
      if (link === undefined) {
        throw new UpdateFailure(
          `no ServiceTags_Public_YYYYMMDD.json link found on ${page} (the page may have changed); ` +
            `download the file by hand and save it as ${target.path}`,
        );
      }
      target.url = link.url;
      published = link.date;
    }
    const body = await download(target.url, maxBytes, opts);
    bytes = body.length;
    const set = source.parse(body.toString("utf8"), { maxBytes });
    if (set.prefixes.length === 0) {
      throw new UpdateFailure(
        `no usable prefix in the download (${set.skipped} malformed entries)`,
      );
    }
    // Azure's file has no date inside: its mtime carries the publication date from its name.
    await replaceFile(target.path, body, published);
    return { ...target, ok: true, bytes, prefixes: set.prefixes.length, skipped: set.skipped };
  } catch (e) {
    let reason = e instanceof Error ? e.message : String(e);
    if (await exists(target.path)) reason += "; the existing file is kept";
    return { ...target, ok: false, reason, ...(bytes !== undefined ? { bytes } : {}) };
  }
}

/** The URL of a source's file, or undefined when Azure's has to be found on its download page. */
function directUrl(source: CloudSourceFile & { id: CloudSourceId }, opts: UpdateOptions) {
  const own = opts.urls?.[source.id];
  if (own !== undefined) return own;
  if (opts.baseUrl !== undefined) {
    const base = opts.baseUrl.endsWith("/") ? opts.baseUrl : `${opts.baseUrl}/`;
    return new URL(source.file, base).href;
  }
  return source.id === "azure" ? undefined : SOURCE_URLS[source.id];
}

/**
 * The newest ServiceTags_Public_YYYYMMDD.json link on Microsoft's download page, with the date
 * from its name, or undefined. The page also carries its links inside script data, where "/" may
 * be written "\/" or "\u002F".
 */
export function findAzureServiceTagsLink(html: string): { url: string; date: Date } | undefined {
  const text = html.replace(/\\u002[fF]/g, "/").replace(/\\\//g, "/");
  let best: { url: string; date: Date } | undefined;
  for (const m of text.matchAll(AZURE_LINK)) {
    const d = m[1]!;
    const y = Number(d.slice(0, 4));
    const mo = Number(d.slice(4, 6));
    const day = Number(d.slice(6, 8));
    const date = new Date(Date.UTC(y, mo - 1, day));
    if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== day) continue;
    if (best === undefined || date > best.date) best = { url: m[0], date };
  }
  return best;
}

/** The whole body, or an UpdateFailure: HTTP status, timeout, network error, over the cap. */
async function download(url: string, maxBytes: number, opts: UpdateOptions): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchFn = opts.fetch ?? fetch;
  const overCap = () => new UpdateFailure(`larger than the ${maxBytes}-byte cap (${url})`);
  try {
    const res = await fetchFn(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { "user-agent": USER_AGENT },
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpdateFailure(`HTTP ${res.status} from ${url}`);
    }
    if (Number(res.headers.get("content-length")) > maxBytes) {
      await res.body?.cancel();
      throw overCap();
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body !== null) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel();
          throw overCap();
        }
        chunks.push(value);
      }
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof UpdateFailure) throw e;
    throw new UpdateFailure(`${fetchErrorText(e, timeoutMs)} (${url})`);
  }
}

/** fetch() reports most network errors as TypeError("fetch failed") with the real one as cause. */
function fetchErrorText(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) {
    return `timed out after ${timeoutMs / 1000} s`;
  }
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return e instanceof Error ? e.message : String(e);
}

/** Write beside the target, flush, then rename over it: readers see the old file or the new one. */
async function replaceFile(target: string, body: Buffer, mtime: Date | undefined): Promise<void> {
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    const handle = await fs.open(tmp, "wx", 0o644);
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (mtime !== undefined) await fs.utimes(tmp, mtime, mtime);
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new UpdateFailure(
      `cannot write ${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

export interface CveUpdateOptions extends Omit<UpdateOptions, "urls"> {
  /** Where to fetch the table (over baseUrl's `cves.json` and CVE_TABLE_URL). */
  url?: string;
}

export type CveUpdateResult = { readonly path: string; readonly url: string } & (
  | {
      readonly ok: true;
      readonly bytes: number;
      readonly entries: number;
      readonly updated: string;
    }
  | { readonly ok: false; readonly reason: string; readonly bytes?: number }
);

/**
 * Refreshes `cves.json` in `dir` (created if need be). The download replaces the file only when
 * it is complete, within the cap, a valid table by parseCveTable, and not older (`updated`) than
 * the table the commands use now (the directory's, else the bundled one): an old mirror never
 * rolls the verdicts back. Never throws for a download; throws only when `dir` cannot be created.
 */
export async function updateCveTable(
  dir: string,
  opts: CveUpdateOptions = {},
): Promise<CveUpdateResult> {
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, CVE_TABLE_FILE);
  const url =
    opts.url ??
    (opts.baseUrl !== undefined
      ? new URL(CVE_TABLE_FILE, opts.baseUrl.endsWith("/") ? opts.baseUrl : `${opts.baseUrl}/`).href
      : CVE_TABLE_URL);
  let bytes: number | undefined;
  try {
    const body = await download(url, opts.maxBytes ?? MAX_CVE_TABLE_BYTES, opts);
    bytes = body.length;
    let table: CveTable;
    try {
      table = parseCveTable(JSON.parse(body.toString("utf8")), url);
    } catch (e) {
      const why =
        e instanceof CveTableError ? e.message : `${url}: not JSON (${(e as Error).message})`;
      throw new UpdateFailure(`not a valid CVE table: ${why}`.slice(0, 400));
    }
    const current = currentCveTable(dir);
    if (current !== undefined && table.updated < current.updated) {
      throw new UpdateFailure(
        `the download (updated ${table.updated}) is older than the table in use (updated ${current.updated}, ${current.path})`,
      );
    }
    await replaceFile(target, body, undefined);
    return {
      path: target,
      url,
      ok: true,
      bytes,
      entries: table.cves.length,
      updated: table.updated,
    };
  } catch (e) {
    let reason = e instanceof Error ? e.message : String(e);
    if (await exists(target)) reason += "; the existing file is kept";
    return { path: target, url, ok: false, reason, ...(bytes !== undefined ? { bytes } : {}) };
  }
}

/** The table the commands use now, or undefined when even the bundled one cannot be read. */
function currentCveTable(dir: string): { updated: string; path: string } | undefined {
  try {
    const { path: file, table } = cveTableIn(dir);
    return { updated: table.updated, path: file };
  } catch {
    // A broken file in the directory: the bundled table is the floor.
    try {
      return { updated: loadCveTable().updated, path: defaultCveTablePath() };
    } catch {
      return undefined;
    }
  }
}
