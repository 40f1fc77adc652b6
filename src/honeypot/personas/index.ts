/**
 * Personas: which server the honeypot pretends to be. The catalogue (catalogue.ts) says which
 * personas exist and what each is; persona(name) makes a running instance of one (persona.ts);
 * config.ts is CONFIG as a persona keeps it, info.ts its INFO text, texts.ts each version's
 * wording and era.ts what a version decides. This file is the folder's face to the rest of
 * the project.
 */
export type { AuthMode } from "../types.js";
export { type CatalogueEntry, catalogueEntry, claimError, PERSONAS } from "./catalogue.js";
export { Era, type Product, versionParts } from "./era.js";
export { parseInfoText, VOLATILE_INFO_KEYS, VOLATILE_INFO_SECTIONS } from "./info.js";
export {
  type Liveness,
  Persona,
  type PersonaOptions,
  persona,
  type ReplicationState,
  type SessionView,
} from "./persona.js";
