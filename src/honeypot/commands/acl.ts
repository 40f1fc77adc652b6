/**
 * ACL (acl.c), 6.0+. The `default` user as the persona is configured, and the users a visitor
 * creates with ACL SETUSER, kept in the source's world (bounded in number and bytes). Rules are
 * checked with the version's errors for the common modifiers; selectors (7.0's `(...)`) are not
 * modelled. AUTH does not consult these users: a password persona keeps its own password.
 */
import { createHash, randomBytes } from "node:crypto";
import { bulk, nil } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { globMatch } from "../keyspace.js";
import type { RecordedCommand } from "../personas/tables.js";
import { subcommandArgumentsText } from "../personas/texts.js";
import { parseInteger } from "./integers.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  notInteger,
  OK,
  pairsMap,
  type Reply,
  textArray,
} from "./reply.js";
import { type AclUser, type CommandContext, type CommandSpec, inCategory } from "./spec.js";

/** ACLCommandCategories: the same list from 6.0 to 7.4. */
const CATEGORIES = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
];

/** Users a source may have, `default` included, and the bytes of one user's rules. */
const MAX_USERS = 32;
const MAX_USER_BYTES = 4096;

const ERR_PASS_MISSING = "The password you are trying to remove from the user does not exist";
const ERR_HASH =
  "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
const ERR_KEYS_AFTER_ALL =
  "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const ERR_CHANNELS_AFTER_ALL =
  "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";
const ERR_UNKNOWN_NAME = "Unknown command or category name in ACL";
const ERR_SYNTAX = "Syntax error";

function sha256(text: string): string {
  return createHash("sha256").update(Buffer.from(text, "latin1")).digest("hex");
}

/** The default user as configured: nopass on open personas, else requirepass's hash. */
function defaultUser(c: CommandContext): AclUser {
  const password = c.persona.auth === "password";
  return {
    enabled: true,
    nopass: !password,
    passwords: password ? [sha256(c.state.config.get("requirepass") ?? "")] : [],
    allKeys: true,
    keys: [],
    allChannels: true,
    channels: [],
    allCommands: true,
    rules: [],
    sanitizePayload: c.era.at("7.2"),
  };
}

/** A user ACL SETUSER creates (ACLCreateUser): off, no keys, channels per acl-pubsub-default. */
function newUser(c: CommandContext): AclUser {
  return {
    enabled: false,
    nopass: false,
    passwords: [],
    allKeys: false,
    keys: [],
    allChannels: c.era.at("6.2") && !c.era.at("7.0"),
    channels: [],
    allCommands: false,
    rules: [],
    // 7.2 creates users with sanitize-payload set.
    sanitizePayload: c.era.at("7.2"),
  };
}

function getUser(c: CommandContext, name: string): AclUser | undefined {
  return c.state.aclUsers.get(name) ?? (name === "default" ? defaultUser(c) : undefined);
}

/** User names in the rax's order (bytewise). */
function userNames(c: CommandContext): string[] {
  const names = new Set(c.state.aclUsers.keys());
  names.add("default");
  return [...names].sort((a, b) =>
    Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")),
  );
}

function copyUser(u: AclUser): AclUser {
  return {
    ...u,
    passwords: [...u.passwords],
    keys: [...u.keys],
    channels: [...u.channels],
    rules: [...u.rules],
  };
}

/**
 * The version's commands (and 7.0+ subcommands) in the recorded order, as the bitmap's ids: all
 * the real server registered (ACL CAT lists DEBUG too where the persona hides it).
 */
function commandList(c: CommandContext): RecordedCommand[] {
  const rec = c.persona.recording;
  if (rec === undefined) return [];
  return [...rec.commands.values()];
}

/** ACLChangeSelectorPerm: the command and every subcommand of it. */
function changePerm(bits: Set<string>, cmd: RecordedCommand, allow: boolean): void {
  for (const x of [cmd, ...cmd.subcommands.values()]) {
    if (allow) bits.add(x.name);
    else bits.delete(x.name);
  }
}

function setCategory(
  bits: Set<string>,
  cmds: Iterable<RecordedCommand>,
  tag: string,
  allow: boolean,
): void {
  for (const cmd of cmds) {
    if (cmd.categories.includes(tag)) changePerm(bits, cmd, allow);
    setCategory(bits, cmd.subcommands.values(), tag, allow);
  }
}

