import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import type { InboundView } from '../helpers/api-views.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { Sip2Server, type SimItem } from '../helpers/sip2-server.js';

/*
 * What the dashboard says a renew-all came to when it did not renew anything the ordinary way
 * (issue 20, point 6): a request given up because the library system did not answer or refused
 * forny's login, a request given up part-way, a number no patron has, a card the system does not
 * know. None of them is "ingen aktive lån", and the Fejl page names the library system as the cause.
 */

const PASSWORD = 'Kodeord-til-dashboardet';
const ASE = '+4520304060';
const ASE_CARD = '0102030406';
const STRANGER = '+4520304098';
const NOBODY = '+4520304097';
const TODAY = '2026-12-01';

const directory: FixtureInput = {
  patrons: [
    { id: 'p-ase', cardNumber: ASE_CARD, name: 'Åse Østergård', mobile: ASE, smsOptIn: true },
    { id: 'p-stranger', cardNumber: '0999999998', name: 'Ukendt i systemet', mobile: STRANGER, smsOptIn: true },
  ],
};
const TITLES = ['Ærøs blå fjorde', 'Søvnløs i Helsingør', 'Gåden om Østerport'];
const loans = (): SimItem[] => TITLES.map((title, i) => ({ id: `I-${i + 1}`, title, dueDate: '2026-12-03', renewals: 0, maxRenewals: 2 }));

