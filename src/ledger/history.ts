import { UsageError } from '../errors.js';
import { formatSuggestion } from '../input/suggest.js';
import type { HistoryOptions, Ledger } from './ledger.js';
import type { LedgerRecord } from './types.js';

/** `ozg history`'s result: matching ledger records, oldest first. */
export interface HistoryResult {
  records: LedgerRecord[];
}

/** Names `-s` and `-p` may take: the inventory's, besides those the ledger already holds (a site since removed). */
export interface KnownNames {
  sites: Iterable<string>;
  procedures: Iterable<string>;
}

export async function readHistory(ledger: Ledger, options: HistoryOptions, known?: KnownNames): Promise<HistoryResult> {
  // the ledger answers newest first; people and pipelines read a history oldest first
  const newest = await ledger.history(options);
  if (newest.length === 0 && known) await refuseUnknownNames(ledger, options, known);
  return { records: [...newest].reverse() };
}

/** "No records yet" for a typo would send a person looking for a deploy that never failed: name it instead. */
async function refuseUnknownNames(ledger: Ledger, options: HistoryOptions, known: KnownNames): Promise<void> {
  const checks = [
    { flag: '-s', what: 'site', name: options.site, names: new Set(known.sites), filter: { site: options.site } },
    { flag: '-p', what: 'procedure', name: options.procedure, names: new Set(known.procedures), filter: { procedure: options.procedure } },
  ];
  for (const { flag, what, name, names, filter } of checks) {
    if (name === undefined || names.has(name)) continue;
    if ((await ledger.history({ ...filter, limit: 1 })).length > 0) continue;
    throw new UsageError(`unknown ${what} "${name}": neither the inventory nor the ledger has it${formatSuggestion(name, names)}`, {
      hint: `${flag} takes a ${what} name from the inventory or the ledger`,
    });
  }
}
