import type { InboundMessage } from '../../../db/repositories/inbound.js';
import type { GiveUpCause } from '../../domain/message-status.js';
import { inboundJobId } from '../../queue/queues.js';
import type { Deps } from '../../deps.js';
import { fromQueues } from '../queue-reads.js';

/**
 * Why a renew-all was given up, as far as forny can tell afterwards. The row says only that it was
 * (`failed`, `gave_up`) and when; the renew-all job keeps the error of its last failed try in Redis
 * (BullMQ's `failedReason`, a day after the job completed, a week after it failed), and the library
 * system's errors (`LibrarySystemUnavailable`) begin by naming the system (`sip2://user@host:port: …`).
 *
 * - `login_refused`, `not_answering`, `failing`: the library system, by its last error;
 * - `too_slow`: no error kept, but some loans were renewed: the system was reached and did not finish in time;
 * - `too_late`: the give-up time passed before the request could be done (no error kept to say why);
 * - `every_try_failed`: the tries ran out before the give-up time, for a reason that was not the library system's.
 */
export type { GiveUpCause } from '../../domain/message-status.js';

/** An error text written by the library-system port (SIP2 now; the port's errors name the system first). */
const LIBRARY_SYSTEM_ERROR = /^(sips?2|fbs)(:\/\/|\b)|\bSIP2\b|\bFBS\b/i;
const LOGIN_REFUSED = /login refused|\b94 ok=0|unauthori[sz]ed|\b401\b/i;
const NOT_ANSWERING = /cannot connect|no connection|connection closed|closed before|no answer|not answering|awaiting its answer|give-up time passed|deadline passed|timed? ?out|no free connection|pool closed|ECONN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/i;

/** The library system's part in an error text, or undefined when the text is not the library system's. */
export function librarySystemCause(errorText: string | null | undefined): 'login_refused' | 'not_answering' | 'failing' | undefined {
  if (!errorText || !LIBRARY_SYSTEM_ERROR.test(errorText)) return undefined;
  if (LOGIN_REFUSED.test(errorText)) return 'login_refused';
  if (NOT_ANSWERING.test(errorText)) return 'not_answering';
  return 'failing';
}

/** What the Fornyelser and Fejl pages know of a given-up request. */
export interface GiveUp {
  readonly cause: GiveUpCause;
  /** The last error the renew-all job kept, as the system or driver wrote it (for "vis detaljer"). */
  readonly lastError: string | undefined;
}

/**
 * The cause stored with the request when it was given up; for one given up before causes were
 * stored, decided from its times, its kept error and how many loans it renewed.
 */
export function giveUpCause(message: Pick<InboundMessage, 'receivedAt' | 'retriedAt' | 'processedAt' | 'giveUpCause'>, giveUpMs: number, lastError: string | undefined, renewed: number): GiveUpCause {
  if (message.giveUpCause) return message.giveUpCause;
  const system = librarySystemCause(lastError);
  if (system) return system;
  if (renewed > 0) return 'too_slow';
  const since = Date.parse(message.retriedAt ?? message.receivedAt);
  const at = message.processedAt === null ? Number.NaN : Date.parse(message.processedAt);
  return at - since >= giveUpMs ? 'too_late' : 'every_try_failed';
}

/**
 * The last error each given-up request's renew-all job kept, by inbound id; empty while Redis does
 * not answer (the pages then say what the database knows).
 */
export async function lastJobErrors(deps: Pick<Deps, 'queues' | 'redis' | 'logger'>, inboundIds: readonly number[]): Promise<ReadonlyMap<number, string>> {
  if (inboundIds.length === 0) return new Map();
  const found = await fromQueues(deps, 'renew-all jobs', () =>
    Promise.all(inboundIds.map(async (id) => [id, (await deps.queues.renewAll.getJob(inboundJobId(id)))?.failedReason] as const)),
  );
  return new Map((found ?? []).filter((entry): entry is readonly [number, string] => typeof entry[1] === 'string' && entry[1] !== ''));
}
