import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { formatLedgerLine, parseLedgerLine } from './ledger-line.js';
import type { LedgerRecord, ReleaseOutcome } from './types.js';

export const LEDGER_FILE = 'ledger.jsonl';

/** A record as the pipeline hands it over: the ledger stamps `id` and `time` unless given. */
export type LedgerRecordInput = Omit<LedgerRecord, 'id' | 'time'> & { id?: string; time?: string };

export interface LedgerDeps {
  /** clock for the `time` stamp (default: the system clock) */
  now?: () => Date;
  /** record ids (default: random UUIDs) */
  createId?: () => string;
}

export interface LedgerFilter {
  site?: string;
  environment?: 'test' | 'prod';
  procedure?: string;
}

export interface HistoryOptions extends LedgerFilter {
  /** at most this many records, the newest ones */
  limit?: number;
}

export interface LedgerReadResult {
  /** intact records, in the order they were appended */
  records: LedgerRecord[];
  /** number of torn or altered lines that were skipped */
  ignored: number;
  /** 1-based line numbers of the skipped lines, for a warning */
  ignoredLines: number[];
}

/** The local, append-only record of every release and smoke result. */
export interface Ledger {
  /** absolute path of ledger.jsonl */
  readonly file: string;
  /** durably appends the records as one batch and returns them as written; the caller holds the ledger lock */
  append(records: readonly LedgerRecordInput[]): Promise<LedgerRecord[]>;
  read(): Promise<LedgerReadResult>;
  /** per (site, environment, procedure): the last record saying what should be live */
  latest(filter?: LedgerFilter): Promise<LedgerRecord[]>;
  /** matching records, newest first */
  history(options?: HistoryOptions): Promise<LedgerRecord[]>;
}

/** Outcomes after which the record's version/hash is what the target should run (rolled-back: the release live again). */
export const LIVE_OUTCOMES: readonly ReleaseOutcome[] = ['applied', 'rolled-back', 'adopted'];

/** Opens the ledger in `dir` (usually `<inventory dir>/.ozg`). Nothing is created until the first append. */
export function openLedger(dir: string, deps: LedgerDeps = {}): Ledger {
  const file = join(dir, LEDGER_FILE);
  const now = deps.now ?? (() => new Date());
  const createId = deps.createId ?? randomUUID;
  const read = () => readLedgerFile(file);
  return {
    file,
    async append(inputs) {
      const records = inputs.map((input) => stampRecord(input, now, createId));
      await appendToLedgerFile(dir, file, records);
      return records;
    },
    read,
    latest: async (filter = {}) => selectLatest((await read()).records, filter),
    history: async (options = {}) => selectHistory((await read()).records, options),
  };
}

function stampRecord(input: LedgerRecordInput, now: () => Date, createId: () => string): LedgerRecord {
  // id and time first, so a raw ledger line reads naturally
  const { id, time, ...rest } = input;
  return { id: id ?? createId(), time: time ?? now().toISOString(), ...rest };
}

export async function readLedgerFile(file: string): Promise<LedgerReadResult> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return { records: [], ignored: 0, ignoredLines: [] };
    throw error;
  }
  const records: LedgerRecord[] = [];
  const ignoredLines: number[] = [];
  const lines = data.toString('utf8').split('\n');
  lines.forEach((line, index) => {
    if (line === '') return;
    const record = parseLedgerLine(line);
    if (record) records.push(record);
    else ignoredLines.push(index + 1);
  });
  return { records, ignored: ignoredLines.length, ignoredLines };
}

async function appendToLedgerFile(dir: string, file: string, records: readonly LedgerRecord[]): Promise<void> {
  if (records.length === 0) return;
  const body = records.map(formatLedgerLine).join('');
  await mkdir(dir, { recursive: true });
  const existed = await stat(file).then(
    () => true,
    (error: unknown) => {
      if (isErrnoCode(error, 'ENOENT')) return false;
      throw error;
    },
  );
  // O_APPEND ('a+': read too, for the tail check): every write lands at the end and earlier
  // bytes are never rewritten, so a kill mid-write can only leave a torn last line.
  const handle = await open(file, 'a+');
  try {
    // A previous run killed mid-line left no newline: start on a fresh line so our first
    // record is not glued onto the torn one.
    const prefix = (await endsWithNewline(handle)) ? '' : '\n';
    await writeFully(handle, Buffer.from(prefix + body, 'utf8'));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  // A new file's directory entry must be durable too, or a power loss can lose the whole file.
  if (!existed) await syncDirectory(dir);
}

async function endsWithNewline(handle: FileHandle): Promise<boolean> {
  const { size } = await handle.stat();
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

async function writeFully(handle: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the data itself is synced.
  } finally {
    await handle?.close();
  }
}

/** The last live-making record per (site, environment, procedure), in ledger order. */
export function selectLatest(records: readonly LedgerRecord[], filter: LedgerFilter = {}): LedgerRecord[] {
  const last = new Map<string, LedgerRecord>();
  for (const record of records) {
    if (!matchesFilter(record, filter) || !LIVE_OUTCOMES.includes(record.outcome)) continue;
    const key = `${record.site}\0${record.environment}\0${record.procedure}`;
    // delete first so the map's order follows the latest record, not the first one seen
    last.delete(key);
    last.set(key, record);
  }
  return [...last.values()];
}

/** Matching records, newest first, at most `limit`. */
export function selectHistory(records: readonly LedgerRecord[], options: HistoryOptions = {}): LedgerRecord[] {
  const matching = records.filter((r) => matchesFilter(r, options)).reverse();
  return options.limit === undefined ? matching : matching.slice(0, Math.max(0, options.limit));
}

function matchesFilter(record: LedgerRecord, filter: LedgerFilter): boolean {
  return (
    (filter.site === undefined || record.site === filter.site) &&
    (filter.environment === undefined || record.environment === filter.environment) &&
    (filter.procedure === undefined || record.procedure === filter.procedure)
  );
}

function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
