/**
 * `npm run sms -- [--from +4512345678] "HBK FORNY ALLE"`: plays Twilio. Posts a correctly signed
 * inbound SMS to the server on PORT, then prints forny's reply as soon as it is written, and when it
 * leaves. Works against `npm run demo` with no setting (it reads the demo's session file).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DateTime } from 'luxon';
import twilio from 'twilio';
import { DEMO_PATRON_MOBILE } from '../db/seeds/demo-library.js';
import { readEnvironment } from '../src/config.js';
import { normalisePhoneNumber } from '../src/domain/phone-number.js';
import { readDemoSession, runningDemoSessions, type DemoSession } from './demo-session.js';
import { configOrExit, stopWith } from './exit-with.js';

const onlyOne = (sessions: DemoSession[]): DemoSession | undefined => (sessions.length === 1 ? sessions[0] : undefined);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: 'string' },
    to: { type: 'string', default: '1910' },
    url: { type: 'string' },
    timeout: { type: 'string', default: '30' },
  },
});
const body = positionals.join(' ');
if (positionals.length === 0) {
  process.stderr.write('usage: npm run sms -- [--from +4512345678] [--url http://127.0.0.1:3000] "HBK FORNY ALLE"\n');
  process.exit(2);
}

const env = readEnvironment();
const config = configOrExit({ LOG_LEVEL: 'silent', ...env });
const target = values.url ? new URL(values.url) : undefined;
const port = target ? Number(target.port || 80) : config.port;
// A demo on the chosen port (PORT, or the default 3000); with no PORT given, the one demo running here.
const demo = readDemoSession(port) ?? (target || env.PORT ? undefined : onlyOne(runningDemoSessions()));
const baseUrl = (values.url ?? demo?.baseUrl ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
const publicBaseUrl = values.url?.replace(/\/+$/, '') ?? (env.PUBLIC_BASE_URL ? config.publicBaseUrl : (demo?.publicBaseUrl ?? config.publicBaseUrl));
const authToken = demo?.authToken ?? config.sms.authToken;
const admin = env.ADMIN_PASSWORD ? { user: config.admin.user, password: config.admin.password } : demo ? { user: demo.adminUser, password: demo.adminPassword } : undefined;
// Numbers as SPEC §3 takes them: 20000003 is +4520000003. Anything else (an alphanumeric sender) goes as typed.
const typedFrom = values.from ?? demo?.defaultFrom ?? DEMO_PATRON_MOBILE;
const from = normalisePhoneNumber(typedFrom) ?? typedFrom;

const messageSid = `SM${randomBytes(16).toString('hex')}`;
const params: Record<string, string> = {
  MessageSid: messageSid,
  SmsSid: messageSid,
  AccountSid: config.sms.accountSid ?? `AC${'0'.repeat(32)}`,
  From: from,
  To: values.to ?? '1910',
  Body: body,
  NumMedia: '0',
  NumSegments: '1',
  ApiVersion: '2010-04-01',
};
const signature = twilio.getExpectedTwilioSignature(authToken, `${publicBaseUrl}/sms/inbound`, params);

let response: Response;
try {
  response = await fetch(`${baseUrl}/sms/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params),
  });
} catch (error) {
  stopWith(`Could not reach forny at ${baseUrl} (${(error as Error).message}). Is \`npm run demo\` or \`npm start\` running on port ${port}? (set PORT to its port)`);
}
if (response.status === 403) {
  stopWith(`forny at ${baseUrl} refused the signature (403): set TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL as the server on port ${port} has them.`);
}
if (response.status !== 200) stopWith(`forny at ${baseUrl} answered ${response.status}: ${(await response.text()).split('\n')[0]}`);
process.stdout.write(`→ ${from} to ${params.To}: ${JSON.stringify(body)} (${messageSid})\n`);

if (!admin) {
  process.stdout.write('Delivered to forny. Set ADMIN_PASSWORD (the operator login) to see the reply here.\n');
  process.exit(0);
}
const authorization = `Basic ${Buffer.from(`${admin.user}:${admin.password}`).toString('base64')}`;
const api = async <T>(path: string): Promise<T> => {
  const answer = await fetch(`${baseUrl}/api${path}`, { headers: { authorization } });
  if (answer.status === 401) {
    stopWith(
      `forny at ${baseUrl} refused the operator login "${admin.user}" (401), so the reply cannot be shown: set ADMIN_PASSWORD (and ADMIN_USER) to the login of the server on port ${port}. The SMS was delivered.`,
    );
  }
  if (!answer.ok) stopWith(`GET /api${path} answered ${answer.status}: ${(await answer.text()).split('\n')[0]}`);
  return (await answer.json()) as T;
};

interface Inbound {
  status: string;
  replyId: string | null;
  result: { total: number; renewed: number; loans: { loanId: string; outcome: string; reason: string | null; newDueDate: string | null; provisional: boolean }[] } | null;
}
interface Message {
  id: string;
  body: string;
  status: string;
  sendAfter: string | null;
  sentAt: string | null;
}

interface Readiness {
  checks?: { database?: string; redis?: string; librarySystem?: string };
}

/** /readyz as forny sees itself now (it asks the library system), or undefined when it does not answer. */
const readiness = async (): Promise<Readiness | undefined> => {
  try {
    return (await (await fetch(`${baseUrl}/readyz`)).json()) as Readiness;
  } catch {
    return undefined;
  }
};

