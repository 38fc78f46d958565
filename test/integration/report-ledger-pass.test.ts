import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatLedgerLine } from '../../src/ledger/ledger-line.js';
import type { LedgerRecord } from '../../src/ledger/types.js';
import { buildReport } from '../../src/report/build-report.js';
import { FleetLedgerCollector } from '../../src/report/ledger-pass.js';
import { openWorkspace, type Workspace } from '../../src/workspace/workspace.js';
import { copyToTemp, removeTemp, repoRoot } from '../helpers/run-ozg.js';
import { makeLedgerRecord } from '../helpers/ledger-records.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/**
 * Issue 16 at 11,000 sites: `ozg report` reads and parses the ledger once, its own pass riding
 * on the workspace's index, so both hold the same record objects instead of two copies.
 */
describe('the report ledger pass rides on the workspace ledger pass', () => {
  let dir: string;
  const workspaces: Workspace[] = [];
  const records: LedgerRecord[] = ['site-001', 'site-002', 'site-003'].flatMap((site, i) =>
    (['test', 'prod'] as const).map((environment, j) =>
      makeLedgerRecord({ id: `rec-${i}-${j}`, seq: 1, site, environment, procedure: 'probe', version: '1.0.0', time: `2026-03-01T10:0${i}:0${j}.000Z` }),
    ),
  );

  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    await writeProbeInventory(dir, { version: '1.0.0', count: 3 });
    await mkdir(path.join(dir, '.ozg'), { recursive: true });
    await writeFile(path.join(dir, '.ozg', 'ledger.jsonl'), records.map(formatLedgerLine).join(''));
  });
  afterEach(async () => {
    for (const workspace of workspaces.splice(0)) await workspace.close();
    await removeTemp(dir);
  });

  async function open(selection: { sites?: string[] }, ledgerObserver?: (sites: ReadonlySet<string>) => (record: LedgerRecord) => void): Promise<Workspace> {
    const workspace = await openWorkspace(
      { cwd: dir, env: { ...process.env }, inventoryPath: 'sites.yaml', reporter: { emit() {}, result() {}, close() {} }, signal: new AbortController().signal, acceptNewHostKeys: false },
      { lock: false, command: 'report', secrets: false, selection, ...(ledgerObserver ? { ledgerObserver } : {}) },
    );
    workspaces.push(workspace);
    return workspace;
  }

  it('the observer learns the selected sites and gets every record, the very objects the workspace indexed', async () => {
    const seen: LedgerRecord[] = [];
    let selected: ReadonlySet<string> | undefined;
    const workspace = await open({ sites: ['site-002'] }, (sites) => {
      selected = sites;
      return (record) => seen.push(record);
    });
    expect([...selected!]).toEqual(['site-002']);
    expect(seen.map((record) => record.id)).toEqual(records.map((record) => record.id));
    for (const record of seen) expect(workspace.recorded(record)).toBe(record);
  });

  it("a report built from that pass equals one that reads the ledger itself, and shares the workspace's records", async () => {
    let collector: FleetLedgerCollector | undefined;
    const workspace = await open({}, (sites) => {
      collector = new FleetLedgerCollector(sites, 20);
      return (record) => collector!.add(record);
    });
    const fleet = collector!.finish();
    for (const [, record] of fleet.newest) expect(workspace.recorded(record)).toBe(record);
    const options = { offline: true, inventory: 'sites.yaml' };
    const items = workspace.selectItems({});
    const riding = await buildReport(workspace, items, { ...options, fleet });
    const alone = await buildReport(workspace, items, options);
    expect({ ...riding, generatedAt: '' }).toEqual({ ...alone, generatedAt: '' });
    expect(riding.sites.map((site) => site.timeline.length)).toEqual([2, 2, 2]);
  });
});
