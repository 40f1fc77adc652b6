/**
 * A MaxMind DB writer, for tests only: they build the databases they read, with exactly the
 * networks and hostile values they need (no writer package is available, and published
 * databases are large, licensed and change monthly).
 *
 * Format v2.0 (https://maxmind.github.io/MaxMind-DB/), laid out as
 *
 *   search tree | 16 zero bytes | data section | "\xAB\xCD\xEFMaxMind.com" | metadata map
 *
 * The search tree is a binary trie over the address bits, most significant first: 32 bits in
 * an IPv4 database, 128 in an IPv6 one, where IPv4 networks live at ::a.b.c.d/(96 + n). A node
 * is two records (bit 0, bit 1) of 24, 28 or 32 bits each; a record holds a node number, or
 * node_count for "no data", or node_count + 16 + the offset of a value in the data section.
 * Values are written without pointers; networks with identical data share one record.
 */
import { parseIp } from "../../src/net/ip.js";

/** A value whose MMDB type the spec fixes (metadata's uint16 and uint64 fields). */
export class TypedValue {
  constructor(
    readonly type: "uint16" | "uint64",
    readonly value: bigint,
  ) {}
}

export const uint16 = (n: number): TypedValue => new TypedValue("uint16", BigInt(n));
export const uint64 = (n: number | bigint): TypedValue => new TypedValue("uint64", BigInt(n));

/**
 * How JS values are stored: string → utf8_string, boolean → boolean, a number that is a uint32 →
 * uint32 and any other number → double, bigint → uint64, array → array, object → map.
 */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | TypedValue
  | MmdbValue[]
  | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** "1.2.3.0/24" or "2001:db8::/32"; host bits must be zero. */
  network: string;
  data: { [key: string]: MmdbValue };
}

export interface MmdbOptions {
  databaseType: string;
  /** 6 (default): a 128-bit tree holding IPv4 at ::/96; 4: a 32-bit tree. */
  ipVersion?: 4 | 6;
  /** Bits a record, default 28. */
  recordSize?: 24 | 28 | 32;
  /** Also answer ::ffff:0:0/96 (IPv4-mapped) from the IPv4 data, as MaxMind's databases do. */
  ipv4MappedAlias?: boolean;
  /** Unix seconds; default now. */
  buildEpoch?: number;
  description?: string;
}

const TYPE = {
  utf8String: 2,
  double: 3,
  uint16: 5,
  uint32: 6,
  map: 7,
  uint64: 9,
  array: 11,
  boolean: 14,
} as const;

const METADATA_MARKER = Buffer.from("abcdef4d61784d696e642e636f6d", "hex"); // \xAB\xCD\xEFMaxMind.com
const DATA_SECTION_SEPARATOR = Buffer.alloc(16);

/**
 * Control byte(s): type in the top 3 bits (0 = "extended": type − 7 in the next byte), size in
 * the low 5 (29, 30, 31: the size minus 29, 285, 65,821 follows in 1, 2, 3 bytes).
 */
function controlBytes(type: number, size: number): Buffer {
  let sizeBytes: number[];
  if (size < 29) sizeBytes = [];
  else if (size < 285) sizeBytes = [size - 29];
  else if (size < 65_821) sizeBytes = [(size - 285) >> 8, (size - 285) & 0xff];
  else if (size < 65_821 + 2 ** 24) {
    const n = size - 65_821;
    sizeBytes = [n >> 16, (n >> 8) & 0xff, n & 0xff];
  } else throw new RangeError(`value too large for the MMDB format: ${size}`);
  const sizeField = size < 29 ? size : 28 + sizeBytes.length;
  const typeBytes = type <= 7 ? [(type << 5) | sizeField] : [sizeField, type - 7];
  return Buffer.from([...typeBytes, ...sizeBytes]);
}

/** Unsigned integers take as few big-endian bytes as they need (zero takes none). */
function encodeUint(type: number, value: bigint, maxBytes: number): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  if (value < 0n || bytes.length > maxBytes) throw new RangeError(`${value} out of range`);
  return Buffer.concat([controlBytes(type, bytes.length), Buffer.from(bytes)]);
}

function encodeValue(value: MmdbValue): Buffer {
  if (typeof value === "string") {
    const utf8 = Buffer.from(value, "utf8");
    return Buffer.concat([controlBytes(TYPE.utf8String, utf8.length), utf8]);
  }
  if (typeof value === "boolean") return controlBytes(TYPE.boolean, value ? 1 : 0);
  if (typeof value === "bigint") return encodeUint(TYPE.uint64, value, 8);
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff) {
      return encodeUint(TYPE.uint32, BigInt(value), 4);
    }
    const double = Buffer.alloc(8);
    double.writeDoubleBE(value);
    return Buffer.concat([controlBytes(TYPE.double, 8), double]);
  }
  if (value instanceof TypedValue) {
    return value.type === "uint16"
      ? encodeUint(TYPE.uint16, value.value, 2)
      : encodeUint(TYPE.uint64, value.value, 8);
  }
  if (Array.isArray(value)) {
    return Buffer.concat([controlBytes(TYPE.array, value.length), ...value.map(encodeValue)]);
  }
  const entries = Object.entries(value);
  return Buffer.concat([
    controlBytes(TYPE.map, entries.length),
    ...entries.flatMap(([k, v]) => [encodeValue(k), encodeValue(v)]),
  ]);
}

/** A record's target while the tree is built: a node, a data section offset, or nothing. */
type Slot = TreeNode | number | undefined;

class TreeNode {
  children: [Slot, Slot] = [undefined, undefined];
}

