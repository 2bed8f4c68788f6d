import type { Redis } from 'ioredis';
import { reconciledAtKey } from '../../jobs/reconcile.js';

export interface ReconciliationWatch {
  /** When each reconciliation in the cluster finished (ms), in order, as the reconciler's key shows it. */
  readonly finishes: number[];
  stop(): Promise<void>;
}

/** Polls the key every reconciler writes when it finishes, every `everyMs`, until stopped. */
export function watchReconciliations(redis: Redis, prefix: string, everyMs = 10): ReconciliationWatch {
  const finishes: number[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const value = Number((await redis.get(reconciledAtKey(prefix)).catch(() => null)) ?? 0);
      if (value > 0 && value !== finishes[finishes.length - 1]) finishes.push(value);
      await new Promise((wake) => setTimeout(wake, everyMs));
    }
  })();
  return {
    finishes,
    async stop() {
      watching = false;
      await watcher;
    },
  };
}
