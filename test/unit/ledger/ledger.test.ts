import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLedgerLine, parseLedgerLine } from '../../../src/ledger/ledger-line.js';
import { openLedger, selectHistory, selectLatest } from '../../../src/ledger/ledger.js';
import type { LedgerRecord } from '../../../src/ledger/types.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ozg-ledger-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fixedDeps() {
  let n = 0;
  return { now: () => new Date('2026-03-01T12:00:00.000Z'), createId: () => `id-${++n}` };
}

describe('ledger line format', () => {
  it('carries the sha256 of the exact record JSON and round-trips', () => {
    const record = makeLedgerRecord({ error: 'quotes " and \\ and unicode ä ✔' });
    const line = formatLedgerLine(record);
    expect(line.endsWith('\n')).toBe(true);
    const parsed = JSON.parse(line) as { v: number; sum: string; r: LedgerRecord };
    expect(parsed.v).toBe(1);
    expect(parsed.sum).toBe(createHash('sha256').update(JSON.stringify(record)).digest('hex'));
    expect(parsed.r).toEqual(record);
    expect(parseLedgerLine(line.trimEnd())).toEqual(record);
  });

  it('rejects a torn line, a changed byte and a line that is not a record', () => {
    const line = formatLedgerLine(makeLedgerRecord()).trimEnd();
    expect(parseLedgerLine(line.slice(0, line.length - 5))).toBeUndefined();
    expect(parseLedgerLine(line.replace('"kiel"', '"kiew"'))).toBeUndefined();
    const notRecord = JSON.stringify({ hello: 1 });
    const sum = createHash('sha256').update(notRecord).digest('hex');
    expect(parseLedgerLine(`{"v":1,"sum":"${sum}","r":${notRecord}}`)).toBeUndefined();
  });
});

