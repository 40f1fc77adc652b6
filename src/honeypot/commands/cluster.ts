/**
 * Cluster commands (cluster.c) on a server without cluster support, as every persona is:
 * CLUSTER (3.0+), READONLY, READWRITE and ASKING answer that support is disabled, after the
 * table's checks (arity; from 7.0 the subcommand and its arity too, where the version's
 * recorded table lists them).
 */
import { errorReply, type Reply } from "./reply.js";
import { type CommandSpec, inCategory } from "./spec.js";

const DISABLED = (): Reply => errorReply("ERR This instance has cluster support disabled");

export const CLUSTER_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "cluster", arity: -2, since: "3.0", handler: DISABLED },
  { name: "readonly", arity: 1, since: "3.0", category: "connection", handler: DISABLED },
  { name: "readwrite", arity: 1, since: "3.0", category: "connection", handler: DISABLED },
  { name: "asking", arity: 1, since: "3.0", category: "connection", handler: DISABLED },
]);
