/** Errors the user can fix: printed as one line, exit status 2. */
export class UsageError extends Error {}

export function fail(message: string): never {
  throw new UsageError(message);
}
