import { parseCalendarDate, type CalendarDate } from '../../src/domain/calendar-date.js';
import type { LoanFacts, LoanKind } from '../../src/domain/renewal-policy.js';
import type { DbBool, LoanRow, PatronRow } from '../tables.js';
import { bulkRowsOf, changesOf, insertValuesSql, placeholders, rowsOf, rowsPerStatement } from '../statement.js';
import { ownId, storedId } from '../../src/domain/library-ids.js';
import { isSqlite, toBool, toStoredInstant, touched, type Db } from './values.js';

export interface Patron {
  readonly id: string;
  readonly cardNumber: string;
  readonly name: string;
  readonly mobile: string | null;
  readonly smsOptIn: boolean;
  readonly email: string | null;
  readonly emailOptIn: boolean;
  /** Whose directory holds this card (SPEC §12). */
  readonly libraryId: string;
}


const toPatron = (row: PatronRow): Patron => ({
  id: row.id,
  cardNumber: row.card_number,
  name: row.name,
  mobile: row.mobile,
  smsOptIn: toBool(row.sms_opt_in),
  email: row.email,
  emailOptIn: toBool(row.email_opt_in),
  libraryId: row.library_id,
});

/**
 * The patrons whose card carries this mobile number (a parent's number may sit on a child's card
 * too), ordered by id; of one library's directory when `libraryId` is given (SPEC §12). Inside a PostgreSQL transaction their rows are locked, so two requests from
 * one number are handled one after the other.
 */
export async function findPatronsByMobile(db: Db, mobile: string, libraryId?: string): Promise<Patron[]> {
  const lock = db.isTransaction && !isSqlite(db) ? ' FOR UPDATE' : '';
  if (libraryId === undefined) return (await rowsOf<PatronRow>(db, `SELECT * FROM patrons WHERE mobile = ? ORDER BY id${lock}`, [mobile])).map(toPatron);
  return (await rowsOf<PatronRow>(db, `SELECT * FROM patrons WHERE mobile = ? AND library_id = ? ORDER BY id${lock}`, [mobile, libraryId])).map(toPatron);
}

export async function getPatron(db: Db, id: string): Promise<Patron | undefined> {
  const row = await db<PatronRow>('patrons').where({ id }).first();
  return row ? toPatron(row) : undefined;
}

/** Sets SMS opt-in for these patrons; returns how many actually changed. */
export async function setSmsOptIn(db: Db, patronIds: readonly string[], optIn: boolean, now: Date): Promise<number> {
  if (patronIds.length === 0) return 0;
  return touched(
    await db('patrons')
      .whereIn('id', patronIds)
      .andWhere('sms_opt_in', !optIn)
      .update({ sms_opt_in: optIn, updated_at: toStoredInstant(now) }),
  );
}

/** Opts out every patron with this number (Twilio error 21610: the handset has blocked us). */
export async function optOutMobile(db: Db, mobile: string, now: Date): Promise<number> {
  return touched(await db('patrons').where({ mobile, sms_opt_in: true }).update({ sms_opt_in: false, updated_at: toStoredInstant(now) }));
}

/** One loan as stored, for decisions about that loan (the owning library's refusal or recall). */
export interface Loan {
  /** The library the loan belongs to (SPEC §12). */
  readonly libraryId: string;
  readonly id: string;
  readonly patronId: string;
  readonly kind: string;
  readonly dueDate: CalendarDate;
  /** The due date before a renewal that awaits the owning library; what a refusal restores. */
  readonly previousDueDate: CalendarDate | null;
  readonly renewals: number;
  readonly provisional: boolean;
  readonly returnedOn: CalendarDate | null;
}

const optionalDate = (text: string | null): CalendarDate | null => (text === null ? null : parseCalendarDate(text));

const toLoan = (row: LoanRow): Loan => ({
  libraryId: row.library_id,
  id: row.id,
  patronId: row.patron_id,
  kind: row.kind,
  dueDate: parseCalendarDate(row.due_date),
  previousDueDate: optionalDate(row.previous_due_date),
  renewals: Number(row.renewals),
  provisional: toBool(row.provisional),
  returnedOn: optionalDate(row.returned_on),
});

