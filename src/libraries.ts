import type { Knex } from 'knex';
import type { Clock } from './clock.js';
import type { Config, LibrarySettings } from './config.js';
import { createGatewayTexts, type GatewayTexts } from './domain/gateway-text.js';
import { createTexts, type Texts } from './domain/reply-text.js';
import { addressedKeyword } from './domain/sms-command.js';
import type { DailyWindow } from './domain/send-window.js';
import { createLibrarySystem } from './library/create-library-system.js';
import type { LibrarySystem } from './library/library-system.js';
import type { Logger } from './logger.js';

/** One library on the short code, as the running process holds it: its settings, its system, its texts. */
export interface Library {
  readonly id: string;
  readonly settings: LibrarySettings;
  /** Its own adapter: its own connection pool and retry, so one slow system holds up no other library. */
  readonly system: LibrarySystem;
  /** Every SMS and e-mail about this library: its name, site and first keyword. */
  readonly texts: Texts;
}

/** The libraries of this forny (SPEC §12), and the gateway's own voice for texts that come from none. */
export interface Libraries {
  readonly all: readonly Library[];
  /** True with LIBRARIES_FILE of more than one library: routing and the operators' scopes matter. */
  readonly several: boolean;
  /** Signed by `gatewayName`: answers to a number no single library's directory holds. */
  readonly gatewayTexts: GatewayTexts;
  /** Every library's keywords, for parsing a message before it is known whose it is. */
  readonly keywords: readonly string[];
  /** The library of a stored row; throws for an id no longer configured (its rows are the gateway's to see). */
  get(id: string): Library;
  find(id: string | null | undefined): Library | undefined;
  /**
   * The library a message is for before anything is looked up (SPEC §12): the one library of a
   * single-library install, else the library whose keyword the message is addressed with, else none
   * (the job then looks for the number in the directories).
   */
  addressedBy(body: string): Library | undefined;
  /** The send window of a message about this library; SMS_SEND_WINDOW for the gateway's own (null). */
  sendWindowOf(libraryId: string | null): DailyWindow;
  close(): Promise<void>;
}

/** A library that is not (or no longer) configured: rows that name it stay visible to the gateway's operator. */
class UnknownLibrary extends Error {
  override readonly name = 'UnknownLibrary';
}

function textsOf(settings: Pick<LibrarySettings, 'name' | 'site' | 'keywords'>, smsFrom: string): Texts {
  return createTexts({ libraryName: settings.name, site: settings.site, keyword: settings.keywords[0] ?? 'HBK', smsFrom });
}

export function createLibraries(
  config: Config,
  deps: { db: Knex; clock: Clock; logger: Logger },
  systems: { readonly [id: string]: LibrarySystem } = {},
): Libraries {
  const all = config.libraries.map((settings): Library => {
    const logger = config.libraries.length > 1 ? deps.logger.child({ library: settings.id }) : deps.logger;
    return Object.freeze({
      id: settings.id,
      settings,
      system: systems[settings.id] ?? createLibrarySystem(settings.system, { ...deps, logger, timeZone: config.timeZone }),
      texts: textsOf(settings, config.sms.from),
    });
  });
  const byId = new Map(all.map((library) => [library.id, library]));
  const byKeyword = new Map(all.flatMap((library) => library.settings.keywords.map((keyword) => [keyword, library] as const)));
  const first = all[0];
  if (!first) throw new Error('no library configured');
  const gatewayTexts = createGatewayTexts({ gatewayName: config.gatewayName, exampleKeyword: first.settings.keywords[0] ?? 'HBK', smsFrom: config.sms.from });
  const keywords = Object.freeze(all.flatMap((library) => library.settings.keywords));
  return {
    all,
    several: all.length > 1,
    gatewayTexts,
    keywords,
    get(id) {
      const library = byId.get(id);
      if (!library) throw new UnknownLibrary(`library ${JSON.stringify(id)} is not configured`);
      return library;
    },
    find: (id) => (id === null || id === undefined ? undefined : byId.get(id)),
    sendWindowOf: (id) => byId.get(id ?? '')?.settings.sendWindow ?? config.defaultSendWindow,
    addressedBy(body) {
      if (all.length === 1) return first;
      const keyword = addressedKeyword(body, keywords);
      return keyword === null ? undefined : byKeyword.get(keyword);
    },
    async close() {
      await Promise.allSettled(all.map((library) => library.system.close()));
    },
  };
}
