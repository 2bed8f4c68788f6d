import type { Config } from '../config.js';
import type { OutboundKind } from '../domain/message-status.js';
import { nextSendTime, type DailyWindow } from '../domain/send-window.js';

/**
 * When an SMS may leave (SPEC §5): inside its library's window (SPEC §12) at once, outside it at the next opening;
 * answers to a patron's own message leave at once when the library chose `send`.
 */
export function smsSendAfter(config: Config, window: DailyWindow, kind: OutboundKind, now: Date): Date {
  if (kind === 'reply' && config.sms.repliesOutsideWindow === 'send') return now;
  return nextSendTime(now, window, config.timeZone);
}

/** True when this SMS must wait for the window (everything but replies under `send`). */
export function waitsForWindow(config: Config, kind: OutboundKind): boolean {
  return !(kind === 'reply' && config.sms.repliesOutsideWindow === 'send');
}
