import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadFixture } from '../../db/load-fixture.js';
import twilio from 'twilio';
import type { Knex } from 'knex';
import type { FixtureInput } from '../../db/fixture.js';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { FakeTwilioProcess } from '../helpers/fake-twilio-process.js';
import { deleteQueueKeys, eventually, newMessageSid, TEST_REDIS_URL } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';
import { freePort, FornyProcess } from '../helpers/processes.js';

/*
 * Two libraries on one short code in the web + worker split on PostgreSQL (SPEC §12): the web
 * process routes by keyword, the worker by directory; the same own ids in both libraries.
 */

const NOW = '2026-12-01T10:00:00+01:00';
const PUBLIC_BASE_URL = 'https://forny.test';
const HBK_NAME = 'Helsingør Kommunes Biblioteker';
const FRB_NAME = 'Fredensborg Bibliotekerne';
const FRB_TOKEN = 'frb-notices-token-0123456789abcdef0123';
const BOTH = '+4520000001';

const fixture = (count: number): FixtureInput => {
  const n = Array.from({ length: count }, (_, index) => index + 1);
  return {
    patrons: [{ id: 'p1', cardNumber: '0101', name: 'Karen Blixen', mobile: BOTH, smsOptIn: true }],
    titles: n.map((i) => ({ id: `t${i}`, title: `Titel ${i}` })),
    items: n.map((i) => ({ id: `i${i}`, titleId: `t${i}`, barcode: `500${i}` })),
    loans: n.map((i) => ({ id: `l${i}`, patronId: 'p1', itemId: `i${i}`, kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-04', dueDate: '2026-12-03' })),
  };
};

describe('many libraries in the web + worker split on PostgreSQL (real processes)', function () {
  this.timeout(120_000);
  const prefix = `forny-libraries-${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'forny-libraries-pg-'));
  let fake: FakeTwilioProcess;
  let database: { url: string; drop(): Promise<void> };
  let db: Knex;
  let web: FornyProcess;
  let worker: FornyProcess;
  let port: number;

  before(async () => {
    fake = await FakeTwilioProcess.start();
    database = await createPostgresDatabase();
    db = createKnex(database.url);
    await migrateToLatest(db);
    const now = new Date(NOW);
    await loadFixture(db, fixture(2), now, 'hbk');
    await loadFixture(db, fixture(3), now, 'frb');
    const file = join(dir, 'libraries.json');
    writeFileSync(
      file,
      JSON.stringify({
        libraries: [
          { id: 'hbk', name: HBK_NAME, keywords: ['HBK', 'HKB'], site: 'helsbib.dk' },
          { id: 'frb', name: FRB_NAME, keywords: ['FRB'], site: 'fredensborgbib.dk', noticesToken: '${FRB_TOKEN}' },
        ],
      }),
    );
    port = await freePort();
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PUBLIC_BASE_URL,
      TWILIO_ACCOUNT_SID: fake.accountSid,
      TWILIO_AUTH_TOKEN: fake.authToken,
      TWILIO_API_BASE_URL: fake.url,
      ADMIN_PASSWORD: 'operator-password',
      FAKE_NOW: NOW,
      SEND_RETRY_DELAY_MS: '50',
      SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'warn',
      LIBRARIES_FILE: file,
      FRB_TOKEN,
    };
    worker = FornyProcess.spawn('worker.ts', env);
    web = FornyProcess.spawn('web.ts', { ...env, PORT: String(port) });
    await worker.waitFor(/workers and scheduler only/, 60_000);
    await eventually(async () => {
      if (web.child.exitCode !== null) throw new Error(`web exited at start:\n${web.stdout}\n${web.stderr}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok;
    }, 60_000, 'the web process to listen');
  });

  after(async () => {
    await Promise.all([web, worker].map((child) => child?.stop('SIGKILL')));
    await db?.destroy();
    await fake?.stop();
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const text = async (from: string, body: string) => {
    const params = { MessageSid: newMessageSid(), AccountSid: fake.accountSid, From: from, To: '1910', Body: body, NumMedia: '0' };
    const signature = twilio.getExpectedTwilioSignature(fake.authToken, `${PUBLIC_BASE_URL}/sms/inbound`, params);
    const response = await fetch(`http://127.0.0.1:${port}/sms/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params),
    });
    expect(response.status).to.equal(200);
  };
  const replies = async (to: string, count: number) =>
    eventually(async () => {
      await fake.sync();
      const sent = fake.messagesTo(to);
      return sent.length >= count ? sent.map((message) => message.body) : undefined;
    }, 30_000, `${count} SMS to ${to}`);

  it('routes by keyword and by directory, renews in each library only, and keeps STOP HBK to hbk', async () => {
    await text(BOTH, 'hbkfornyalle');
    expect((await replies(BOTH, 1))[0]).to.equal(`${HBK_NAME}: 2 af 2 lån er fornyet.`);
    await text(BOTH, 'FRB FORNY ALLE');
    expect((await replies(BOTH, 2))[1]).to.equal(`${FRB_NAME}: 3 af 3 lån er fornyet.`);
    const renewed = await db('loans').where({ renewals: 1 }).orderBy('id').pluck('id');
    expect(renewed).to.deep.equal(['frb:l1', 'frb:l2', 'frb:l3', 'hbk:l1', 'hbk:l2']);

    await text(BOTH, 'FORNY ALLE');
    expect((await replies(BOTH, 3))[2]).to.equal('Bibliotekerne: Skriv HBK FORNY ALLE eller FRB FORNY ALLE.');

    await text(BOTH, 'STOP HBK');
    expect((await replies(BOTH, 4))[3]).to.match(new RegExp(`^${HBK_NAME}: Du er afmeldt sms`));
    const notice = {
      id: 'n-1',
      kind: 'overdue',
      patron: { cardNumber: '0101', name: 'Karen Blixen', mobile: BOTH, email: null, smsOptIn: true, emailOptIn: false },
      loans: [{ itemId: '5001', title: 'Titel 1', dueDate: '2026-11-28' }],
      reservation: null,
    };
    const response = await fetch(`http://127.0.0.1:${port}/api/notices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${FRB_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(notice),
    });
    expect(response.status).to.equal(202);
    expect((await replies(BOTH, 5))[4]).to.match(new RegExp(`^${FRB_NAME}: `));
    expect(await db('notices').pluck('library_id')).to.deep.equal(['frb']);
  });
});
