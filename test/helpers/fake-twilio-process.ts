import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the fake Twilio accepted, stamped by its own clock (epoch ms). */
export interface Accepted {
  readonly sid: string;
  readonly to: string;
  readonly body: string;
  readonly at: number;
}

type FromChild =
  | { kind: 'ready'; url: string; accountSid: string; authToken: string }
  | { kind: 'accepted'; messages: Accepted[] }
  | { kind: 'synced' };

/**
 * The loopback Twilio of fake-twilio.ts, run in a child process, for tests that measure when
 * messages reach Twilio under load: the test process (a burst's client, mocha's heap) does not
 * delay its timestamps. What it accepts arrives here within 50 ms; `sync()` brings all of it.
 */
export class FakeTwilioProcess {
  readonly messages: Accepted[] = [];
  private readonly byTo = new Map<string, Accepted[]>();
  private synced: (() => void)[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly accountSid: string,
    readonly authToken: string,
  ) {
    child.on('message', (message: FromChild) => {
      if (message.kind === 'accepted') {
        for (const accepted of message.messages) {
          this.messages.push(accepted);
          this.byTo.set(accepted.to, [...(this.byTo.get(accepted.to) ?? []), accepted]);
        }
      } else if (message.kind === 'synced') {
        for (const resolve of this.synced.splice(0)) resolve();
      }
    });
  }

  static async start(): Promise<FakeTwilioProcess> {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./fake-twilio-child.ts', import.meta.url))], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<Extract<FromChild, { kind: 'ready' }>>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`fake Twilio process exited (${code}) before it listened`)));
      child.on('message', (message: FromChild) => {
        if (message.kind === 'ready') resolve(message);
      });
    });
    return new FakeTwilioProcess(child, ready.url, ready.accountSid, ready.authToken);
  }

  messagesTo(to: string): readonly Accepted[] {
    return this.byTo.get(to) ?? [];
  }

  /** Waits until everything the child accepted so far is here. */
  sync(): Promise<void> {
    return new Promise((resolve) => {
      this.synced.push(resolve);
      this.child.send('sync');
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
