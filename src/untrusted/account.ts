/**
 * What a holder of attacker-driven bytes needs from a memory budget: ask before keeping, say
 * when let go. The honeypot's budget (honeypot/memory.ts) implements it; the request decoder's
 * recording mode and the write queue draw from one.
 */
export interface ByteAccount {
  /** Keep `bytes` more; false (and nothing kept) when the share or the budget is short. */
  take(bytes: number): boolean;
  /** Let go of `bytes` taken before. */
  give(bytes: number): void;
}
