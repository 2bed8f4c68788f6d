import type { LoggedMessage } from '../../../db/repositories/message-log.js';
import { showInstant } from './display.js';
import { html, type Html } from './html.js';
import { CHANNEL_TEXT, COMMAND_TEXT, IGNORED_TEXT, label, PURPOSE_TEXT, supersededReason } from './labels.js';
import { details, statusTag } from './parts.js';

/** How one message is described on the Beskeder and conversation pages. */

/** What the message was: the command a patron sent, or why forny wrote. */
export const messagePurpose = (message: LoggedMessage): string =>
  message.direction === 'in' ? label(COMMAND_TEXT, message.purpose) : `${label(PURPOSE_TEXT, message.purpose)} (${CHANNEL_TEXT[message.channel]})`;

/** The status, and what an operator needs next to it: when it leaves, why it failed or was ignored. */
export function messageState(message: LoggedMessage, zone: string): Html {
  const note =
    message.direction === 'in'
      ? (message.status === 'ignored' || message.status === 'failed') && label(IGNORED_TEXT, message.errorMessage)
      : message.status === 'scheduled'
        ? `sendes ${showInstant(message.sendAfter, zone)}`
        : message.status === 'superseded'
          ? [supersededReason(message), message.errorCode && `fejlkode ${message.errorCode}`].filter(Boolean).join(' · ')
          : message.errorCode && `fejlkode ${message.errorCode}`;
  // A superseded message's last error (an operator gave a failed one up) stays readable behind a fold.
  const unexplained = message.direction === 'out' && message.status === 'superseded' && message.errorMessage;
  return html`${statusTag(message.status)}${note && html` <span class="muted">${note}</span>`}${unexplained && details(unexplained)}`;
}

/** Long bodies (e-mails) are cut: the list is an overview, the conversation shows them whole. */
export const shortBody = (body: string, max = 160): string => (body.length > max ? `${body.slice(0, max - 1)}…` : body);
