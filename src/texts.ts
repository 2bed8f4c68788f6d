import type { Config } from './config.js';
import { createTexts, type Texts } from './domain/reply-text.js';

const made = new WeakMap<object, Texts>();

/**
 * The texts of this installation: its LIBRARY_NAME, LIBRARY_SITE, first keyword and SMS_FROM.
 * Configuration has already checked that every template fits one segment with them.
 */
export function textsFor(config: Pick<Config, 'library' | 'sms'>): Texts {
  let texts = made.get(config);
  if (!texts) {
    texts = createTexts({ libraryName: config.library.name, site: config.library.site, keyword: config.library.keywords[0] ?? 'HBK', smsFrom: config.sms.from });
    made.set(config, texts);
  }
  return texts;
}