export async function getLoan(db: Db, id: string): Promise<Loan | undefined> {
  const row = await db('loans').where({ id }).first();
  return row ? toLoan(row) : undefined;
}

/** An active loan with everything the renewal rules ask about it. */
export interface LoanForRenewal extends LoanFacts {
  readonly id: string;
  readonly patronId: string;
  readonly titleId: string;
}

/** An active loan joined with its item's and title's renewability and whether others reserved the title. */
interface LoanForRenewalRow {
  id: string;
  patron_id: string;
  kind: string;
  loan_period_days: number;
  due_date: string;
  renewals: number;
  recalled_on: string | null;
  ill_refused_on: string | null;
  title_id: string;
  item_renewable: DbBool;
  title_renewable: DbBool;
  reserved_by_others: DbBool;
}

export async function activeLoansForRenewal(db: Db, patronIds: readonly string[]): Promise<LoanForRenewal[]> {
  if (patronIds.length === 0) return [];
  const rows = await rowsOf<LoanForRenewalRow>(
    db,
    'SELECT l.id, l.patron_id, l.kind, l.loan_period_days, l.due_date, l.renewals, l.recalled_on, l.ill_refused_on, i.title_id, ' +
      'i.renewable AS item_renewable, t.renewable AS title_renewable, ' +
      'EXISTS (SELECT 1 FROM reservations r WHERE r.title_id = i.title_id AND r.patron_id <> l.patron_id) AS reserved_by_others ' +
      'FROM loans l JOIN items i ON i.id = l.item_id JOIN titles t ON t.id = i.title_id ' +
      `WHERE l.patron_id IN (${placeholders(patronIds.length)}) AND l.returned_on IS NULL ORDER BY l.due_date, l.id`,
    patronIds,
  );
  return rows.map((row) => ({
    id: row.id,
    patronId: row.patron_id,
    titleId: row.title_id,
    kind: row.kind as LoanKind,
    loanPeriodDays: Number(row.loan_period_days),
    dueDate: parseCalendarDate(row.due_date),
    renewals: Number(row.renewals),
    renewable: toBool(row.item_renewable) && toBool(row.title_renewable),
    reservedByOthers: toBool(row.reserved_by_others),
    recalled: row.recalled_on !== null,
    illRefused: row.ill_refused_on !== null,
  }));
}

/**
 * Moves a loan's due date, guarded by the due date the decision was made on: if anything changed
 * the loan meanwhile, nothing is written and false comes back.
 */
export async function renewLoan(
  db: Db,
  loan: { id: string; oldDueDate: CalendarDate; newDueDate: CalendarDate; provisional: boolean },
  now: Date,
): Promise<boolean> {
  const changed = await changesOf(
    db,
    'UPDATE loans SET due_date = ?, previous_due_date = ?, renewals = renewals + 1, provisional = ?, updated_at = ? WHERE id = ? AND due_date = ? AND returned_on IS NULL',
    [loan.newDueDate, loan.oldDueDate, loan.provisional, toStoredInstant(now), loan.id, loan.oldDueDate],
  );
  return changed === 1;
}

