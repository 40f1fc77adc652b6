/**
 * Test hosts in network namespaces that the test itself creates (we are root): a veth pair
 * joins the root namespace (the scanner) to a namespace (a server host), on a /30 inside
 * 198.18.0.0/15 (RFC 2544 benchmarking space: never routed on the internet), and on request an
 * IPv6 /64 inside 2001:db8::/32 (documentation space, likewise). Traffic goes only between the
 * two ends of the pair.
 */
import { execFileSync } from "node:child_process";

export interface TestHost {
  /** Namespace name, for `ip netns exec`. */
  ns: string;
  /** The scanner's side (root namespace). */
  localIp: string;
  /** The server host's address, reachable from the root namespace. */
  hostIp: string;
  /** With `ipv6`: the host's IPv6 address, and the scanner side's addresses, all in one /64. */
  hostIp6?: string;
  localIps6?: string[];
  /** Run a command inside the namespace. */
  exec(cmd: string, args: string[]): string;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export function canMakeNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let serial = 0;

/** `ipv6`: also give the pair a /64, with this many addresses on the scanner's side. */
export function createTestHost(tag: string, opts: { ipv6?: number } = {}): TestHost {
  const id = (process.pid * 8 + serial++) % 32768;
  const ns = `rs-${tag}-${process.pid}-${serial}`.slice(0, 30);
  const a = `rsa${id}`;
  const b = `rsb${id}`;
  const base = 198 * 2 ** 24 + 18 * 2 ** 16 + id * 4;
  const q = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  const localIp = q(base + 1);
  const hostIp = q(base + 2);
  // One /64 per pair, as the /30 is (ids are unique among the pairs that exist at once).
  const prefix6 = `2001:db8:5c:${id.toString(16)}`;
  const hostIp6 = opts.ipv6 ? `${prefix6}::1` : undefined;
  const localIps6 = Array.from(
    { length: opts.ipv6 ?? 0 },
    (_, i) => `${prefix6}::${(i + 16).toString(16)}`,
  );
  ip(["netns", "add", ns]);
  try {
    ip(["link", "add", a, "type", "veth", "peer", "name", b]);
    ip(["link", "set", b, "netns", ns]);
    ip(["addr", "add", `${localIp}/30`, "dev", a]);
    ip(["link", "set", a, "up"]);
    ip(["-n", ns, "addr", "add", `${hostIp}/30`, "dev", b]);
    ip(["-n", ns, "link", "set", b, "up"]);
    ip(["-n", ns, "link", "set", "lo", "up"]);
    // nodad: usable at once, without duplicate address detection's wait.
    if (hostIp6) ip(["-n", ns, "addr", "add", `${hostIp6}/64`, "dev", b, "nodad"]);
    for (const l of localIps6) ip(["addr", "add", `${l}/64`, "dev", a, "nodad"]);
  } catch (e) {
    try {
      ip(["link", "del", a]);
    } catch {}
    ip(["netns", "del", ns]);
    throw e;
  }
  return {
    ns,
    localIp,
    hostIp,
    ...(hostIp6 ? { hostIp6, localIps6 } : {}),
    exec: (cmd, args) =>
      execFileSync("ip", ["netns", "exec", ns, cmd, ...args], { encoding: "utf8" }),
    destroy: () => {
      try {
        ip(["link", "del", a]);
      } catch {}
      try {
        ip(["netns", "del", ns]);
      } catch {}
    },
  };
}

/** Make the host drop (not refuse) TCP to `port`: a silently dropping address. */
export function dropTcpPort(host: TestHost, port: number): void {
  host.exec("nft", ["add", "table", "inet", "rsdrop"]);
  host.exec("nft", [
    "add",
    "chain",
    "inet",
    "rsdrop",
    "in",
    "{ type filter hook input priority 0 ; }",
  ]);
  host.exec("nft", ["add", "rule", "inet", "rsdrop", "in", "tcp", "dport", String(port), "drop"]);
}

/**
 * A network namespace with only `lo` (up): whatever runs in it reaches nothing but itself, so
 * a server there may listen on 0.0.0.0 and a scanner there may walk 127.0.0.0/8 freely.
 */
export function createLoopbackNs(tag: string): Pick<TestHost, "ns" | "exec" | "destroy"> {
  const ns = `rs-${tag}-${process.pid}-${serial++}`.slice(0, 30);
  ip(["netns", "add", ns]);
  try {
    ip(["-n", ns, "link", "set", "lo", "up"]);
  } catch (e) {
    ip(["netns", "del", ns]);
    throw e;
  }
  return {
    ns,
    exec: (cmd, args) =>
      execFileSync("ip", ["netns", "exec", ns, cmd, ...args], { encoding: "utf8" }),
    destroy: () => {
      try {
        ip(["netns", "del", ns]);
      } catch {}
    },
  };
}
