/**
 * Pub/sub commands (pubsub.c): PUBLISH reaches the source's subscribed connections; SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE
 * (7.0) put the session in subscribed mode (RESP2) or send pushes (RESP3), keeping the names
 * within the session's memory share. PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB
 * see the asking connection's subscriptions (not its source's other connections').
 */
import { arr, bulk, encodeValue, int } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { globMatch } from "../keyspace.js";
import { subcommandArgumentsText } from "../personas/texts.js";
import type { Subscriber } from "../worlds.js";
import { bulkText, errorReply, integer, nullBulk, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, type SessionState } from "./spec.js";

/** Most channels and patterns one session holds (the replies still count every request). */
const MAX_SUBSCRIPTIONS = 10_000;

/** What a channel or pattern name kept costs the session's memory share. */
export const subscriptionBytes = (name: string): number => name.length + 64;

/** Every subscription of a connection: in RESP2 any one puts it in subscribed mode. */
export function subscriptions(s: SessionState): number {
  return s.channels.size + s.patterns.size + s.shardChannels.size;
}

type Kind = "subscribe" | "psubscribe" | "ssubscribe";

function setOf(c: CommandContext, kind: Kind): Set<string> {
  return kind === "subscribe"
    ? c.state.channels
    : kind === "psubscribe"
      ? c.state.patterns
      : c.state.shardChannels;
}

/** The count a (un)subscribe reply shows: channels and patterns together; shard ones apart. */
function countFor(c: CommandContext, kind: Kind): number {
  return kind === "ssubscribe"
    ? c.state.shardChannels.size
    : c.state.channels.size + c.state.patterns.size;
}

function subscribeGeneric(kind: Kind) {
  return (c: CommandContext): Reply => {
    const set = setOf(c, kind);
    const replies: Buffer[] = [];
    for (let i = 1; i < c.args.length; i++) {
      const name = c.arg(i);
      // Past the count or the session's memory share a name is answered, not kept.
      if (set.size < MAX_SUBSCRIPTIONS && !set.has(name) && c.hold(subscriptionBytes(name))) {
        set.add(name);
      }
      replies.push(pushReply(c, [bulk(kind), bulk(c.args[i]!), int(countFor(c, kind))]));
    }
    return { type: "raw", bytes: Buffer.concat(replies) };
  };
}

function unsubscribeGeneric(kind: "unsubscribe" | "punsubscribe" | "sunsubscribe") {
  const of: Kind =
    kind === "unsubscribe" ? "subscribe" : kind === "punsubscribe" ? "psubscribe" : "ssubscribe";
  return (c: CommandContext): Reply => {
    const set = setOf(c, of);
    const names = c.args.length > 1 ? c.args.slice(1).map((a) => a.toString("latin1")) : [...set];
    const replies: Buffer[] = [];
    if (names.length === 0) {
      replies.push(pushReply(c, [bulk(kind), nullBulk(), int(countFor(c, of))]));
    }
    for (const name of names) {
      if (set.delete(name)) c.release(subscriptionBytes(name));
      replies.push(pushReply(c, [bulk(kind), bulkText(name), int(countFor(c, of))]));
    }
    return { type: "raw", bytes: Buffer.concat(replies) };
  };
}

/** A pub/sub message: RESP3 push (`>`), RESP2 array. */
function pushReply(c: CommandContext, items: RespValue[]): Buffer {
  return pushFor(c.state, items);
}

/**
 * PUBLISH / SPUBLISH within a source: each connection subscribed to the channel gets a
 * `message` (`smessage` for shard channels), and one per matching pattern a `pmessage`, in
 * its own protocol, as pubsubPublishMessage sends them. Returns how many were sent.
 */
export function publishTo(
  subscribers: Iterable<Subscriber>,
  channel: Buffer,
  message: Buffer,
  shard: boolean,
): number {
  const name = channel.toString("latin1");
  let receivers = 0;
  for (const s of subscribers) {
    const st = s.state;
    if (shard) {
      if (st.shardChannels.has(name)) {
        s.push(pushFor(st, [bulk("smessage"), bulk(channel), bulk(message)]));
        receivers++;
      }
      continue;
    }
    if (st.channels.has(name)) {
      s.push(pushFor(st, [bulk("message"), bulk(channel), bulk(message)]));
      receivers++;
    }
    for (const pattern of st.patterns) {
      if (!globMatch(pattern, name)) continue;
      s.push(pushFor(st, [bulk("pmessage"), bulkText(pattern), bulk(channel), bulk(message)]));
      receivers++;
    }
  }
  return receivers;
}

