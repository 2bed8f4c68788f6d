import type { Knex } from 'knex';
import * as initial from './001-initial.js';
import * as reportingIndexes from './002-reporting-indexes.js';
import * as loanDecisions from './003-loan-decisions.js';
import * as ilsRenewals from './004-ils-renewals.js';
import * as librarySystemResults from './005-library-system-results.js';
import * as perNumberIndexes from './006-per-number-indexes.js';
import * as notices from './007-notices.js';
import * as leanWriteIndexes from './008-lean-write-indexes.js';
import * as ilsRenewalCards from './009-ils-renewal-cards.js';
import * as supersededReasons from './010-superseded-reasons.js';
import * as giveUpCauses from './011-give-up-causes.js';
import * as libraries from './012-libraries.js';
import * as fbsRenewals from './013-fbs-renewals.js';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/** Migrations in order. Listed here rather than read from a folder, so they work the same under tsx and a bundle. */
const migrations: ReadonlyArray<readonly [string, Migration]> = [
  ['001-initial', initial],
  ['002-reporting-indexes', reportingIndexes],
  ['003-loan-decisions', loanDecisions],
  ['004-ils-renewals', ilsRenewals],
  ['005-library-system-results', librarySystemResults],
  ['006-per-number-indexes', perNumberIndexes],
  ['007-notices', notices],
  ['008-lean-write-indexes', leanWriteIndexes],
  ['009-ils-renewal-cards', ilsRenewalCards],
  ['010-superseded-reasons', supersededReasons],
  ['011-give-up-causes', giveUpCauses],
  ['012-libraries', libraries],
  ['013-fbs-renewals', fbsRenewals],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
