/**
 * The honeypot's seams. The network server (server.ts) owns sockets, limits and recording; a
 * session (session.ts) owns the persona's replies and the per-session keyspace; the attack
 * classifier (attacks.ts) reads what was recorded. Nothing here executes what it receives.
 */

export type AuthMode = "open" | "password" | "protected";

/** What the server does with one request, as the persona's real server would. */
export interface SessionReply {
  /** Bytes to write back (absent: nothing, as for a subscribe-less QUIT race or a silent close). */
  reply?: Buffer;
  /** Close the connection after writing (QUIT, protocol errors, POST / Host:, DENIED). */
  close?: boolean;
  /**
   * What the command did to the honeypot's make-believe state, for the recorder: e.g. AUTH
   * with the password tried, CONFIG SET dir, SLAVEOF host/port, MODULE LOAD path.
   */
  effect?: SessionEffect;
  /**
   * The session closed for a limit, without a reply (Redis closing a client past its output
   * buffer limit): the server records it as a `limit` event.
   */
  limit?: string;
  /**
   * The command blocked (BLPOP …): no reply now. The server holds the connection's next
   * requests until the session delivers the reply (SessionContext.deliver).
   */
  blocked?: boolean;
}

export type SessionEffect =
  | { kind: "auth"; username?: string; password: string; ok: boolean }
  | { kind: "config_set"; key: string; value: string }
  | { kind: "save"; dir: string; dbfilename: string }
  | { kind: "replicaof"; host: string; port: number; psync2?: boolean }
  | { kind: "module_load"; path: string; loaded?: boolean; module?: string; sha256?: string }
  | { kind: "module_command"; module: string; command: string; args: string[] }
  /** SYNC/PSYNC answered with a full resynchronisation: the RDB's size. */
  | { kind: "sync"; rdbBytes: number }
  /**
   * A script ran (or was loaded). `command`: what it asked a CVE-2022-0543 `io.popen` /
   * `os.execute` to run (never run: the honeypot answers with an empty output). `limit`:
   * `script_steps` when the script ran into the step bound (ended as SCRIPT KILL ends one).
   */
  | { kind: "script"; sha1: string; command?: string; limit?: string }
  /** `keys`: how many the flush removed (absent in records made before it was kept). */
  | { kind: "flush"; keys?: number };

/** One connection's conversation with a persona. */
export interface HoneypotSessionHandler {
  /** On accept, before any byte is read: a DENIED for protected mode, else nothing. */
  greet(): SessionReply;
  /**
   * The longest multibulk header (`*N`) the claimed server reads before it calls the length
   * invalid (1,048,576; INT_MAX from 7.0). Default: the request decoder's.
   */
  readonly maxMultibulk?: number;
  /**
   * One decoded request: the command and its arguments, raw bytes. `upper`: the command's name
   * in upper case, when the caller has it already. `lengths`: each argument's length as sent,
   * when some were cut to a prefix.
   */
  command(
    args: Buffer[],
    inline: boolean,
    upper?: string,
    lengths?: readonly number[],
  ): SessionReply;
  /**
   * The request stream broke the protocol: `text` is Redis's words for it (the request
   * decoder's RequestProtocolError); the persona answers it as an error, then closes.
   */
  protocolError(text: string): SessionReply;
  /**
   * What the connection's socket did, for INFO's counters (total_net_input_bytes,
   * total_reads_processed, total_writes_processed): a read of `bytes` (0: the peer closed, a
   * read Redis counts too), or a write of replies.
   */
  io?(kind: "read" | "write", bytes: number): void;
  /** The connection is gone. */
  end?(): void;
  /**
   * What the link its SLAVEOF asked for is doing (the server follows it when capture is on):
   * its phase, and the payload once kept, which a MODULE LOAD of where it was saved loads.
   * For a payload without a path it returns where this session's server saved it.
   */
  replicaLink?(event: ReplicaLinkEvent): string | undefined;
}

export type ReplicaLinkEvent =
  | { phase: "connecting" | "handshake" | "transfer" | "down" }
  | {
      phase: "payload";
      sha256: string;
      bytes: number;
      module?: string;
      commands: string[];
      /** Where it was saved (dir/dbfilename of the session whose SLAVEOF fetched it). */
      path?: string;
    };

/** A command as recorded: bounded, so a 1 GB argument costs a prefix and a hash. */
export interface RecordedCommand {
  /** Milliseconds since the session started. */
  t: number;
  /** Command name, upper-case, as sent (bounded to 64 bytes). */
  name: string;
  /** Arguments as latin1 text, each cut to a bounded prefix. */
  args: string[];
  /** Full byte length of each argument. */
  argLengths: number[];
  /** SHA-256 (hex) of arguments that were cut; null for the ones kept whole. */
  argHashes: Array<string | null>;
  inline: boolean;
}
