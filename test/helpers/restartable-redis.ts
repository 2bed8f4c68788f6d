import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateRedis, type PrivateRedis } from '../../src/private-redis.js';
import { freePort } from './processes.js';

/**
 * A redis-server of a test's own, on a fixed port, that the test can stop and start again. It keeps
 * nothing on disk, like the Redis of this project's machines: a restart comes back empty.
 */
export class RestartableRedis {
  private server: PrivateRedis | undefined;

  private constructor(
    private readonly dir: string,
    private readonly port: number,
  ) {}

  static async start(): Promise<RestartableRedis> {
    const redis = new RestartableRedis(mkdtempSync(join(tmpdir(), 'forny-redis-')), await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  /** Starts it again (empty) if it is stopped. */
  async restart(): Promise<void> {
    this.server ??= await startPrivateRedis(this.dir, this.port, { persist: false });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
