/** What several commands open the same way: the store, the intel and files, with one-line errors. */
import fs from "node:fs";
import type { Enricher } from "../intel/enrich.js";
import { defaultDbPath, openStore, type Store, StoreOpenError } from "../store/index.js";
import { loadEnricher } from "../usecases/intel.js";
import { fail } from "./errors.js";

export async function openStoreOrFail(db?: string): Promise<Store> {
  try {
    return await openStore(db ?? defaultDbPath());
  } catch (e) {
    if (e instanceof StoreOpenError) fail(e.message);
    throw e;
  }
}

/** The enrichment data in `--intel-dir` (or the default), or none with `--no-intel`. */
export async function loadEnricherOrFail(flags: {
  intel?: boolean;
  intelDir?: string;
}): Promise<Enricher | undefined> {
  if (flags.intel === false) return undefined;
  try {
    return await loadEnricher(flags.intelDir);
  } catch (e) {
    fail(`intel: ${(e as Error).message}`);
  }
}

export function readOrFail(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    fail(`cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