/** One rule on a bitmap of allowed commands (`+get`, `-@write`, `+config|get`). */
function applyBits(c: CommandContext, bits: Set<string>, rule: string): void {
  const allow = rule[0] === "+";
  const target = rule.slice(1);
  const cmds = commandList(c);
  if (target === "@all") {
    if (!allow) bits.clear();
    else for (const cmd of cmds) changePerm(bits, cmd, true);
  } else if (target.startsWith("@")) setCategory(bits, cmds, target, allow);
  else {
    const bar = target.indexOf("|");
    const cmd = c.persona.recording?.commands.get(bar < 0 ? target : target.slice(0, bar));
    if (cmd === undefined) return;
    if (bar < 0) changePerm(bits, cmd, allow);
    else {
      const sub = cmd.subcommands.get(target.slice(bar + 1));
      if (sub !== undefined) changePerm(bits, sub, allow);
    }
  }
}

/** The commands `u` may run, by full name. */
function allowedCommands(c: CommandContext, u: AclUser): Set<string> {
  const bits = new Set<string>();
  for (const rule of [u.allCommands ? "+@all" : "-@all", ...u.rules]) applyBits(c, bits, rule);
  return bits;
}

function countCategory(
  bits: Set<string>,
  cmds: Iterable<RecordedCommand>,
  tag: string,
  n: { on: number; off: number },
): void {
  for (const cmd of cmds) {
    if (cmd.categories.includes(tag)) {
      if (bits.has(cmd.name)) n.on++;
      else n.off++;
    }
    countCategory(bits, cmd.subcommands.values(), tag, n);
  }
}

/**
 * ACLDescribeSelectorCommandRules: +@all or -@all, then the categories that fit the bitmap best,
 * then single commands (Redis walks its dict for these; here the recorded order). 6.0 to 7.0.
 */
function commandRules(c: CommandContext, u: AclUser): string {
  // 7.2 keeps the rules as given (each command or category once, the last kept).
  if (c.era.at("7.2")) return [u.allCommands ? "+@all" : "-@all", ...u.rules].join(" ");
  const bits = allowedCommands(c, u);
  const additive = !u.allCommands;
  const out = [additive ? "-@all" : "+@all"];
  const fake = new Set<string>();
  applyBits(c, fake, out[0]!);
  const temp = new Set(bits);
  const cmds = commandList(c);
  const applied = new Set<string>();
  for (;;) {
    let best: string | undefined;
    let mindiff = Number.MAX_SAFE_INTEGER;
    let maxsame = 0;
    for (const cat of CATEGORIES) {
      if (applied.has(cat)) continue;
      const n = { on: 0, off: 0 };
      countCategory(temp, cmds, `@${cat}`, n);
      const diff = additive ? n.off : n.on;
      const same = additive ? n.on : n.off;
      if (same > diff && (diff < mindiff || (diff === mindiff && same > maxsame))) {
        best = cat;
        mindiff = diff;
        maxsame = same;
      }
    }
    if (best === undefined) break;
    const op = `${additive ? "+" : "-"}@${best}`;
    applyBits(c, fake, op);
    applyBits(c, temp, `${additive ? "-" : "+"}@${best}`);
    out.push(op);
    applied.add(best);
  }
  const single = (list: Iterable<RecordedCommand>): void => {
    for (const cmd of list) {
      const userbit = bits.has(cmd.name);
      if (userbit !== fake.has(cmd.name)) {
        out.push(`${userbit ? "+" : "-"}${cmd.name}`);
        changePerm(fake, cmd, userbit);
      }
      single(cmd.subcommands.values());
    }
  };
  single(cmds);
  return out.join(" ");
}

/** ACLDescribeUser: the user as ACL LIST writes it. */
function describe(c: CommandContext, u: AclUser): string {
  const parts: string[] = [u.enabled ? "on" : "off"];
  if (u.nopass) parts.push("nopass");
  if (c.era.at("6.2") && u.sanitizePayload) parts.push("sanitize-payload");
  for (const p of u.passwords) parts.push(`#${p}`);
  if (u.allKeys) parts.push("~*");
  else parts.push(...u.keys);
  if (c.era.at("6.2")) {
    if (u.allChannels) parts.push("&*");
    else parts.push("resetchannels", ...u.channels.map((ch) => `&${ch}`));
  }
  parts.push(commandRules(c, u));
  return parts.join(" ");
}

/** The command (or 7.0+ `container|sub`) a rule names, from the version's recorded table. */
function ruleCommandExists(c: CommandContext, name: string): boolean {
  const rec = c.persona.recording;
  const lower = name.toLowerCase();
  const bar = lower.indexOf("|");
  const base = bar < 0 ? lower : lower.slice(0, bar);
  if (rec === undefined) return c.commands.has(base);
  const cmd = rec.commands.get(base);
  if (cmd === undefined) return false;
  if (bar < 0 || cmd.subcommands.size === 0) return true;
  return cmd.subcommands.has(lower.slice(bar + 1));
}

