import { addDays, compareDates, laterOf, type CalendarDate } from './calendar-date.js';

export type LoanKind = 'standard' | 'lynlaan' | 'ill';
export const LOAN_KINDS: readonly LoanKind[] = ['standard', 'lynlaan', 'ill'];

/** Reason codes of SPEC §2, in the order the rules are tried. `ill_refused` comes later, from the owning library. */
export type RefusalReason = 'not_renewable' | 'too_late' | 'too_soon' | 'too_many' | 'on_reserve';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['not_renewable', 'too_late', 'too_soon', 'too_many', 'on_reserve'];

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
}

export type RenewalDecision =
  | { readonly outcome: 'renewed'; readonly newDueDate: CalendarDate; readonly provisional: boolean }
  | { readonly outcome: 'refused'; readonly reason: RefusalReason };

/**
 * The most renewals a loan may have: one for 7- and 14-day loans, two otherwise; an interlibrary
 * loan gets two extra periods whatever its length (the owning library's rule, not ours).
 */
export function maxRenewals(loan: Pick<LoanFacts, 'kind' | 'loanPeriodDays'>): number {
  if (loan.kind === 'ill') return 2;
  return loan.loanPeriodDays === 7 || loan.loanPeriodDays === 14 ? 1 : 2;
}

/** The library's rules (SPEC §2) for one active loan on `today`, a date in the library's zone. */
export function decideRenewal(loan: LoanFacts, today: CalendarDate): RenewalDecision {
  if (!loan.renewable) return refuse('not_renewable');
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
