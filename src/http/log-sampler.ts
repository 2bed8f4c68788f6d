import type { Clock } from '../clock.js';

/** Whether an event gets its log line, and if so how many of its kind got none since the last. */
export type Sampled = { readonly log: true; readonly suppressed: number } | { readonly log: false };

/**
 * At most one log line per `intervalMs` for each kind of event: the first at once, later ones
 * counted, and the next line says how many were left out. For events an outsider can cause at
 * will (a forged webhook), where a line each lets anyone fill the log; a metric counts them all.
 * Time is the clock's, so tests move it instead of sleeping. Kinds are a fixed, small set.
 */
export function logSampler(clock: Clock, intervalMs: number): { take(kind: string): Sampled } {
  const kinds = new Map<string, { lastLineAt: number; suppressed: number }>();
  return {
    take(kind) {
      const now = clock.now().getTime();
      const state = kinds.get(kind);
      if (state && now - state.lastLineAt < intervalMs) {
        state.suppressed += 1;
        return { log: false };
      }
      kinds.set(kind, { lastLineAt: now, suppressed: 0 });
      return { log: true, suppressed: state?.suppressed ?? 0 };
    },
  };
}
