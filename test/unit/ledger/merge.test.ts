import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkForeignRecord } from '../../../src/ledger/check-record.js';
import { formatLedgerLine } from '../../../src/ledger/ledger-line.js';
import { openLedger } from '../../../src/ledger/ledger.js';
import { mergeLedgers } from '../../../src/ledger/merge.js';
import type { LedgerRecord } from '../../../src/ledger/types.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ozg-merge-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const known = { sites: new Set(['kiel', 'flensburg']), procedures: new Set(['antrag-formular']) };

async function writeShard(name: string, records: LedgerRecord[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, records.map(formatLedgerLine).join(''));
  return file;
}

describe('checkForeignRecord', () => {
  it('accepts what ozg writes', () => {
    expect(checkForeignRecord(makeLedgerRecord({ seq: 3, smoke: [{ name: 'web', passed: true, attempts: 1, durationMs: 5, detail: 'status 200', output: 'ok\n\tdone' }] }), known)).toEqual([]);
  });

  it.each<[string, Partial<LedgerRecord> & Record<string, unknown>, RegExp]>([
    ['an unknown site', { site: 'hamburg' }, /site "hamburg" is not in the inventory/],
    ['a path as site', { site: '../../x' }, /site "..\/..\/x" is not a DNS label/],
    ['an unknown procedure', { procedure: 'other' }, /procedure "other" is not in the catalogue/],
    ['a time that is no time', { time: 'zzz' }, /time "zzz" is not an ISO 8601 time/],
    ['a terminal escape in the actor', { actor: 'eve\u001b]0;owned\u0007' }, /actor must be 1 to 200 characters without control characters/],
    ['a version that is a path', { version: '../1.0.0' }, /version .* is not a semantic version/],
    ['a release id that is a path', { release: '../../etc' }, /release .* is not a release id/],
    ['a forged hash', { hash: 'zz' }, /hash must be empty or 64 hex digits/],
    ['an unknown outcome', { outcome: 'owned' as never }, /outcome "owned"/],
    ['a negative duration', { durationMs: -1 }, /durationMs must be a number >= 0/],
    ['an extra field', { admin: true }, /unknown field "admin"/],
  ])('refuses %s', (_, overrides, problem) => {
    expect(checkForeignRecord(makeLedgerRecord(overrides), known)).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });
});

describe('mergeLedgers', () => {
  it('skips refused records with file and line, merges the rest in file order and escapes control characters in free text', async () => {
    const target = openLedger(join(dir, '.ozg'));
    const shard = await writeShard('shard.jsonl', [
      makeLedgerRecord({ id: 'late', time: '2026-03-01T12:00:00.000Z', seq: 1 }),
      makeLedgerRecord({ id: 'bad-site', site: '../../x' }),
      makeLedgerRecord({ id: 'early', time: '2026-03-01T09:00:00.000Z', seq: 2, error: 'failed \u001b[2J\u001b]0;x\u0007 here' }),
      makeLedgerRecord({ id: 'bad-time', time: 'zzz' }),
    ]);
    const result = await mergeLedgers(target, [shard], known);
    expect(result).toMatchObject({ added: 2, duplicates: 0, rejected: 2, ignored: 0 });
    expect(result.rejections).toEqual([
      { file: shard, line: 2, problems: ['site "../../x" is not a DNS label'] },
      { file: shard, line: 4, problems: ['time "zzz" is not an ISO 8601 time'] },
    ]);
    const { records } = await target.read();
    // never sorted by clock: the shard's order is kept
    expect(records.map((r) => [r.id, r.seq])).toEqual([
      ['late', 1],
      ['early', 2],
    ]);
    expect(records[1]!.error).toBe('failed \\x1b[2J\\x1b]0;x\\x07 here');
    expect(await readFile(target.file, 'utf8')).not.toMatch(/\u001b/);

    const again = await mergeLedgers(target, [shard], known);
    expect(again).toMatchObject({ added: 0, duplicates: 2, rejected: 2 });
  });
});
