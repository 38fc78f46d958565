import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { openLedger } from '../../src/ledger/ledger.js';
import { acquireLock, DEFAULT_STALE_MS, type LockHolder, type RecoveredLock } from '../../src/ledger/lock.js';
import { transpileSources } from '../helpers/transpile-sources.js';

/**
 * A run killed with SIGKILL at random moments while appending must never corrupt the ledger:
 * earlier records stay intact, a torn last line is ignored, the dead run's lock is recovered.
 */
const here = dirname(new URL(import.meta.url).pathname);
const childScript = resolve(here, '..', 'helpers', 'ledger-crash-child.mjs');
const ROUNDS = 10;

let work: string;
let srcDir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ozg-ledger-crash-'));
  srcDir = await transpileSources(['errors.ts', 'system-error.ts', 'clock.ts', 'ledger/types.ts', 'ledger/ledger-line.ts', 'ledger/ledger.ts', 'ledger/hold.ts', 'ledger/lock.ts'], join(work, 'build'));
});

afterEach(() => {
  // a failed assertion must not leave a child appending forever
  for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  children.clear();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface ChildHello {
  locked: true;
  pid: number;
  recovered: RecoveredLock | null;
}

function startChild(ledgerDir: string, round: number): Promise<{ child: ChildProcess; hello: ChildHello }> {
  const child = spawn(process.execPath, [childScript, srcDir, ledgerDir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`child did not take the lock within 10 s: ${stderr}`)), 10_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolvePromise({ child, hello: JSON.parse(line) as ChildHello });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code ?? signal}): ${stderr}`));
    });
  });
}

function killChild(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolvePromise) => {
    child.once('exit', (_code, signal) => resolvePromise(signal));
    process.kill(child.pid!, 'SIGKILL');
  });
}

/** Checks every line independently of the ledger code: intact lines carry a matching sha256. */
async function countIntactLines(file: string): Promise<{ intact: number; damaged: number; endsWithNewline: boolean }> {
  const text = await readFile(file, 'utf8');
  let intact = 0;
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const match = /^\{"v":1,"sum":"([0-9a-f]{64})","r":(.*)\}$/.exec(line);
    if (match && createHash('sha256').update(match[2]).digest('hex') === match[1]) intact++;
    else damaged++;
  }
  return { intact, damaged, endsWithNewline: text.endsWith('\n') };
}

/**
 * A SIGKILL rarely lands inside the write itself (the kernel finishes most writes first), so on
 * every other round the test also cuts the last line in half, as a power loss would.
 */
async function tearLastLine(file: string): Promise<boolean> {
  const text = await readFile(file);
  const end = text.length - 1;
  // already torn by the kill itself: nothing to simulate
  if (end < 1 || text[end] !== 0x0a) return false;
  const start = text.lastIndexOf(0x0a, end - 1) + 1;
  await truncate(file, start + Math.floor((end - start) / 2));
  return true;
}

async function ageLock(ledgerDir: string): Promise<void> {
  const then = new Date(Date.now() - DEFAULT_STALE_MS - 1_000);
  await utimes(join(ledgerDir, 'lock'), then, then);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(`survives ${ROUNDS} SIGKILLs in the middle of appending`, async () => {
  const ledgerDir = join(work, '.ozg');
  const ledger = openLedger(ledgerDir);
  let previousCount = 0;
  let previousPid: number | undefined;
  let tornLines = 0;

  for (let round = 0; round < ROUNDS; round++) {
    // the dead child's heartbeat stopped: let its lock reach the stale age instead of waiting for it
    if (round > 0) await ageLock(ledgerDir);
    const { child, hello } = await startChild(ledgerDir, round);
    // the previous child died holding the lock: this one must have recovered it
    if (previousPid === undefined) expect(hello.recovered).toBeNull();
    else expect(hello.recovered).toMatchObject({ holder: { pid: previousPid } });

    await sleep(5 + Math.floor(Math.random() * 46));
    expect(await killChild(child)).toBe('SIGKILL');
    children.delete(child);
    previousPid = hello.pid;

    const read = await ledger.read();
    const lines = await countIntactLines(ledger.file).catch(() => ({ intact: 0, damaged: 0, endsWithNewline: true }));
    expect(read.records).toHaveLength(lines.intact);
    expect(read.ignored).toBe(lines.damaged);
    // at most one torn line per kill, and only ever the tail of a round
    expect(read.ignored).toBeLessThanOrEqual(round + 1);
    expect(read.records.length).toBeGreaterThanOrEqual(previousCount);
    previousCount = read.records.length;
    tornLines = read.ignored;

    // within each round, the records that survived are exactly the first n written
    const seqsByRound = new Map<string, number[]>();
    for (const record of read.records) {
      const [r, seq] = record.id.split(':');
      seqsByRound.set(r, [...(seqsByRound.get(r) ?? []), Number(seq)]);
    }
    for (const seqs of seqsByRound.values()) expect(seqs).toEqual(seqs.map((_, i) => i));

    const lockFile = JSON.parse(await readFile(join(ledgerDir, 'lock'), 'utf8')) as LockHolder;
    expect(lockFile.pid).toBe(hello.pid);

    if (round % 2 === 1 && read.records.length > 0 && (await tearLastLine(ledger.file))) {
      const torn = await ledger.read();
      expect(torn.records.map((r) => r.id)).toEqual(read.records.slice(0, -1).map((r) => r.id));
      expect(torn.ignored).toBe(read.ignored + 1);
      previousCount = torn.records.length;
      tornLines = torn.ignored;
    }
  }

  // the next run recovers the last dead child's lock and appends readable records after any torn tail
  await ageLock(ledgerDir);
  const lock = await acquireLock(ledgerDir, { command: 'ozg deploy (after crash)' });
  expect(lock.recovered).toMatchObject({ holder: { pid: previousPid } });
  const [written] = await ledger.append([
    { actor: 'test', run: 'after', site: 'kiel', environment: 'test', procedure: 'crash-proc', version: '9.9.9', hash: 'd'.repeat(64), outcome: 'applied', smoke: [], durationMs: 1 },
  ]);
  const after = await ledger.read();
  expect(after.records.at(-1)?.id).toBe(written.id);
  expect(after.records.at(-1)?.version).toBe('9.9.9');
  expect(after.records).toHaveLength(previousCount + 1);
  expect(after.ignored).toBe(tornLines);
  expect((await countIntactLines(ledger.file)).endsWithNewline).toBe(true);
  expect(await lock.release()).toBe(true);
  expect(previousCount).toBeGreaterThan(0);
});
