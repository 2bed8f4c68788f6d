import { addDays, type CalendarDate } from '../../src/domain/calendar-date.js';
import type { LoanKind } from '../../src/domain/renewal-policy.js';
import type { FixtureInput } from '../fixture.js';

/** The demo patron `npm run sms` writes as by default: loans to renew, and loans that every rule refuses. */
export const DEMO_PATRON_MOBILE = '+4520000001';

const names = [
  'Karen Blixen', 'Tove Ditlevsen', 'Søren Kierkegaard', 'Inger Christensen', 'Herman Bang',
  'Henrik Pontoppidan', 'Johannes V. Jensen', 'Martin Andersen Nexø', 'Karin Michaëlis', 'Klaus Rifbjerg',
  'Peter Høeg', 'Suzanne Brøgger', 'Naja Marie Aidt', 'Helle Helle', 'Carsten Jensen',
  'Kim Leine', 'Ida Jessen', 'Thomas Korsgaard', 'Dorthe Nors', 'Jens Christian Grøndahl',
];

const titles = [
  'Babettes gæstebud', 'Den afrikanske farm', 'Barndommens gade', 'Gift', 'Frygt og bæven',
  'Enten – Eller', 'alfabet', 'Det', 'Tine', 'Stuk', 'Lykke-Per', 'Kongens fald', 'Pelle Erobreren',
  'Den farlige alder', 'Den kroniske uskyld', 'Frøken Smillas fornemmelse for sne', 'Kærlighedens veje og vildveje',
  'Bavian', 'Rødby-Puttgarden', 'Vi, de druknede', 'Den store fortælling', 'Det evige liv', 'Kunsten at græde i kor',
  'Hvis der skulle komme et menneske forbi', 'Spejl, skulder, signal', 'Virginia', 'Erindringer', 'Kastanjemanden',
];

/**
 * A small library, dated from `today`, whose loans exercise every rule of SPEC §2: Karen Blixen
 * (the default sender) has loans that renew, one of each refusal, an overdue loan, interlibrary
 * loans on time and late, and a returned loan; the others cover reminders by SMS and e-mail,
 * opt-outs, a shared family number and a patron without loans. The owning library's recall and
 * refusal (reasons `recalled`, `ill_refused`) are decisions made later, through the operators' API,
 * not loan states a fixture can hold.
 */
