import { expect } from 'chai';
import { EVERY_RULE_TODAY, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

/** PostgreSQL cannot store NUL in text: the message used to be answered 500 and lost. */
describe('security: NUL characters on PostgreSQL', function () {
  this.timeout(60_000);
  let h: Harness;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;

  before(async () => {
    database = await createPostgresDatabase();
    h = await Harness.start({ workers: true, databaseUrl: database.url, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
  });
  after(async () => {
    await h.stop();
    await database.drop();
  });

  it('stores a signed webhook whose body holds NUL and control characters, without them, and answers the patron', async () => {
    const { messageSid, response } = await h.text(KAREN, 'HBK\u0000 FORNY\u0007 ALLE\u0000\u001b');
    expect(response.status).to.equal(200);
    const stored = await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first();
    expect(stored?.body).to.equal('HBK FORNY ALLE');
    const reply = await eventually(() => h.twilio.messagesTo(KAREN)[0], 15_000, 'the reply');
    expect(reply.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
  });

  it('keeps line breaks and tabs in a stored body', async () => {
    const { messageSid } = await h.text(KAREN, 'hej\r\n\tmed\u0000 venlig hilsen');
    expect((await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.body).to.equal('hej\r\n\tmed venlig hilsen');
  });

  it('answers a NUL in an API path 400, not 500', async () => {
    expect((await h.api('/api/inbound/SM%00')).status).to.equal(400);
  });
});
