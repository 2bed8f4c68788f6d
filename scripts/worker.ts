/** `npm run worker`: the queue workers and the reconciler only; run as many as the load asks. */
import { configOrExit, runForny } from './run-forny.js';

await runForny({ web: false, workers: true, privateRedis: false, config: configOrExit() });
