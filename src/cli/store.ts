/** The store as every command opens it: `--db` or the default, and a one-line error if it fails. */
import { defaultDbPath, openStore, type Store, StoreOpenError } from "../store/index.js";
import { fail } from "./errors.js";

export async function openStoreOrFail(db?: string): Promise<Store> {
  try {
    return await openStore(db ?? defaultDbPath());
  } catch (e) {
    if (e instanceof StoreOpenError) fail(e.message);
    throw e;
  }
}