/** One modifier applied to `u` (ACLSetUser); an error text when it is refused. */
function applyRule(c: CommandContext, u: AclUser, op: string): string | undefined {
  const lower = op.toLowerCase();
  const v7 = c.era.at("7.0");
  const v62 = c.era.at("6.2");
  switch (lower) {
    case "on":
      u.enabled = true;
      return undefined;
    case "off":
      u.enabled = false;
      return undefined;
    case "nopass":
      u.nopass = true;
      u.passwords = [];
      return undefined;
    case "resetpass":
      u.nopass = false;
      u.passwords = [];
      return undefined;
    case "allkeys":
      u.allKeys = true;
      u.keys = [];
      return undefined;
    case "resetkeys":
      u.allKeys = false;
      u.keys = [];
      return undefined;
    case "allcommands":
    case "+@all":
      u.allCommands = true;
      u.rules = [];
      return undefined;
    case "nocommands":
    case "-@all":
      u.allCommands = false;
      u.rules = [];
      return undefined;
    case "reset": {
      const fresh = newUser(c);
      fresh.sanitizePayload = v62;
      Object.assign(u, fresh);
      return undefined;
    }
  }
  if (v62) {
    switch (lower) {
      case "allchannels":
        u.allChannels = true;
        u.channels = [];
        return undefined;
      case "resetchannels":
        u.allChannels = false;
        u.channels = [];
        return undefined;
      case "sanitize-payload":
        u.sanitizePayload = true;
        return undefined;
      case "skip-sanitize-payload":
        u.sanitizePayload = false;
        return undefined;
    }
  }
  if (v7 && lower === "clearselectors") return undefined;
  const first = op[0];
  const rest = op.slice(1);
  if (first === ">") {
    const hash = sha256(rest);
    if (!u.passwords.includes(hash)) u.passwords.push(hash);
    u.nopass = false;
    return undefined;
  }
  if (first === "#") {
    if (!/^[0-9a-f]{64}$/.test(rest)) return ERR_HASH;
    if (!u.passwords.includes(rest)) u.passwords.push(rest);
    u.nopass = false;
    return undefined;
  }
  if (first === "<" || first === "!") {
    const hash = first === "<" ? sha256(rest) : rest;
    if (first === "!" && !/^[0-9a-f]{64}$/.test(rest)) return ERR_HASH;
    const at = u.passwords.indexOf(hash);
    if (at < 0) return ERR_PASS_MISSING;
    u.passwords.splice(at, 1);
    return undefined;
  }
  if (first === "~" || (v7 && first === "%")) return keyPattern(u, op, v7);
  if (v62 && first === "&") {
    if (u.allChannels) return ERR_CHANNELS_AFTER_ALL;
    if (rest === "*") {
      u.allChannels = true;
      u.channels = [];
    } else if (!u.channels.includes(rest)) u.channels.push(rest);
    return undefined;
  }
  if (first === "+" || first === "-") {
    if (rest.startsWith("@")) {
      if (!CATEGORIES.includes(rest.slice(1).toLowerCase())) return ERR_UNKNOWN_NAME;
    } else if (!ruleCommandExists(c, rest)) return ERR_UNKNOWN_NAME;
    const rule = `${first}${rest.toLowerCase()}`;
    const name = rule.slice(1);
    u.rules = u.rules.filter((r) => r.slice(1) !== name);
    u.rules.push(rule);
    return undefined;
  }
  return ERR_SYNTAX;
}

/** `~pattern`, 7.0's `%R~` / `%W~` / `%RW~`. */
function keyPattern(u: AclUser, op: string, v7: boolean): string | undefined {
  let flags = "RW";
  let pattern = op.slice(1);
  if (op[0] === "%") {
    const tilde = op.indexOf("~");
    if (tilde < 0) return ERR_SYNTAX;
    const f = op.slice(1, tilde).toUpperCase();
    if (f.length === 0 || /[^RW]/.test(f)) return ERR_SYNTAX;
    flags = `${f.includes("R") ? "R" : ""}${f.includes("W") ? "W" : ""}`;
    pattern = op.slice(tilde + 1);
  }
  if (u.allKeys) return ERR_KEYS_AFTER_ALL;
  if (pattern === "*" && flags === "RW") {
    u.allKeys = true;
    u.keys = [];
    return undefined;
  }
  const text = flags === "RW" || !v7 ? `~${pattern}` : `%${flags}~${pattern}`;
  if (!u.keys.includes(text)) u.keys.push(text);
  return undefined;
}