/** The library system's state as /readyz words it (`down: login refused`), in a sentence and with what ends the wait. */
const LIBRARY_DOWN: Readonly<Record<string, { is: string; until: string }>> = {
  'down: login refused': { is: "refuses forny's login", until: 'when it accepts again' },
  'down: not answering': { is: 'is not answering', until: 'when it answers again' },
  'down: failing': { is: 'answers but cannot serve forny', until: 'when it can' },
};

/**
 * When the stored message arrived and when forny gives it up (RENEW_ALL_GIVE_UP_MINUTES after, as
 * this shell's settings have it), both on forny's clock (FAKE_NOW moves it) in the library's zone.
 */
const arrival = async (): Promise<{ received: string; givesUp: string } | undefined> => {
  const inbound = await api<{ body: string; from: string; createdAt: string | null }[]>(`/messages?direction=in&number=${encodeURIComponent(from)}&limit=20`);
  const createdAt = inbound.find((message) => message.body === body)?.createdAt;
  if (!createdAt) return undefined;
  const at = DateTime.fromISO(createdAt, { setZone: true });
  return { received: at.toFormat('HH:mm'), givesUp: at.plus({ milliseconds: config.jobs.renewAllGiveUpMs }).toFormat('HH:mm') };
};

/**
 * What a message still `received` waits for, from /readyz: the library system (and how it is
 * down), Redis, or, with everything answering, the workers. A library system seen down earlier in
 * this wait and answering now means the request is in its retry backoff.
 */
async function waitingFor(ready: Readiness | undefined, seenDown: string | undefined): Promise<string> {
  if (!ready) return `forny at ${baseUrl} no longer answers /readyz.`;
  const library = ready.checks?.librarySystem ?? 'ok';
  const down = LIBRARY_DOWN[library];
  if (down) {
    const when = await arrival();
    const stored = when ? `the message is stored (received ${when.received})` : 'the message is stored';
    const givesUp = when ? `, or gives up at ${when.givesUp} and tells the patron` : ', or gives up after RENEW_ALL_GIVE_UP_MINUTES and tells the patron';
    return `${stored} and waits for the library system, which ${down.is} (/readyz: ${library}); forny answers ${down.until}${givesUp}.`;
  }
  if (ready.checks?.redis !== undefined && ready.checks.redis !== 'ok') {
    return `the message is stored, and Redis, which carries the work, is ${ready.checks.redis} (/readyz); forny queues it when Redis answers again.`;
  }
  if (seenDown) return `the library system answers again (/readyz said ${seenDown} during this wait); forny tries the request again within a minute.`;
  return 'are the workers running (npm start, or npm run worker)?';
}

const started = Date.now();
const deadline = started + Number(values.timeout) * 1000;
/** /readyz asks the library system each time: looked at after a moment's wait, then every few seconds. */
let nextLook = started + 2000;
let said: string | undefined;
let seenDown: string | undefined;
for (;;) {
  const inbound = await api<Inbound>(`/inbound/${messageSid}`);
  if (inbound.status !== 'received') {
    if (!inbound.replyId) {
      process.stdout.write(`← no reply (message ${inbound.status}; forny answers a number at most so often)\n`);
      process.exit(0);
    }
    const messages = await api<Message[]>(`/messages?direction=out&to=${encodeURIComponent(from)}&limit=50`);
    const reply = messages.find((message) => message.id === inbound.replyId);
    if (reply) {
      process.stdout.write(`← ${reply.body}\n`);
      const leaves =
        reply.status === 'scheduled'
          ? `waits for the SMS window; leaves ${reply.sendAfter}`
          : reply.sentAt
            ? `sent ${reply.sentAt} (${reply.status})`
            : `leaves at once (${reply.status})`;
      process.stdout.write(`  ${leaves}\n`);
      for (const loan of inbound.result?.loans ?? []) {
        const what = loan.outcome === 'renewed' ? `renewed to ${loan.newDueDate}${loan.provisional ? ' (provisional, interlibrary)' : ''}` : `not renewed: ${loan.reason}`;
        process.stdout.write(`    loan ${loan.loanId}: ${what}\n`);
      }
      process.exit(0);
    }
  }
  const timedOut = Date.now() > deadline;
  if (inbound.status === 'received' && (timedOut || Date.now() >= nextLook)) {
    nextLook = Date.now() + 5000;
    const ready = await readiness();
    const library = ready?.checks?.librarySystem;
    const down = library === undefined ? undefined : LIBRARY_DOWN[library];
    if (down) seenDown = library;
    // Said as soon as it is known, once per state, so a long wait is not silent.
    if (down && !timedOut && said !== library) {
      said = library;
      process.stdout.write(`  waiting: the library system ${down.is} (/readyz: ${library}); forny answers ${down.until}\n`);
    }
    if (timedOut) stopWith(`No reply within ${values.timeout} s: ${await waitingFor(ready, seenDown)}`);
  } else if (timedOut) {
    stopWith(`No reply within ${values.timeout} s. Are the workers running (npm start, or npm run worker)?`);
  }
  await new Promise((wake) => setTimeout(wake, 150));
}
