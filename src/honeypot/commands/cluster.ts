/**
 * Cluster commands (cluster.c) on a server without cluster support, as every persona is:
 * CLUSTER (3.0+) and ASKING answer that support is disabled, after the table's checks (arity;
 * from 7.0 the subcommand and its arity too, where the version's recorded table lists them).
 * READONLY says so too, and READWRITE from 7.0 (before, it only cleared the client's flag and
 * said OK); Valkey 8 answers both with OK whatever the mode.
 */
import { errorReply, OK, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

const DISABLED = (): Reply => errorReply("ERR This instance has cluster support disabled");

const readonly = (c: CommandContext): Reply => (c.era.valkey8 ? OK : DISABLED());
const readwrite = (c: CommandContext): Reply =>
  c.era.valkey8 || c.era.before("7.0") ? OK : DISABLED();

export const CLUSTER_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "cluster", arity: -2, since: "3.0", handler: DISABLED },
  { name: "readonly", arity: 1, since: "3.0", category: "connection", handler: readonly },
  { name: "readwrite", arity: 1, since: "3.0", category: "connection", handler: readwrite },
  { name: "asking", arity: 1, since: "3.0", category: "connection", handler: DISABLED },
]);
