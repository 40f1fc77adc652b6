/**
 * A stream value as Redis keeps one (t_stream.c): entries in ID order, the stream's last ID,
 * and, as 7.0 keeps them, entries-added, max-deleted-entry-id and the recorded first entry ID;
 * consumer groups with their pending entries (PEL) and consumers. IDs are `ms-seq`, two
 * unsigned 64-bit numbers, held as one bigint (ms × 2^64 + seq) so they compare as numbers.
 *
 * Entries are grouped into nodes as Redis groups them into listpacks (at most 100 entries or
 * about 4 KB each): approximate trimming (MAXLEN ~, MINID ~) only removes whole nodes, and
 * XINFO STREAM counts them. The keyspace charges a stream's bytes (keyspace.ts, resize).
 */

export type StreamId = bigint;

const SEQ_BITS = 64n;
export const U64_MAX = 2n ** 64n - 1n;
export const ID_MAX: StreamId = (U64_MAX << SEQ_BITS) | U64_MAX;

export function makeId(ms: bigint, seq: bigint): StreamId {
  return (ms << SEQ_BITS) | seq;
}

export function idMs(id: StreamId): bigint {
  return id >> SEQ_BITS;
}

export function idSeq(id: StreamId): bigint {
  return id & U64_MAX;
}

export function formatId(id: StreamId): string {
  return `${idMs(id)}-${idSeq(id)}`;
}

export interface StreamEntry {
  id: StreamId;
  /** Field, value, field, value … */
  fields: Buffer[];
  /** The node (listpack) it was appended to. */
  node: StreamNode;
}

export interface StreamNode {
  /** Entries appended to it, deleted ones included (a listpack keeps them, flagged). */
  count: number;
  /** Of those, still there. */
  live: number;
  /** Its listpack's size, estimated. */
  bytes: number;
}

export interface StreamNack {
  id: StreamId;
  consumer: StreamConsumer | undefined;
  deliveryTime: number;
  deliveryCount: number;
}

export interface StreamConsumer {
  name: string;
  seenTime: number;
  /** Its pending entries, by ID (decimal string of the bigint). */
  pel: Map<StreamId, StreamNack>;
}

export interface StreamGroup {
  name: string;
  lastId: StreamId;
  /** -1: not known (SCG_INVALID_ENTRIES_READ). */
  entriesRead: bigint;
  pel: Map<StreamId, StreamNack>;
  consumers: Map<string, StreamConsumer>;
}

export interface StreamValue {
  entries: StreamEntry[];
  lastId: StreamId;
  entriesAdded: bigint;
  maxDeletedId: StreamId;
  firstId: StreamId;
  groups: Map<string, StreamGroup> | undefined;
  /** Nodes in order (the last takes new entries while it has room). */
  nodes: StreamNode[];
  /** Elements the keyspace has charged for this value (entries, groups, consumers, NACKs). */
  charged: number;
}

/** stream-node-max-entries and stream-node-max-bytes, Redis's defaults. */
const NODE_MAX_ENTRIES = 100;
const NODE_MAX_BYTES = 4096;
/** A listpack's header, end and master entry, roughly. */
const NODE_BASE_BYTES = 20;

export function newStream(): StreamValue {
  return {
    entries: [],
    lastId: 0n,
    entriesAdded: 0n,
    maxDeletedId: 0n,
    firstId: 0n,
    groups: undefined,
    nodes: [],
    charged: 0,
  };
}

/**
 * A stream as a new key of its own holds it (COPY): entries, nodes, groups, consumers and
 * their pending entries copied, each pending entry shared by its group and its consumer as in
 * the original.
 */
