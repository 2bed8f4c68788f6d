import { linkedLoansOf } from '../../db/repositories/outbound.js';
import type { Db } from '../../db/repositories/values.js';
import type { NoticeLoan } from '../domain/notice.js';

/**
 * The send-time question of a reminder from the library system (SPEC §4, §10, §11): which of the
 * loans it names are still due on the date it names? Loans the library system does not know are
 * kept (the check applies only to loans it knows). Embedded: forny's own tables, through the loans
 * linked to the message when it was written. SIP2 asks the system (Item Information per item):
 * another implementation of this same question, chosen where the library-system port is chosen.
 */
export type LoansStillDue = (db: Db, outboundId: number, loans: readonly NoticeLoan[]) => Promise<NoticeLoan[]>;

export const embeddedLoansStillDue: LoansStillDue = async (db, outboundId, loans) => {
  const linked = await linkedLoansOf(db, outboundId);
  return loans.filter((loan) => {
    const rows = linked.filter((row) => row.itemId === loan.itemId || row.barcode === loan.itemId);
    if (rows.length === 0) return true; // not a loan forny knows: nothing to check
    return rows.some((row) => row.returnedOn === null && row.dueDate === row.namedDueDate);
  });
};
