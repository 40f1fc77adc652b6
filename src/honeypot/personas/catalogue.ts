/**
 * The persona catalogue: which personas the honeypot can be and what each is. A persona is one
 * product line (Redis 2.8 … 8.2, Valkey 7.2 and 8, KeyDB 6.3) in one authentication mode: open (no password),
 * password (requirepass set) or protected (protected mode answers DENIED). Its name says both,
 * `<line>-<mode>`: `redis-7.0-open`, `valkey-8-protected`.
 */
import type { AuthMode } from "../types.js";
import type { Layout } from "./config.js";
import { Era, type Product, versionParts } from "./era.js";

export interface PersonaLine {
  /** Name prefix: `redis-7.0`, `valkey-8`. */
  id: string;
  product: Product;
  /** Version a persona of this line claims unless told otherwise. */
  version: string;
  /**
   * Where its INFO comes from: a recorded probe fixture (data/replies), the INFO a real build
   * answered when its tables were recorded (data/tables, by build name), or, for a line no
   * build covers (8.2), a derivation key in DERIVED_INFO.
   */
  info: { fixture: string } | { table: string } | { derived: string };
  /** Where such servers usually come from (paths in INFO and CONFIG). */
  layout: Layout;
}

/**
 * The lines, each with the version it claims by default: the recorded version where one was
 * recorded, else the last release of the line (8.2.1, a build still exposed to the 2025 Lua
 * CVEs that attackers probe for; Valkey 8.1.3).
 */
const LINES: PersonaLine[] = [
  {
    id: "redis-2.8",
    product: "redis",
    version: "2.8.24",
    info: { fixture: "redis-2.8.24-default" },
    layout: "source",
  },
  {
    id: "redis-3.0",
    product: "redis",
    version: "3.0.7",
    info: { table: "redis-3.0.7" },
    layout: "source",
  },
  {
    id: "redis-3.2",
    product: "redis",
    version: "3.2.12",
    info: { fixture: "redis-3.2.12-open" },
    layout: "debian",
  },
  {
    id: "redis-4.0",
    product: "redis",
    version: "4.0.14",
    info: { table: "redis-4.0.14" },
    layout: "docker",
  },
  {
    id: "redis-5.0",
    product: "redis",
    version: "5.0.8",
    info: { fixture: "redis-5.0.8-open" },
    layout: "debian",
  },
  {
    id: "redis-6.0",
    product: "redis",
    version: "6.0.20",
    info: { table: "redis-6.0.20" },
    layout: "docker",
  },
  {
    id: "redis-6.2",
    product: "redis",
    version: "6.2.16",
    info: { fixture: "redis-6.2.16-open" },
    layout: "debian",
  },
  {
    id: "redis-7.0",
    product: "redis",
    version: "7.0.15",
    info: { fixture: "redis-7.0.15-open" },
    layout: "debian",
  },
  {
    id: "redis-7.2",
    product: "redis",
    version: "7.2.4",
    info: { table: "redis-7.2.4" },
    layout: "docker",
  },
  {
    id: "redis-7.4",
    product: "redis",
    version: "7.4.1",
    info: { fixture: "redis-7.4.1-open" },
    layout: "docker",
  },
  {
    id: "redis-8.2",
    product: "redis",
    version: "8.2.1",
    info: { derived: "8.2" },
    layout: "docker",
  },
  {
    id: "valkey-7.2",
    product: "valkey",
    version: "7.2.7",
    info: { table: "valkey-7.2.7" },
    layout: "docker",
  },
  {
    id: "valkey-8",
    product: "valkey",
    version: "8.1.3",
    // 8.0.1 is the newest Valkey the mirror has: 8.1's INFO additions are missing.
    info: { table: "valkey-8.0.1" },
    layout: "docker",
  },
  {
    id: "keydb-6.3",
    product: "keydb",
    version: "6.3.4",
    info: { table: "keydb-6.3.4" },
    layout: "docker",
  },
];

const MODES: AuthMode[] = ["open", "password", "protected"];

/** Protected mode arrived in 3.2: a 2.8 server is open or has a password, nothing else. */
function modesOf(line: PersonaLine): AuthMode[] {
  return new Era(line.product, line.version).protectedMode ? MODES : ["open", "password"];
}

/** One persona: its product line and how it treats authentication. */
export interface CatalogueEntry {
  /** `<line>-<mode>`, e.g. `redis-7.0-open`. */
  name: string;
  line: PersonaLine;
  auth: AuthMode;
}

/** Every persona. There is no `redis-2.8-protected`: that version has no protected mode. */
export const CATALOGUE: readonly CatalogueEntry[] = LINES.flatMap((line) =>
  modesOf(line).map((auth) => ({ name: `${line.id}-${auth}`, line, auth })),
);

/** Every persona name, in catalogue order. */
export const PERSONAS: readonly string[] = CATALOGUE.map((entry) => entry.name);

/** The entry of a persona name; a RangeError that lists the known names for any other. */
export function catalogueEntry(name: string): CatalogueEntry {
  const entry = CATALOGUE.find((e) => e.name === name);
  if (entry === undefined) {
    throw new RangeError(`unknown persona ${JSON.stringify(name)}; known: ${PERSONAS.join(", ")}`);
  }
  return entry;
}

/** Is `version` a release of this line (same major.minor; same major for Valkey 8)? */
export function inLine(line: PersonaLine, version: string): boolean {
  if (!/^\d+\.\d+\.\d+$/.test(version)) return false;
  const [major, minor] = versionParts(version);
  const [lineMajor, lineMinor] = versionParts(line.version);
  return major === lineMajor && ((line.product === "valkey" && major >= 8) || minor === lineMinor);
}

/**
 * Why a persona cannot claim this version (a one-line message), or undefined when it can: any
 * exact release number (x.y.z) of the persona's line.
 */
export function claimError(name: string, version: string): string | undefined {
  const entry = CATALOGUE.find((e) => e.name === name);
  if (entry === undefined) return `unknown persona ${name}`;
  if (inLine(entry.line, version)) return undefined;
  const shown = JSON.stringify(version).slice(0, 40);
  return `${name} cannot claim version ${shown}: the ${entry.line.id} line has versions like ${entry.line.version}`;
}
