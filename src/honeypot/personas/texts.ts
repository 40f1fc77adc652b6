/**
 * The exact error texts of each version era (research/honeypot.md §3, versions.md §2, and the
 * recorded replies in data/replies). Texts are latin1 strings without the leading `-` and the
 * CRLF: one character per byte, so a client's bytes echoed in an error stay the same bytes.
 */
import type { Era } from "./era.js";

const DENIED_OPENING_OLD =
  "DENIED Redis is running in protected mode because protected mode is enabled, no bind address " +
  "was specified, no authentication password is requested to clients.";
const DENIED_OPENING_NEW =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password " +
  "is set for the default user.";
const DENIED_BODY =
  " In this mode connections are only accepted from the loopback interface. If you want to " +
  "connect from external computers to Redis you may adopt one of the following solutions: " +
  "1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the " +
  "loopback interface by connecting to Redis from the same host the server is running, however " +
  "MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to " +
  "make this change permanent. 2) Alternatively you can just disable the protected mode by " +
  "editing the Redis configuration file, and setting the protected mode option to 'no', and " +
  "then restarting the server. 3) If you started the server manually just for testing, restart " +
  "it with the '--protected-mode no' option. ";
const DENIED_END =
  " NOTE: You only need to do one of the above things in order for the server to start " +
  "accepting connections from the outside.";

/** Valkey 8 rewrote the text without "Redis" (valkey-io/valkey src/networking.c). */
const DENIED_VALKEY =
  "DENIED Running in protected mode because protected mode is enabled and no password is set " +
  "for the default user. In this mode connections are only accepted from the loopback " +
  "interface. If you want to connect from external computers, you may adopt one of the " +
  "following solutions: 1) Just disable protected mode sending the command 'CONFIG SET " +
  "protected-mode no' from the loopback interface by connecting from the same host the server " +
  "is running, however MAKE SURE it's not publicly accessible from internet if you do so. Use " +
  "CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the " +
  "protected mode by editing the configuration file, and setting the protected mode option to " +
  "'no', and then restarting the server. 3) If you started the server manually just for " +
  "testing, restart it with the '--protected-mode no' option. 4) Set up an authentication " +
  "password for the default user. NOTE: You only need to do one of the above things in order " +
  "for the server to start accepting connections from the outside.";

/** Written on accept by a server in protected mode, before it closes the connection. */
export function deniedText(era: Era): string {
  if (era.valkey) return DENIED_VALKEY;
  if (era.before("7.0")) {
    return `${DENIED_OPENING_OLD}${DENIED_BODY}4) Setup a bind address or an authentication password.${DENIED_END}`;
  }
  // 7.0.x shipped "Setup a an"; the grammar was fixed for 7.2 (commit 14e026e68).
  const item4 = era.before("7.2")
    ? "4) Setup a an authentication password for the default user."
    : "4) Set up an authentication password for the default user.";
  return `${DENIED_OPENING_NEW}${DENIED_BODY}${item4}${DENIED_END}`;
}

export const NOAUTH = "NOAUTH Authentication required.";

export function helloNoAuthText(era: Era): string {
  const form = era.at("7.2") ? "HELLO <proto> AUTH <user> <pass>" : "HELLO AUTH <user> <pass>";
  return (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
    `${form} option can be used to authenticate the client and select the RESP protocol ` +
    "version at the same time"
  );
}

/** AUTH with a wrong password on a server that has one. */
export function wrongPasswordText(era: Era): string {
  if (era.before("6.0")) return "ERR invalid password";
  if (era.before("6.2")) return "WRONGPASS invalid username-password pair";
  return "WRONGPASS invalid username-password pair or user is disabled.";
}

/** AUTH <password> on a server without one. */
export function noPasswordSetText(era: Era): string {
  return era.before("6.0")
    ? "ERR Client sent AUTH, but no password is set"
    : "ERR AUTH <password> called without any password configured for the default user. " +
        "Are you sure your configuration is correct?";
}

/** NUL ends a C string: `%s` and `%.*s` stop there. */
function cString(s: string): string {
  const nul = s.indexOf("\0");
  return nul === -1 ? s : s.slice(0, nul);
}

