/**
 * sites.yaml read and parsed with source positions: the first step of loading a project, and
 * all `history` needs besides the schema check (issue 14: it never loads the catalogue).
 */
import path from 'node:path';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '../errors.js';
import { checkAgainstSchema, compileSchema } from '../input/schema-check.js';
import { parseYamlSource } from '../input/yaml-source.js';
import type { YamlSource } from '../input/yaml-source.js';
import { buildInventory } from './build-inventory.js';

export async function readInventorySource(display: string, file: string, readText: (file: string) => Promise<string>): Promise<YamlSource> {
  let text: string;
  try {
    text = await readText(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'inventory file not found' : `cannot read the inventory${code ? ` (${code})` : ''}`;
    throw new InvalidInputError([{ file: display, line: 1, col: 1, path: '', message: reason }], {
      hint: 'pass the inventory with -i PATH or set OZG_INVENTORY; see sites.example.yaml',
    });
  }
  const { source, problems } = parseYamlSource(text, display);
  // A file that does not parse has no trustworthy data, so nothing else can be checked.
  if (problems.length > 0) throw new InvalidInputError(problems);
  return source;
}

/**
 * The ledger directory the inventory names, after the schema check only: reading the ledger
 * needs neither the catalogue nor the cross-field rules. An inventory that breaks the schema
 * is still refused, with the same problems a full load reports first.
 */
export async function readLedgerDir(options: { inventoryPath: string; env: Record<string, string | undefined>; cwd: string }): Promise<LedgerSource> {
  const file = path.resolve(options.cwd, options.inventoryPath);
  const source = await readInventorySource(options.inventoryPath, file, (name) => readFile(name, 'utf8'));
  const schema = checkAgainstSchema(source, compileSchema('inventory'));
  if (schema.problems.length > 0) throw new InvalidInputError(schema.problems);
  const homeDir = options.env.HOME ?? os.homedir();
  const inventory = buildInventory(source.data, { file, homeDir, isBroken: () => false });
  const procedures = new Set(inventory.sites.flatMap((site) => site.setups.map((setup) => setup.procedure)));
  return { ledgerDir: inventory.ledgerDir, sites: inventory.sites.map((site) => site.name), procedures: [...procedures] };
}

/** Where the ledger is, and the names the inventory knows (so `history -s` can suggest a mistyped one). */
export interface LedgerSource {
  ledgerDir: string;
  sites: string[];
  /** procedures the inventory's sites use (the catalogue is not read) */
  procedures: string[];
}
