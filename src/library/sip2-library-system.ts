import type { NewRenewalResult } from '../../db/repositories/renewals.js';
import type { Patron } from '../../db/repositories/library.js';
import type { LibrarySystem, RenewAllProgress, RenewAllReport } from './library-system.js';
import { downOf, type Sip2LibrarySystem, type Sip2Loan } from './sip2/adapter.js';

/**
 * The library's own system over SIP2 (SPEC §10) behind the port: each card on the texting number is
 * asked in turn; its items are the patron's active loans, and the system's answer is the rule
 * (a refusal is `ils_refused`, with the system's words kept beside it).
 */
export function sip2LibrarySystem(sip2: Sip2LibrarySystem, description: string): LibrarySystem {
  return {
    kind: 'sip2',
    description,
    transactional: false,
    async renewAll({ inboundId, patrons, deadline }): Promise<RenewAllReport> {
      let patronKnown = false;
      const results: NewRenewalResult[] = [];
      // A row recorded before cards were (no card) is read with every card: one item, one result.
      const reported = new Set<string>();
      for (const patron of patrons) {
        const report = await sip2.renewAll({ inboundId, cardNumber: patron.cardNumber, deadline, patronId: patron.id });
        if (!report.patronKnown) continue;
        patronKnown = true;
        for (const loan of report.loans) {
          if (reported.has(loan.itemId)) continue;
          reported.add(loan.itemId);
          results.push(resultOf(inboundId, patron, loan));
        }
      }
      return { patronKnown, results };
    },
    async doneSoFar({ inboundId, patrons }): Promise<RenewAllProgress> {
      const results: NewRenewalResult[] = [];
      const counted = new Set<string>();
      let total = 0;
      for (const patron of patrons) {
        const recorded = await sip2.recorded(inboundId, patron.cardNumber);
        const items = recorded.items.filter((item) => !counted.has(item.itemId));
        for (const item of items) {
          counted.add(item.itemId);
          if (item.loan) results.push(resultOf(inboundId, patron, item.loan));
        }
        // Items finished and since returned are not in the listing's count, yet were part of the request.
        total += Math.max(recorded.charged ?? 0, items.length);
      }
      return { results, total };
    },
    // Item Information per item: a loan whose due date moved (renewed) or that is on no one's loan
    // (returned) is no longer due on the date the reminder names.
    async loansStillDue(_db, _outboundId, loans) {
      const current = await sip2.dueDates(loans.map((loan) => loan.itemId));
      return loans.filter((loan) => current.get(loan.itemId) === loan.dueDate);
    },
    async check() {
      const state = await sip2.check();
      if (state.ok) return state;
      const down = downOf(state.code);
      return { ok: false, down, reason: state.reason };
    },
    close: () => sip2.close(),
  };
}

/** One item's outcome at the system as the job records it: the SIP2 item id is the loan's id (SPEC §10). */
function resultOf(inboundId: number, patron: Patron, loan: Sip2Loan): NewRenewalResult {
  return {
    inboundId,
    loanId: loan.itemId,
    patronId: patron.id,
    outcome: loan.outcome,
    reason: loan.reason,
    oldDueDate: loan.oldDueDate,
    newDueDate: loan.newDueDate,
    provisional: false,
    itemId: loan.itemId,
    title: loan.title,
    systemMessage: loan.systemMessage,
  };
}
