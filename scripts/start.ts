/** `npm start`: web, workers and the reminder scheduler in one process (SPEC §8). */
import { configOrExit, runForny } from './run-forny.js';

await runForny({ web: true, workers: true, privateRedis: true, config: configOrExit() });