function userBytes(u: AclUser): number {
  let n = 64 * u.passwords.length;
  for (const s of [...u.keys, ...u.channels, ...u.rules]) n += s.length + 16;
  return n;
}

function setUser(c: CommandContext): Reply {
  const name = c.arg(2);
  if (/[\s\0]/.test(name))
    return errorReply("ERR Usernames can't contain spaces or null characters");
  const existing = c.state.aclUsers.get(name);
  const before = getUser(c, name);
  const u = before !== undefined ? copyUser(before) : newUser(c);
  for (let i = 3; i < c.args.length; i++) {
    const op = c.arg(i);
    const error = applyRule(c, u, op);
    if (error !== undefined)
      return errorReply(`ERR Error in ACL SETUSER modifier '${op}': ${error}`);
  }
  // Bounded: past the caps the reply is the same, and nothing more is kept.
  const bytes = userBytes(u);
  const oldBytes = existing !== undefined ? userBytes(existing) : 0;
  const users = c.state.aclUsers.size + (c.state.aclUsers.has("default") ? 0 : 1);
  const room = existing !== undefined || name === "default" || users < MAX_USERS;
  if (room && bytes <= MAX_USER_BYTES && c.holdShared(name.length + bytes)) {
    if (existing !== undefined) c.releaseShared(name.length + oldBytes);
    c.state.aclUsers.set(name, u);
  }
  return OK;
}

function delUser(c: CommandContext): Reply {
  for (let i = 2; i < c.args.length; i++) {
    if (c.arg(i) === "default") return errorReply("ERR The 'default' user cannot be removed");
  }
  let deleted = 0;
  for (let i = 2; i < c.args.length; i++) {
    const name = c.arg(i);
    const u = c.state.aclUsers.get(name);
    if (u === undefined) continue;
    c.state.aclUsers.delete(name);
    c.releaseShared(name.length + userBytes(u));
    deleted++;
  }
  return integer(deleted);
}

function getUserReply(c: CommandContext): Reply {
  const u = getUser(c, c.arg(2));
  if (u === undefined) return nil();
  const v7 = c.era.at("7.0");
  const v62 = c.era.at("6.2");
  const flags = [u.enabled ? "on" : "off"];
  if (!v7) {
    if (u.allKeys) flags.push("allkeys");
    if (v62 && u.allChannels) flags.push("allchannels");
    if (u.allCommands && allowedCommands(c, u).size === commandList(c).length)
      flags.push("allcommands");
  }
  if (u.nopass) flags.push("nopass");
  if (v62 && u.sanitizePayload) flags.push("sanitize-payload");
  const fields: Array<[string, RespValue]> = [
    ["flags", { type: "set", value: flags.map(bulkText) }],
    ["passwords", textArray(u.passwords)],
    ["commands", bulkText(commandRules(c, u))],
  ];
  if (v7) {
    fields.push(["keys", bulkText(u.allKeys ? "~*" : u.keys.join(" "))]);
    fields.push([
      "channels",
      bulkText(u.allChannels ? "&*" : u.channels.map((ch) => `&${ch}`).join(" ")),
    ]);
    fields.push(["selectors", EMPTY_ARRAY]);
  } else {
    fields.push(["keys", textArray(u.allKeys ? ["*"] : u.keys.map((k) => k.slice(1)))]);
    if (v62) fields.push(["channels", textArray(u.allChannels ? ["*"] : u.channels)]);
  }
  return pairsMap(fields);
}

/** Words past what the subcommand takes: acl.c's own check (addReplySubcommandSyntaxError). */
function tooMany(c: CommandContext, max: number): Reply | undefined {
  if (c.args.length <= max) return undefined;
  return errorReply(subcommandArgumentsText(c.era, "acl", c.arg(1)));
}

function cat(c: CommandContext): Reply {
  const over = tooMany(c, 3);
  if (over !== undefined) return over;
  if (c.args.length === 2) return textArray(CATEGORIES);
  const name = c.arg(2);
  const category = name.toLowerCase();
  if (!CATEGORIES.includes(category)) {
    const shown = c.era.at("7.0") ? name.slice(0, 128) : name;
    return errorReply(`ERR Unknown category '${shown}'`);
  }
  const rec = c.persona.recording;
  if (rec === undefined) return EMPTY_ARRAY;
  const tag = `@${category}`;
  const out: string[] = [];
  const visit = (cmd: RecordedCommand): void => {
    if (cmd.categories.includes(tag)) out.push(cmd.name);
    for (const sub of cmd.subcommands.values()) visit(sub);
  };
  for (const cmd of commandList(c)) visit(cmd);
  return textArray(out);
}

