import type { Knex } from 'knex';
import { ThisTurn } from '../lib/this-turn.js';
import { groupedInboundInserts, insertInbound, type InboundMessage, type NewInbound } from './repositories/inbound.js';
import { isSqlite } from './repositories/values.js';
import { changesOf } from './statement.js';

type Work<T> = (trx: Knex.Transaction) => Promise<T>;

interface Waiting {
  readonly work: Work<unknown>;
  /** One statement: atomic by itself in SQLite, so it needs no savepoint of its own. */
  readonly oneStatement: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Largest group in one commit: bounds how long one transaction holds SQLite's write lock. */
const GROUP_MAX = 64;

/** The writes of one database that share their commit with the others of the same moment; built once per knex instance (createDeps). */
export interface GroupCommit {
  /**
   * `db.transaction(work)`, where on SQLite the works begun in the same turn of the event loop (the
   * jobs of one burst) share one transaction and one commit, each inside a savepoint of its own: a
   * work that throws is undone alone and its caller gets the error; the others' results resolve once
   * the common commit has happened, so each still answers only for what is stored. A commit was the
   * single most expensive statement of a renew-all and of a send. PostgreSQL runs each on its own.
   * `oneStatement`: the work is a single statement, which SQLite undoes by itself if it fails.
   */
  transaction<T>(work: Work<T>, options?: { oneStatement?: boolean }): Promise<T>;
  /** The webhook's `insertInbound`, its SQLite insert written with those of the same moment (db/repositories/inbound.ts). */
  insertInbound(message: NewInbound, now: Date): Promise<{ message: InboundMessage; inserted: boolean }>;
}

export function createGroupCommit(db: Knex): GroupCommit {
  const waiting = new ThisTurn<Waiting>((all) => commitGroups(db, all));
  const inserts = groupedInboundInserts(db);
  return {
    transaction<T>(work: Work<T>, { oneStatement = false }: { oneStatement?: boolean } = {}): Promise<T> {
      if (!isSqlite(db)) return db.transaction(work);
      return new Promise<T>((resolve, reject) => waiting.add({ work: work as Work<unknown>, oneStatement, resolve: resolve as (value: unknown) => void, reject }));
    },
    insertInbound: (message, now) => insertInbound(db, message, now, inserts),
  };
}

async function commitGroups(db: Knex, all: Waiting[]): Promise<void> {
  for (let start = 0; start < all.length; start += GROUP_MAX) await commitGroup(db, all.slice(start, start + GROUP_MAX));
}

/**
 * Runs a work of the group in a savepoint of its own, rolled back alone if it throws. Written
 * here rather than as knex's nested transaction, which builds a new knex instance for each.
 * The works run one after another, so one name serves them all.
 */
async function inSavepoint<T>(trx: Knex.Transaction, work: Work<T>): Promise<T> {
  await changesOf(trx, 'SAVEPOINT group_work');
  try {
    const value = await work(trx);
    await changesOf(trx, 'RELEASE SAVEPOINT group_work');
    return value;
  } catch (error) {
    try {
      await changesOf(trx, 'ROLLBACK TO SAVEPOINT group_work');
      await changesOf(trx, 'RELEASE SAVEPOINT group_work');
    } catch (broken) {
      // SQLite ended the whole transaction itself (a full disk, an I/O error): nothing of the group stands.
      throw new GroupBroken(broken);
    }
    throw error;
  }
}

class GroupBroken extends Error {
  constructor(readonly reason: unknown) {
    super('the group transaction ended under its works');
  }
}

async function commitGroup(db: Knex, group: readonly Waiting[]): Promise<void> {
  if (group.length === 1) {
    const [only] = group;
    if (only) await db.transaction(only.work).then(only.resolve, only.reject);
    return;
  }
  const outcomes: ({ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown })[] = [];
  try {
    await db.transaction(async (trx) => {
      for (const item of group) {
        try {
          outcomes.push({ ok: true, value: await (item.oneStatement ? item.work(trx) : inSavepoint(trx, item.work)) });
        } catch (error) {
          if (error instanceof GroupBroken) throw error.reason;
          outcomes.push({ ok: false, error });
        }
      }
    });
  } catch (error) {
    // The common BEGIN or COMMIT failed: nothing of the group is stored.
    for (const item of group) item.reject(error);
    return;
  }
  group.forEach((item, index) => {
    const outcome = outcomes[index];
    if (outcome?.ok) item.resolve(outcome.value);
    else item.reject(outcome?.error);
  });
}