export function copyStream(s: StreamValue): StreamValue {
  const nodes = new Map<StreamNode, StreamNode>();
  const node = (n: StreamNode): StreamNode => {
    let copy = nodes.get(n);
    if (copy === undefined) {
      copy = { ...n };
      nodes.set(n, copy);
    }
    return copy;
  };
  const entries = s.entries.map((e) => ({
    id: e.id,
    fields: e.fields.map((f) => Buffer.from(f)),
    node: node(e.node),
  }));
  let groups: Map<string, StreamGroup> | undefined;
  if (s.groups !== undefined) {
    groups = new Map();
    for (const [name, g] of s.groups) {
      const consumers = new Map<string, StreamConsumer>();
      for (const [cname, c] of g.consumers) {
        consumers.set(cname, { name: c.name, seenTime: c.seenTime, pel: new Map() });
      }
      const pel = new Map<StreamId, StreamNack>();
      for (const [id, nack] of g.pel) {
        const owner = nack.consumer === undefined ? undefined : consumers.get(nack.consumer.name);
        const copy: StreamNack = { ...nack, consumer: owner };
        pel.set(id, copy);
        owner?.pel.set(id, copy);
      }
      groups.set(name, { ...g, pel, consumers });
    }
  }
  return {
    ...s,
    entries,
    groups,
    nodes: s.nodes.map((n) => node(n)),
  };
}

/** Bytes an entry takes in a listpack, roughly (lengths, flags, ID deltas). */
export function entryBytes(fields: Buffer[]): number {
  let n = 8;
  for (const f of fields) n += f.length + 2;
  return n;
}

/** Append an entry with a new, greater ID (the caller checked it), into the last node or a new one. */
export function appendEntry(
  s: StreamValue,
  id: StreamId,
  fields: Buffer[],
  /** Before 5.0.14, 6.0.16 and 6.2.6 only the listpack's own bytes counted. */
  countNewBytes = true,
): void {
  const bytes = entryBytes(fields);
  let total = 0;
  if (countNewBytes) for (const f of fields) total += f.length;
  // streamAppendItem: a new node when the listpack's bytes plus the new fields' would reach
  // stream-node-max-bytes, or it holds stream-node-max-entries (deleted ones count).
  let node = s.nodes[s.nodes.length - 1];
  if (
    node === undefined ||
    node.bytes + total >= NODE_MAX_BYTES ||
    node.count >= NODE_MAX_ENTRIES
  ) {
    node = { count: 0, live: 0, bytes: NODE_BASE_BYTES };
    s.nodes.push(node);
  }
  node.count++;
  node.live++;
  node.bytes += bytes;
  s.entries.push({ id, fields, node });
  if (s.entries.length === 1) s.firstId = id;
  s.lastId = id;
  s.entriesAdded++;
}

