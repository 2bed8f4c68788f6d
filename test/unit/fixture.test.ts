import { expect } from 'chai';
import { FixtureError, validateFixture, type Fixture, type KnownIds } from '../../db/fixture.js';

/** What the database already holds, as `table/id` entries. */
function known(...entries: string[]): KnownIds {
  const ids = new Set(entries);
  return { has: async (table, id) => ids.has(`${table}/${id}`) };
}

/* The example of SPEC §9, word for word. Its reservation is by p2, a patron it does not carry. */
const patron = { id: 'p1', cardNumber: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', smsOptIn: true, email: 'karen@example.dk', emailOptIn: true };
const title = { id: 't1', title: 'Babettes gæstebud', renewable: true };
const item = { id: 'i1', titleId: 't1', barcode: '5000000001', renewable: true };
const loan = {
  id: 'l1', patronId: 'p1', itemId: 'i1', kind: 'standard',
  loanPeriodDays: 30, borrowedOn: '2026-11-03', dueDate: '2026-12-03',
  renewals: 0, owningLibrary: null,
};
const reservation = { id: 'r1', patronId: 'p2', titleId: 't1', createdAt: '2026-11-20T10:00:00+01:00' };
const specExample = { patrons: [patron], titles: [title], items: [item], loans: [loan], reservations: [reservation] };

type Row = Record<string, unknown>;

/** The SPEC example with one list's rows replaced. */
function withList(list: keyof typeof specExample, rows: Row[]): Row {
  return { ...specExample, [list]: rows };
}

/** The SPEC example with its one loan changed: fields set, and the fields named in `without` removed. */
function withLoan(changes: Row, without: string[] = []): Row {
  const changed: Row = { ...loan, ...changes };
  for (const field of without) delete changed[field];
  return withList('loans', [changed]);
}

describe('validateFixture accepts', () => {
  const rows: { name: string; input: unknown; known: KnownIds; read: (fixture: Fixture) => unknown; expected: unknown }[] = [
    {
      name: 'the SPEC example when patron p2 is already in the database',
      input: specExample,
      known: known('patrons/p2'),
      read: (f) => [f.patrons.length, f.titles.length, f.items.length, f.loans.length, f.reservations.length],
      expected: [1, 1, 1, 1, 1],
    },
    {
      name: 'a loan without renewals or returnedOn: never renewed, still active',
      input: withLoan({}, ['renewals', 'owningLibrary']),
      known: known('patrons/p2'),
      read: (f) => [f.loans[0]?.renewals, f.loans[0]?.returnedOn, f.loans[0]?.owningLibrary],
      expected: [0, null, null],
    },
    {
      name: 'a title and an item without renewable: renewable',
      input: { ...withList('titles', [{ id: 't1', title: 'Babettes gæstebud' }]), items: [{ id: 'i1', titleId: 't1', barcode: '5000000001' }] },
      known: known('patrons/p2'),
      read: (f) => [f.titles[0]?.renewable, f.items[0]?.renewable],
      expected: [true, true],
    },
    {
      name: 'a Danish mobile written as people write it, stored in E.164',
      input: withList('patrons', [{ ...patron, mobile: '20 00 00 01' }]),
      known: known('patrons/p2'),
      read: (f) => f.patrons[0]?.mobile,
      expected: '+4520000001',
    },
    {
      name: 'a returned loan keeps its return date',
      input: withLoan({ returnedOn: '2026-11-20' }),
      known: known('patrons/p2'),
      read: (f) => f.loans[0]?.returnedOn,
      expected: '2026-11-20',
    },
    {
      name: 'an interlibrary loan names its owning library',
      input: withLoan({ kind: 'ill', owningLibrary: 'Roskilde Bibliotekerne' }),
      known: known('patrons/p2'),
      read: (f) => [f.loans[0]?.kind, f.loans[0]?.owningLibrary],
      expected: ['ill', 'Roskilde Bibliotekerne'],
    },
    {
      name: 'a loan whose patron and item are already in the database',
      input: { loans: [{ ...loan, patronId: 'p9', itemId: 'i9' }] },
      known: known('patrons/p9', 'items/i9'),
      read: (f) => [f.loans.length, f.patrons.length, f.items.length],
      expected: [1, 0, 0],
    },
    {
      name: 'an empty fixture: nothing to load',
      input: {},
      known: known(),
      read: (f) => f,
      expected: { patrons: [], titles: [], items: [], loans: [], reservations: [] },
    },
  ];

  for (const row of rows) {
    it(row.name, async () => {
      expect(row.read(await validateFixture(row.input, row.known))).to.deep.equal(row.expected);
    });
  }
});

describe('validateFixture refuses, naming the first problem and its place', () => {
  const rows: { name: string; input: unknown; known?: KnownIds; message: string[] }[] = [
    // A misspelt optional field would otherwise load a returned loan as active.
    { name: 'an unknown field in a loan', input: withLoan({ returnOn: '2026-11-20' }), message: ['loans[0]', 'unknown field', '"returnOn"'] },
    { name: 'a misspelt due date field', input: withLoan({ dueDat: '2026-12-03' }, ['dueDate']), message: ['loans[0]', 'unknown field', '"dueDat"'] },
    { name: 'an unknown list at the top', input: { ...specExample, lones: [] }, message: ['unknown field', '"lones"'] },
    { name: 'a reservation by a patron neither in the fixture nor the database', input: specExample, known: known(), message: ['reservations[0].patronId', '"p2"'] },
    { name: 'a loan of an item neither in the fixture nor the database', input: withLoan({ itemId: 'i9' }), message: ['loans[0].itemId', '"i9"'] },
    { name: 'a loan by a patron neither in the fixture nor the database', input: withLoan({ patronId: 'p9' }), message: ['loans[0].patronId', '"p9"'] },
    { name: 'an item of a title neither in the fixture nor the database', input: withList('items', [{ ...item, titleId: 't9' }]), message: ['items[0].titleId', '"t9"'] },
    { name: 'a due date that does not exist', input: withLoan({ dueDate: '2026-02-30' }), message: ['loans[0].dueDate', '2026-02-30'] },
    { name: 'a date written the Danish way', input: withLoan({ borrowedOn: '03-11-2026' }), message: ['loans[0].borrowedOn', '03-11-2026'] },
    { name: 'an unknown kind of loan', input: withLoan({ kind: 'fjernlån' }), message: ['loans[0].kind'] },
    { name: 'a due date before the loan was made', input: withLoan({ borrowedOn: '2026-12-04' }), message: ['loans[0].dueDate', 'before'] },
    { name: 'a mobile that is not a number', input: withList('patrons', [{ ...patron, mobile: 'alice' }]), message: ['patrons[0].mobile', 'alice'] },
    { name: 'a reservation time that is not an instant', input: withList('reservations', [{ ...reservation, createdAt: 'yesterday' }]), message: ['reservations[0].createdAt'] },
    { name: 'two loans with the same id', input: withList('loans', [loan, { ...loan }]), message: ['loans[1].id', '"l1"'] },
    { name: 'two titles with the same id', input: withList('titles', [{ id: 't1', title: 'A' }, { id: 't1', title: 'B' }]), message: ['titles[1].id', '"t1"'] },
    { name: 'two items with the same barcode', input: withList('items', [item, { ...item, id: 'i2' }]), message: ['items[1].barcode', '"5000000001"'] },
    // Two problems: the first one in the fixture is the one named.
    {
      name: 'the first of two bad loans',
      input: withList('loans', [{ ...loan, dueDate: '2026-02-30' }, { ...loan, id: 'l2', kind: 'fjernlån' }]),
      message: ['loans[0].dueDate'],
    },
    { name: 'a fixture that is not an object', input: [], message: ['object'] },
  ];

  for (const row of rows) {
    it(row.name, async () => {
      const error = await validateFixture(row.input, row.known ?? known('patrons/p2')).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, 'refused').to.be.instanceOf(FixtureError);
      const message = (error as FixtureError).message;
      for (const part of row.message) expect(message).to.contain(part);
      expect(message).to.not.match(/[\r\n]/);
    });
  }
});
