/** The operators' API as SPEC §7 shapes it, for tests that read it. */

export interface MessageView {
  id: string;
  direction: 'in' | 'out';
  channel: string;
  to: string;
  from: string;
  body: string;
  kind: string;
  status: string;
  sendAfter: string | null;
  sentAt: string | null;
  providerSid: string | null;
  createdAt: string;
  /** The library the message is about (SPEC §12); null for the gateway's own answers. */
  library: string | null;
}

export interface LoanResultView {
  loanId: string;
  itemId: string | null;
  title: string | null;
  outcome: string;
  reason: string | null;
  systemMessage: string | null;
  oldDueDate: string;
  newDueDate: string | null;
  provisional: boolean;
}

export interface InboundView {
  messageSid: string;
  from: string;
  body: string;
  command: string;
  status: string;
  patronId: string | null;
  result: { total: number; renewed: number; loans: LoanResultView[] } | null;
  replyId: string | null;
  /** The library the message is about (SPEC §12); null for the gateway's own answers. */
  library: string | null;
}