/**
 * `unknown command …` as commandCheckExistence (or processCommand before 7.0) formats it. The
 * argument list grows while it is shorter than 128 bytes, each argument cut to the bytes still
 * left; CR and LF become spaces when the error is written.
 */
export function unknownCommandText(era: Era, name: string, args: readonly string[]): string {
  const style = era.unknownCommandStyle;
  if (style === "plain") return `ERR unknown command '${cString(name)}'`;
  const quote = style === "backtick" ? "`" : "'";
  const separator = style === "backtick" ? ", " : " ";
  let list = "";
  for (const arg of args) {
    if (list.length >= 128) break;
    list += `${quote}${cString(arg).slice(0, 128 - list.length)}${quote}${separator}`;
  }
  // 4.0.11–6.2 print the name with %s (no cap), 7.0+ with %.128s.
  const shown = style === "backtick" ? cString(name) : cString(name).slice(0, 128);
  const head = `ERR unknown command ${quote}${shown}${quote}`;
  if (style === "quote-args-only" && args.length === 0) return head;
  return `${head}, with args beginning with: ${list}`;
}

/** Arity error; 7.0+ names subcommands as `config|set`. */
export function arityText(fullName: string): string {
  return `ERR wrong number of arguments for '${fullName}' command`;
}

/** An unknown subcommand of a container command (CONFIG FOO). */
export function unknownSubcommandText(era: Era, container: string, sub: string): string {
  const upper = container.toUpperCase();
  if (era.subcommandTable) {
    return `ERR unknown subcommand '${cString(sub).slice(0, 128)}'. Try ${upper} HELP.`;
  }
  // CLIENT's own text in 5.0–6.0 (clientCommand's addReplyErrorFormat) has no final period.
  const end = upper === "CLIENT" && !era.keydb && era.at("5.0") && era.before("6.2") ? "" : ".";
  return `ERR Unknown subcommand or wrong number of arguments for '${cString(sub)}'. Try ${upper} HELP${end}`;
}

/** Before 7.0 a container checks its subcommand's arguments itself and says so this way. */
export function subcommandSyntaxText(era: Era, container: string, sub: string): string {
  return era.subcommandTable
    ? arityText(`${container}|${sub.toLowerCase()}`)
    : unknownSubcommandText(era, container, sub);
}

/**
 * A container's own check of a subcommand's arguments, past the table's arity (CLIENT UNBLOCK
 * with five words): addReplySubcommandSyntaxError, lower-case "unknown" from 7.0.
 */
export function subcommandArgumentsText(era: Era, container: string, sub: string): string {
  if (era.subcommandTable) {
    return `ERR unknown subcommand or wrong number of arguments for '${cString(sub).slice(0, 128)}'. Try ${container.toUpperCase()} HELP.`;
  }
  return unknownSubcommandText(era, container, sub);
}

export const SYNTAX_ERROR = "ERR syntax error";
/** shared.nokeyerr: LSET, XSETID, XINFO … on a missing key. */
export const NO_SUCH_KEY = "ERR no such key";
export const NOT_INTEGER = "ERR value is not an integer or out of range";
export const NOT_FLOAT = "ERR value is not a valid float";
export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
export const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
/** What a client blocked on keys gets from CLIENT UNBLOCK id ERROR. */
export const UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
export const OUT_OF_RANGE_POSITIVE = "ERR value is out of range, must be positive";
/** getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) refusing a count (SRANDMEMBER, HRANDFIELD …). */
export const OUT_OF_RANGE_LONG =
  "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
/** shared.outofrangeerr, before 6.2 replaced it with OUT_OF_RANGE_POSITIVE (SPOP key -1). */
export const INDEX_OUT_OF_RANGE = "ERR index out of range";
export const CLIENT_NAME_INVALID =
  "ERR Client names cannot contain spaces, newlines or special characters.";
export const SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs.";

export function invalidExpireText(era: Era, command: string): string {
  return era.at("7.0")
    ? `ERR invalid expire time in '${command}' command`
    : `ERR invalid expire time in ${command}`;
}

