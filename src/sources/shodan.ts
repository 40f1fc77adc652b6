/**
 * Shodan → our Exchange. Shodan keeps banners only for servers that answered, so there are no
 * timeouts: `data` is the INFO text (a bulk reply to INFO) with Shodan's `# Keys` section
 * taken out of it (key names are not INFO: a key called `redis_version:9` must not become a
 * fact) and kept apart as `server.keys` — the first MAX_KEPT_KEYS names, each cut and cleaned as
 * untrusted text — where enrichment looks for the campaigns' keys; or the bytes of the replies
 * (`-NOAUTH …`, `-DENIED …`, `-ERR …`, several of them), decoded by the scanner's own reader, or
 * something else, which is judged from its first bytes like any other non-Redis answer. asn ("AS16509" → 16509), as_org (Shodan's
 * `isp`, else `org`), country and cloud are kept from the banner.
 */
import { classifyExchange, type Exchange } from "../classify/exchange.js";
import { DEFAULT_MAX_REPLY_BYTES, ReplyReader } from "../classify/replies.js";
import { MAX_KEPT_KEYS, MAX_KEY_CHARS } from "../intel/compromise.js";
import { formatIp } from "../net/ip.js";
import type { ProbeResult } from "../schema/result.js";
import { safeText } from "../untrusted/text.js";
import {
  canonicalIp,
  checkPort,
  emptyExchange,
  isoTime,
  type Obj,
  optObj,
  optString,
  reqString,
  resultOf,
  Unimportable,
  wrongType,
} from "./fields.js";

// ---------- Shodan ----------

/**
 * Shodan appends the key names as a `# Keys` section, ended by a blank line or the banner's end.
 * Lazy, with one fixed alternative after it: linear in the banner's length.
 */
const KEYS_SECTION = /(^|\n)# Keys\r?\n[\s\S]*?(?:\r?\n\r?\n|$)/;

/**
 * The key names of a banner's `# Keys` section: at most MAX_KEPT_KEYS, each at most
 * MAX_KEY_CHARS, cleaned; the rest is not read (a banner may list thousands).
 */
function keptKeys(data: string): string[] | undefined {
  const m = KEYS_SECTION.exec(data);
  if (!m) return undefined;
  const section = m[0];
  const keys: string[] = [];
  let at = section.indexOf("# Keys") + "# Keys".length;
  while (keys.length < MAX_KEPT_KEYS && at < section.length) {
    let end = section.indexOf("\n", at + 1);
    if (end < 0) end = section.length;
    const name = section
      .slice(at, end)
      .replace(/^\r?\n/, "")
      .replace(/\r$/, "");
    if (name !== "") keys.push(safeText(name, MAX_KEY_CHARS));
    at = end;
  }
  return keys;
}

/**
 * The banner as what a server said in answer to INFO. An INFO text is its bulk reply; anything
 * else is the bytes the server sent (error and status lines, several replies, another protocol)
 * and goes through the reader the scanner uses (classify/replies.ts): the same bytes classify
 * the same way whether a scan or Shodan read them.
 */
function shodanExchange(data: string): Exchange {
  const ex = emptyExchange();
  ex.sent = ["INFO"];
  // Shodan only keeps answers: the exchange ended with the server's reply, not a timeout.
  ex.closedByPeer = true;
  const text = data.replace(/^\$\d+\r?\n/, "").replace(KEYS_SECTION, "$1");
  const bytes = Buffer.from(text, "utf8");
  ex.bytesReceived = bytes.length;
  if (text[0] === "#" || /^[a-z_]+:/.test(text.slice(0, 64))) {
    ex.replies.push({ type: "bulk", value: bytes });
    return ex;
  }
  const reader = new ReplyReader({ maxReplyBytes: DEFAULT_MAX_REPLY_BYTES });
  reader.push(bytes);
  ex.replies = reader.replies;
  ex.head = reader.head;
  if (reader.protocolError) ex.protocolError = reader.protocolError;
  return ex;
}

export function fromShodan(v: Obj): ProbeResult {
  let ip: string;
  const ipStr = optString(v, "ip_str") ?? optString(v, "ipv6");
  if (ipStr !== undefined) ip = canonicalIp(ipStr, "ip_str");
  else if (typeof v.ip === "number" && Number.isInteger(v.ip) && v.ip >= 0 && v.ip <= 0xffffffff) {
    ip = formatIp(4, BigInt(v.ip));
  } else throw new Unimportable("ip_str: missing");
  const port = checkPort(v.port, "port");
  const transport = optString(v, "transport") ?? "tcp";
  if (transport !== "tcp") {
    throw new Unimportable(
      `transport ${JSON.stringify(safeText(transport, 16))}: not a Redis probe`,
    );
  }
  const time = isoTime(reqString(v, "timestamp"), "timestamp");
  const data = reqString(v, "data");
  const tls = optObj(v, "ssl") !== undefined;

  const r = resultOf(ip, port, tls ? "tls" : "tcp", time, classifyExchange(shodanExchange(data)));
  const keys = r.server ? keptKeys(data.replace(/^\$\d+\r?\n/, "")) : undefined;
  if (r.server && keys !== undefined) r.server.keys = keys;
  const asn = optString(v, "asn");
  if (asn !== undefined) {
    const m = /^AS(\d{1,10})$/i.exec(asn.trim());
    const n = m ? Number(m[1]) : Number.NaN;
    if (!(n >= 0 && n <= 0xffffffff)) throw wrongType("asn", 'an AS number like "AS16509"');
    r.asn = n;
  }
  const asOrg = optString(v, "isp") ?? optString(v, "org");
  if (asOrg !== undefined && asOrg.trim() !== "") r.as_org = safeText(asOrg.trim(), 256);
  const location = optObj(v, "location");
  const country = location && optString(location, "country_code", "location.country_code");
  if (country !== undefined && country !== "") r.country = safeText(country, 8);
  const cloud = optObj(v, "cloud");
  const provider = cloud && optString(cloud, "provider", "cloud.provider");
  if (cloud !== undefined && provider !== undefined && provider !== "") {
    r.cloud = { provider: safeText(provider, 128) };
    const region = optString(cloud, "region", "cloud.region");
    const service = optString(cloud, "service", "cloud.service");
    if (region) r.cloud.region = safeText(region, 128);
    if (service) r.cloud.service = safeText(service, 128);
  }
  return r;
}
