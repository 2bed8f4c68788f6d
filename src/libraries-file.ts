import { readFileSync } from 'node:fs';
import { gsm7Septets, SINGLE_SEGMENT_SEPTETS } from './domain/gsm7.js';
import { createGatewayTexts } from './domain/gateway-text.js';
import { MAX_LIBRARY_NAME_LENGTH, SmsTooLongError, textSettingsProblem } from './domain/reply-text.js';
import { parseWindow, type DailyWindow } from './domain/send-window.js';
import { LibrarySystemUrlError, parseLibrarySystemUrl } from './library/system-url.js';
import { passwordHashProblem } from './password-hash.js';
import { ConfigError, type LibrarySettings, type OperatorSettings } from './config.js';

/*
 * LIBRARIES_FILE (SPEC §12): many libraries on one short code. Read once at start and checked whole;
 * the first problem stops the process with one line naming its place in the file
 * (`libraries[1].keywords[0]: "HBK" is library hbk's keyword too`), never a secret's value.
 */

type Env = Readonly<Record<string, string | undefined>>;

export interface LibrariesFileDefaults {
  readonly sendWindow: DailyWindow;
  readonly smsFrom: string;
  readonly mailFromOf: (name: string, site: string) => string;
}

const LIBRARY_KEYS = new Set(['id', 'name', 'keywords', 'site', 'systemUrl', 'noticesToken', 'sendWindow', 'operators']);
const OPERATOR_KEYS = new Set(['user', 'passwordHash']);
const SITE = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(\/[^\s]*)?$/;
const ID = /^[a-z0-9-]{1,32}$/;
const KEYWORD = /^[A-Za-z0-9ÆØÅæøå]{2,10}$/;

class FileProblem extends Error {}

function problem(place: string, message: string): never {
  throw new FileProblem(`${place}: ${message}`);
}

/** Replaces `${NAME}` (the whole value) by the environment's NAME; an unset one is a problem. */
function fromEnvironment(value: unknown, place: string, env: Env): unknown {
  if (typeof value !== 'string') return value;
  const match = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value.trim());
  if (!match) return value;
  const name = match[1] ?? '';
  const found = env[name];
  if (found === undefined || found.trim() === '') problem(place, `\${${name}} is unset in the environment`);
  return found.trim();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(block: Record<string, unknown>, key: string, place: string, env: Env, required: true): string;
function text(block: Record<string, unknown>, key: string, place: string, env: Env, required: false): string | undefined;
function text(block: Record<string, unknown>, key: string, place: string, env: Env, required: boolean): string | undefined {
  const raw = block[key];
  if (raw === undefined || raw === null) {
    if (required) problem(`${place}.${key}`, 'is missing');
    return undefined;
  }
  const value = fromEnvironment(raw, `${place}.${key}`, env);
  if (typeof value !== 'string') problem(`${place}.${key}`, 'expected a string');
  return value.trim();
}

function libraryName(value: string, place: string): string {
  if (value === '') problem(place, 'must not be empty');
  if ([...value].length > MAX_LIBRARY_NAME_LENGTH) problem(place, `at most ${MAX_LIBRARY_NAME_LENGTH} characters (every SMS begins with it)`);
  if (/[\r\n]/.test(value)) problem(place, 'must be one line');
  if (gsm7Septets(value) === null) problem(place, 'holds a character outside the GSM-7 alphabet, which would send every SMS as UCS-2');
  return value;
}

function operatorsOf(raw: unknown, place: string, env: Env, users: Map<string, string>, libraryId: string): OperatorSettings[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) problem(place, 'expected an array of {"user", "passwordHash"}');
  return raw.map((entry, index) => {
    const at = `${place}[${index}]`;
    if (!isObject(entry)) problem(at, 'expected {"user", "passwordHash"}');
    for (const key of Object.keys(entry)) if (!OPERATOR_KEYS.has(key)) problem(`${at}.${key}`, 'unknown field');
    const user = text(entry, 'user', at, env, true);
    if (!/^[^\s:]{1,64}$/.test(user)) problem(`${at}.user`, 'expected 1–64 characters without spaces or colons');
    const other = users.get(user);
    if (other !== undefined) problem(`${at}.user`, other === '' ? `"${user}" is ADMIN_USER, the gateway's operator` : `"${user}" is an operator of library ${other} too`);
    users.set(user, libraryId);
    const passwordHash = text(entry, 'passwordHash', at, env, true);
    const hashProblem = passwordHashProblem(passwordHash);
    if (hashProblem) problem(`${at}.passwordHash`, hashProblem);
    return Object.freeze({ user, passwordHash });
  });
}

/** Reads and checks LIBRARIES_FILE; throws ConfigError with one line naming the first problem. */
export function readLibrariesFile(file: string, env: Env, defaults: LibrariesFileDefaults): { gatewayName: string; libraries: readonly LibrarySettings[] } {
  const prefix = `Invalid configuration: LIBRARIES_FILE (${JSON.stringify(file)})`;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${prefix}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    throw new ConfigError(`${prefix}: not JSON (${(error as Error).message})`);
  }
  try {
    return readLibraries(parsed, env, defaults);
  } catch (error) {
    if (error instanceof FileProblem) throw new ConfigError(`${prefix}: ${error.message}`);
    throw error;
  }
}

