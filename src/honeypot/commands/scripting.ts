/**
 * Scripting commands (eval.c): EVAL, EVALSHA, SCRIPT. No Lua runs: a script's reply is read
 * from its text (a literal return, or the error Redis's sandbox gives for the globals exploits
 * reach for), and its SHA1 is reported for the recorder.
 */
import { createHash } from "node:crypto";
import { arr, bulk, int } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { NOT_INTEGER } from "../personas/texts.js";
import { parseInteger } from "./integers.js";
import { errorReply, nullBulk, OK, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

function sha1(text: Buffer | string): string {
  return createHash("sha1").update(text).digest("hex");
}

/**
 * Script bodies a source keeps for EVALSHA / SCRIPT EXISTS, in bytes: the oldest are forgotten
 * past it (an EVALSHA of one then gets NOSCRIPT, as after a SCRIPT FLUSH).
 */
const SCRIPT_BYTES = 1024 * 1024;

/** What a script body kept costs the session's memory share. */
const scriptBytes = (body: string): number => body.length + 120;

function rememberScript(c: CommandContext, body: string): string {
  const digest = sha1(Buffer.from(body, "latin1"));
  const scripts = c.state.scripts;
  if (!scripts.has(digest) && body.length <= SCRIPT_BYTES) {
    let held = body.length;
    for (const kept of scripts.values()) held += kept.length;
    for (const [sha, kept] of scripts) {
      if (held <= SCRIPT_BYTES) break;
      scripts.delete(sha);
      c.releaseShared(scriptBytes(kept));
      held -= kept.length;
    }
    // Kept while the world's memory share allows (EVALSHA of one not kept: NOSCRIPT).
    if (c.holdShared(scriptBytes(body))) scripts.set(digest, body);
  }
  c.effect = { kind: "script", sha1: digest };
  return digest;
}

/**
 * The script with string literals and comments blanked (newlines kept), so that a name inside
 * a string ('os') is not taken for code.
 */
function codeOnly(body: string): string {
  return body.replace(LUA_STRINGS_AND_COMMENTS, (m) => m.replace(/[^\n]/g, " "));
}

/** The script without its comments (string literals kept as they are). */
function withoutComments(body: string): string {
  return body.replace(LUA_STRINGS_AND_COMMENTS, (m) => (m.startsWith("--") ? "" : m));
}

const LUA_STRINGS_AND_COMMENTS =
  /--\[(=*)\[[\s\S]*?\]\1\]|--[^\n]*|\[(=*)\[[\s\S]*?\]\2\]|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g;

/** Globals Redis's Lua sandbox does not have, which exploit scripts reach for first. */
const MISSING_GLOBALS = /(?<![\w.:])(package|io|os|loadfile|dofile|require)(?![\w])/;

/**
 * What a script "returns" without running it: the error a sandboxed server gives for the
 * globals exploits use, the value of a lone `return <literal>` (numbers, strings, booleans,
 * nil, KEYS[i], ARGV[i], flat tables of those), else nil.
 */
function scriptReply(
  c: CommandContext,
  body: string,
  digest: string,
  keys: Buffer[],
  argv: Buffer[],
): Reply {
  const missing = MISSING_GLOBALS.exec(codeOnly(body));
  if (missing !== null) {
    const line = body.slice(0, missing.index).split("\n").length;
    const name = missing[1]!;
    if (c.era.at("7.0")) {
      return errorReply(
        `ERR user_script:${line}: Script attempted to access nonexistent global variable '${name}' script: ${digest}, on @user_script:${line}.`,
      );
    }
    return errorReply(
      `ERR Error running script (call to f_${digest}): @enable_strict_lua:15: user_script:${line}: Script attempted to access nonexistent global variable '${name}' `,
    );
  }
  const m = /^\s*return\s+([\s\S]*?)\s*;?\s*$/.exec(withoutComments(body));
  if (m === null) return nullBulk();
  const value = luaLiteral(m[1]!, keys, argv);
  return value === undefined ? nullBulk() : value;
}

const LUA_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b" };

/** A Lua literal as Redis converts a script's return value (numbers truncate to integers). */
function luaLiteral(expr: string, keys: Buffer[], argv: Buffer[]): RespValue | undefined {
  const e = expr.trim();
  if (/^-?\d+(\.\d+)?$/.test(e)) return int(Math.trunc(Number(e)));
  if (e === "true") return int(1);
  if (e === "false" || e === "nil") return nullBulk();
  const str = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(e);
  if (str !== null) {
    const text = (str[1] ?? str[2] ?? "").replace(
      /\\(.)/g,
      (_, ch: string) => LUA_ESCAPES[ch] ?? ch,
    );
    return bulk(Buffer.from(text, "latin1"));
  }
  const ref = /^(KEYS|ARGV)\[(\d+)\]$/.exec(e);
  if (ref !== null) {
    const item = (ref[1] === "KEYS" ? keys : argv)[Number(ref[2]) - 1];
    return item === undefined ? nullBulk() : bulk(item);
  }
  const table = /^\{([\s\S]*)\}$/.exec(e);
  if (table !== null) {
    const items: RespValue[] = [];
    for (const part of table[1]!.split(",")) {
      if (part.trim() === "") continue;
      const v = luaLiteral(part, keys, argv);
      // A nil ends a Lua array as Redis converts it.
      if (v === undefined || v.type === "null") break;
      items.push(v);
    }
    return arr(items);
  }
  return undefined;
}

/** EVAL / EVALSHA's numkeys, or the error it deserves. */
function splitKeys(c: CommandContext): { keys: Buffer[]; argv: Buffer[] } | Reply {
  const n = parseInteger(c.arg(2));
  if (n === undefined) return errorReply(NOT_INTEGER);
  if (n < 0) return errorReply("ERR Number of keys can't be negative");
  if (n > c.args.length - 3)
    return errorReply("ERR Number of keys can't be greater than number of args");
  return { keys: c.args.slice(3, 3 + n), argv: c.args.slice(3 + n) };
}

function evalScript(c: CommandContext): Reply {
  const split = splitKeys(c);
  if ("type" in split) return split;
  const body = c.arg(1);
  const digest = rememberScript(c, body);
  return scriptReply(c, body, digest, split.keys, split.argv);
}

function evalsha(c: CommandContext): Reply {
  const split = splitKeys(c);
  if ("type" in split) return split;
  const digest = c.arg(1).toLowerCase();
  const body = c.state.scripts.get(digest);
  if (body === undefined) {
    return errorReply(
      c.era.valkey
        ? "NOSCRIPT No matching script."
        : "NOSCRIPT No matching script. Please use EVAL.",
    );
  }
  c.effect = { kind: "script", sha1: digest };
  return scriptReply(c, body, digest, split.keys, split.argv);
}

export const SCRIPTING_COMMANDS: CommandSpec[] = inCategory("scripting", [
  { name: "eval", arity: -3, handler: evalScript },
  { name: "evalsha", arity: -3, handler: evalsha },
  {
    name: "script",
    arity: -2,
    subcommands: {
      load: { arity: 3, handler: (c) => bulk(rememberScript(c, c.arg(2))) },
      exists: {
        arity: -3,
        handler: (c) =>
          arr(
            c.args
              .slice(2)
              .map((a) => int(c.state.scripts.has(a.toString("latin1").toLowerCase()) ? 1 : 0)),
          ),
      },
      flush: {
        arity: -2,
        handler: (c) => {
          for (const body of c.state.scripts.values()) c.releaseShared(scriptBytes(body));
          c.state.scripts.clear();
          return OK;
        },
      },
      kill: { arity: 2, handler: () => errorReply("NOTBUSY No scripts in execution right now.") },
    },
    legacyErrors: {
      unknown: () => "ERR Unknown SCRIPT subcommand or wrong # of args.",
      arity: () => "ERR Unknown SCRIPT subcommand or wrong # of args.",
    },
  },
]);
