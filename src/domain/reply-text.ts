import { danishDate, type CalendarDate } from './calendar-date.js';
import { escapeHtml } from './escape-html.js';
import { fitsOneSegment, gsm7Septets } from './gsm7.js';

/** Every SMS says who sends it (SPEC §4). */
export const SENDER_NAME = 'Helsingør Bibliotekerne';

/**
 * Every SMS template goes through here: a text that would need two segments, or UCS-2, is a bug in
 * this file, so it fails loudly instead of costing the library double.
 */
function sms(text: string): string {
  if (!fitsOneSegment(text)) {
    throw new Error(`SMS text is not one GSM-7 segment (${gsm7Septets(text) ?? 'non-GSM'} septets): ${text}`);
  }
  return text;
}

export interface RenewAllCounts {
  /** Loans renewed, provisional interlibrary renewals included. */
  readonly renewed: number;
  /** The patron's active loans. */
  readonly total: number;
  /** How many of the renewed are interlibrary loans renewed with reservation. */
  readonly provisional: number;
}

/** The answer to `HBK FORNY ALLE`: always `N af M lån`; where N < M it points to helsbib.dk for why. */
export function renewAllReply({ renewed, total, provisional }: RenewAllCounts): string {
  const head = `${SENDER_NAME}: ${renewed} af ${total} lån er fornyet.`;
  if (total === 0) return sms(`${head} Du har ingen lån lige nu.`);
  const ill = provisional > 0 ? ' Fjernlån er fornyet med forbehold.' : '';
  if (renewed === total) return sms(`${head}${ill}`);
  return sms(`${head}${ill} Se på helsbib.dk hvilke der ikke kunne fornyes.`);
}

export function reminderSms(count: number, dueDate: CalendarDate): string {
  return sms(`${SENDER_NAME}: ${count} lån skal afleveres senest ${danishDate(dueDate)}. Svar HBK FORNY ALLE for at forny.`);
}

export function helpReply(): string {
  return sms(`${SENDER_NAME}: Svar HBK FORNY ALLE for at forny dine lån. STOP afmelder sms, START tilmelder igen. Se mere på helsbib.dk.`);
}

export function unknownNumberReply(): string {
  return sms(`${SENDER_NAME}: Dette nummer er ikke knyttet til et lånerkort. Tilføj dit mobilnummer under Brugerprofil på helsbib.dk.`);
}

export function stopConfirmation(): string {
  return sms(`${SENDER_NAME}: Du er afmeldt sms om dine lån. Skriv START for at tilmelde dig igen.`);
}

export function startConfirmation(): string {
  return sms(`${SENDER_NAME}: Du er tilmeldt sms om dine lån igen. Skriv STOP for at afmelde.`);
}

export function illRefusedNotice(restoredDueDate: CalendarDate): string {
  return sms(`${SENDER_NAME}: Ejerbiblioteket har afvist fornyelsen af et fjernlån. Det skal afleveres senest ${danishDate(restoredDueDate)}. Se helsbib.dk.`);
}

export function illRecalledNotice(newDueDate: CalendarDate): string {
  return sms(`${SENDER_NAME}: Ejerbiblioteket har kaldt et fjernlån hjem. Det skal nu afleveres senest ${danishDate(newDueDate)}. Se helsbib.dk.`);
}

export interface ReminderEmailLoan {
  readonly title: string;
  readonly dueDate: CalendarDate;
}

export interface Email {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** The e-mail reminder: the count, the date and each title, with the same invitation as the SMS. */
export function reminderEmail(patronName: string, dueDate: CalendarDate, loans: readonly ReminderEmailLoan[]): Email {
  const when = danishDate(dueDate);
  const subject = `Påmindelse: ${loans.length} lån skal afleveres senest ${when}`;
  const lines = loans.map((loan) => `- ${loan.title} (afleveres senest ${danishDate(loan.dueDate)})`);
  const text = [
    `Kære ${patronName}`,
    '',
    `${loans.length} af dine lån skal afleveres senest ${when}:`,
    '',
    ...lines,
    '',
    'Du kan forny dem på helsbib.dk, eller ved at sende HBK FORNY ALLE til 1910.',
    'Lån, der er reserveret af andre, kan ikke fornyes.',
    '',
    `Venlig hilsen\n${SENDER_NAME}`,
  ].join('\n');
  const items = loans
    .map((loan) => `<li>${escapeHtml(loan.title)} <small>(afleveres senest ${escapeHtml(danishDate(loan.dueDate))})</small></li>`)
    .join('');
  const html =
    `<p>Kære ${escapeHtml(patronName)}</p>` +
    `<p>${loans.length} af dine lån skal afleveres senest <strong>${escapeHtml(when)}</strong>:</p>` +
    `<ul>${items}</ul>` +
    '<p>Du kan forny dem på <a href="https://helsbib.dk">helsbib.dk</a>, eller ved at sende <strong>HBK FORNY ALLE</strong> til 1910.<br>' +
    'Lån, der er reserveret af andre, kan ikke fornyes.</p>' +
    `<p>Venlig hilsen<br>${SENDER_NAME}</p>`;
  return { subject, text, html };
}