export async function countActiveLoans(db: Db, patronIds: readonly string[]): Promise<number> {
  if (patronIds.length === 0) return 0;
  const row = await db('loans').whereIn('patron_id', patronIds).whereNull('returned_on').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

export interface PatronLoan {
  readonly id: string;
  readonly itemId: string;
  readonly titleId: string;
  readonly title: string;
  readonly kind: LoanKind;
  readonly dueDate: CalendarDate;
  readonly loanPeriodDays: number;
  readonly renewals: number;
  readonly active: boolean;
  readonly provisional: boolean;
  readonly returnedOn: CalendarDate | null;
}

/** A loan with its title's id and name. */
type PatronLoanRow = LoanRow & { title_id: string; title: string };

export async function loansOfPatron(db: Db, patronId: string): Promise<PatronLoan[]> {
  const rows = await db('loans as l')
    .join('items as i', 'i.id', 'l.item_id')
    .join('titles as t', 't.id', 'i.title_id')
    .where('l.patron_id', patronId)
    .orderBy([{ column: 'l.due_date' }, { column: 'l.id' }])
    .select<PatronLoanRow[]>('l.*', 'i.title_id', 't.title');
  return rows.map((row) => ({
    id: row.id,
    itemId: row.item_id,
    titleId: row.title_id,
    title: row.title,
    kind: row.kind as LoanKind,
    dueDate: parseCalendarDate(row.due_date),
    loanPeriodDays: Number(row.loan_period_days),
    renewals: Number(row.renewals),
    active: row.returned_on === null,
    provisional: toBool(row.provisional),
    returnedOn: optionalDate(row.returned_on),
  }));
}

/** An active loan due on a given day, with what a reminder needs of its patron and title. */
export interface DueLoan {
  readonly loanId: string;
  readonly patronId: string;
  readonly patronName: string;
  readonly mobile: string | null;
  readonly smsOptIn: boolean;
  readonly email: string | null;
  readonly emailOptIn: boolean;
  readonly title: string;
  readonly dueDate: CalendarDate;
}

/** One library's; uses the partial index on active loans by due date: the cost follows the loans due that day. */
export async function activeLoansDueOn(db: Db, libraryId: string, dueDate: CalendarDate): Promise<DueLoan[]> {
  const rows = await db('loans as l')
    .join('patrons as p', 'p.id', 'l.patron_id')
    .join('items as i', 'i.id', 'l.item_id')
    .join('titles as t', 't.id', 'i.title_id')
    .where('l.due_date', dueDate)
    .whereNull('l.returned_on')
    .andWhere('p.library_id', libraryId)
    .orderBy([{ column: 'l.patron_id' }, { column: 'l.id' }])
    .select<DueLoanRow[]>('l.id as loan_id', 'l.patron_id', 'p.name', 'p.mobile', 'p.sms_opt_in', 'p.email', 'p.email_opt_in', 't.title', 'l.due_date');
  return rows.map((row) => ({
    loanId: row.loan_id,
    patronId: row.patron_id,
    patronName: row.name,
    mobile: row.mobile,
    smsOptIn: toBool(row.sms_opt_in),
    email: row.email,
    emailOptIn: toBool(row.email_opt_in),
    title: row.title,
    // Every row matched `l.due_date = dueDate`: the stored text is the date asked for.
    dueDate,
  }));
}

interface DueLoanRow {
  loan_id: string;
  patron_id: string;
  name: string;
  mobile: string | null;
  sms_opt_in: unknown;
  email: string | null;
  email_opt_in: unknown;
  title: string;
  due_date: string;
}

/** A patron as the library system describes it (a notice, SPEC §11), keyed by card number. */
export interface DirectoryEntry {
  readonly cardNumber: string;
  readonly name: string;
  readonly mobile: string | null;
  readonly email: string | null;
  readonly smsOptIn: boolean;
  readonly emailOptIn: boolean;
}

/** The id a card new to forny is stored under (a patron row needs one; the card number is the key). */
export const patronIdForCard = (libraryId: string, cardNumber: string) => storedId(libraryId, `card:${cardNumber}`);

/**
 * Writes the library system's view of these patrons into the directory, by card number: a known card
 * keeps its id and takes the new name, mobile, e-mail and opt-ins; a new card gets `card:<number>`.
 * Returns each card's patron id. (Entries must have distinct card numbers.)
 */
export async function upsertPatronsByCard(db: Db, libraryId: string, entries: readonly DirectoryEntry[], now: Date): Promise<Map<string, string>> {
  const stamp = toStoredInstant(now);
  const ids = new Map<string, string>();
  // As many cards per statement as the bound values allow; each card's id (kept or new) comes back
  // from the upsert itself.
  const perStatement = rowsPerStatement(DIRECTORY_COLUMNS.length);
  for (let start = 0; start < entries.length; start += perStatement) {
    const chunk = entries.slice(start, start + perStatement);
    const values: unknown[] = [];
    for (const entry of chunk) {
      values.push(patronIdForCard(libraryId, entry.cardNumber), libraryId, entry.cardNumber, entry.name, entry.mobile, entry.email, entry.smsOptIn, entry.emailOptIn, stamp, stamp);
    }
    const sql = `${insertValuesSql('patrons', DIRECTORY_COLUMNS, chunk.length)} ${UPSERT_BY_CARD}`;
    for (const row of await bulkRowsOf<{ id: string; card_number: string }>(db, sql, values)) ids.set(row.card_number, row.id);
  }
  return ids;
}

const DIRECTORY_COLUMNS = ['id', 'library_id', 'card_number', 'name', 'mobile', 'email', 'sms_opt_in', 'email_opt_in', 'created_at', 'updated_at'] as const satisfies readonly (keyof PatronRow)[];
/** A known card keeps its id and creation time and takes the rest. */
const UPSERT_BY_CARD =
  'ON CONFLICT (library_id, card_number) DO UPDATE SET ' +
  ['name', 'mobile', 'email', 'sms_opt_in', 'email_opt_in', 'updated_at'].map((column) => `${column} = excluded.${column}`).join(', ') +
  ' RETURNING id, card_number';

/** An active loan found by the item identifier a library system uses (the item's id or its barcode). */
export interface ActiveItemLoan {
  readonly itemKey: string;
  readonly loanId: string;
  readonly patronId: string;
}

/** Active loans of one library's items, each under the identifier it was asked by (the library's own item id, or its barcode). */
export async function activeLoansOfItems(db: Db, libraryId: string, itemKeys: readonly string[]): Promise<ActiveItemLoan[]> {
  const found: ActiveItemLoan[] = [];
  const unique = [...new Set(itemKeys)];
  for (let start = 0; start < unique.length; start += 400) {
    const chunk = unique.slice(start, start + 400);
    const ids = chunk.map((key) => storedId(libraryId, key));
    const rows = await db('loans as l')
      .join('items as i', 'i.id', 'l.item_id')
      .whereNull('l.returned_on')
      .andWhere('i.library_id', libraryId)
      .andWhere((where) => where.whereIn('i.id', ids).orWhereIn('i.barcode', chunk))
      .select<{ id: string; patron_id: string; item_id: string; barcode: string }[]>('l.id', 'l.patron_id', 'i.id as item_id', 'i.barcode');
    const asked = new Set(chunk);
    for (const row of rows) {
      for (const key of new Set([ownId(libraryId, row.item_id), row.barcode])) {
        if (asked.has(key)) found.push({ itemKey: key, loanId: row.id, patronId: row.patron_id });
      }
    }
  }
  return found;
}

/**
 * The owning library refused a provisional interlibrary renewal (SPEC §2): the due date before it
 * returns, the renewal no longer counts, and the loan is marked so that rule 3 refuses it from now
 * on. Guarded by the due date it was decided on; false when the loan changed meanwhile.
 */
export async function restoreRefusedIllRenewal(db: Db, loan: Pick<Loan, 'id' | 'dueDate' | 'previousDueDate' | 'renewals'>, today: CalendarDate, now: Date): Promise<boolean> {
  const changed = await db('loans')
    .where({ id: loan.id, due_date: loan.dueDate, provisional: true })
    .update({
      due_date: loan.previousDueDate ?? loan.dueDate,
      previous_due_date: null,
      provisional: false,
      renewals: Math.max(0, loan.renewals - 1),
      ill_refused_on: today,
      updated_at: toStoredInstant(now),
    });
  return touched(changed) === 1;
}

/** The owning library recalled a loan to `dueDate` (SPEC §2): marked so that rule 2 refuses it from now on. */
export async function recallLoan(db: Db, loanId: string, dueDate: CalendarDate, today: CalendarDate, now: Date): Promise<void> {
  await db('loans').where({ id: loanId }).update({ due_date: dueDate, recalled_on: today, updated_at: toStoredInstant(now) });
}