function readLibraries(parsed: unknown, env: Env, defaults: LibrariesFileDefaults): { gatewayName: string; libraries: readonly LibrarySettings[] } {
  if (!isObject(parsed)) problem('(top)', 'expected an object {"gatewayName", "libraries": [...]}');
  for (const key of Object.keys(parsed)) if (key !== 'gatewayName' && key !== 'libraries') problem(key, 'unknown field');
  const gatewayName = libraryName(text(parsed, 'gatewayName', '(top)', env, false) ?? 'Bibliotekerne', 'gatewayName');
  const list = parsed.libraries;
  if (!Array.isArray(list) || list.length === 0) problem('libraries', 'expected an array of at least one library');

  const ids = new Set<string>();
  const keywordOwners = new Map<string, string>();
  const tokenOwners = new Map<string, string>();
  const users = new Map<string, string>([[env.ADMIN_USER?.trim() || 'admin', '']]);
  const libraries = list.map((block, index): LibrarySettings => {
    const place = `libraries[${index}]`;
    if (!isObject(block)) problem(place, 'expected an object');
    for (const key of Object.keys(block)) if (!LIBRARY_KEYS.has(key)) problem(`${place}.${key}`, 'unknown field');
    const id = text(block, 'id', place, env, true);
    if (!ID.test(id)) problem(`${place}.id`, `${JSON.stringify(id)}: expected 1–32 of a-z, 0-9 and -`);
    if (ids.has(id)) problem(`${place}.id`, `${JSON.stringify(id)} is another library's id too`);
    ids.add(id);
    const name = libraryName(text(block, 'name', place, env, true), `${place}.name`);
    const site = text(block, 'site', place, env, true);
    if (!SITE.test(site)) problem(`${place}.site`, 'expected a host name with an optional path and no scheme, such as helsbib.dk');

    const rawKeywords = block.keywords;
    if (!Array.isArray(rawKeywords) || rawKeywords.length === 0) problem(`${place}.keywords`, 'expected an array of at least one keyword, such as ["HBK"]');
    const keywords = rawKeywords.map((raw, k) => {
      const at = `${place}.keywords[${k}]`;
      const value = fromEnvironment(raw, at, env);
      if (typeof value !== 'string' || !KEYWORD.test(value.trim())) problem(at, `${JSON.stringify(value)}: expected 2–10 letters or digits`);
      const keyword = value.trim().toUpperCase();
      const owner = keywordOwners.get(keyword);
      if (owner !== undefined) problem(at, `"${keyword}" is library ${owner}'s keyword too`);
      keywordOwners.set(keyword, id);
      return keyword;
    });

    const systemUrl = text(block, 'systemUrl', place, env, false);
    let system;
    try {
      system = parseLibrarySystemUrl(systemUrl);
    } catch (error) {
      if (error instanceof LibrarySystemUrlError) problem(`${place}.systemUrl`, `(value hidden) ${error.message}`);
      throw error;
    }

    const noticesToken = text(block, 'noticesToken', place, env, false);
    if (noticesToken !== undefined) {
      if (noticesToken.length < 32) problem(`${place}.noticesToken`, '(value hidden) expected at least 32 characters');
      const owner = tokenOwners.get(noticesToken);
      if (owner !== undefined) problem(`${place}.noticesToken`, `(value hidden) is library ${owner}'s token too`);
      tokenOwners.set(noticesToken, id);
    }

    const windowText = text(block, 'sendWindow', place, env, false);
    let sendWindow = defaults.sendWindow;
    if (windowText !== undefined) {
      try {
        sendWindow = parseWindow(windowText);
      } catch (error) {
        problem(`${place}.sendWindow`, `${JSON.stringify(windowText)}: ${(error as Error).message}`);
      }
    }

    const textProblem = textSettingsProblem({ libraryName: name, site, keyword: keywords[0] ?? '', smsFrom: defaults.smsFrom });
    if (textProblem) problem(`${place}.name`, `too long together with its site, first keyword and SMS_FROM: ${textProblem}`);

    const operators = operatorsOf(block.operators, `${place}.operators`, env, users, id);
    return Object.freeze({
      id,
      name,
      site,
      keywords: Object.freeze(keywords),
      system,
      noticesToken,
      sendWindow,
      operators: Object.freeze(operators),
      mailFrom: defaults.mailFromOf(name, site),
    });
  });
  const gatewayProblem = gatewayTextsProblem(gatewayName, libraries, defaults.smsFrom);
  if (gatewayProblem) problem('gatewayName', `too long together with SMS_FROM and the keywords: ${gatewayProblem}`);
  return { gatewayName, libraries: Object.freeze(libraries) };
}

/**
 * Null when every text the gateway signs with `gatewayName` fits one GSM-7 segment, built as they
 * are sent: the question naming two libraries' keywords is built with the two longest first
 * keywords, and must name both (not fall back to the general help).
 */
function gatewayTextsProblem(gatewayName: string, libraries: readonly LibrarySettings[], smsFrom: string): string | null {
  const firsts = libraries.map((library) => library.keywords[0] ?? library.id).sort((a, b) => b.length - a.length);
  const two = [firsts[0] ?? 'HBK', firsts[1] ?? firsts[0] ?? 'HBK'];
  try {
    const texts = createGatewayTexts({ gatewayName, exampleKeyword: libraries[0]?.keywords[0] ?? 'HBK', smsFrom });
    for (const build of [() => texts.unknownNumberReply(), () => texts.helpReply(), () => texts.stopEverywhere(), () => texts.startEverywhere()]) build();
    const which = texts.whichLibrary(two);
    if (!two.every((keyword) => which.includes(`${keyword} FORNY ALLE`))) return `the question naming two libraries' keywords does not fit one segment (${which})`;
    return null;
  } catch (error) {
    if (!(error instanceof SmsTooLongError)) throw error;
    return error.septets === null
      ? 'an SMS would hold a character outside the GSM-7 alphabet (it would cost UCS-2 segments)'
      : `an SMS would need ${error.septets} septets, more than one segment (${SINGLE_SEGMENT_SEPTETS})`;
  }
}
