/**
 * What a Twilio error code (https://www.twilio.com/docs/api/errors) means for the patron, in Danish,
 * with what an operator can do about it. The 2xxxx codes come back when forny calls Twilio; the
 * 3xxxx codes arrive later in delivery receipts from the carrier.
 */
const TWILIO_CODE_TEXT: ReadonlyMap<string, string> = new Map([
  ['20003', 'Twilio afviste login fra forny: kontrollér TWILIO_ACCOUNT_SID og TWILIO_AUTH_TOKEN.'],
  ['20429', 'Twilio bad forny sende langsommere (for mange kald).'],
  ['21211', 'Ugyldigt telefonnummer: nummeret findes ikke eller er skrevet forkert. Ret nummeret i lånerens oplysninger før et nyt forsøg.'],
  ['21408', 'Forny har ikke tilladelse til at sende SMS til dette land.'],
  ['21610', 'Låneren har afmeldt SMS fra 1910 (STOP). Nye forsøg afvises, indtil låneren skriver START.'],
  ['21612', 'Twilio har ingen rute fra afsendernummeret til dette nummer.'],
  ['21614', 'Nummeret er ikke et mobilnummer og kan ikke modtage SMS.'],
  ['30001', 'Twilios kø var fuld; beskeden blev ikke sendt.'],
  ['30002', 'Twilio-kontoen er lukket eller suspenderet.'],
  ['30003', 'Telefonen er slukket eller uden dækning; beskeden kunne ikke leveres.'],
  ['30004', 'Beskeden blev blokeret: modtageren har blokeret afsenderen, eller nummeret må ikke modtage den.'],
  ['30005', 'Ukendt nummer: nummeret findes ikke (længere) hos teleselskabet.'],
  ['30006', 'Nummeret kan ikke modtage SMS (fastnet, eller teleselskabet kan ikke nås).'],
  ['30007', 'Teleselskabet filtrerede beskeden fra (mistanke om spam).'],
  ['30008', 'Ukendt fejl hos teleselskabet; et nyt forsøg lykkes ofte.'],
]);

/** The Danish explanation of a stored error code: Twilio's codes, HTTP statuses and network errors. */
export function explainSendError(code: string | null): string {
  if (code === null) return '';
  const known = TWILIO_CODE_TEXT.get(code);
  if (known) return known;
  if (code === 'http-429') return 'Twilio bad forny sende langsommere (for mange kald).';
  if (/^http-5\d\d$/.test(code)) return 'Fejl hos Twilio (serverfejl); et nyt forsøg lykkes ofte.';
  if (/^http-\d+$/.test(code)) return 'Twilio afviste kaldet.';
  if (/^[A-Z_]+$/.test(code) || code === 'network') return 'Netværksfejl: Twilio kunne ikke nås, eller svaret kom aldrig.';
  return 'Se Twilios fejlkatalog.';
}

/** Twilio's own page for a numeric code, for the codes the table above does not explain fully. */
export const twilioErrorUrl = (code: string): string | undefined => (/^\d{5}$/.test(code) ? `https://www.twilio.com/docs/api/errors/${code}` : undefined);
