/**
 * The one clock domain code reads, passed down from where a run starts. Timestamps (ledger
 * records, the rollout state, the JUnit report) use `now()`; durations use `elapsedMs`, which
 * does not jump when the wall clock is set.
 */
export interface Clock {
  /** wall-clock time: for timestamps people read */
  now(): Date;
  /** a monotonic reading in milliseconds: only differences between two readings mean anything */
  monotonicMs(): number;
}

/** The machine's clock: the single place domain code reads real time. */
export const systemClock: Clock = {
  now: () => new Date(),
  monotonicMs: () => performance.now(),
};

/** Milliseconds since `startedMs` (a `monotonicMs()` reading), rounded as records keep them. */
export function elapsedMs(clock: Clock, startedMs: number): number {
  return Math.round(clock.monotonicMs() - startedMs);
}
