/**
 * The ledger alone, for commands that only read it (`history`): none of the catalogue,
 * templates, drivers or locks a workspace opens (issue 14: start-up under 0.35 s of CPU).
 */
import type { Reporter } from '../events.js';
import { readLedgerDir } from '../inventory/inventory-source.js';
import { describeLedgerDamage, openLedger, type Ledger } from '../ledger/ledger.js';

export interface ReadLedgerOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** the inventory as the user named it, relative to cwd */
  inventoryPath: string;
  reporter: Reporter;
}

/** The inventory's ledger, its damage reported as warnings as openWorkspace reports it. */
export async function openLedgerForReading(options: ReadLedgerOptions): Promise<{ ledger: Ledger; known: { sites: string[]; procedures: string[] } }> {
  const { ledgerDir, sites, procedures } = await readLedgerDir(options);
  const ledger = await openLedger(ledgerDir);
  const { damage } = await ledger.index();
  for (const message of describeLedgerDamage(ledger.file, damage)) options.reporter.emit({ type: 'warning', message });
  return { ledger, known: { sites, procedures } };
}
