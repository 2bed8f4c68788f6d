import { countSmsSentBetween, smsBacklogCounts, type BacklogCount } from '../../db/repositories/sms-backlog.js';
import type { Deps } from '../deps.js';
import { OUTBOUND_KINDS } from '../domain/message-status.js';
import { nextOpening } from '../domain/send-window.js';

const DAY_MS = 24 * 3600 * 1000;

/*
 * The morning backlog (the overview's "Kø af SMS", GET /api/backlog): at 08:45 every SMS written in
 * the night is due at once, and leaves at SMS_RATE_PER_SECOND shared by every library. What is
 * waiting, and when what is due now will be gone at the rate SMS are leaving now.
 */

/** How far back the current rate is measured (less in the first minute after the window opened). */
export const RATE_SPAN_MS = 60_000;

export interface SmsBacklog {
  readonly at: Date;
  /** Per library (configured order, the gateway's own answers last) and kind; only pairs with SMS. */
  readonly rows: readonly BacklogCount[];
  readonly dueNow: number;
  readonly waitingForWindow: number;
  readonly rate: {
    /** SMS a second: those sent the last minute, or the configured rate when none were. */
    readonly perSecond: number;
    readonly source: 'recent' | 'configured';
    readonly sentLastMinute: number;
  };
  /** Seconds until what is due now has left at that rate (whole, rounded up); null when nothing is due. */
  readonly clearsInSeconds: number | null;
  /** When that is; null when nothing is due. */
  readonly clearsAt: Date | null;
}

/**
 * The backlog of one library (its operator's, or the gateway's `?library=`), or of every library and
 * the gateway's own answers. The rate is measured in the same scope: a library's own SMS sent the
 * last minute are its share of the rate all libraries share. With none sent, the configured rate is
 * the best there is (for one library of several, the most it could get).
 */
export async function readSmsBacklog(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'libraries' | 'smsRate'>, library?: string): Promise<SmsBacklog> {
  const now = deps.clock.now();
  // In the first minute after the opening, the minute before it sent nothing: measured since the opening.
  const opening = nextOpening(new Date(now.getTime() - DAY_MS), deps.libraries.sendWindowOf(library ?? null), deps.config.timeZone);
  const spanMs = Math.max(1000, Math.min(RATE_SPAN_MS, now.getTime() - opening.getTime()));
  const [counts, sentLastMinute] = await Promise.all([smsBacklogCounts(deps.db, now, library), countSmsSentBetween(deps.db, new Date(now.getTime() - spanMs), now, library)]);
  const rows = ordered(counts, deps.libraries.all.map((entry) => entry.id));
  const dueNow = rows.reduce((sum, row) => sum + row.dueNow, 0);
  const waitingForWindow = rows.reduce((sum, row) => sum + row.waitingForWindow, 0);
  const rate =
    sentLastMinute > 0
      ? { perSecond: sentLastMinute / (spanMs / 1000), source: 'recent' as const, sentLastMinute }
      : { perSecond: deps.smsRate.ratePerSecond, source: 'configured' as const, sentLastMinute };
  const seconds = dueNow === 0 ? null : dueNow / rate.perSecond;
  return {
    at: now,
    rows,
    dueNow,
    waitingForWindow,
    rate,
    clearsInSeconds: seconds === null ? null : Math.ceil(seconds),
    clearsAt: seconds === null ? null : new Date(now.getTime() + Math.ceil(seconds * 1000)),
  };
}

/** Libraries in the order they are configured (one no longer configured after, by id), the gateway's own last; kinds as OUTBOUND_KINDS. */
function ordered(rows: readonly BacklogCount[], libraries: readonly string[]): BacklogCount[] {
  const rank = (library: string | null) => (library === null ? Number.MAX_SAFE_INTEGER : libraries.includes(library) ? libraries.indexOf(library) : libraries.length);
  return [...rows].sort(
    (a, b) =>
      rank(a.library) - rank(b.library) || (a.library ?? '').localeCompare(b.library ?? '') || OUTBOUND_KINDS.indexOf(a.kind) - OUTBOUND_KINDS.indexOf(b.kind),
  );
}
