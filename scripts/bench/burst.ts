/**
 * `burst`: 1,980 patrons text HBK FORNY ALLE at once (signed webhooks, 32 at a time) to forny's own
 * compiled processes, once as `web` + `worker` on one SQLite file and once as one `npm start`; timed
 * from the first POST to the last reply accepted at a loopback Twilio over HTTP (see
 * burst-processes.ts). The baseline is BullMQ's own no-op add-and-process of the same number of jobs
 * on the same Redis: the queue a message rides on, with no work at all.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { deleteQueueKeys } from '../../test/helpers/harness.js';
import { describeProcessBurst, runProcessBurst, type ProcessBurstPlan } from './burst-processes.js';
import { BENCH_REDIS_URL, inParallel, perSecond, ratio, waitFor, type BenchLine } from './support.js';

export interface BurstPlan {
  readonly patrons: number;
  readonly connections: number;
}

/** BullMQ alone: add `count` jobs as concurrent single adds and process them with a no-op worker. */
async function bullmqNoOp(count: number, connections: number): Promise<number> {
  const prefix = `forny-bench-${randomBytes(6).toString('hex')}`;
  const connection = { url: BENCH_REDIS_URL };
  const queue = new Queue('noop', { connection, prefix });
  let done = 0;
  const worker = new Worker('noop', async () => undefined, { connection, prefix, concurrency: 50 });
  worker.on('completed', () => (done += 1));
  try {
    await worker.waitUntilReady();
    const start = performance.now();
    await inParallel(
      Array.from({ length: count }, (_, index) => index),
      connections,
      async (index) => {
        await queue.add('noop', { index }, { jobId: `j${index}` });
      },
    );
    await waitFor(() => done >= count, 60_000, 5);
    return (count / (performance.now() - start)) * 1000;
  } finally {
    await worker.close();
    await queue.close();
    await deleteQueueKeys(BENCH_REDIS_URL, prefix);
  }
}

export async function benchBurst(plan: BurstPlan, report: (line: BenchLine) => void): Promise<void> {
  const noop = await bullmqNoOp(plan.patrons, plan.connections);
  const shapes: { name: string; processes: Pick<ProcessBurstPlan, 'webs' | 'workers'> }[] = [
    { name: 'burst web+worker', processes: { webs: 1, workers: 1 } },
    { name: 'burst npm start', processes: { webs: 0, workers: 0 } },
  ];
  for (const shape of shapes) {
    const run = { patrons: plan.patrons, connections: plan.connections, atRest: 30, ...shape.processes };
    const result = await runProcessBurst(run);
    report({
      name: shape.name,
      text: `${describeProcessBurst(run, result)}  vs  bullmq no-op ${perSecond(noop)}  ratio ${ratio(result.perSecond / noop)}`,
      ok: result.problems.length === 0,
      notes: result.problems.slice(0, 5),
    });
  }
}
