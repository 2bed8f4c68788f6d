import { addDays, compareDates, laterOf, type CalendarDate } from './calendar-date.js';

export type LoanKind = 'standard' | 'lynlaan' | 'ill';
export const LOAN_KINDS: readonly LoanKind[] = ['standard', 'lynlaan', 'ill'];

/** Reason codes of SPEC §2, in the order the rules are tried. */
export type RefusalReason = 'not_renewable' | 'recalled' | 'ill_refused' | 'too_late' | 'too_soon' | 'too_many' | 'on_reserve';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['not_renewable', 'recalled', 'ill_refused', 'too_late', 'too_soon', 'too_many', 'on_reserve'];

/** What the rules need to know of one active loan. */
export interface LoanFacts {
  readonly kind: LoanKind;
  readonly loanPeriodDays: number;
  readonly dueDate: CalendarDate;
  readonly renewals: number;
  /** False when the title or the item is marked not renewable. */
  readonly renewable: boolean;
  /** True when another patron holds an active reservation on the title (the borrower's own does not count). */
  readonly reservedByOthers: boolean;
  /** True when the owning library has recalled this interlibrary loan. */
  readonly recalled: boolean;
  /** True when the owning library refused this interlibrary loan's last renewal. */
  readonly illRefused: boolean;
}

export type RenewalDecision =
  | { readonly outcome: 'renewed'; readonly newDueDate: CalendarDate; readonly provisional: boolean }
  | { readonly outcome: 'refused'; readonly reason: RefusalReason };

/**
 * The most renewals a loan may have: one for 7- and 14-day loans whatever their kind ("Materialer
 * med 7 og 14 dages lånetid kan du forlænge én gang"), two otherwise (for an interlibrary loan:
 * its two extra periods).
 */
export function maxRenewals(loan: Pick<LoanFacts, 'loanPeriodDays'>): number {
  return loan.loanPeriodDays === 7 || loan.loanPeriodDays === 14 ? 1 : 2;
}

/** The library's rules (SPEC §2) for one active loan on `today`, a date in the library's zone. */
export function decideRenewal(loan: LoanFacts, today: CalendarDate): RenewalDecision {
  if (!loan.renewable) return refuse('not_renewable');
  // The owning library has had its say: a recall or a refusal is final for this loan.
  if (loan.kind === 'ill' && loan.recalled) return refuse('recalled');
  if (loan.kind === 'ill' && loan.illRefused) return refuse('ill_refused');
  if (loan.kind === 'ill' && compareDates(today, loan.dueDate) > 0) return refuse('too_late');
  if (compareDates(today, addDays(loan.dueDate, -7)) < 0) return refuse('too_soon');
  if (loan.renewals >= maxRenewals(loan)) return refuse('too_many');
  if (loan.reservedByOthers) return refuse('on_reserve');
  return {
    outcome: 'renewed',
    newDueDate: addDays(laterOf(loan.dueDate, today), loan.loanPeriodDays),
    // An interlibrary renewal is made "med forbehold": the owning library may still refuse it.
    provisional: loan.kind === 'ill',
  };
}

function refuse(reason: RefusalReason): RenewalDecision {
  return { outcome: 'refused', reason };
}