/** Index of the first entry with an ID ≥ id. */
export function lowerBound(s: StreamValue, id: StreamId): number {
  let lo = 0;
  let hi = s.entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.entries[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function findEntry(s: StreamValue, id: StreamId): StreamEntry | undefined {
  const i = lowerBound(s, id);
  const e = s.entries[i];
  return e !== undefined && e.id === id ? e : undefined;
}

/** Remove entries at these indexes (ascending); a node with none left goes. */
function removeAt(s: StreamValue, indexes: number[]): StreamEntry[] {
  const gone = new Set(indexes);
  const removed: StreamEntry[] = [];
  const kept: StreamEntry[] = [];
  for (let i = 0; i < s.entries.length; i++) {
    const e = s.entries[i]!;
    if (gone.has(i)) {
      removed.push(e);
      e.node.live--;
    } else kept.push(e);
  }
  s.entries = kept;
  s.nodes = s.nodes.filter((n) => n.live > 0);
  return removed;
}

/** XDEL of one ID: the entry removed, or undefined. */
export function deleteEntry(s: StreamValue, id: StreamId): StreamEntry | undefined {
  const i = lowerBound(s, id);
  if (s.entries[i]?.id !== id) return undefined;
  const [e] = removeAt(s, [i]);
  if (id > s.maxDeletedId) s.maxDeletedId = id;
  return e;
}

/** After deletions: the recorded first entry ID (streamGetEdgeID), 0-0 when empty. */
export function refreshFirst(s: StreamValue): void {
  s.firstId = s.entries[0]?.id ?? 0n;
}

export interface TrimArgs {
  strategy: "maxlen" | "minid";
  maxlen: bigint;
  minid: StreamId;
  approx: boolean;
  /** 0: no limit. */
  limit: bigint;
}

/**
 * streamTrim: whole nodes from the head while the rest still satisfies the strategy; then,
 * unless approximate, single entries of the next node. The entries removed.
 */
export function trim(s: StreamValue, args: TrimArgs): StreamEntry[] {
  const removeIdx: number[] = [];
  let length = s.entries.length;
  let deleted = 0n;
  let at = 0;
  for (const node of [...s.nodes]) {
    if (args.strategy === "maxlen" && BigInt(length) <= args.maxlen) break;
    const live = node.live;
    if (args.limit > 0n && deleted + BigInt(live) > args.limit) break;
    const nodeEntries: number[] = [];
    for (let i = at; i < s.entries.length && s.entries[i]!.node === node; i++) nodeEntries.push(i);
    const lastInNode = s.entries[nodeEntries[nodeEntries.length - 1] ?? -1]?.id ?? 0n;
    const removeNode =
      args.strategy === "maxlen" ? BigInt(length - live) >= args.maxlen : lastInNode < args.minid;
    if (removeNode) {
      removeIdx.push(...nodeEntries);
      length -= live;
      deleted += BigInt(live);
      at += nodeEntries.length;
      continue;
    }
    if (args.approx) break;
    for (const i of nodeEntries) {
      const stop =
        args.strategy === "maxlen" ? BigInt(length) <= args.maxlen : s.entries[i]!.id >= args.minid;
      if (stop) break;
      removeIdx.push(i);
      length--;
    }
    break;
  }
  if (removeIdx.length === 0) return [];
  const removed = removeAt(s, removeIdx);
  refreshFirst(s);
  return removed;
}

/** The last entry's ID (streamLastValidID), or 0-0. */
export function lastValidId(s: StreamValue): StreamId {
  return s.entries[s.entries.length - 1]?.id ?? 0n;
}

/** streamRangeHasTombstones. */
export function rangeHasTombstones(s: StreamValue, start: StreamId, end: StreamId): boolean {
  if (s.entries.length === 0 || s.maxDeletedId === 0n) return false;
  if (s.firstId > s.maxDeletedId) return false;
  return start <= s.maxDeletedId && s.maxDeletedId <= end;
}

/** streamEstimateDistanceFromFirstEverEntry; -1 when it cannot tell. */
export function distanceFromFirst(s: StreamValue, id: StreamId): bigint {
  if (s.entriesAdded === 0n) return 0n;
  const length = BigInt(s.entries.length);
  if (length === 0n && id <= s.lastId) return s.entriesAdded;
  if (id === s.lastId) return s.entriesAdded;
  if (id > s.lastId) return -1n;
  if (s.maxDeletedId === 0n || s.maxDeletedId < s.firstId) {
    if (id < s.firstId) return s.entriesAdded - length;
    if (id === s.firstId) return s.entriesAdded - length + 1n;
  }
  return -1n;
}

/** A group's lag (streamReplyWithCGLag); undefined: null. */
export function groupLag(s: StreamValue, g: StreamGroup): bigint | undefined {
  if (s.entriesAdded === 0n) return 0n;
  if (g.entriesRead !== -1n && !rangeHasTombstones(s, g.lastId, ID_MAX)) {
    return s.entriesAdded - g.entriesRead;
  }
  const read = distanceFromFirst(s, g.lastId);
  return read === -1n ? undefined : s.entriesAdded - read;
}

/** Byte order of rax keys: groups and consumers are listed in it. */
export function raxOrder(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Sorted by ID. */
export function byId(nacks: Iterable<StreamNack>): StreamNack[] {
  return [...nacks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
