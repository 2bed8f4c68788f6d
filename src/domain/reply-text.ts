import { addDays, compareDates, danishDate, parseCalendarDate, type CalendarDate } from './calendar-date.js';
import { escapeHtml } from './escape-html.js';
import { fitsOneSegment, gsm7Septets, shortenToSeptets, SINGLE_SEGMENT_SEPTETS, toGsm7 } from './gsm7.js';
import type { NoticeContent, NoticeLoan } from './notice.js';

/** Who the texts speak for (SPEC §4, §6): built from LIBRARY_NAME, LIBRARY_SITE, LIBRARY_KEYWORDS and SMS_FROM. */
export interface TextSettings {
  /** Begins every SMS, signs every e-mail. */
  readonly libraryName: string;
  /** Where patrons see their loans and why one was not renewed, e.g. `helsbib.dk`. */
  readonly site: string;
  /** The keyword texts show (the first of LIBRARY_KEYWORDS), e.g. `HBK`. */
  readonly keyword: string;
  /** The number patrons text. */
  readonly smsFrom: string;
}

export const DEFAULT_TEXT_SETTINGS: TextSettings = Object.freeze({
  libraryName: 'Helsingør Kommunes Biblioteker',
  site: 'helsbib.dk',
  keyword: 'HBK',
  smsFrom: '1910',
});

/** The longest LIBRARY_NAME allowed (SPEC §4): with it every template still fits one segment. */
export const MAX_LIBRARY_NAME_LENGTH = 40;

