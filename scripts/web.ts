/** `npm run web`: the HTTP side only (webhooks, API, dashboard); run as many as the load asks. */
import { configOrExit, runForny } from './run-forny.js';

await runForny({ web: true, workers: false, privateRedis: false, config: configOrExit() });