export function demoLibrary(today: CalendarDate): FixtureInput {
  const fixture = {
    patrons: [] as NonNullable<FixtureInput['patrons']>,
    titles: titles.map((title, index) => ({ id: `t${index + 1}`, title, renewable: index !== 9 })), // "Stuk": reference copy only
    // Two copies of every title: i1–i28 and i29–i56.
    items: [...titles, ...titles].map((_, index) => ({
      id: `i${index + 1}`,
      titleId: `t${(index % titles.length) + 1}`,
      barcode: String(5000000001 + index),
    })),
    loans: [] as NonNullable<FixtureInput['loans']>,
    reservations: [] as NonNullable<FixtureInput['reservations']>,
  };
  names.forEach((name, index) => {
    const n = index + 1;
    fixture.patrons.push({
      id: `p${n}`,
      cardNumber: String(1000000000 + n),
      name,
      // p17 shares the number of p16 (a parent's number on a child's card); p20 has no mobile.
      mobile: n === 20 ? null : n === 17 ? '+4520000016' : `+45200000${String(n).padStart(2, '0')}`,
      smsOptIn: n !== 5 && n !== 12, // p5 and p12 said STOP
      email: n % 3 === 0 || n === 1 ? `${name.split(' ')[0]?.toLowerCase().replace(/[^a-z]/g, '')}${n}@example.dk` : null,
      emailOptIn: n % 3 === 0 || n === 1,
    });
  });

  let loanNumber = 0;
  let itemNumber = titles.length; // other patrons borrow the second copies
  const loan = (patron: number, dueInDays: number, extra: { kind?: LoanKind; period?: number; renewals?: number; returned?: boolean; item?: number } = {}) => {
    loanNumber += 1;
    const period = extra.period ?? (extra.kind === 'ill' ? 28 : 30);
    const dueDate = addDays(today, dueInDays);
    const item = extra.item ?? itemNumber + 1;
    if (extra.item === undefined) itemNumber += 1;
    fixture.loans.push({
      id: `l${loanNumber}`,
      patronId: `p${patron}`,
      itemId: `i${item}`,
      kind: extra.kind ?? 'standard',
      loanPeriodDays: period,
      borrowedOn: addDays(dueDate, -period * (1 + (extra.renewals ?? 0))),
      dueDate,
      renewals: extra.renewals ?? 0,
      owningLibrary: extra.kind === 'ill' ? 'Roskilde Bibliotekerne' : null,
      ...(extra.returned ? { returnedOn: addDays(today, -1) } : {}),
    });
  };

  // Karen Blixen: 4 of 9 active loans renew; one of each refusal; one returned loan that does not count.
  loan(1, 3, { item: 1 }); //                                   renewed (due in 3 days: also gets a reminder)
  loan(1, 5, { item: 2 }); //                                   renewed
  loan(1, -5, { item: 3 }); //                                  renewed although overdue: new due = today + 30
  loan(1, 4, { kind: 'ill', item: 4 }); //                      renewed with reservation (provisional)
  loan(1, 20, { item: 5 }); //                                  too_soon
  loan(1, 2, { period: 14, renewals: 1, item: 6 }); //          too_many (14-day loans renew once)
  loan(1, 1, { item: 7 }); //                                   on_reserve (p2 reserved "alfabet")
  loan(1, -2, { kind: 'ill', item: 8 }); //                     too_late (interlibrary loans renew on time only)
  loan(1, 2, { item: 10 }); //                                  not_renewable ("Stuk")
  loan(1, -10, { item: 11, returned: true }); //                returned: not part of renew-all
  fixture.reservations.push({ id: 'r1', patronId: 'p2', titleId: 't7', createdAt: `${addDays(today, -3)}T10:00:00+01:00` });
  fixture.reservations.push({ id: 'r2', patronId: 'p1', titleId: 't2', createdAt: `${addDays(today, -3)}T10:00:00+01:00` }); // her own: no bar

  // Reminders: loans due in 3 days for patrons on each channel.
  for (const patron of [2, 3, 4, 6, 9, 15]) loan(patron, 3);
  loan(3, 3);
  loan(5, 3); //  opted out of SMS: no SMS reminder
  loan(12, 3); // opted out of SMS, no e-mail: no reminder at all
  loan(20, 3); // no mobile; e-mail not opted in either
  loan(16, 3);
  loan(17, 3); // shares p16's number
  // Other rules across the library.
  loan(7, 6, { period: 7, renewals: 0 }); //   7-day loan, first renewal allowed
  loan(8, 6, { period: 7, renewals: 1 }); //   7-day loan already renewed once
  loan(10, 7, { renewals: 2 }); //             standard loan at its second renewal
  loan(11, 7); //                              exactly due − 7: renews
  loan(13, 8); //                              due − 8: too soon
  loan(14, 5, { kind: 'lynlaan', period: 14 });
  loan(18, 10, { kind: 'ill' }); //            interlibrary loan too early
  loan(19, 0, { kind: 'ill', renewals: 2 }); // interlibrary loan out of extra periods
  loan(19, 2, { kind: 'ill', period: 14, renewals: 1 }); // 14-day interlibrary loan renewed once: too_many, whatever its kind
  return fixture;
}

/**
 * The demo's patrons at a further library on the short code (SPEC §12; the `n`th library of
 * LIBRARIES_FILE after the first, from 1): their own numbers (`+4521000001` for the second library, `+4522000001` for the third…), cards and loans, and
 * Karen Blixen, the first library's demo patron, holding a card here too, so `FORNY ALLE` without a
 * keyword from her number asks which library she means.
 */
export function demoBranchPatronMobile(n: number): string {
  return `+45${20_000_001 + n * 1_000_000}`;
}

export function demoBranchLibrary(n: number, today: CalendarDate): FixtureInput {
  const patrons = [
    { id: 'p1', cardNumber: String(2000000001), name: 'H.C. Andersen', mobile: demoBranchPatronMobile(n), smsOptIn: true },
    { id: 'p2', cardNumber: String(2000000002), name: 'Tom Kristensen', mobile: `+45${20_000_002 + n * 1_000_000}`, smsOptIn: true },
    { id: 'p3', cardNumber: String(2000000003), name: 'Karen Blixen', mobile: DEMO_PATRON_MOBILE, smsOptIn: true },
  ];
  const shelf = ['Eventyr', 'Hærværk', 'Syv fantastiske fortællinger', 'Kejserens nye klæder', 'Den grimme ælling'];
  const loans: NonNullable<FixtureInput['loans']> = [];
  const loan = (patron: number, item: number, dueInDays: number) => {
    const dueDate = addDays(today, dueInDays);
    loans.push({ id: `l${loans.length + 1}`, patronId: `p${patron}`, itemId: `i${item}`, kind: 'standard', loanPeriodDays: 30, borrowedOn: addDays(dueDate, -30), dueDate, renewals: 0, owningLibrary: null });
  };
  loan(1, 1, 2); // renewed
  loan(1, 4, 5); // renewed
  loan(1, 5, 20); // too_soon
  loan(2, 2, 3); // a reminder
  loan(3, 3, 4); // Karen Blixen's loan here
  return {
    patrons,
    titles: shelf.map((title, index) => ({ id: `t${index + 1}`, title })),
    items: shelf.map((_, index) => ({ id: `i${index + 1}`, titleId: `t${index + 1}`, barcode: String(6000000001 + index) })),
    loans,
  };
}
