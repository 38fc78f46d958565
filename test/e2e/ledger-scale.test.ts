import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatLedgerLine, parseLedgerLine } from '../../src/ledger/ledger-line.js';
import { makeLedgerRecord } from '../helpers/ledger-records.js';
import { copyToTemp, parseJsonLines, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/** Issue 9: the ledger at fleet scale — size, clocks, foreign records, damage. */
describe('the ledger at fleet scale', () => {
  let dir: string;
  let ledgerFile: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    ledgerFile = path.join(dir, '.ozg/ledger.jsonl');
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel'] });
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
  });
  afterEach(() => removeTemp(dir));

  it('status and history read a ledger over 600 MB with a small heap, and name the damaged region', async () => {
    const firstLine = (await readFile(ledgerFile, 'utf8')).split('\n')[0]!;
    // 650 MB of NUL bytes (a sparse hole: no disk space, written in no time), then one more record
    const { size } = await stat(ledgerFile);
    await truncate(ledgerFile, size + 650 * 1024 * 1024);
    await appendFile(ledgerFile, '\n' + firstLine + '\n');
    expect((await stat(ledgerFile)).size).toBeGreaterThan(600 * 1024 * 1024);

    const small = { NODE_OPTIONS: '--max-old-space-size=96' };
    const status = await runOzg(['status', '--json'], { cwd: dir, env: small });
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
    expect(resultOf(status).targets.map((t: any) => [t.environment, t.recorded, t.upToDate, t.drift])).toEqual([
      ['test', '1.0.0', true, false],
      ['prod', '1.0.0', true, false],
    ]);
    const warnings = parseJsonLines(status.stdout).filter((l) => l.type === 'warning');
    expect(warnings).toEqual([{ type: 'warning', message: expect.stringMatching(/ledger\.jsonl: line 3 is damaged \(altered or corrupted/) }]);

    const history = await runOzg(['history', '-n', '1'], { cwd: dir, env: small });
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/kiel\s+test\s+probe\s+1\.0\.0\s+applied/);
    expect(history.stderr).toMatch(/^warning: .*ledger\.jsonl: line 3 is damaged/m);
  });

  it('a torn last line is a mild warning naming its line', async () => {
    const line = formatLedgerLine(makeLedgerRecord({ site: 'kiel', procedure: 'probe', version: '1.0.0' }));
    await appendFile(ledgerFile, line.slice(0, 70));
    const history = await runOzg(['history'], { cwd: dir });
    expect(history.code).toBe(0);
    expect(history.stderr).toMatch(/warning: .*ledger\.jsonl: line 3 is cut off by a run killed while appending, skipped \(expected after a crash/);
    expect(history.stderr).not.toMatch(/damaged/);
  });

  it('recorded follows the causal order, not clocks: a run whose clock was an hour fast does not hide a later deploy', async () => {
    // the first deploy ran on a machine whose clock was an hour ahead
    const lines = (await readFile(ledgerFile, 'utf8')).split('\n').filter(Boolean);
    const shifted = lines.map((l) => {
      const record = parseLedgerLine(l)!;
      return formatLedgerLine({ ...record, time: new Date(Date.parse(record.time) + 3_600_000).toISOString() });
    });
    await writeFile(ledgerFile, shifted.join(''));

    // a later deploy (a changed value: a new bundle) from a machine with the right clock
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel'], installDelay: 0.01 });
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    const status = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
    expect(status.targets.map((t: any) => [t.environment, t.upToDate, t.drift])).toEqual([
      ['test', true, false],
      ['prod', true, false],
    ]);
  });

  it('ledger merge refuses foreign records that are not what ozg writes for this inventory, naming file and line, and exits 3', async () => {
    const record = (overrides: Parameters<typeof makeLedgerRecord>[0]) =>
      formatLedgerLine(makeLedgerRecord({ site: 'kiel', procedure: 'probe', version: '1.0.0', ...overrides }));
    await writeFile(
      path.join(dir, 'shard.jsonl'),
      [
        record({ id: 'good', seq: 1 }),
        record({ id: 'unknown-site', site: 'hamburg' }),
        record({ id: 'path-site', site: '../../x' }),
        record({ id: 'bad-time', time: 'zzz' }),
        record({ id: 'escape', actor: 'eve\u001b]0;owned\u0007@host' }),
      ].join(''),
    );
    const merge = await runOzg(['ledger', 'merge', 'shard.jsonl'], { cwd: dir });
    expect(merge.code).toBe(3);
    expect(merge.stderr).toContain('warning: shard.jsonl:2: record refused, not merged: site "hamburg" is not in the inventory');
    expect(merge.stderr).toContain('warning: shard.jsonl:3: record refused, not merged: site "../../x" is not a DNS label');
    expect(merge.stderr).toContain('warning: shard.jsonl:4: record refused, not merged: time "zzz" is not an ISO 8601 time');
    expect(merge.stderr).toContain('warning: shard.jsonl:5: record refused, not merged: actor must be 1 to 200 characters without control characters');
    expect(merge.stdout).toContain('shard.jsonl: 1 record(s), 4 record(s) refused');
    expect(merge.stdout + merge.stderr).not.toMatch(/\u001b/);

    const json = await runOzg(['ledger', 'merge', 'shard.jsonl', '--json'], { cwd: dir });
    expect(json.code).toBe(3);
    expect(parseJsonLines(json.stdout).filter((l) => l.type === 'warning')).toHaveLength(4);
    expect(resultOf(json)).toMatchObject({ added: 0, duplicates: 1, rejected: 4 });

    const history = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
    expect(history.records.map((r: any) => r.id)).toContain('good');
    expect(history.records.map((r: any) => r.site)).not.toContain('hamburg');
  });
});
