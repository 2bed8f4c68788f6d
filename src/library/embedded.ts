import { activeLoansForRenewal, renewLoan } from '../../db/repositories/library.js';
import type { NewRenewalResult } from '../../db/repositories/renewals.js';
import { dateIn } from '../domain/calendar-date.js';
import { decideRenewal } from '../domain/renewal-policy.js';
import type { LibrarySystem, RenewAllReport, RenewAllRequest } from './library-system.js';
import { embeddedLoansStillDue } from './loans-still-due.js';

/**
 * forny as its own small library system (SPEC §2): the loans in its tables, the library's rules
 * from src/domain/renewal-policy. Renews inside the job's transaction, so a request's renewals,
 * results and reply commit together or not at all.
 */
export function createEmbeddedLibrarySystem(options: { timeZone: string }): LibrarySystem {
  return {
    kind: 'embedded',
    description: "embedded (forny's own tables and the rules of SPEC §2)",
    renewsInJobTransaction: true,
    async renewAll({ db, inboundId, patrons, now }: RenewAllRequest): Promise<RenewAllReport> {
      const today = dateIn(now, options.timeZone);
      const loans = await activeLoansForRenewal(
        db,
        patrons.map((patron) => patron.id),
      );
      const results: NewRenewalResult[] = [];
      for (const loan of loans) {
        const decision = decideRenewal(loan, today);
        const base = { inboundId, loanId: loan.id, patronId: loan.patronId, oldDueDate: loan.dueDate };
        if (decision.outcome === 'refused') {
          results.push({ ...base, outcome: 'refused', reason: decision.reason, newDueDate: null, provisional: false });
          continue;
        }
        const renewal = { id: loan.id, oldDueDate: loan.dueDate, newDueDate: decision.newDueDate, provisional: decision.provisional };
        // The rows were read in this transaction; a miss means a concurrent writer, and the job retries.
        if (!(await renewLoan(db, renewal, now))) throw new Error(`loan ${loan.id} changed while it was being renewed`);
        results.push({ ...base, outcome: 'renewed', reason: null, newDueDate: decision.newDueDate, provisional: decision.provisional });
      }
      return { patronKnown: true, results };
    },
    // Renewals commit with the job's answer: a request given up renewed nothing here.
    async doneSoFar() {
      return { results: [], total: 0 };
    },
    loansStillDue: embeddedLoansStillDue,
    async check() {
      return { ok: true };
    },
    async close() {},
  };
}
