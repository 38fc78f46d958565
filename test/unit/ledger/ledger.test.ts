import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLedgerLine, parseLedgerLine } from '../../../src/ledger/ledger-line.js';
import { describeLedgerDamage, openLedger, selectHistory, selectLatest } from '../../../src/ledger/ledger.js';
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
    expect(await ledger.read()).toEqual({ records: [], ignored: 0, ignoredLines: [], damage: { torn: [], tornCount: 0, damaged: [], damagedCount: 0 } });
    await expect(stat(join(dir, '.ozg'))).rejects.toMatchObject({ code: 'ENOENT' });
    await ledger.append([]);
    await expect(stat(join(dir, '.ozg'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stamps id and time, appends batches and reads them back in order', async () => {
    const ledger = openLedger(join(dir, '.ozg'), fixedDeps());
    const { id: _id, time: _time, ...input } = makeLedgerRecord();
    const first = await ledger.append([input, { ...input, site: 'flensburg' }]);
    const second = await ledger.append([{ ...input, environment: 'prod', id: 'given', time: '2026-01-01T00:00:00.000Z' }]);

    expect(first.map((r) => [r.id, r.time, r.seq])).toEqual([
      ['id-1', '2026-03-01T12:00:00.000Z', 1],
      ['id-2', '2026-03-01T12:00:00.000Z', 1],
    ]);
    expect(second[0]).toMatchObject({ id: 'given', time: '2026-01-01T00:00:00.000Z', environment: 'prod', seq: 1 });
    const read = await ledger.read();
    expect(read).toMatchObject({ records: [...first, ...second], ignored: 0, ignoredLines: [] });
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

describe('appends of sites deploying at the same time (group commit)', () => {
  it('lands every record whole, in the order the appends were made, each caller told only once its own are written', async () => {
    const ledger = openLedger(join(dir, '.ozg'), fixedDeps());
    const { id: _id, time: _time, ...input } = makeLedgerRecord();
    const sites = Array.from({ length: 40 }, (_, i) => `site-${i}`);
    const appended = await Promise.all(
      sites.map(async (site) => {
        const [record] = await ledger.append([{ ...input, site }]);
        // durable before the caller goes on: the line is in the file now
        expect(await readFile(ledger.file, 'utf8')).toContain(`"id":"${record!.id}"`);
        return record!;
      }),
    );
    const read = await ledger.read();
    expect(read.ignored).toBe(0);
    expect(read.records.map((r) => r.site)).toEqual(sites);
    expect(read.records).toEqual(appended);
    // the next append of a target continues its seq
    const [again] = await ledger.append([{ ...input, site: 'site-7' }]);
    expect(again!.seq).toBe(2);
  });

  it('fails every caller of a write that fails, leaves none of their lines, and writes the next append', async () => {
    const ledger = openLedger(join(dir, '.ozg'), fixedDeps());
    const { id: _id, time: _time, ...input } = makeLedgerRecord();
    await ledger.append([{ ...input, site: 'before' }]);
    const text = await readFile(ledger.file, 'utf8');
    // the ledger path turned into a folder: every open for append fails
    await rm(ledger.file);
    await mkdir(ledger.file);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((site) => ledger.append([{ ...input, site }])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await rm(ledger.file, { recursive: true });
    await writeFile(ledger.file, text);
    await ledger.append([{ ...input, site: 'after' }]);
    expect((await ledger.read()).records.map((r) => r.site)).toEqual(['before', 'after']);
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

describe('causal order when the clocks of shards differ', () => {
  it('stamps each record with the next seq of its own target, also after reopening', async () => {
    const ledger = openLedger(dir, fixedDeps());
    const input = (overrides: Partial<LedgerRecord>) => {
      const { id: _id, time: _time, ...rest } = makeLedgerRecord(overrides);
      return rest;
    };
    const first = await ledger.append([input({}), input({ environment: 'prod' }), input({})]);
    expect(first.map((r) => r.seq)).toEqual([1, 1, 2]);
    const again = await openLedger(dir, fixedDeps()).append([input({}), input({ site: 'flensburg' })]);
    expect(again.map((r) => r.seq)).toEqual([3, 1]);
  });

  it('recorded follows seq, not the clock: a shard whose clock ran an hour fast does not hide a later deploy', () => {
    const fastClock = makeLedgerRecord({ id: 'shard', version: '1.0.0', seq: 1, time: '2026-03-01T11:00:00.000Z' });
    const later = makeLedgerRecord({ id: 'main', version: '2.0.0', seq: 2, time: '2026-03-01T10:10:00.000Z' });
    expect(selectLatest([fastClock, later]).map((r) => r.id)).toEqual(['main']);
    // merged late, the shard's record comes after in the file, and still does not win
    expect(selectLatest([later, fastClock]).map((r) => r.id)).toEqual(['main']);
  });

  it('records of older ozg versions (no seq) are ordered by their place in the file', () => {
    const { seq: _a, ...old1 } = makeLedgerRecord({ id: 'old-1', version: '1.0.0', time: '2026-03-01T12:00:00.000Z' });
    const { seq: _b, ...old2 } = makeLedgerRecord({ id: 'old-2', version: '1.1.0', time: '2026-03-01T09:00:00.000Z' });
    expect(selectLatest([old1, old2]).map((r) => r.id)).toEqual(['old-2']);
    const next = makeLedgerRecord({ id: 'new', version: '2.0.0', seq: 1 });
    expect(selectLatest([old1, old2, next]).map((r) => r.id)).toEqual(['new']);
    expect(selectLatest([old1, next, old2]).map((r) => r.id)).toEqual(['old-2']);
  });

  it('index and the next append agree: a new record is always the latest of its target', async () => {
    const ledger = openLedger(dir);
    await ledger.append([makeLedgerRecord({ id: 'a', version: '1.0.0', seq: 7, time: '2030-01-01T00:00:00.000Z' })]);
    const { id: _id, time: _time, ...input } = makeLedgerRecord({ version: '2.0.0' });
    const [written] = await ledger.append([input]);
    expect(written!.seq).toBe(8);
    const { latest } = await openLedger(dir).index();
    expect([...latest.values()].map((r) => r.version)).toEqual(['2.0.0']);
  });
});

describe('damaged and torn lines', () => {
  it('tells a torn last line (mild) from damage in the middle (serious), naming line numbers', async () => {
    const ledger = openLedger(dir);
    await ledger.append(['a', 'b', 'c', 'd'].map((id) => makeLedgerRecord({ id })));
    const lines = (await readFile(ledger.file, 'utf8')).split('\n');
    lines[1] = lines[1]!.replace('"kiel"', '"kiew"'); // altered: checksum mismatch
    lines[2] = '\u0000\u0000\u0000garbage';
    const torn = formatLedgerLine(makeLedgerRecord({ id: 'e' }));
    await writeFile(ledger.file, lines.join('\n') + torn.slice(0, 60));

    const read = await ledger.read();
    expect(read.records.map((r) => r.id)).toEqual(['a', 'd']);
    expect(read.damage).toEqual({ torn: [5], tornCount: 1, damaged: [2, 3], damagedCount: 2 });
    const warnings = describeLedgerDamage('ledger.jsonl', read.damage);
    expect(warnings).toEqual([
      expect.stringMatching(/^ledger\.jsonl: lines 2, 3 are damaged \(altered or corrupted.*restore the file/),
      expect.stringMatching(/^ledger\.jsonl: line 5 is cut off by a run killed while appending, skipped \(expected after a crash/),
    ]);
    expect(describeLedgerDamage('ledger.jsonl', (await openLedger(join(dir, 'none')).read()).damage)).toEqual([]);
  });

  it('a record cut off by a crash stays "torn" after later appends put it in the middle', async () => {
    const ledger = openLedger(dir);
    await ledger.append([makeLedgerRecord({ id: 'a' })]);
    await appendFile(ledger.file, formatLedgerLine(makeLedgerRecord({ id: 'torn' })).slice(0, 80));
    await ledger.append([makeLedgerRecord({ id: 'b' })]);
    const { damage } = await ledger.index();
    expect(damage).toEqual({ torn: [2], tornCount: 1, damaged: [], damagedCount: 0 });
  });

  it('history streams and keeps only the newest matching records', async () => {
    const ledger = openLedger(dir);
    await ledger.append(Array.from({ length: 3000 }, (_, i) => makeLedgerRecord({ id: `r${i}`, site: i % 2 ? 'kiel' : 'flensburg' })));
    expect((await ledger.history({ site: 'kiel', limit: 3 })).map((r) => r.id)).toEqual(['r2999', 'r2997', 'r2995']);
    expect(await ledger.history({ site: 'kiel' })).toHaveLength(1500);
  });
});
