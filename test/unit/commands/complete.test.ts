import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { programDefinitions } from '../../../src/cli.js';
import { completeWords, inventoryPathOf, readInventoryNames } from '../../../src/commands/complete.js';

const names = { sites: ['kiel', 'luebeck', 'husum'], procedures: ['antrag-formular', 'dms-connector'] };
const complete = (line: string) => completeWords(programDefinitions(), line.split(' '), names);

describe('completion candidates', () => {
  it('offers the commands, not the hidden one, by prefix', () => {
    expect(complete('')).toEqual(expect.arrayContaining(['deploy', 'init', 'completion', 'validate', 'ledger', 'clone-procedure']));
    expect(complete('')).not.toContain('__complete');
    expect(complete('de')).toEqual(['deploy']);
    expect(complete('ledger ')).toEqual(['merge']);
  });

  it("offers the flags commander defines for the command reached, the program's global ones too", () => {
    expect(complete('deploy --w')).toEqual(['--waves']);
    expect(complete('deploy --')).toEqual(expect.arrayContaining(['--only-test', '--resume', '--junit', '--json', '--inventory', '--help']));
    expect(complete('deploy --')).not.toContain('--version');
    expect(complete('history -')).toEqual(expect.arrayContaining(['--site', '-s', '--limit', '-n']));
    expect(complete('history -')).not.toContain('--waves');
    // the program's own, with --version
    expect(complete('--v')).toEqual(['--version']);
  });

  it('offers site names where a command takes sites, and procedure names after -p', () => {
    expect(complete('deploy ')).toEqual(['husum', 'kiel', 'luebeck']);
    expect(complete('deploy k')).toEqual(['kiel']);
    expect(complete('deploy kiel l')).toEqual(['luebeck']);
    expect(complete('-i other.yaml deploy --json h')).toEqual(['husum']);
    expect(complete('rollback k')).toEqual(['kiel']);
    expect(complete('deploy -p ')).toEqual(['antrag-formular', 'dms-connector']);
    expect(complete('rollback kiel --procedure d')).toEqual(['dms-connector']);
    expect(complete('history --site lu')).toEqual(['luebeck']);
    expect(complete('clone-procedure antrag-formular --from ')).toEqual(['husum', 'kiel', 'luebeck']);
    expect(complete('clone-procedure a')).toEqual(['antrag-formular']);
  });

  it('offers the choices of options and arguments, and nothing where a file or free text goes', () => {
    expect(complete('rollback kiel -e ')).toEqual(['prod', 'test']);
    expect(complete('completion ')).toEqual(['bash', 'zsh']);
    expect(complete('deploy --junit ')).toEqual([]);
    expect(complete('init ')).toEqual([]);
    expect(complete('rollback kiel ')).toEqual([]);
  });

  it('reads -i, then $OZG_INVENTORY, then sites.yaml, as the commands do', () => {
    expect(inventoryPathOf(['-i', 'a.yaml', 'deploy', ''], {})).toBe('a.yaml');
    expect(inventoryPathOf(['deploy', '--inventory=b.yaml', ''], { OZG_INVENTORY: 'c.yaml' })).toBe('b.yaml');
    expect(inventoryPathOf(['deploy', ''], { OZG_INVENTORY: 'c.yaml' })).toBe('c.yaml');
    expect(inventoryPathOf(['deploy', '-i'], {})).toBe('sites.yaml'); // -i is the word being completed
  });

  it("takes the inventory's names from its YAML alone, and none from a broken or missing one", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-complete-'));
    try {
      await writeFile(
        path.join(dir, 'sites.yaml'),
        'defaults: { procedures: { dms-connector: { version: "2.0.0" } } }\nsites:\n  kiel: { dataCenter: nowhere, procedures: { antrag-formular: {} } }\n  husum: {}\n',
      );
      await writeFile(path.join(dir, 'broken.yaml'), 'sites: [unclosed\n');
      expect(await readInventoryNames('sites.yaml', dir)).toEqual({ sites: ['kiel', 'husum'], procedures: ['dms-connector', 'antrag-formular'] });
      expect(await readInventoryNames('broken.yaml', dir)).toEqual({ sites: [], procedures: [] });
      expect(await readInventoryNames('missing.yaml', dir)).toEqual({ sites: [], procedures: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
