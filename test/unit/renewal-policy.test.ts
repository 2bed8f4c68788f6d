import { expect } from 'chai';
import fc from 'fast-check';
import {
  decideRenewal,
  LOAN_KINDS,
  maxRenewals,
  REFUSAL_REASONS,
  type LoanFacts,
  type LoanKind,
  type RefusalReason,
  type RenewalDecision,
} from '../../src/domain/renewal-policy.js';
import { parseCalendarDate, type CalendarDate } from '../../src/domain/calendar-date.js';

/** An ordinary 30-day loan due 2026-12-03 that nothing stops from being renewed. */
function loan({ dueDate = '2026-12-03', ...changes }: Partial<Omit<LoanFacts, 'dueDate'>> & { dueDate?: string } = {}): LoanFacts {
  return { kind: 'standard', loanPeriodDays: 30, dueDate: parseCalendarDate(dueDate), renewals: 0, renewable: true, reservedByOthers: false, recalled: false, illRefused: false, ...changes };
}

const renewed = (newDueDate: string, provisional = false): RenewalDecision => ({ outcome: 'renewed', newDueDate: parseCalendarDate(newDueDate), provisional });
const refused = (reason: RefusalReason): RenewalDecision => ({ outcome: 'refused', reason });

describe('decideRenewal', () => {
  const rows: { name: string; loan: LoanFacts; today: string; expected: RenewalDecision }[] = [
    // Rule 1: not renewable, tried before everything else.
    { name: 'a title or item marked not renewable is refused', loan: loan({ renewable: false }), today: '2026-11-30', expected: refused('not_renewable') },
    {
      name: 'a non-renewable interlibrary loan that is late is refused as not renewable (rule 1 before rule 4)',
      loan: loan({ kind: 'ill', renewable: false }),
      today: '2026-12-10',
      expected: refused('not_renewable'),
    },
    {
      name: 'a non-renewable loan asked for too early is refused as not renewable (rule 1 before rule 5)',
      loan: loan({ renewable: false }),
      today: '2026-11-01',
      expected: refused('not_renewable'),
    },

    // Rules 2 and 3: the owning library's recall or refusal is final.
    {
      name: 'a recalled interlibrary loan is refused although it is on time (recalled to 10 Dec, asked on 5 Dec)',
      loan: loan({ kind: 'ill', dueDate: '2026-12-10', renewals: 1, recalled: true }),
      today: '2026-12-05',
      expected: refused('recalled'),
    },
    {
      name: 'a recalled interlibrary loan asked for on its new due date is refused',
      loan: loan({ kind: 'ill', dueDate: '2026-12-05', recalled: true }),
      today: '2026-12-05',
      expected: refused('recalled'),
    },
    {
      name: 'an interlibrary loan whose renewal was refused is not renewed again at once',
      loan: loan({ kind: 'ill', renewals: 0, illRefused: true }),
      today: '2026-12-01',
      expected: refused('ill_refused'),
    },
    {
      name: 'a refused interlibrary loan asked for again weeks later is still refused',
      loan: loan({ kind: 'ill', dueDate: '2027-01-10', illRefused: true }),
      today: '2027-01-05',
      expected: refused('ill_refused'),
    },
    {
      name: 'a recalled and refused interlibrary loan is refused as recalled (rule 2 before rule 3)',
      loan: loan({ kind: 'ill', recalled: true, illRefused: true }),
      today: '2026-12-01',
      expected: refused('recalled'),
    },
    {
      name: 'a recalled interlibrary loan that is late is refused as recalled (rule 2 before rule 4)',
      loan: loan({ kind: 'ill', recalled: true }),
      today: '2026-12-10',
      expected: refused('recalled'),
    },
    {
      name: 'a refused interlibrary loan that is late is refused as ill_refused (rule 3 before rule 4)',
      loan: loan({ kind: 'ill', illRefused: true }),
      today: '2026-12-10',
      expected: refused('ill_refused'),
    },
    {
      name: 'a refused interlibrary loan asked for too early is refused as ill_refused (rule 3 before rule 5)',
      loan: loan({ kind: 'ill', illRefused: true }),
      today: '2026-11-01',
      expected: refused('ill_refused'),
    },
    {
      name: 'a recalled loan that is not renewable is refused as not renewable (rule 1 before rule 2)',
      loan: loan({ kind: 'ill', renewable: false, recalled: true }),
      today: '2026-12-01',
      expected: refused('not_renewable'),
    },

    // Rule 4: interlibrary loans must be renewed on time.
    { name: 'an interlibrary loan due yesterday is too late', loan: loan({ kind: 'ill' }), today: '2026-12-04', expected: refused('too_late') },
    {
      name: 'an interlibrary loan due today is on time and renews with reservation from its due date',
      loan: loan({ kind: 'ill' }),
      today: '2026-12-03',
      expected: renewed('2027-01-02', true),
    },
    {
      name: 'a late interlibrary loan at its maximum and reserved by others is too late (rule 4 before rules 6 and 7)',
      loan: loan({ kind: 'ill', renewals: 2, reservedByOthers: true }),
      today: '2026-12-20',
      expected: refused('too_late'),
    },
    {
      name: 'an ordinary loan ten days overdue renews from today, not from its old due date',
      loan: loan(),
      today: '2026-12-13',
      expected: renewed('2027-01-12'),
    },
    {
      name: 'a lynlån two days overdue renews from today like any ordinary loan',
      loan: loan({ kind: 'lynlaan', loanPeriodDays: 7 }),
      today: '2026-12-05',
      expected: renewed('2026-12-12'),
    },

    // Rule 5: not before due date − 7 days.
    { name: 'seven days before the due date a loan renews from its due date', loan: loan(), today: '2026-11-26', expected: renewed('2027-01-02') },
    { name: 'eight days before the due date is too soon', loan: loan(), today: '2026-11-25', expected: refused('too_soon') },
    { name: 'a month before the due date is too soon', loan: loan(), today: '2026-11-03', expected: refused('too_soon') },
    {
      name: 'a loan too soon and already at its maximum is too soon (rule 5 before rule 6)',
      loan: loan({ renewals: 2 }),
      today: '2026-11-20',
      expected: refused('too_soon'),
    },
    {
      name: 'a loan too soon and reserved by others is too soon (rule 5 before rule 7)',
      loan: loan({ reservedByOthers: true }),
      today: '2026-11-20',
      expected: refused('too_soon'),
    },
    { name: 'an interlibrary loan asked for too early is too soon', loan: loan({ kind: 'ill' }), today: '2026-11-25', expected: refused('too_soon') },
    // February 2027 has 28 days, so due 5 March minus seven days is 26 February.
    {
      name: 'the seven-day limit counts across the end of February (first day allowed)',
      loan: loan({ dueDate: '2027-03-05' }),
      today: '2027-02-26',
      expected: renewed('2027-04-04'),
    },
    {
      name: 'the seven-day limit counts across the end of February (one day too soon)',
      loan: loan({ dueDate: '2027-03-05' }),
      today: '2027-02-25',
      expected: refused('too_soon'),
    },
    // 2028 is a leap year: due 5 March minus seven days is 27 February, so 26 February is too soon.
    {
      name: 'the seven-day limit counts the leap day',
      loan: loan({ dueDate: '2028-03-05' }),
      today: '2028-02-26',
      expected: refused('too_soon'),
    },

    // Rule 6: at most one renewal for 7- and 14-day loans whatever their kind, two otherwise.
    { name: 'a 7-day loan never renewed renews', loan: loan({ loanPeriodDays: 7 }), today: '2026-12-01', expected: renewed('2026-12-10') },
    { name: 'a 7-day loan renewed once is refused', loan: loan({ loanPeriodDays: 7, renewals: 1 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 14-day loan never renewed renews', loan: loan({ loanPeriodDays: 14 }), today: '2026-12-01', expected: renewed('2026-12-17') },
    { name: 'a 14-day loan renewed once is refused', loan: loan({ loanPeriodDays: 14, renewals: 1 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 30-day loan renewed once renews a second time', loan: loan({ renewals: 1 }), today: '2026-12-01', expected: renewed('2027-01-02') },
    { name: 'a 30-day loan renewed twice is refused', loan: loan({ renewals: 2 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 21-day loan is not a short loan: its second renewal is allowed', loan: loan({ loanPeriodDays: 21, renewals: 1 }), today: '2026-12-01', expected: renewed('2026-12-24') },
    { name: 'a loan with more renewals than allowed is refused', loan: loan({ renewals: 5 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 14-day interlibrary loan renewed once is refused: one renewal whatever the kind', loan: loan({ kind: 'ill', loanPeriodDays: 14, renewals: 1 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 7-day interlibrary loan renewed once is refused', loan: loan({ kind: 'ill', loanPeriodDays: 7, renewals: 1 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 14-day interlibrary loan never renewed renews once, with reservation', loan: loan({ kind: 'ill', loanPeriodDays: 14 }), today: '2026-12-01', expected: renewed('2026-12-17', true) },
    { name: 'a 28-day interlibrary loan renewed once gets its second extra period', loan: loan({ kind: 'ill', loanPeriodDays: 28, renewals: 1 }), today: '2026-12-01', expected: renewed('2026-12-31', true) },
    { name: 'a 28-day interlibrary loan renewed twice is refused', loan: loan({ kind: 'ill', loanPeriodDays: 28, renewals: 2 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 7-day lynlån renewed once is refused', loan: loan({ kind: 'lynlaan', loanPeriodDays: 7, renewals: 1 }), today: '2026-12-01', expected: refused('too_many') },
    { name: 'a 14-day lynlån never renewed renews', loan: loan({ kind: 'lynlaan', loanPeriodDays: 14 }), today: '2026-12-01', expected: renewed('2026-12-17') },
    { name: 'a 30-day lynlån renewed once renews again', loan: loan({ kind: 'lynlaan', renewals: 1 }), today: '2026-12-01', expected: renewed('2027-01-02') },
    {
      name: 'a loan at its maximum that is also reserved is refused as too many (rule 6 before rule 7)',
      loan: loan({ renewals: 2, reservedByOthers: true }),
      today: '2026-12-01',
      expected: refused('too_many'),
    },

    // Rule 7: reserved by another patron.
    { name: 'a loan another patron has reserved is refused', loan: loan({ reservedByOthers: true }), today: '2026-12-01', expected: refused('on_reserve') },
    { name: 'an interlibrary loan another patron has reserved is refused', loan: loan({ kind: 'ill', reservedByOthers: true }), today: '2026-12-01', expected: refused('on_reserve') },
    { name: 'an overdue loan another patron has reserved is refused', loan: loan({ reservedByOthers: true }), today: '2026-12-10', expected: refused('on_reserve') },

    // The new due date across month, year and leap-day boundaries.
    { name: 'due 28 December + 30 days is 27 January next year', loan: loan({ dueDate: '2026-12-28' }), today: '2026-12-21', expected: renewed('2027-01-27') },
    { name: 'an overdue loan renewed in the new year counts from today', loan: loan({ dueDate: '2026-12-20' }), today: '2027-01-04', expected: renewed('2027-02-03') },
    { name: 'due 20 February 2027 + 14 days is 6 March (no leap day)', loan: loan({ dueDate: '2027-02-20', loanPeriodDays: 14 }), today: '2027-02-15', expected: renewed('2027-03-06') },
    { name: 'due 20 February 2028 + 14 days is 5 March (leap day counted)', loan: loan({ dueDate: '2028-02-20', loanPeriodDays: 14 }), today: '2028-02-15', expected: renewed('2028-03-05') },
    { name: 'due 31 January + 30 days is 2 March', loan: loan({ dueDate: '2027-01-31' }), today: '2027-01-31', expected: renewed('2027-03-02') },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(decideRenewal(row.loan, parseCalendarDate(row.today))).to.deep.equal(row.expected);
    });
  }

  it('never throws, gives a declared outcome, and a renewed loan is due strictly after both its old due date and today', () => {
    const day = fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
      .map((date) => parseCalendarDate(date.toISOString().slice(0, 10)));
    const loans = fc.record({
      kind: fc.constantFrom<LoanKind>(...LOAN_KINDS),
      loanPeriodDays: fc.integer({ min: 1, max: 365 }),
      dueDate: day,
      renewals: fc.integer({ min: 0, max: 10 }),
      renewable: fc.boolean(),
      reservedByOthers: fc.boolean(),
      recalled: fc.boolean(),
      illRefused: fc.boolean(),
    });
    // Any day at all, or (more often interesting) a day around the due date, where loans do renew.
    const cases = loans.chain((facts) =>
      fc.tuple(fc.constant(facts), fc.oneof(day, fc.integer({ min: -10, max: 40 }).map((offset) => shiftDays(facts.dueDate, offset)))),
    );
    fc.assert(
      fc.property(cases, ([facts, today]) => {
        const decision = decideRenewal(facts, today);
        if (decision.outcome === 'refused') {
          expect(REFUSAL_REASONS).to.include(decision.reason);
        } else {
          expect(decision.outcome).to.equal('renewed');
          expect(decision.newDueDate > facts.dueDate, 'after the old due date').to.equal(true);
          expect(decision.newDueDate > today, 'after today').to.equal(true);
          expect(decision.provisional, 'provisional exactly for interlibrary loans').to.equal(facts.kind === 'ill');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('an interlibrary loan through renewals, refusals and recalls', () => {
  type Step = { readonly wait: number } & ({ readonly act: 'renew' } | { readonly act: 'refuse' } | { readonly act: 'recall'; readonly shortenBy: number });
  const steps = fc.array(
    fc.oneof(
      fc.record({ wait: fc.integer({ min: 0, max: 12 }), act: fc.constant('renew' as const) }),
      fc.record({ wait: fc.integer({ min: 0, max: 12 }), act: fc.constant('refuse' as const) }),
      fc.record({ wait: fc.integer({ min: 0, max: 12 }), act: fc.constant('recall' as const), shortenBy: fc.integer({ min: 1, max: 30 }) }),
    ),
    { maxLength: 25 },
  );

  it('is never renewed after a recall or a refusal, never beyond its maximum, never when overdue', () => {
    fc.assert(
      fc.property(fc.constantFrom(7, 14, 21, 28, 30), fc.integer({ min: 0, max: 40 }), steps, (loanPeriodDays, startOffset, plan: Step[]) => {
        // The loan as forny's tables hold it; the refusal and recall follow src/ill-decisions.ts.
        let today = parseCalendarDate('2026-11-01');
        let state = { ...loan({ kind: 'ill', loanPeriodDays, dueDate: shiftDays(today, startOffset) }), provisional: false, previousDueDate: null as CalendarDate | null };
        for (const step of plan) {
          today = shiftDays(today, step.wait);
          if (step.act === 'renew') {
            const decision = decideRenewal(state, today);
            if (decision.outcome === 'refused') continue;
            expect(state.recalled, 'renewed after a recall').to.equal(false);
            expect(state.illRefused, 'renewed after a refusal').to.equal(false);
            expect(today <= state.dueDate, `renewed overdue on ${today}, due ${state.dueDate}`).to.equal(true);
            state = { ...state, previousDueDate: state.dueDate, dueDate: decision.newDueDate, renewals: state.renewals + 1, provisional: decision.provisional };
            expect(state.renewals, 'renewals beyond the maximum').to.be.at.most(maxRenewals(state));
          } else if (step.act === 'refuse') {
            if (!state.provisional || state.previousDueDate === null) continue;
            state = { ...state, dueDate: state.previousDueDate, previousDueDate: null, provisional: false, renewals: Math.max(0, state.renewals - 1), illRefused: true };
          } else {
            const dueDate = shiftDays(state.dueDate, -step.shortenBy);
            if (dueDate < today) continue; // a recall never shortens into the past
            state = { ...state, dueDate, recalled: true };
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

/** Day arithmetic on UTC midnights, independent of the addDays under test. */
function shiftDays(date: CalendarDate, days: number): CalendarDate {
  return parseCalendarDate(new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10));
}

describe('maxRenewals', () => {
  const rows: { name: string; kind: LoanKind; loanPeriodDays: number; expected: number }[] = [
    // "Materialer med 7 og 14 dages lånetid kan du forlænge én gang", whatever their kind.
    { name: 'a 7-day loan may be renewed once', kind: 'standard', loanPeriodDays: 7, expected: 1 },
    { name: 'a 14-day loan may be renewed once', kind: 'standard', loanPeriodDays: 14, expected: 1 },
    { name: 'a 30-day loan may be renewed twice', kind: 'standard', loanPeriodDays: 30, expected: 2 },
    { name: 'a 28-day loan may be renewed twice', kind: 'standard', loanPeriodDays: 28, expected: 2 },
    { name: 'a 7-day lynlån may be renewed once', kind: 'lynlaan', loanPeriodDays: 7, expected: 1 },
    { name: 'a 14-day lynlån may be renewed once', kind: 'lynlaan', loanPeriodDays: 14, expected: 1 },
    { name: 'a 7-day interlibrary loan may be renewed once', kind: 'ill', loanPeriodDays: 7, expected: 1 },
    { name: 'a 14-day interlibrary loan may be renewed once', kind: 'ill', loanPeriodDays: 14, expected: 1 },
    { name: 'a 28-day interlibrary loan gets two extra periods', kind: 'ill', loanPeriodDays: 28, expected: 2 },
    { name: 'a 30-day interlibrary loan gets two extra periods', kind: 'ill', loanPeriodDays: 30, expected: 2 },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(maxRenewals({ loanPeriodDays: row.loanPeriodDays }), row.kind).to.equal(row.expected);
    });
  }
});
