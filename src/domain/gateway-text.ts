import { sms } from './reply-text.js';

/**
 * The texts the gateway sends in its own name (SPEC §12's `gatewayName`): answers to a number that
 * no single library's directory holds, and STOP or START of every library at once. Each one
 * GSM-7 segment, as every SMS forny writes.
 */
export interface GatewayTexts {
  readonly sender: string;
  /** `FORNY ALLE` or help from a number no directory holds. */
  unknownNumberReply(): string;
  /** Help, or anything else, from a number no single directory holds. */
  helpReply(): string;
  /** `FORNY ALLE` without a keyword from a number several directories hold: which library? */
  whichLibrary(keywords: readonly string[]): string;
  stopEverywhere(): string;
  startEverywhere(): string;
}

export function createGatewayTexts(settings: { readonly gatewayName: string; readonly exampleKeyword: string; readonly smsFrom: string }): GatewayTexts {
  const { gatewayName, exampleKeyword, smsFrom } = settings;
  const head = (text: string) => sms(`${gatewayName}: ${text}`);
  return Object.freeze({
    sender: gatewayName,
    unknownNumberReply: () => head(`Dette nummer er ikke knyttet til et lånerkort. Tilføj det under Brugerprofil hos dit bibliotek.`),
    helpReply: () => head(`Skriv dit biblioteks forkortelse og FORNY ALLE, fx ${exampleKeyword} FORNY ALLE.`),
    whichLibrary(keywords: readonly string[]): string {
      const commands = keywords.map((keyword) => `${keyword} FORNY ALLE`);
      // Many libraries on one number: as many as fit one segment, the rest left to the help text.
      for (let shown = commands.length; shown >= 2; shown -= 1) {
        const list = commands.slice(0, shown);
        const text = `Skriv ${list.slice(0, -1).join(', ')} eller ${list[list.length - 1] ?? ''}.`;
        try {
          return head(text);
        } catch {
          continue;
        }
      }
      return head(`Skriv dit biblioteks forkortelse og FORNY ALLE, fx ${commands[0] ?? `${exampleKeyword} FORNY ALLE`}.`);
    },
    stopEverywhere: () => head(`Du er afmeldt sms fra alle biblioteker. Skriv START til ${smsFrom} for at tilmelde dig igen.`),
    startEverywhere: () => head(`Du er tilmeldt sms fra alle biblioteker igen. Skriv STOP til ${smsFrom} for at afmelde dig.`),
  });
}
