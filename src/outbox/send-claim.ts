import type { OutboundMessage } from '../../db/repositories/outbound.js';

/**
 * How long a claimed message is left to the attempt that claimed it: longer than the provider's
 * time-out (15 s) after the claim's last stamp, with a margin. Until then no other process takes
 * the message over (a rerun job waits; reconciliation leaves it); after it, the attempt is taken to
 * have died, and the next one asks the provider before sending again.
 */
export const SEND_UNDER_WAY_MS = 30_000;

/**
 * A claim older than this is stamped again (and its fence checked) before the message is handed
 * to the provider: a sender that waited long for the rate, or was paused, learns whether another
 * has taken the message over, and one that still holds it keeps it for another SEND_UNDER_WAY_MS.
 */
export const CLAIM_RENEW_AFTER_MS = 10_000;

/** When another attempt's claim on the message lapses; null when no attempt holds it. */
export function claimLapsesAt(message: Pick<OutboundMessage, 'sendStartedAt'>): Date | null {
  return message.sendStartedAt === null ? null : new Date(Date.parse(message.sendStartedAt) + SEND_UNDER_WAY_MS);
}

/** Another attempt may still be sending the message now. */
export function sendMayBeUnderWay(message: Pick<OutboundMessage, 'sendStartedAt'>, now: Date): boolean {
  const lapses = claimLapsesAt(message);
  return lapses !== null && now.getTime() < lapses.getTime();
}
