/**
 * Pub/sub commands (pubsub.c): PUBLISH reaches nobody; SUBSCRIBE and PSUBSCRIBE put the
 * session in subscribed mode (RESP2) or send pushes (RESP3), keeping the names within the
 * session's memory share.
 */
import { bulk, encodeValue, int } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { bulkText, integer, nullBulk, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

/** Most channels and patterns one session holds (the replies still count every request). */
const MAX_SUBSCRIPTIONS = 10_000;

/** What a channel or pattern name kept costs the session's memory share. */
export const subscriptionBytes = (name: string): number => name.length + 64;

function subscribeGeneric(kind: "subscribe" | "psubscribe") {
  return (c: CommandContext): Reply => {
    const set = kind === "subscribe" ? c.state.channels : c.state.patterns;
    const replies: Buffer[] = [];
    for (let i = 1; i < c.args.length; i++) {
      const name = c.arg(i);
      // Past the count or the session's memory share a name is answered, not kept.
      if (set.size < MAX_SUBSCRIPTIONS && !set.has(name) && c.hold(subscriptionBytes(name))) {
        set.add(name);
      }
      const count = c.state.channels.size + c.state.patterns.size;
      replies.push(pushReply(c, [bulk(kind), bulk(c.args[i]!), int(count)]));
    }
    return { type: "raw", bytes: Buffer.concat(replies) };
  };
}

function unsubscribeGeneric(kind: "unsubscribe" | "punsubscribe") {
  return (c: CommandContext): Reply => {
    const set = kind === "unsubscribe" ? c.state.channels : c.state.patterns;
    const names = c.args.length > 1 ? c.args.slice(1).map((a) => a.toString("latin1")) : [...set];
    const replies: Buffer[] = [];
    if (names.length === 0) {
      const count = c.state.channels.size + c.state.patterns.size;
      replies.push(pushReply(c, [bulk(kind), nullBulk(), int(count)]));
    }
    for (const name of names) {
      if (set.delete(name)) c.release(subscriptionBytes(name));
      const count = c.state.channels.size + c.state.patterns.size;
      replies.push(pushReply(c, [bulk(kind), bulkText(name), int(count)]));
    }
    return { type: "raw", bytes: Buffer.concat(replies) };
  };
}

/** A pub/sub message: RESP3 push (`>`), RESP2 array. */
function pushReply(c: CommandContext, items: RespValue[]): Buffer {
  return encodeValue({ type: "push", value: items }, c.state.proto);
}

export const PUBSUB_COMMANDS: CommandSpec[] = inCategory("pubsub", [
  { name: "publish", arity: 3, handler: () => integer(0) },
  { name: "subscribe", arity: -2, flags: ["pubsub"], handler: subscribeGeneric("subscribe") },
  { name: "psubscribe", arity: -2, flags: ["pubsub"], handler: subscribeGeneric("psubscribe") },
  { name: "unsubscribe", arity: -1, flags: ["pubsub"], handler: unsubscribeGeneric("unsubscribe") },
  {
    name: "punsubscribe",
    arity: -1,
    flags: ["pubsub"],
    handler: unsubscribeGeneric("punsubscribe"),
  },
]);
