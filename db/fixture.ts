import { z } from 'zod';
import { isCalendarDate } from '../src/domain/calendar-date.js';
import { normalisePhoneNumber } from '../src/domain/phone-number.js';
import { LOAN_KINDS } from '../src/domain/renewal-policy.js';

/*
 * The library fixture of SPEC §9. Strict objects: an unknown field is an error, not ignored, so a
 * typo in a fixture ("dueDat") cannot silently load a loan without its due date.
 */

const id = z.string().trim().min(1, 'must not be empty').max(64, 'at most 64 characters');
// Validated into the CalendarDate brand, so a loaded fixture carries dates the rules can take as they are.
const date = z.string().transform((value, context) => {
  if (isCalendarDate(value)) return value;
  context.addIssue({ code: 'custom', message: `not a date (YYYY-MM-DD): ${JSON.stringify(value)}`, input: value });
  return z.NEVER;
});
const instant = z
  .string()
  .refine((value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) && !Number.isNaN(Date.parse(value)), {
    error: (issue) => `not an ISO instant: ${JSON.stringify(issue.input)}`,
  });
const mobile = z
  .string()
  .nullable()
  .transform((value, context) => {
    if (value === null || value.trim() === '') return null;
    const e164 = normalisePhoneNumber(value);
    if (!e164) {
      context.addIssue({ code: 'custom', message: `not a phone number: ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return e164;
  });

const patron = z.strictObject({
  id,
  cardNumber: z.string().trim().min(1).max(32),
  name: z.string().trim().min(1).max(200),
  mobile: mobile.optional().default(null),
  smsOptIn: z.boolean().optional().default(false),
  email: z.email().nullable().optional().default(null),
  emailOptIn: z.boolean().optional().default(false),
});

const title = z.strictObject({
  id,
  title: z.string().trim().min(1).max(500),
  renewable: z.boolean().optional().default(true),
});

const item = z.strictObject({
  id,
  titleId: id,
  barcode: z.string().trim().min(1).max(64),
  renewable: z.boolean().optional().default(true),
});

const loan = z
  .strictObject({
    id,
    patronId: id,
    itemId: id,
    kind: z.enum(LOAN_KINDS),
    loanPeriodDays: z.number().int().min(1).max(365),
    borrowedOn: date,
    dueDate: date,
    renewals: z.number().int().min(0).max(99).optional().default(0),
    owningLibrary: z.string().trim().min(1).max(200).nullable().optional().default(null),
    returnedOn: date.nullable().optional().default(null),
  })
  .refine((value) => value.borrowedOn <= value.dueDate, { message: 'dueDate is before borrowedOn', path: ['dueDate'] });

const reservation = z.strictObject({
  id,
  patronId: id,
  titleId: id,
  createdAt: instant,
});

export const fixtureSchema = z.strictObject({
  patrons: z.array(patron).optional().default([]),
  titles: z.array(title).optional().default([]),
  items: z.array(item).optional().default([]),
  loans: z.array(loan).optional().default([]),
  reservations: z.array(reservation).optional().default([]),
});

export type Fixture = z.output<typeof fixtureSchema>;
export type FixtureInput = z.input<typeof fixtureSchema>;

/** Raised with the first problem of a fixture, named by its place: `loans[2].dueDate: not a date …`. */
export class FixtureError extends Error {
  override readonly name = 'FixtureError';
}

function place(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

/** Which ids exist already, for references a fixture makes to rows it does not carry itself. */
export interface KnownIds {
  has(table: 'patrons' | 'titles' | 'items', id: string): Promise<boolean>;
}

/**
 * Checks a whole fixture: its shape, unique ids within each list, and every reference (to the
 * fixture itself or to what is already loaded). Returns it with defaults filled in, or throws
 * FixtureError naming the first problem.
 */
export async function validateFixture(input: unknown, known: KnownIds): Promise<Fixture> {
  const parsed = fixtureSchema.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    // A misspelt field shows as "unknown field" and as a missing one at the same place; the
    // unknown name is the one that tells the author what to fix.
    const sameObject = (path: readonly PropertyKey[]) => first !== undefined && place(path) === place(first.path.slice(0, -1));
    const issue = parsed.error.issues.find((candidate) => candidate.code === 'unrecognized_keys' && sameObject(candidate.path)) ?? first;
    const where = place(issue?.path ?? []);
    const message =
      issue?.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}` : (issue?.message ?? 'invalid');
    throw new FixtureError(where ? `${where}: ${message}` : message);
  }
  const fixture = parsed.data;

  for (const list of ['patrons', 'titles', 'items', 'loans', 'reservations'] as const) {
    const seen = new Set<string>();
    for (const [index, row] of fixture[list].entries()) {
      if (seen.has(row.id)) throw new FixtureError(`${list}[${index}].id: ${JSON.stringify(row.id)} appears twice`);
      seen.add(row.id);
    }
  }
  // Card numbers and barcodes are unique per library (SPEC §12): a fixture loads into one library.
  const cardNumbers = new Set<string>();
  for (const [index, row] of fixture.patrons.entries()) {
    if (cardNumbers.has(row.cardNumber)) throw new FixtureError(`patrons[${index}].cardNumber: ${JSON.stringify(row.cardNumber)} appears twice`);
    cardNumbers.add(row.cardNumber);
  }
  const barcodes = new Set<string>();
  for (const [index, row] of fixture.items.entries()) {
    if (barcodes.has(row.barcode)) throw new FixtureError(`items[${index}].barcode: ${JSON.stringify(row.barcode)} appears twice`);
    barcodes.add(row.barcode);
  }

  const ids = {
    patrons: new Set(fixture.patrons.map((row) => row.id)),
    titles: new Set(fixture.titles.map((row) => row.id)),
    items: new Set(fixture.items.map((row) => row.id)),
  };
  const reference = async (where: string, table: keyof typeof ids, value: string) => {
    if (ids[table].has(value) || (await known.has(table, value))) return;
    throw new FixtureError(`${where}: no ${table.slice(0, -1)} ${JSON.stringify(value)} in the fixture or the database`);
  };
  for (const [index, row] of fixture.items.entries()) await reference(`items[${index}].titleId`, 'titles', row.titleId);
  for (const [index, row] of fixture.loans.entries()) {
    await reference(`loans[${index}].patronId`, 'patrons', row.patronId);
    await reference(`loans[${index}].itemId`, 'items', row.itemId);
  }
  for (const [index, row] of fixture.reservations.entries()) {
    await reference(`reservations[${index}].patronId`, 'patrons', row.patronId);
    await reference(`reservations[${index}].titleId`, 'titles', row.titleId);
  }
  return fixture;
}
