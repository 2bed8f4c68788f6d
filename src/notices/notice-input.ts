import { hash } from 'node:crypto';
import { z } from 'zod';
import { isCalendarDate } from '../domain/calendar-date.js';
import { NOTICE_KINDS, type Notice } from '../domain/notice.js';
import { normalisePhoneNumber } from '../domain/phone-number.js';
import { MAX_BRANCH_LENGTH } from '../domain/reply-text.js';
import { storableText } from '../domain/stored-text.js';

/** SPEC §11: at most this many notices in one request. */
export const MAX_NOTICES_PER_REQUEST = 1000;

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);
const date = z.string().refine(isCalendarDate, 'expected a date YYYY-MM-DD');

const mobile = z
  .string()
  .transform((value, context) => {
    const number = normalisePhoneNumber(value);
    if (number === null) {
      context.addIssue({ code: 'custom', message: 'not a phone number' });
      return z.NEVER;
    }
    return number;
  })
  .nullish()
  .transform((value) => value ?? null);

const noticeSchema = z
  .strictObject({
    id: z.string().min(1, 'must not be empty').max(128, 'at most 128 characters'),
    kind: z.enum(NOTICE_KINDS, `expected one of ${NOTICE_KINDS.join(', ')}`),
    patron: z.strictObject({
      cardNumber: text(32),
      name: text(200),
      mobile,
      email: z.email('not an e-mail address').max(254).nullish().transform((value) => value ?? null),
      smsOptIn: z.boolean('expected true or false'),
      emailOptIn: z.boolean('expected true or false'),
    }),
    loans: z
      .array(z.strictObject({ itemId: text(128), title: text(1000), dueDate: date }))
      .max(999, 'at most 999 loans')
      .optional()
      .transform((value) => value ?? []),
    reservation: z
      .strictObject({ title: text(1000), pickupBranch: text(MAX_BRANCH_LENGTH), pickupBy: date })
      .nullish()
      .transform((value) => value ?? null),
  })
  .superRefine((notice, context) => {
    if (notice.kind === 'reservation_ready') {
      if (notice.reservation === null) context.addIssue({ code: 'custom', path: ['reservation'], message: 'missing: a reservation_ready notice names its reservation' });
      if (notice.loans.length > 0) context.addIssue({ code: 'custom', path: ['loans'], message: 'must be empty for a reservation_ready notice' });
    } else {
      if (notice.loans.length === 0) context.addIssue({ code: 'custom', path: ['loans'], message: `a ${notice.kind} notice names at least one loan` });
      if (notice.reservation !== null) context.addIssue({ code: 'custom', path: ['reservation'], message: `must be null for a ${notice.kind} notice` });
    }
  });

/** A request body that is not what SPEC §11 asks for; the message names the first problem. */
export class NoticeInputError extends Error {
  override readonly name = 'NoticeInputError';
}

/** `[3].patron.mobile` (a batch) or `patron.mobile` (one notice). */
function pathOf(path: readonly PropertyKey[]): string {
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`)).join('');
}

function problem(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
  // The value is absent: say so rather than zod's "expected string, received undefined".
  let value = input;
  for (const key of issue.path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  if (issue.code === 'invalid_type' && value === undefined) return 'missing';
  return issue.message;
}

/**
 * Every string of a notice as forny stores text (the webhook's rule, SPEC §7): a NUL in a name or
 * title made PostgreSQL refuse the whole batch (500). Before the checks, so a field of only control
 * characters is empty, and the id and the content fingerprint are of the stored text. Keys are
 * left alone: one with a control character is an unknown field.
 */
function withStorableText(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(withStorableText);
  // A loop, not Object.fromEntries(Object.entries(…).map(…)): a third of the cost, for the same copy.
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = withStorableText((value as Record<string, unknown>)[key]);
    // JSON may carry a `__proto__` key: an own field as fromEntries made it (an unknown field), not the copy's prototype.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: field, enumerable: true, writable: true, configurable: true });
    else copy[key] = field;
  }
  return copy;
}

/**
 * Reads a request body: one notice or an array of up to 1,000, every one checked (SPEC §11). Throws
 * NoticeInputError naming the first problem by its place (`[3].patron.mobile: not a phone number`).
 */
export function parseNotices(body: unknown): Notice[] {
  const batch = Array.isArray(body);
  if (batch && body.length === 0) throw new NoticeInputError('no notices: the array is empty');
  if (batch && body.length > MAX_NOTICES_PER_REQUEST) throw new NoticeInputError(`at most ${MAX_NOTICES_PER_REQUEST} notices per request, got ${body.length}`);
  if (!batch && (body === null || typeof body !== 'object')) throw new NoticeInputError('expected a notice (a JSON object) or an array of notices');
  const items: unknown[] = batch ? body : [body];
  return items.map((raw, index) => {
    const item = withStorableText(raw);
    const parsed = noticeSchema.safeParse(item);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const path = pathOf([...(batch ? [index] : []), ...(issue?.path ?? [])]);
    throw new NoticeInputError(`${path === '' ? 'notice' : path}: ${issue ? problem(issue, item) : 'invalid'}`);
  });
}

/**
 * A fingerprint of a notice's content after normalisation (so `20000001` and `+4520000001` are the
 * same notice): the same id with another fingerprint is another notice under a used id (409).
 */
export function noticeHash(notice: Notice): string {
  const { id, kind, patron, loans, reservation } = notice;
  const canonical = [
    id,
    kind,
    [patron.cardNumber, patron.name, patron.mobile, patron.email, patron.smsOptIn, patron.emailOptIn],
    loans.map((loan) => [loan.itemId, loan.title, loan.dueDate]),
    reservation && [reservation.title, reservation.pickupBranch, reservation.pickupBy],
  ];
  // One-shot crypto.hash: the same digest as createHash(…).update(…).digest('hex'), without a Hash object per notice.
  return hash('sha256', JSON.stringify(canonical), 'hex');
}
