import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function answers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (result: boolean) => {
      socket.destroy();
      done(result);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export interface PrivateRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's redis-server for this install alone, its files under `dir`, listening on loopback
 * only; used by `npm start` when no REDIS_URL was given and nothing answers on 6379. Append-only
 * file on, so delayed SMS survive a restart (the database would re-enqueue them anyway).
 */
export async function startPrivateRedis(dir: string, port = 6379, options: { persist?: boolean } = {}): Promise<PrivateRedis> {
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', folder, '--save', '', '--appendonly', options.persist === false ? 'no' : 'yes', '--logfile', 'redis.log'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`could not start redis-server (is the Debian package installed?): ${error.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited at start with code ${code}; see ${folder}/redis.log`)));
  });
  const ready = (async () => {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (await answers('127.0.0.1', port, 200)) return;
      await new Promise((wake) => setTimeout(wake, 50));
    }
    throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
  })();
  await Promise.race([ready, failed]);
  failed.catch(() => undefined);
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}
