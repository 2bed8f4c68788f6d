import { expect } from 'chai';
import { noticeHash, NoticeInputError, parseNotices } from '../../src/notices/notice-input.js';

const notice = (overrides: Record<string, unknown> = {}) => ({
  id: 'fbs-1',
  kind: 'overdue',
  patron: { cardNumber: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', email: 'karen@example.dk', smsOptIn: true, emailOptIn: true },
  loans: [{ itemId: '5000000001', title: 'Babettes gæstebud', dueDate: '2026-12-03' }],
  reservation: null,
  ...overrides,
});
const patron = (overrides: Record<string, unknown>) => ({ ...notice().patron, ...overrides });

describe('parseNotices', () => {
  const refused: [string, unknown, string][] = [
    ['a batch names the notice by index', [notice(), notice(), notice(), notice({ patron: patron({ mobile: 'abc' }) })], '[3].patron.mobile: not a phone number'],
    ['a lone notice by its field', notice({ patron: patron({ email: 'nope' }) }), 'patron.email: not an e-mail address'],
    ['a missing field', notice({ patron: patron({ smsOptIn: undefined }) }), 'patron.smsOptIn: missing'],
    ['an unknown field', notice({ extra: 1 }), 'notice: unknown field "extra"'],
    ['an id too long', notice({ id: 'x'.repeat(129) }), 'id: at most 128 characters'],
    ['an empty id', notice({ id: '' }), 'id: must not be empty'],
    ['a reservation_ready without its reservation', notice({ kind: 'reservation_ready', loans: [] }), 'reservation: missing: a reservation_ready notice names its reservation'],
    ['a reservation_ready with loans', notice({ kind: 'reservation_ready', reservation: { title: 'T', pickupBranch: 'B', pickupBy: '2026-12-08' } }), 'loans: must be empty for a reservation_ready notice'],
    ['a recall with a reservation', notice({ kind: 'recall', reservation: { title: 'T', pickupBranch: 'B', pickupBy: '2026-12-08' } }), 'reservation: must be null for a recall notice'],
    ['a branch too long', notice({ kind: 'reservation_ready', loans: [], reservation: { title: 'T', pickupBranch: 'B'.repeat(61), pickupBy: '2026-12-08' } }), 'reservation.pickupBranch: at most 60 characters'],
    ['a name of control characters only', notice({ patron: patron({ name: '\u0000\u0007' }) }), 'patron.name: must not be empty'],
    ['not an object', 'hello', 'expected a notice (a JSON object) or an array of notices'],
    ['more than 1,000', Array.from({ length: 1001 }, () => notice()), 'at most 1000 notices per request, got 1001'],
  ];
  for (const [name, body, message] of refused) {
    it(`refuses ${name}: ${message}`, () => {
      expect(() => parseNotices(body)).to.throw(NoticeInputError, message);
    });
  }

  it('normalises: a Danish number without +45 becomes E.164, absent contact details null', () => {
    const [parsed] = parseNotices(notice({ patron: patron({ mobile: '20 00 00 01', email: undefined }) }));
    expect(parsed?.patron).to.include({ mobile: '+4520000001', email: null });
    expect(parsed?.reservation).to.equal(null);
  });

  it('drops NUL and other control characters from every text field, as stored text (tab, CR and LF stay)', () => {
    const [parsed] = parseNotices(
      notice({
        id: 'fbs-\u00001',
        patron: patron({ cardNumber: '0101\u0000901234', name: 'Karen\u0000 Blixen\u001b', mobile: '+45\u000020000001', email: 'karen@example.dk\u0000' }),
        loans: [{ itemId: '5000\u00000001', title: 'Babettes\u0007 gæstebud\t2', dueDate: '2026-12-03\u0000' }],
      }),
    );
    expect(parsed).to.deep.include({ id: 'fbs-1' });
    expect(parsed?.patron).to.include({ cardNumber: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', email: 'karen@example.dk' });
    expect(parsed?.loans).to.deep.equal([{ itemId: '50000001', title: 'Babettes gæstebud\t2', dueDate: '2026-12-03' }]);
    const [reservation] = parseNotices(notice({ kind: 'reservation_ready', loans: [], reservation: { title: 'Gift\u0000', pickupBranch: 'Helsingør\u0000 Bibliotek', pickupBy: '2026-12-08' } }));
    expect(reservation?.reservation).to.deep.equal({ title: 'Gift', pickupBranch: 'Helsingør Bibliotek', pickupBy: '2026-12-08' });
  });

  it('takes 1,000 notices', () => {
    expect(parseNotices(Array.from({ length: 1000 }, (_, index) => notice({ id: `n${index}` })))).to.have.length(1000);
  });
});

describe('noticeHash', () => {
  const hash = (body: unknown) => noticeHash(parseNotices(body)[0]!);
  it('is the same for the same content however the number is written', () => {
    expect(hash(notice({ patron: patron({ mobile: '20000001' }) }))).to.equal(hash(notice()));
  });
  it('differs for any change of content', () => {
    const base = hash(notice());
    expect(hash(notice({ kind: 'recall' }))).not.to.equal(base);
    expect(hash(notice({ patron: patron({ smsOptIn: false }) }))).not.to.equal(base);
    expect(hash(notice({ loans: [{ itemId: '5000000001', title: 'Babettes gæstebud', dueDate: '2026-12-04' }] }))).not.to.equal(base);
  });
});