/** The table rows of a page that contain `text`. */
const rowsWith = (page: string, text: string) => [...page.matchAll(/<tr[\s>][\s\S]*?<\/tr>/g)].map((match) => match[0]).filter((row) => row.includes(text));
/** A row's cells as text, whitespace folded. */
const cells = (row: string) => [...row.matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((match) => (match[1] ?? '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
/** The Resultat and Svar cells of a renew-all on the Fornyelser list. */
const listed = (page: string, messageSid: string) => {
  const row = rowsWith(page, `/admin/renewals/${messageSid}"`)[0] ?? '';
  const [, , , result, reply] = cells(row);
  return { result, reply };
};

describe('dashboard: what a renew-all came to when it was given up or had no patron', function () {
  this.timeout(30_000);
  let server: Sip2Server;
  let h: Harness;

  async function start(options: { serverUp?: boolean; refuseLogins?: boolean } = {}): Promise<void> {
    server = new Sip2Server({ password: PASSWORD, institution: 'HBK', today: TODAY, renewalDays: 14 });
    server.addPatron({ card: ASE_CARD, name: 'Åse Østergård', items: loans() });
    server.refuseLogins = options.refuseLogins ?? false;
    const port = await server.start();
    if (options.serverUp === false) await server.stop();
    h = await Harness.start({
      workers: true,
      fixture: directory,
      now: `${TODAY}T10:00:00+01:00`,
      env: { RENEW_ALL_GIVE_UP_MINUTES: '1' },
      libraryUrl: `sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000`,
    });
  }

  afterEach(async () => {
    await h?.stop();
    await server?.stop();
  });

  const dashboard = async (path: string) => {

    const { status, text } = await h.page(path);

    expect(status, path).to.equal(200);

    return text;

  };

  /** Texts from Åse while the system cannot renew, lets a retry wait, then moves the clock past the give-up time. */
  async function givenUp(): Promise<string> {
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
    await eventually(async () => ((await h.deps.queues.renewAll.getJobCounts('delayed')).delayed ?? 0) > 0, 5_000, 'a retry to wait');
    h.clock.advance(61_000);
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${messageSid}`)).body.status === 'failed', 15_000, 'the request to be given up');
    await queuesSettled(h.deps.queues.all);
    return messageSid;
  }

  it('the system refusing the login: "opgivet" and why on Fornyelser, and the library system named on Fejl', async () => {
    await start({ refuseLogins: true });
    const messageSid = await givenUp();

    const { result, reply } = listed(await dashboard('/admin/renewals'), messageSid);
    expect(result).to.equal('opgivet – bibliotekssystemet afviste login; intet fornyet');
    expect(reply).to.equal('sendt FORNY ALLE kunne ikke udføres');

    const one = await dashboard(`/admin/renewals/${messageSid}`);
    expect(one).to.contain('opgivet – bibliotekssystemet afviste login; intet fornyet');
    expect(one).not.to.contain('ingen lån vurderet');

    const failures = await dashboard('/admin/failures');
    const inboundId = (await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.id;
    const [row] = rowsWith(failures, `<tr id="in-${inboundId}"`);
    const why = cells(row ?? '')[4];
    expect(why).to.match(/^Bibliotekssystemet afviste login \(tjek den bruger og adgangskode, forny logger ind med\)\. Intet er fornyet\. Låneren har fået en SMS om det\./);
    // The system's own words, for whoever asks; never the password.
    expect(row).to.contain('<summary>vis detaljer</summary>');
    expect(row).to.contain('login refused');
    expect(failures).not.to.contain(PASSWORD);
  });

  it('the cause is kept with the request: still named once Redis no longer has the job (a day later, or flushed)', async () => {
    await start({ refuseLogins: true });
    const messageSid = await givenUp();
    const inbound = await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first();
    expect(inbound?.give_up_cause).to.equal('login_refused');
    await (await h.deps.queues.renewAll.getJob(`in-${inbound?.id}`))?.remove();

    expect(listed(await dashboard('/admin/renewals'), messageSid).result).to.equal('opgivet – bibliotekssystemet afviste login; intet fornyet');
    const why = cells(rowsWith(await dashboard('/admin/failures'), `<tr id="in-${inbound?.id}"`)[0] ?? '')[4];
    expect(why).to.match(/^Bibliotekssystemet afviste login/);
  });

  it('the system away: "bibliotekssystemet svarede ikke" on Fornyelser and on Fejl', async () => {
    await start({ serverUp: false });
    const messageSid = await givenUp();

    expect(listed(await dashboard('/admin/renewals'), messageSid).result).to.equal('opgivet – bibliotekssystemet svarede ikke; intet fornyet');
    const inboundId = (await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.id;
    const why = cells(rowsWith(await dashboard('/admin/failures'), `<tr id="in-${inboundId}"`)[0] ?? '')[4];
    expect(why).to.match(/^Bibliotekssystemet svarede ikke\. Intet er fornyet\./);
  });

  it('given up part-way: the renewal that was made is counted, and the system named as too slow', async () => {
    await start();
    // The system takes over a minute (on forny's clock) to answer the first Renew.
    server.onReceive = (message) => {
      if (message.code === '29') h.clock.advance(61_000);
    };
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${messageSid}`)).body.status === 'failed', 15_000, 'the request to be given up');
    await queuesSettled(h.deps.queues.all);
    const renewed = await h.deps.db('renewal_results').where({ outcome: 'renewed' }).count<{ n: number }[]>({ n: '*' });
    // Until the give-up records what was renewed (a teammate's change), there is nothing to count.
    const done = Number(renewed[0]?.n ?? 0);

    const { result } = listed(await dashboard('/admin/renewals'), messageSid);
    expect(result).to.equal(done > 0 ? `opgivet – bibliotekssystemet nåede ikke at forny alle lån i tide; ${done} lån fornyet inden da` : 'opgivet – ikke udført i tide; intet fornyet');
    const inboundId = (await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.id;
    const why = cells(rowsWith(await dashboard('/admin/failures'), `<tr id="in-${inboundId}"`)[0] ?? '')[4];
    if (done > 0) expect(why).to.match(new RegExp(`^Bibliotekssystemet nåede ikke at forny alle lån i tide\\. ${done} lån blev fornyet inden da\\.`));
  });

  it('a number no patron has, and a card the system does not know: said as such, not "ingen aktive lån"', async () => {
    await start();
    const nobody = (await h.text(NOBODY, 'HBK FORNY ALLE')).messageSid;
    const stranger = (await h.text(STRANGER, 'HBK FORNY ALLE')).messageSid;
    await eventually(() => h.twilio.messagesTo(NOBODY)[0] && h.twilio.messagesTo(STRANGER)[0], 10_000, 'both answers');
    await queuesSettled(h.deps.queues.all);

    const list = await dashboard('/admin/renewals');
    expect(listed(list, nobody)).to.deep.equal({ result: 'ukendt nummer', reply: 'sendt ukendt nummer' });
    expect(listed(list, stranger)).to.deep.equal({ result: 'bibliotekssystemet kender ikke lånerens kort', reply: 'sendt ukendt nummer' });
    expect(list).not.to.contain('ingen aktive lån');
    expect(await dashboard(`/admin/renewals/${nobody}`)).to.contain('ukendt nummer');
  });
});