function bitAt(value: bigint, width: number, depth: number): 0 | 1 {
  return ((value >> BigInt(width - 1 - depth)) & 1n) === 1n ? 1 : 0;
}

/**
 * Makes the first `prefix` bits of `value` lead to `target`. On the way, a record that already
 * holds data (a less specific network, inserted earlier) becomes a node whose both records keep
 * that data, so the more specific network carves its part out of it.
 */
function place(root: TreeNode, value: bigint, width: number, prefix: number, target: Slot): void {
  if (prefix === 0) {
    root.children = [target, target];
    return;
  }
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bitAt(value, width, depth);
    let next = node.children[bit];
    if (!(next instanceof TreeNode)) {
      const split = new TreeNode();
      split.children = [next, next];
      node.children[bit] = split;
      next = split;
    }
    node = next;
  }
  node.children[bitAt(value, width, prefix - 1)] = target;
}

/** What the first `prefix` bits of `value` lead to. */
function slotAt(root: TreeNode, value: bigint, width: number, prefix: number): Slot {
  let slot: Slot = root;
  for (let depth = 0; depth < prefix && slot instanceof TreeNode; depth++) {
    slot = slot.children[bitAt(value, width, depth)];
  }
  return slot;
}

/** Address and prefix length in the tree's bit space. */
function parseNetwork(text: string, ipVersion: 4 | 6): { value: bigint; prefix: number } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const ip = m ? parseIp(m[1]!) : undefined;
  const length = Number(m?.[2]);
  const bits = ip?.family === 4 ? 32 : 128;
  if (ip === undefined || length > bits) throw new Error(`not a network: ${text}`);
  if (ip.value & ((1n << BigInt(bits - length)) - 1n)) {
    throw new Error(`host bits set in ${text}`);
  }
  if (ip.family === 6 && ipVersion === 4) throw new Error(`IPv6 network in an IPv4 tree: ${text}`);
  return { value: ip.value, prefix: ip.family === 4 && ipVersion === 6 ? length + 96 : length };
}

function writeRecord(tree: Buffer, offset: number, recordSize: number, right: boolean, v: number) {
  if (v >= 2 ** recordSize) throw new RangeError(`record ${v} does not fit ${recordSize} bits`);
  if (recordSize === 24) tree.writeUIntBE(v, offset + (right ? 3 : 0), 3);
  else if (recordSize === 32) tree.writeUInt32BE(v, offset + (right ? 4 : 0));
  else {
    // 28 bits: 3 low bytes on each side of a middle byte whose high nibble holds the left
    // record's top 4 bits and whose low nibble holds the right record's.
    tree.writeUIntBE(v & 0xff_ffff, offset + (right ? 4 : 0), 3);
    const top = (v >>> 24) & 0x0f;
    tree[offset + 3] = right
      ? (tree[offset + 3]! & 0xf0) | top
      : (tree[offset + 3]! & 0x0f) | (top << 4);
  }
}

/** A complete .mmdb file holding `networks`; a more specific network wins inside a less specific one. */
export function buildMmdb(networks: readonly MmdbNetwork[], options: MmdbOptions): Buffer {
  const ipVersion = options.ipVersion ?? 6;
  const recordSize = options.recordSize ?? 28;
  const width = ipVersion === 4 ? 32 : 128;

  const data: Buffer[] = [];
  const offsets = new Map<string, number>();
  let dataSize = 0;
  const store = (value: MmdbValue): number => {
    const bytes = encodeValue(value);
    const key = bytes.toString("latin1");
    let offset = offsets.get(key);
    if (offset === undefined) {
      offset = dataSize;
      offsets.set(key, offset);
      data.push(bytes);
      dataSize += bytes.length;
    }
    return offset;
  };

  // Less specific first, so each network only ever splits data already in place (sort is stable:
  // of two equal networks the later wins).
  const parsed = networks
    .map((n) => ({ ...parseNetwork(n.network, ipVersion), data: n.data }))
    .sort((a, b) => a.prefix - b.prefix);
  const root = new TreeNode();
  for (const n of parsed) place(root, n.value, width, n.prefix, store(n.data));
  if (options.ipv4MappedAlias && ipVersion === 6) {
    place(root, 0xffffn << 32n, width, 96, slotAt(root, 0n, width, 96));
  }

  // Number nodes breadth first from the root (node 0); the alias makes the tree a DAG, so a
  // node reached twice keeps its first number.
  const ids = new Map<TreeNode, number>([[root, 0]]);
  const order = [root];
  for (let i = 0; i < order.length; i++) {
    for (const child of order[i]!.children) {
      if (child instanceof TreeNode && !ids.has(child)) {
        ids.set(child, order.length);
        order.push(child);
      }
    }
  }
  const nodeCount = order.length;
  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  order.forEach((node, i) => {
    node.children.forEach((slot, side) => {
      const record =
        slot === undefined
          ? nodeCount
          : slot instanceof TreeNode
            ? ids.get(slot)!
            : nodeCount + DATA_SECTION_SEPARATOR.length + slot;
      writeRecord(tree, i * nodeBytes, recordSize, side === 1, record);
    });
  });

  const metadata: MmdbValue = {
    node_count: nodeCount,
    record_size: uint16(recordSize),
    ip_version: uint16(ipVersion),
    database_type: options.databaseType,
    languages: ["en"],
    binary_format_major_version: uint16(2),
    binary_format_minor_version: uint16(0),
    build_epoch: uint64(options.buildEpoch ?? Math.floor(Date.now() / 1000)),
    description: { en: options.description ?? `${options.databaseType} test database` },
  };
  return Buffer.concat([
    tree,
    DATA_SECTION_SEPARATOR,
    ...data,
    METADATA_MARKER,
    encodeValue(metadata),
  ]);
}