function genpass(c: CommandContext): Reply {
  const over = tooMany(c, 3);
  if (over !== undefined) return over;
  let bits = 256;
  if (c.args.length === 3) {
    const n = parseInteger(c.arg(2));
    if (n === undefined) return notInteger();
    bits = n;
  }
  if (bits <= 0 || bits > 4096) {
    return errorReply(
      "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
    );
  }
  const chars = Math.floor((bits + 3) / 4);
  return bulk(
    Buffer.from(
      randomBytes(Math.ceil(chars / 2))
        .toString("hex")
        .slice(0, chars),
      "latin1",
    ),
  );
}

function log(c: CommandContext): Reply {
  const over = tooMany(c, 3);
  if (over !== undefined) return over;
  if (c.args.length === 3) {
    if (c.arg(2).toLowerCase() === "reset") return OK;
    if (parseInteger(c.arg(2)) === undefined) return notInteger();
  }
  return EMPTY_ARRAY;
}

/** The first key of `args` (the command's words) that `u`'s key patterns do not allow. */
function deniedKey(u: AclUser, cmd: RecordedCommand, args: string[]): string | undefined {
  if (u.allKeys || cmd.first <= 0) return undefined;
  const last = cmd.last < 0 ? args.length + cmd.last : cmd.last;
  for (let i = cmd.first; i <= last && i < args.length; i += Math.max(1, cmd.step)) {
    const key = args[i]!;
    if (!u.keys.some((k) => globMatch(k.slice(k.indexOf("~") + 1), key))) return key;
  }
  return undefined;
}

/** How DRYRUN names the user: "This user" in 7.0, "User <name>" from 7.2. */
function who(c: CommandContext): string {
  return c.era.at("7.2") ? `User ${c.arg(2)}` : "This user";
}

function dryrun(c: CommandContext): Reply {
  const u = getUser(c, c.arg(2));
  if (u === undefined) return errorReply(`ERR User '${c.arg(2)}' not found`);
  const rec = c.persona.recording;
  const base = c.arg(3).toLowerCase();
  let cmd = rec?.commands.get(base);
  if (cmd !== undefined && cmd.subcommands.size > 0 && c.args.length > 4) {
    cmd = cmd.subcommands.get(c.arg(4).toLowerCase());
  }
  if (cmd === undefined) return errorReply(`ERR Command '${c.arg(3)}' not found`);
  const argc = c.args.length - 3;
  if ((cmd.arity > 0 && cmd.arity !== argc) || argc < -cmd.arity) {
    return errorReply(`ERR wrong number of arguments for '${cmd.name}' command`);
  }
  if (!allowedCommands(c, u).has(cmd.name)) {
    return bulkText(`${who(c)} has no permissions to run the '${cmd.name}' command`);
  }
  const args: string[] = [];
  for (let i = 3; i < c.args.length; i++) args.push(c.arg(i));
  const key = deniedKey(u, cmd, args);
  if (key !== undefined) return bulkText(`${who(c)} has no permissions to access the '${key}' key`);
  return OK;
}

const NO_ACL_FILE =
  "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

export const ACL_COMMANDS: CommandSpec[] = inCategory("admin", [
  {
    name: "acl",
    arity: -2,
    since: "6.0",
    subcommands: {
      whoami: { arity: 2, handler: () => bulk("default") },
      users: { arity: 2, handler: (c) => textArray(userNames(c)) },
      list: {
        arity: 2,
        handler: (c) =>
          textArray(userNames(c).map((n) => `user ${n} ${describe(c, getUser(c, n) as AclUser)}`)),
      },
      cat: { arity: -2, handler: cat },
      getuser: { arity: 3, handler: getUserReply },
      setuser: { arity: -3, handler: setUser },
      deluser: { arity: -3, handler: delUser },
      genpass: { arity: -2, handler: genpass },
      log: { arity: -2, handler: log },
      dryrun: { arity: -4, since: "7.0", handler: dryrun },
      save: { arity: 2, handler: () => errorReply(NO_ACL_FILE) },
      load: { arity: 2, handler: () => errorReply(NO_ACL_FILE) },
    },
  },
]);