/** A pub/sub message in the protocol of the connection it goes to. */
function pushFor(state: SessionState, items: RespValue[]): Buffer {
  return encodeValue({ type: "push", value: items }, state.proto);
}

/** PUBSUB CHANNELS / SHARDCHANNELS [pattern]: the names matching, in no set order. */
function channelList(set: (c: CommandContext) => Set<string>) {
  return (c: CommandContext): Reply => {
    if (c.args.length > 3) return subcommandSyntax(c);
    const pattern = c.args.length === 3 ? c.arg(2) : undefined;
    const names = [...set(c)].filter((n) => pattern === undefined || globMatch(pattern, n));
    return arr(names.map((n) => bulkText(n)));
  };
}

/** PUBSUB NUMSUB / SHARDNUMSUB [channel …]: each name and its subscribers. */
function numsub(set: (c: CommandContext) => Set<string>) {
  return (c: CommandContext): Reply =>
    arr(c.args.slice(2).flatMap((a) => [bulk(a), int(set(c).has(a.toString("latin1")) ? 1 : 0)]));
}

/** 2.8–4.0: PUBSUB words its own errors, for an unknown subcommand and for wrong arguments. */
const legacyPubsubError = (sub: string): string =>
  `ERR Unknown PUBSUB subcommand or wrong number of arguments for '${sub}'`;

/** What PUBSUB answers, in its handler, to arguments its table entry let through. */
function subcommandSyntax(c: CommandContext): Reply {
  return errorReply(
    c.era.before("5.0")
      ? legacyPubsubError(c.arg(1))
      : subcommandArgumentsText(c.era, c.arg(0), c.arg(1)),
  );
}

export const PUBSUB_COMMANDS: CommandSpec[] = inCategory("pubsub", [
  {
    name: "publish",
    arity: 3,
    handler: (c) => integer(c.publish(c.args[1]!, c.args[2]!, false)),
  },
  { name: "subscribe", arity: -2, flags: ["pubsub"], handler: subscribeGeneric("subscribe") },
  { name: "psubscribe", arity: -2, flags: ["pubsub"], handler: subscribeGeneric("psubscribe") },
  { name: "unsubscribe", arity: -1, flags: ["pubsub"], handler: unsubscribeGeneric("unsubscribe") },
  {
    name: "punsubscribe",
    arity: -1,
    flags: ["pubsub"],
    handler: unsubscribeGeneric("punsubscribe"),
  },
  {
    name: "spublish",
    arity: 3,
    since: "7.0",
    keys: [1, 1, 1],
    handler: (c) => integer(c.publish(c.args[1]!, c.args[2]!, true)),
  },
  {
    name: "ssubscribe",
    arity: -2,
    since: "7.0",
    keys: [1, -1, 1],
    flags: ["pubsub"],
    handler: subscribeGeneric("ssubscribe"),
  },
  {
    name: "sunsubscribe",
    arity: -1,
    since: "7.0",
    keys: [1, -1, 1],
    flags: ["pubsub"],
    handler: unsubscribeGeneric("sunsubscribe"),
  },
  {
    name: "pubsub",
    arity: -2,
    since: "2.8",
    subcommands: {
      channels: { arity: -2, handler: channelList((c) => c.state.channels) },
      numsub: { arity: -2, handler: numsub((c) => c.state.channels) },
      numpat: { arity: 2, handler: (c) => integer(c.state.patterns.size) },
      shardchannels: {
        arity: -2,
        since: "7.0",
        handler: channelList((c) => c.state.shardChannels),
      },
      shardnumsub: { arity: -2, since: "7.0", handler: numsub((c) => c.state.shardChannels) },
    },
    legacyErrors: { unknown: legacyPubsubError, arity: legacyPubsubError },
  },
]);