describe('openLedger', () => {
  it('reads an absent ledger as empty without creating anything', async () => {
    const ledger = openLedger(join(dir, '.ozg'));
    expect(await ledger.read()).toEqual({ records: [], ignored: 0, ignoredLines: [] });
    await expect(stat(join(dir, '.ozg'))).rejects.toMatchObject({ code: 'ENOENT' });
    await ledger.append([]);
    await expect(stat(join(dir, '.ozg'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stamps id and time, appends batches and reads them back in order', async () => {
    const ledger = openLedger(join(dir, '.ozg'), fixedDeps());
    const { id: _id, time: _time, ...input } = makeLedgerRecord();
    const first = await ledger.append([input, { ...input, site: 'flensburg' }]);
    const second = await ledger.append([{ ...input, environment: 'prod', id: 'given', time: '2026-01-01T00:00:00.000Z' }]);

    expect(first.map((r) => [r.id, r.time])).toEqual([
      ['id-1', '2026-03-01T12:00:00.000Z'],
      ['id-2', '2026-03-01T12:00:00.000Z'],
    ]);
    expect(second[0]).toMatchObject({ id: 'given', time: '2026-01-01T00:00:00.000Z', environment: 'prod' });
    const read = await ledger.read();
    expect(read).toEqual({ records: [...first, ...second], ignored: 0, ignoredLines: [] });
    expect(ledger.file).toBe(join(dir, '.ozg', 'ledger.jsonl'));
    const text = await readFile(ledger.file, 'utf8');
    expect(text.split('\n')).toHaveLength(4); // three lines and the final newline
  });

  it('ignores a torn tail and reports it instead of throwing', async () => {
    const ledger = openLedger(dir);
    await ledger.append([makeLedgerRecord({ id: 'a' }), makeLedgerRecord({ id: 'b' })]);
    const torn = formatLedgerLine(makeLedgerRecord({ id: 'c' }));
    await appendFile(ledger.file, torn.slice(0, Math.floor(torn.length / 2)));

    const read = await ledger.read();
    expect(read.records.map((r) => r.id)).toEqual(['a', 'b']);
    expect(read.ignored).toBe(1);
    expect(read.ignoredLines).toEqual([3]);
  });

  it('starts the next append on a fresh line after a torn tail', async () => {
    const ledger = openLedger(dir);
    await ledger.append([makeLedgerRecord({ id: 'a' })]);
    await appendFile(ledger.file, formatLedgerLine(makeLedgerRecord({ id: 'torn' })).slice(0, 40));
    await ledger.append([makeLedgerRecord({ id: 'b' }), makeLedgerRecord({ id: 'c' })]);

    const read = await ledger.read();
    expect(read.records.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(read.ignoredLines).toEqual([2]);
    expect((await readFile(ledger.file, 'utf8')).endsWith('\n')).toBe(true);
  });

  it('skips a damaged line in the middle and keeps the records around it', async () => {
    const ledger = openLedger(dir);
    await ledger.append(['a', 'b', 'c'].map((id) => makeLedgerRecord({ id })));
    const text = await readFile(ledger.file, 'utf8');
    const lines = text.split('\n');
    lines[1] = lines[1].replace('"applied"', '"rolled-back"');
    await writeFile(ledger.file, lines.join('\n'));

    const read = await ledger.read();
    expect(read.records.map((r) => r.id)).toEqual(['a', 'c']);
    expect(read.ignoredLines).toEqual([2]);
  });
});

describe('latest and history', () => {
  const records: LedgerRecord[] = [
    makeLedgerRecord({ id: '1', site: 'kiel', environment: 'test', version: '1.0.0', outcome: 'applied' }),
    makeLedgerRecord({ id: '2', site: 'kiel', environment: 'prod', version: '1.0.0', outcome: 'applied' }),
    makeLedgerRecord({ id: '3', site: 'kiel', environment: 'test', version: '1.1.0', outcome: 'applied' }),
    makeLedgerRecord({ id: '4', site: 'kiel', environment: 'prod', version: '1.1.0', outcome: 'smoke-failed' }),
    makeLedgerRecord({ id: '5', site: 'flensburg', environment: 'test', version: '1.1.0', outcome: 'apply-failed' }),
    makeLedgerRecord({ id: '6', site: 'kiel', environment: 'test', version: '1.0.0', outcome: 'rolled-back' }),
    makeLedgerRecord({ id: '7', site: 'kiel', environment: 'test', procedure: 'termine', version: '2.0.0', outcome: 'applied' }),
    makeLedgerRecord({ id: '8', site: 'kiel', environment: 'test', version: '1.0.0', outcome: 'skipped' }),
  ];

  it('latest keeps the last applied or rolled-back record per site, environment and procedure', () => {
    expect(selectLatest(records).map((r) => r.id)).toEqual(['2', '6', '7']);
    expect(selectLatest(records, { environment: 'prod' }).map((r) => r.id)).toEqual(['2']);
    expect(selectLatest(records, { procedure: 'termine' }).map((r) => r.id)).toEqual(['7']);
    expect(selectLatest(records, { site: 'flensburg' })).toEqual([]);
  });

  it('history lists matching records newest first, at most limit', () => {
    expect(selectHistory(records).map((r) => r.id)).toEqual(['8', '7', '6', '5', '4', '3', '2', '1']);
    expect(selectHistory(records, { site: 'kiel', environment: 'prod' }).map((r) => r.id)).toEqual(['4', '2']);
    expect(selectHistory(records, { procedure: 'antrag-formular', limit: 2 }).map((r) => r.id)).toEqual(['8', '6']);
    expect(selectHistory(records, { limit: 0 })).toEqual([]);
  });

  it('the ledger methods read the file', async () => {
    const ledger = openLedger(dir);
    await ledger.append(records);
    expect((await ledger.latest({ site: 'kiel', environment: 'test' })).map((r) => r.id)).toEqual(['6', '7']);
    expect((await ledger.history({ site: 'flensburg' })).map((r) => r.id)).toEqual(['5']);
  });
});
