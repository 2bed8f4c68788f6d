import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What `npm run demo` leaves for `npm run sms`, so the simulator works with no setting at all. */
export interface DemoSession {
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  readonly publicBaseUrl: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly authToken: string;
  readonly defaultFrom: string;
}

const DIR = './data';
/** One file per port: two demos on two ports each keep their own login and token. */
export const demoSessionFile = (port: number): string => join(DIR, `demo-session-${port}.json`);

export function writeDemoSession(session: DemoSession): void {
  writeFileSync(demoSessionFile(session.port), `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
}

export function removeDemoSession(session: Pick<DemoSession, 'pid' | 'port'>): void {
  if (readDemoSession(session.port)?.pid === session.pid) rmSync(demoSessionFile(session.port), { force: true });
}

/** The session of the demo running on `port`, or undefined when none runs there (a stale file is ignored). */
export function readDemoSession(port: number): DemoSession | undefined {
  const file = demoSessionFile(port);
  if (!existsSync(file)) return undefined;
  try {
    const session = JSON.parse(readFileSync(file, 'utf8')) as DemoSession;
    process.kill(session.pid, 0);
    return session;
  } catch {
    return undefined;
  }
}

/** Every demo running from this folder, whatever its port. */
export function runningDemoSessions(): DemoSession[] {
  if (!existsSync(DIR)) return [];
  return readdirSync(DIR)
    .map((name) => /^demo-session-(\d+)\.json$/.exec(name)?.[1])
    .filter((port): port is string => port !== undefined)
    .map((port) => readDemoSession(Number(port)))
    .filter((session): session is DemoSession => session !== undefined);
}
