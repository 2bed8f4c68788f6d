import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** What `npm run demo` leaves for `npm run sms`, so the simulator works with no setting at all. */
export interface DemoSession {
  readonly pid: number;
  readonly baseUrl: string;
  readonly publicBaseUrl: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly authToken: string;
  readonly defaultFrom: string;
}

export const DEMO_SESSION_FILE = './data/demo-session.json';

export function writeDemoSession(session: DemoSession): void {
  writeFileSync(DEMO_SESSION_FILE, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
}

export function removeDemoSession(pid: number): void {
  if (readDemoSession()?.pid === pid) rmSync(DEMO_SESSION_FILE, { force: true });
}

/** The running demo's session, or undefined when none runs (a stale file is ignored). */
export function readDemoSession(): DemoSession | undefined {
  if (!existsSync(DEMO_SESSION_FILE)) return undefined;
  try {
    const session = JSON.parse(readFileSync(DEMO_SESSION_FILE, 'utf8')) as DemoSession;
    process.kill(session.pid, 0);
    return session;
  } catch {
    return undefined;
  }
}
