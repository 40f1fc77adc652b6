/** Errors the user can fix: printed as one line, exit status 2. */
export class UsageError extends Error {}

export function fail(message: string): never {
  throw new UsageError(message);
}

/** Scan ids go into file names, URLs and SQL: a small safe alphabet. */
const SCAN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkScanId(id: string): void {
  if (!SCAN_ID.test(id)) {
    fail(`--scan-id ${JSON.stringify(id).slice(0, 80)}: use 1-64 letters, digits, '.', '_' or '-'`);
  }
}