export interface RenewAllCounts {
  /** Loans renewed, provisional interlibrary renewals included. */
  readonly renewed: number;
  /** The patron's active loans. */
  readonly total: number;
  /** How many of the renewed are interlibrary loans renewed with reservation. */
  readonly provisional: number;
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

/** Every text forny writes to patrons, in Danish, for one library. */
export interface Texts {
  /** `LIBRARY_NAME`, as it begins every SMS. */
  readonly sender: string;
  /** The answer to a renew-all: always `N af M lån`; where N < M it points to the site for why. */
  renewAllReply(counts: RenewAllCounts): string;
  /**
   * A renew-all that could not be done in time (SPEC §4): try later or on the site. When the library
   * system had renewed some loans before it was given up, it counts them (`N af M lån`) and says the
   * rest could not be renewed now; otherwise it says nothing was renewed.
   */
  renewAllGaveUp(done?: Pick<RenewAllCounts, 'renewed' | 'total'>): string;
  reminderSms(count: number, dueDate: CalendarDate): string;
  helpReply(): string;
  unknownNumberReply(): string;
  stopConfirmation(): string;
  startConfirmation(): string;
  /** The owning library refused a renewal; a restored due date before `today` is overdue, never "senest" a past date. */
  illRefusedNotice(restoredDueDate: CalendarDate, today: CalendarDate): string;
  illRecalledNotice(newDueDate: CalendarDate): string;
  /** The e-mail reminder; it invites an SMS only when the patron has a mobile number on file. */
  reminderEmail(patronName: string, dueDate: CalendarDate, loans: readonly ReminderEmailLoan[], options: { readonly hasMobile: boolean }): Email;
  /**
   * The SMS for a notice from the library system (SPEC §11): a reminder as `reminderSms` (its
   * earliest due date), overdue and recall by count and date, a reservation by title (shortened
   * with `...` to fit), pickup branch and last pickup day.
   */
  noticeSms(notice: NoticeContent): string;
  /** The e-mail for a notice, listing every loan; it invites an SMS only when the patron has a mobile number. */
  noticeEmail(patronName: string, notice: NoticeContent, options: { readonly hasMobile: boolean }): Email;
}

/** The earliest due date among a notice's loans (what a one-segment SMS can name). */
export function earliestDueDate(loans: readonly Pick<NoticeLoan, 'dueDate'>[]): CalendarDate {
  const first = loans[0];
  if (!first) throw new RangeError('a notice about loans names at least one loan');
  return loans.reduce((earliest, loan) => (compareDates(loan.dueDate, earliest) < 0 ? loan.dueDate : earliest), first.dueDate);
}

/** Septets a reservation SMS keeps for the title at least, before the branch name is shortened too. */
const MIN_TITLE_SEPTETS = 12;

/**
 * Every SMS template goes through here: a text that would need two segments, or UCS-2, is a bug
 * (configuration checks the settings against every template at start), so it fails loudly instead
 * of costing the library double.
 */
export function sms(text: string): string {
  if (!fitsOneSegment(text)) throw new SmsTooLongError(text);
  return text;
}

/** A template that would not go as one GSM-7 segment. */
export class SmsTooLongError extends Error {
  override readonly name = 'SmsTooLongError';
  /** Septets the text needs, or null when a character is outside GSM-7. */
  readonly septets: number | null;
  constructor(readonly text: string) {
    const septets = gsm7Septets(text);
    super(`SMS text is not one GSM-7 segment (${septets ?? 'non-GSM'} septets): ${text}`);
    this.septets = septets;
  }
}

export function createTexts(settings: TextSettings): Texts {
  const { libraryName, site, keyword, smsFrom } = settings;
  const renewCommand = `${keyword} FORNY ALLE`;
  const head = (text: string) => sms(`${libraryName}: ${text}`);
  const seeSite = `Se på ${site}.`;

  const texts: Texts = Object.freeze({
    sender: libraryName,

    renewAllReply({ renewed, total, provisional }: RenewAllCounts): string {
      const counted = `${renewed} af ${total} lån er fornyet.`;
      if (total === 0) return head(`${counted} Du har ingen lån lige nu.`);
      const ill = provisional > 0 ? ' Fjernlån er fornyet med forbehold.' : '';
      if (renewed === total) return head(`${counted}${ill}`);
      return head(`${counted}${ill} Se på ${site} hvilke der ikke kunne fornyes.`);
    },

    renewAllGaveUp(done?: Pick<RenewAllCounts, 'renewed' | 'total'>): string {
      if (!done || done.renewed === 0) {
        return head(`Vi kunne ikke forny dine lån lige nu. Prøv igen senere med ${renewCommand} til ${smsFrom}, eller forny på ${site}.`);
      }
      const counted = `${done.renewed} af ${done.total} lån er fornyet.`;
      if (done.renewed >= done.total) return head(counted);
      return head(`${counted} Resten kunne ikke fornys lige nu. Prøv igen senere, eller forny på ${site}.`);
    },

    reminderSms(count: number, dueDate: CalendarDate): string {
      return head(`${count} lån skal afleveres senest ${danishDate(dueDate)}. Svar ${renewCommand} til ${smsFrom} for at forny.`);
    },

    helpReply(): string {
      return head(`Send ${renewCommand} til ${smsFrom} for at forny. STOP afmelder sms, START tilmelder dig igen. ${seeSite}`);
    },

    unknownNumberReply(): string {
      return head(`Dette nummer er ikke knyttet til et lånerkort. Tilføj dit mobilnummer under Brugerprofil på ${site}.`);
    },

    stopConfirmation(): string {
      return head(`Du er afmeldt sms om dine lån. Skriv START til ${smsFrom} for at tilmelde dig igen.`);
    },

    startConfirmation(): string {
      return head(`Du er tilmeldt sms om dine lån igen. Skriv STOP til ${smsFrom} for at afmelde dig.`);
    },

    illRefusedNotice(restoredDueDate: CalendarDate, today: CalendarDate): string {
      const due =
        compareDates(restoredDueDate, today) < 0
          ? 'Fristen er overskredet, så aflever det straks.'
          : `Det skal afleveres senest ${danishDate(restoredDueDate)}.`;
      return head(`Ejerbiblioteket afviste fornyelsen af et fjernlån. ${due} ${seeSite}`);
    },

    illRecalledNotice(newDueDate: CalendarDate): string {
      return head(`Ejerbiblioteket har kaldt et fjernlån hjem. Det skal nu afleveres senest ${danishDate(newDueDate)}. ${seeSite}`);
    },

    reminderEmail(patronName: string, dueDate: CalendarDate, loans: readonly ReminderEmailLoan[], options: { readonly hasMobile: boolean }): Email {
      const when = danishDate(dueDate);
      const subject = `Påmindelse: ${loans.length} lån skal afleveres senest ${when}`;
      const lines = loans.map((loan) => `- ${loan.title} (afleveres senest ${danishDate(loan.dueDate)})`);
      // Only a patron with a mobile number on file can renew by SMS: no invitation to the others.
      const renewText = options.hasMobile ? `Du kan forny dem på ${site}, eller ved at sende ${renewCommand} til ${smsFrom}.` : `Du kan forny dem på ${site}.`;
      const link = `<a href="https://${escapeHtml(site)}">${escapeHtml(site)}</a>`;
      const renewHtml = options.hasMobile
        ? `Du kan forny dem på ${link}, eller ved at sende <strong>${escapeHtml(renewCommand)}</strong> til ${escapeHtml(smsFrom)}.`
        : `Du kan forny dem på ${link}.`;
      const text = [
        `Kære ${patronName}`,
        '',
        `${loans.length} af dine lån skal afleveres senest ${when}:`,
        '',
        ...lines,
        '',
        renewText,
        'Lån, der er reserveret af andre, kan ikke fornyes.',
        '',
        `Venlig hilsen\n${libraryName}`,
      ].join('\n');
      const items = loans
        .map((loan) => `<li>${escapeHtml(loan.title)} <small>(afleveres senest ${escapeHtml(danishDate(loan.dueDate))})</small></li>`)
        .join('');
      const html =
        `<p>Kære ${escapeHtml(patronName)}</p>` +
        `<p>${loans.length} af dine lån skal afleveres senest <strong>${escapeHtml(when)}</strong>:</p>` +
        `<ul>${items}</ul>` +
        `<p>${renewHtml}<br>` +
        'Lån, der er reserveret af andre, kan ikke fornyes.</p>' +
        `<p>Venlig hilsen<br>${escapeHtml(libraryName)}</p>`;
      return { subject, text, html };
    },

    noticeSms(notice: NoticeContent): string {
      const count = notice.loans.length;
      switch (notice.kind) {
        case 'reminder':
          return texts.reminderSms(count, earliestDueDate(notice.loans));
        case 'overdue': {
          const them = count === 1 ? 'det' : 'dem';
          return head(`${count} lån har overskredet afleveringsfristen. Aflever ${them} snarest, eller forny ${them} på ${site}.`);
        }
        case 'recall': {
          const due = danishDate(earliestDueDate(notice.loans));
          const oneDate = notice.loans.every((loan) => loan.dueDate === notice.loans[0]?.dueDate);
          return head(`Biblioteket har kaldt ${count} lån hjem. ${oneDate ? 'De skal' : 'Det første skal'} afleveres senest ${due}. ${seeSite}`);
        }
        case 'reservation_ready': {
          const reservation = notice.reservation;
          if (!reservation) throw new RangeError('a reservation_ready notice names its reservation');
          const compose = (title: string, branch: string) =>
            `${libraryName}: "${title}" er klar til afhentning på ${branch}. Hent senest ${danishDate(reservation.pickupBy)}.`;
          let branch = toGsm7(reservation.pickupBranch);
          const room = (forBranch: string) => SINGLE_SEGMENT_SEPTETS - (gsm7Septets(compose('', forBranch)) ?? 0);
          if (room(branch) < MIN_TITLE_SEPTETS) branch = shortenToSeptets(branch, gsm7Septets(branch)! - (MIN_TITLE_SEPTETS - room(branch))) ?? '';
          const title = shortenToSeptets(toGsm7(reservation.title), room(branch)) ?? '';
          return sms(compose(title, branch));
        }
        default:
          return notice.kind satisfies never;
      }
    },

    noticeEmail(patronName: string, notice: NoticeContent, options: { readonly hasMobile: boolean }): Email {
      const renewHint = options.hasMobile ? `Du kan forny på ${site}, eller ved at sende ${renewCommand} til ${smsFrom}.` : `Du kan forny på ${site}.`;
      const loanLines = (words: string) => notice.loans.map((loan) => ({ text: loan.title, note: `${words} ${danishDate(loan.dueDate)}` }));
      switch (notice.kind) {
        case 'reminder':
          return texts.reminderEmail(patronName, earliestDueDate(notice.loans), notice.loans, options);
        case 'overdue':
          return letter(patronName, `Overskredet afleveringsfrist: ${notice.loans.length} lån`, `${notice.loans.length} af dine lån har overskredet afleveringsfristen:`, loanLines('skulle være afleveret'), [
            'Aflever dem snarest muligt.',
            renewHint,
          ]);
        case 'recall':
          return letter(patronName, `Hjemkaldt: ${notice.loans.length} lån skal afleveres`, `Biblioteket har kaldt ${notice.loans.length} af dine lån hjem:`, loanLines('afleveres senest'), [
            'Hjemkaldte lån kan ikke fornyes.',
          ]);
        case 'reservation_ready': {
          const reservation = notice.reservation;
          if (!reservation) throw new RangeError('a reservation_ready notice names its reservation');
          const by = danishDate(reservation.pickupBy);
          return letter(patronName, `Din reservering er klar: ${reservation.title}`, 'Din reservering er klar til afhentning:', [{ text: reservation.title, note: `på ${reservation.pickupBranch}` }], [
            `Hent den senest ${by}. Derefter går den videre til den næste.`,
          ]);
        }
        default:
          return notice.kind satisfies never;
      }
    },
  });
  return texts;

  /** An e-mail: greeting, a lead line, a list, closing lines, the library's name; text and HTML alike. */
  function letter(patronName: string, subject: string, lead: string, lines: readonly { text: string; note: string }[], closing: readonly string[]): Email {
    const text = [`Kære ${patronName}`, '', lead, '', ...lines.map((line) => `- ${line.text} (${line.note})`), '', ...closing, '', `Venlig hilsen\n${libraryName}`].join('\n');
    const html =
      `<p>Kære ${escapeHtml(patronName)}</p>` +
      `<p>${escapeHtml(lead)}</p>` +
      `<ul>${lines.map((line) => `<li>${escapeHtml(line.text)} <small>(${escapeHtml(line.note)})</small></li>`).join('')}</ul>` +
      `<p>${closing.map(escapeHtml).join('<br>')}</p>` +
      `<p>Venlig hilsen<br>${escapeHtml(libraryName)}</p>`;
    return { subject: subject.replace(/[\r\n]+/g, ' '), text, html };
  }
}

/** The largest count a text is written with: three digits (a patron's active loans). */
export const LONGEST_COUNT = 999;
/** The longest Danish date forny writes ("30. september"). */
export const LONGEST_DATE: CalendarDate = parseCalendarDate('2026-09-30');

/**
 * Every SMS template at its longest (largest counts, the longest Danish date, every optional
 * clause). Throws SmsTooLongError at the first that is not one GSM-7 segment: configuration
 * refuses such settings at start.
 */
export function longestSmsTexts(texts: Texts): string[] {
  const n = LONGEST_COUNT;
  return [
    texts.renewAllReply({ renewed: n - 1, total: n, provisional: n - 1 }),
    texts.renewAllReply({ renewed: n, total: n, provisional: n }),
    texts.renewAllReply({ renewed: 0, total: 0, provisional: 0 }),
    texts.renewAllGaveUp(),
    texts.renewAllGaveUp({ renewed: n - 1, total: n }),
    texts.reminderSms(n, LONGEST_DATE),
    texts.helpReply(),
    texts.unknownNumberReply(),
    texts.stopConfirmation(),
    texts.startConfirmation(),
    texts.illRefusedNotice(LONGEST_DATE, LONGEST_DATE),
    texts.illRefusedNotice(addDays(LONGEST_DATE, -1), LONGEST_DATE),
    texts.illRecalledNotice(LONGEST_DATE),
    ...longestNotices().map((notice) => texts.noticeSms(notice)),
  ];
}

/** The longest branch name a notice may carry (validated at the API): the longest SMS is tested with it. */
export const MAX_BRANCH_LENGTH = 60;

/** A notice of every kind at its longest: 999 loans, the longest date, a 200-character title, the longest branch. */
export function longestNotices(): NoticeContent[] {
  const loans = (dueDates: readonly CalendarDate[]): NoticeLoan[] =>
    Array.from({ length: LONGEST_COUNT }, (_, index) => ({ itemId: `i${index}`, title: 'T', dueDate: dueDates[index % dueDates.length] ?? LONGEST_DATE }));
  return [
    { kind: 'reminder', loans: loans([LONGEST_DATE]), reservation: null },
    { kind: 'overdue', loans: loans([LONGEST_DATE]), reservation: null },
    { kind: 'recall', loans: loans([LONGEST_DATE]), reservation: null },
    { kind: 'recall', loans: loans([LONGEST_DATE, parseCalendarDate('2026-10-01')]), reservation: null },
    {
      kind: 'reservation_ready',
      loans: [],
      reservation: { title: 'Æ'.repeat(200), pickupBranch: 'Ø'.repeat(MAX_BRANCH_LENGTH), pickupBy: LONGEST_DATE },
    },
  ];
}

/**
 * Null when every SMS template fits one GSM-7 segment with these settings, else why not (the first
 * template that does not, by its septets). For configuration's one-line refusal.
 */
export function textSettingsProblem(settings: TextSettings): string | null {
  try {
    longestSmsTexts(createTexts(settings));
    return null;
  } catch (error) {
    if (!(error instanceof SmsTooLongError)) throw error;
    return error.septets === null
      ? 'an SMS would hold a character outside the GSM-7 alphabet (it would cost UCS-2 segments)'
      : `the longest SMS would need ${error.septets} septets, more than one segment (${SINGLE_SEGMENT_SEPTETS})`;
  }
}