/** SELECT with a number that is not a database (selectCommand: reworded in 4.0). */
export function dbOutOfRangeText(era: Era): string {
  return era.at("4.0") ? "ERR DB index is out of range" : "ERR invalid DB index";
}

/**
 * SELECT with something that is not a number: getLongFromObjectOrReply with its own message
 * before 6.2, getIntFromObjectOrReply (the shared wording) from 6.2.
 */
export function dbNotIntegerText(era: Era): string {
  return era.at("6.2") ? NOT_INTEGER : "ERR invalid DB index";
}

/** 7.0+ gates MODULE LOAD/UNLOAD and DEBUG behind enable-module-command / enable-debug-command. */
export function gatedCommandText(command: "MODULE" | "DEBUG"): string {
  const option = command === "MODULE" ? "enable-module-command" : "enable-debug-command";
  return (
    `ERR ${command} command not allowed. If the ${option} option is set to "local", you can ` +
    "run it from a local connection, otherwise you need to set this option in the " +
    "configuration file, and then restart the server."
  );
}

export const MODULE_LOAD_FAILED = "ERR Error loading the extension. Please check the server logs.";

/** A command that is not allowed while the (RESP2) client is subscribed. */
export function subscribedContextText(era: Era, command: string): string {
  if (era.at("7.0")) {
    return `ERR Can't execute '${command}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
  }
  if (era.at("6.2")) {
    return `ERR Can't execute '${command}': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
  }
  if (era.at("6.0")) {
    return `ERR Can't execute '${command}': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT are allowed in this context`;
  }
  // 3.0.6 named PING (allowed all along); 2.8 never did.
  if (era.at("3.0.6")) {
    return "ERR only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT allowed in this context";
  }
  return "ERR only (P)SUBSCRIBE / (P)UNSUBSCRIBE / QUIT allowed in this context";
}

/**
 * How a server's own reports name it: KeyDB's always said KeyDB, Valkey 8 replaced "Redis" by
 * "Valkey" (Valkey 7.2 still said Redis).
 */
function reportName(era: Era): string {
  if (era.keydb) return "KeyDB";
  if (era.valkey8) return "Valkey";
  return "Redis";
}

/**
 * LATENCY DOCTOR (createLatencyReport in latency.c) of a server that never logged a latency
 * event: with latency-monitor-threshold 0 the monitor is disabled; else no spike was seen.
 * KeyDB and Valkey 8 dropped the sentences around; the link became https in Redis 6.2.2.
 */
export function latencyDoctorText(era: Era, monitorEnabled: boolean): string {
  const name = reportName(era);
  if (!monitorEnabled) {
    const head = `I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this ${name} instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it.`;
    if (name !== "Redis") return `${head}\n`;
    const scheme = era.at("6.2.2") ? "https" : "http";
    return `${head} If we weren't in a deep space mission I'd suggest to take a look at ${scheme}://redis.io/topics/latency-monitor.\n`;
  }
  if (name === "Valkey") {
    return "No latency spike was observed during the lifetime of this Valkey instance, not in the slightest bit.\n";
  }
  return `Dave, no latency spike was observed during the lifetime of this ${name} instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n`;
}

/**
 * MEMORY DOCTOR (getMemoryDoctorReport in object.c, the same from 4.0 to 8.0) for what the
 * persona's memory model says: under 5 MB allocated the instance counts as empty; a peak above
 * 150% of what is used now is the one issue the model can show (it has no fragmentation, big
 * client buffers or script cache to report).
 */
export function memoryDoctorText(era: Era, used: number, peak: number): string {
  if (used < 5 * 1024 * 1024) {
    return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
  }
  if (peak / used <= 1.5) {
    return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
  }
  const name = reportName(era);
  return (
    `Sam, I detected a few issues in this ${name} instance memory implants:\n\n` +
    ` * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the ${name} instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the ${name} instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n` +
    "I'm here to keep you safe, Sam. I want to help you.\n"
  );
}

/** A script read a global that does not exist (enable_strict_lua; "unexisting" before 4.0). */
export function noGlobalText(era: Era, name: string): string {
  const word = era.at("4.0") ? "nonexistent" : "unexisting";
  return `Script attempted to access ${word} global variable '${name}'`;
}
