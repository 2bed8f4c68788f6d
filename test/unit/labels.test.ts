import { expect } from 'chai';
import { showParty } from '../../src/http/admin/display.js';
import { SUPERSEDE_REASONS } from '../../src/domain/message-status.js';
import { ALL_LABELS, QUEUE_TEXT, supersededReason } from '../../src/http/admin/labels.js';
import { QUEUE } from '../../src/queue/queues.js';

/**
 * English words the dashboard used to show inside its Danish pages (issue 9's list, and the words
 * of the stored reasons), none of which is also a Danish word ("job" is Danish too). SMS, FORNY ALLE, STOP, START and
 * HJÆLP are the commands patrons text and stay as they are.
 */
const ENGLISH = ['folded', 'into', 'later', 'reply', 'patron', 'opted', 'out', 'of', 'the', 'every', 'loan', 'renewed', 'returned', 'cancelled', 'by', 'operator', 'failed', 'sent', 'delivered', 'queued', 'scheduled', 'superseded', 'received', 'processed', 'ignored', 'waiting', 'active', 'delayed', 'completed', 'error', 'message', 'number', 'not', 'too', 'many', 'reserve', 'due'];

const words = (text: string) => text.toLowerCase().split(/[^a-zæøå]+/).filter(Boolean);

describe('the dashboard labels (labels.ts): Danish only', () => {
  for (const [table, labels] of Object.entries(ALL_LABELS)) {
    it(`${table} has no English word`, () => {
      for (const [code, text] of Object.entries(labels)) {
        expect(text, `${table}.${code}`).to.not.equal('');
        expect(words(text).filter((word) => ENGLISH.includes(word)), `${table}.${code}: "${text}"`).to.deep.equal([]);
      }
    });
  }

  it('has a Danish name for every queue, not the technical name itself', () => {
    for (const queue of Object.values(QUEUE)) {
      const text = (QUEUE_TEXT as Readonly<Record<string, string>>)[queue];
      expect(text, queue).to.be.a('string');
      expect(text, queue).not.to.contain(queue);
    }
  });

  const superseded: { reason: string | null; cancelledBy?: string; shown: string | undefined }[] = [
    { reason: 'folded_into_later_reply', shown: 'lagt sammen med et senere svar på FORNY ALLE' },
    { reason: 'patron_sms_opt_out', shown: 'låneren har frameldt sig SMS' },
    { reason: 'stop_from_patron', shown: 'låneren har frameldt sig SMS (STOP)' },
    { reason: 'stop_from_number', shown: 'nummeret har frameldt sig SMS (STOP)' },
    { reason: 'loans_settled', shown: 'alle lånene i beskeden er fornyet eller afleveret' },
    { reason: 'cancelled_by_operator', cancelledBy: 'mette', shown: 'annulleret af operatøren mette' },
    { reason: 'something a newer version wrote', shown: undefined },
    { reason: null, shown: undefined },
  ];
  for (const row of superseded) {
    it(`shows the superseded reason ${JSON.stringify(row.reason)} in Danish (or not at all)`, () =>
      expect(supersededReason({ supersededReason: row.reason, cancelledBy: row.cancelledBy ?? null })).to.equal(row.shown));
  }

  it('has a Danish label for every superseded reason forny stores', () => {
    for (const reason of SUPERSEDE_REASONS) expect(supersededReason({ supersededReason: reason, cancelledBy: null }), reason).to.be.a('string');
  });
});

describe('showParty: numbers as people read them', () => {
  const rows: { party: string; shown: string }[] = [
    { party: '+4520000001', shown: '+45 20 00 00 01' },
    { party: '+4561000002', shown: '+45 61 00 00 02' },
    { party: '+46701234567', shown: '+46701234567' },
    { party: 'karen@example.dk', shown: 'karen@example.dk' },
    { party: '1910', shown: '1910' },
  ];
  for (const row of rows) it(`${row.party} → ${row.shown}`, () => expect(showParty(row.party)).to.equal(row.shown));
});
