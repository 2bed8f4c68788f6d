import { expect } from 'chai';
import { showParty } from '../../src/http/admin/display.js';
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

  const superseded: { stored: string | null; shown: string | undefined }[] = [
    { stored: 'folded into a later renew-all reply', shown: 'lagt sammen med et senere svar på FORNY ALLE' },
    { stored: 'patron opted out of SMS', shown: 'låneren har frameldt sig SMS' },
    { stored: 'patron opted out (STOP)', shown: 'låneren har frameldt sig SMS (STOP)' },
    { stored: 'every loan it names was renewed or returned', shown: 'alle lånene i beskeden er fornyet eller afleveret' },
    { stored: 'cancelled by operator mette', shown: 'annulleret af operatøren mette' },
    { stored: 'something a newer version wrote', shown: undefined },
    { stored: null, shown: undefined },
  ];
  for (const row of superseded) {
    it(`shows the superseded reason ${JSON.stringify(row.stored)} in Danish (or not at all)`, () => expect(supersededReason(row.stored)).to.equal(row.shown));
  }
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
