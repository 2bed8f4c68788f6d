/**
 * Big libraries for the benchmarks, written in bulk (batch inserts in one transaction), not through
 * the fixture loader, which validates and upserts row by row and is made for real fixtures.
 */
import type { Knex } from 'knex';
import { toStoredInstant } from '../../db/repositories/values.js';
import type { CalendarDate } from '../../src/domain/calendar-date.js';
import type { LoanKind } from '../../src/domain/renewal-policy.js';

export interface BenchPatron {
  readonly id: string;
  readonly mobile: string | null;
  readonly smsOptIn: boolean;
  readonly email: string | null;
  readonly emailOptIn: boolean;
}

export interface BenchLoan {
  readonly id: string;
  readonly patronId: string;
  readonly kind: LoanKind;
  readonly loanPeriodDays: number;
  readonly borrowedOn: CalendarDate;
  readonly dueDate: CalendarDate;
  readonly renewals?: number;
  readonly returnedOn?: CalendarDate | null;
  /** Which of the library's titles the loan's item carries; every loan has an item of its own. */
  readonly titleIndex: number;
}

export interface BenchLibrary {
  readonly patrons: readonly BenchPatron[];
  readonly loans: readonly BenchLoan[];
  /** Number of titles; `titleIndex` of a loan is taken modulo it. */
  readonly titles: number;
  /** Reservations by a patron on a title (makes loans of that title by others `on_reserve`). */
  readonly reservations?: readonly { readonly patronId: string; readonly titleIndex: number }[];
}

/** Danish mobile numbers +4530000000, +4530000001, … (one per patron, unique). */
export const benchMobile = (index: number) => `+45${String(30_000_000 + index)}`;

const CHUNK = 500;

async function insertAll(trx: Knex.Transaction, table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += CHUNK) await trx(table).insert(rows.slice(start, start + CHUNK));
}

export async function writeLibrary(db: Knex, library: BenchLibrary, now: Date): Promise<void> {
  const stamp = toStoredInstant(now);
  await db.transaction(async (trx) => {
    await insertAll(
      trx,
      'titles',
      // Every 97th title is marked not renewable (a refusal reason the rules must look up).
      Array.from({ length: library.titles }, (_, index) => ({ id: `t${index}`, title: `Bog nummer ${index}`, renewable: index % 97 !== 0 })),
    );
    await insertAll(
      trx,
      'patrons',
      library.patrons.map((patron, index) => ({
        id: patron.id,
        card_number: `C${String(index).padStart(9, '0')}`,
        name: `Låner ${index}`,
        mobile: patron.mobile,
        sms_opt_in: patron.smsOptIn,
        email: patron.email,
        email_opt_in: patron.emailOptIn,
        created_at: stamp,
        updated_at: stamp,
      })),
    );
    await insertAll(
      trx,
      'items',
      library.loans.map((loan) => ({
        id: `i-${loan.id}`,
        title_id: `t${loan.titleIndex % library.titles}`,
        barcode: `B-${loan.id}`,
        renewable: true,
      })),
    );
    await insertAll(
      trx,
      'loans',
      library.loans.map((loan) => ({
        id: loan.id,
        patron_id: loan.patronId,
        item_id: `i-${loan.id}`,
        kind: loan.kind,
        loan_period_days: loan.loanPeriodDays,
        borrowed_on: loan.borrowedOn,
        due_date: loan.dueDate,
        renewals: loan.renewals ?? 0,
        owning_library: loan.kind === 'ill' ? 'Det Kgl. Bibliotek' : null,
        returned_on: loan.returnedOn ?? null,
        provisional: false,
        previous_due_date: null,
        updated_at: stamp,
      })),
    );
    await insertAll(
      trx,
      'reservations',
      (library.reservations ?? []).map((reservation, index) => ({
        id: `r${index}`,
        patron_id: reservation.patronId,
        title_id: `t${reservation.titleIndex % library.titles}`,
        created_at: stamp,
      })),
    );
  });
}
