import { randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, statSync, write } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrnoCode } from '../system-error.js';
import { formatLedgerLine, isTornLedgerLine, parseLedgerLine } from './ledger-line.js';
import type { LedgerRecord, ReleaseOutcome } from './types.js';
import { systemClock } from '../clock.js';
import { HoldTracker } from './hold.js';

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
  /** 1-based line numbers of the skipped lines (the first 1,000), for a warning */
  ignoredLines: number[];
  damage: LedgerDamage;
}

/** Lines a read skipped, told apart by how they came to be. */
export interface LedgerDamage {
  /** 1-based numbers of lines cut off by a run killed mid-append: expected after a crash (first 1,000) */
  torn: number[];
  tornCount: number;
  /** 1-based numbers of lines altered or corrupted (bad checksum, not a record, garbage): never expected (first 1,000) */
  damaged: number[];
  damagedCount: number;
}

/** Everything a command needs from one pass over the ledger. */
export interface LedgerIndex {
  /** per (site, environment, procedure): the last record saying what should be live, in causal order */
  latest: Map<string, LedgerRecord>;
  /** per target with an active hold: the rolled-back record that holds it (see hold.ts) */
  holds: Map<string, LedgerRecord>;
  damage: LedgerDamage;
}

/** The local, append-only record of every release and smoke result. */
export interface Ledger {
  /** absolute path of ledger.jsonl */
  readonly file: string;
  /**
   * Durably appends the records as one batch and returns them as written: each gets the next
   * `seq` of its target unless it carries one (a merged record keeps its own). The caller holds the ledger lock.
   */
  append(records: readonly LedgerRecordInput[]): Promise<LedgerRecord[]>;
  /** all records in memory: for small ledgers and tests; commands use `index`, `history` or `scan` */
  read(): Promise<LedgerReadResult>;
  /** streams the records in file order; memory does not grow with the file */
  scan(onRecord: (record: LedgerRecord, line: number) => void): Promise<LedgerDamage>;
  /**
   * one streaming pass: the latest record per target and the damage found; `also` gets each
   * record too, so a command that needs more (the report) reads the file once
   */
  index(also?: (record: LedgerRecord) => void): Promise<LedgerIndex>;
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
  const now = deps.now ?? systemClock.now;
  const createId = deps.createId ?? randomUUID;
  // highest seq per target, known after one pass; only the lock holder appends, so it stays true
  let seqs: Map<string, number> | undefined;
  let firstIndex: Promise<LedgerIndex> | undefined;
  const scan = (onRecord: (record: LedgerRecord, line: number) => void) => scanLedgerFile(file, onRecord);
  // Group commit: appends made while a write is under way wait for it and then go out together,
  // one write and one fsync for all of them. Each caller still returns only once its records
  // are durable, and a failed write fails every caller of that batch (none of its lines stay).
  // Writes never overlap, so a failed one's truncate cannot cut off another's records.
  let writing: Promise<unknown> = Promise.resolve();
  let next: { records: LedgerRecord[]; written: Promise<void> } | undefined;
  const commit = (records: LedgerRecord[]): Promise<void> => {
    if (!next) {
      const batch: { records: LedgerRecord[]; written: Promise<void> } = { records: [], written: Promise.resolve() };
      batch.written = writing.then(() => {
        if (next === batch) next = undefined;
        return appendToLedgerFile(dir, file, batch.records);
      });
      writing = batch.written.catch(() => undefined);
      next = batch;
    }
    next.records.push(...records);
    return next.written;
  };
  const index = async (also?: (record: LedgerRecord) => void): Promise<LedgerIndex> => {
    const tracker = new LatestTracker();
    const damage = await scan(
      also
        ? (record) => {
            tracker.add(record);
            also(record);
          }
        : (record) => tracker.add(record),
    );
    // only the first pass sets them: a later one that read the file while appends were being
    // written would hand out a seq those appends already took
    seqs ??= tracker.seqs;
    return { latest: tracker.latest, holds: tracker.holds.active, damage };
  };
  return {
    file,
    async append(inputs) {
      // one pass for every append made before it ends: a second pass finishing later would
      // replace the seqs the first appends already took
      if (!seqs) {
        firstIndex ??= index().catch((error: unknown) => {
          firstIndex = undefined; // a failed read is tried again by the next append
          throw error;
        });
        await firstIndex;
      }
      const known = seqs!;
      const records = inputs.map((input) => {
        const key = targetKey(input);
        const seq = input.seq ?? (known.get(key) ?? 0) + 1;
        known.set(key, Math.max(known.get(key) ?? 0, seq));
        return stampRecord({ ...input, seq }, now, createId);
      });
      await commit(records);
      return records;
    },
    read: () => readLedgerFile(file),
    scan,
    index,
    async latest(filter = {}) {
      const tracker = new LatestTracker(filter);
      await scan((record) => tracker.add(record));
      return [...tracker.latest.values()];
    },
    async history(options = {}) {
      // only the newest `limit` matching records are kept while streaming
      const limit = options.limit === undefined ? Infinity : Math.max(0, options.limit);
      const kept: LedgerRecord[] = [];
      await scan((record) => {
        if (limit === 0 || !matchesFilter(record, options)) return;
        kept.push(record);
        if (kept.length > limit * 2 + 1024) kept.splice(0, kept.length - limit);
      });
      return kept.slice(Math.max(0, kept.length - limit)).reverse();
    },
  };
}

function stampRecord(input: LedgerRecordInput, now: () => Date, createId: () => string): LedgerRecord {
  // id and time first, so a raw ledger line reads naturally
  const { id, time, ...rest } = input;
  return { id: id ?? createId(), time: time ?? now().toISOString(), ...rest };
}

/** Reads the whole ledger into memory (merging, tests). Commands stream with `scanLedgerFile`. */
export async function readLedgerFile(file: string): Promise<LedgerReadResult> {
  const records: LedgerRecord[] = [];
  const damage = await scanLedgerFile(file, (record) => records.push(record));
  const ignoredLines = [...damage.torn, ...damage.damaged].sort((a, b) => a - b).slice(0, MAX_LISTED_LINES);
  return { records, ignored: damage.tornCount + damage.damagedCount, ignoredLines, damage };
}

/** Bytes read at a time. */
const CHUNK_BYTES = 1 << 20;
/** A line longer than this is not a record ozg wrote (records are kilobytes); it is counted as damage without being kept. */
const MAX_LINE_BYTES = 64 << 20;
/** Line numbers listed per kind of damage; the counts stay exact. */
const MAX_LISTED_LINES = 1_000;

/**
 * Streams the ledger line by line in fixed-size chunks, so memory stays flat however large the
 * file (a string holding it all fails beyond 512 MiB). Lines that are not intact records are
 * skipped and reported: the unterminated last line or an incomplete record as torn (a run killed
 * mid-append), anything else as damaged.
 */
export async function scanLedgerFile(file: string, onRecord: (record: LedgerRecord, line: number) => void): Promise<LedgerDamage> {
  const damage: LedgerDamage = { torn: [], tornCount: 0, damaged: [], damagedCount: 0 };
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return damage;
    throw error;
  }
  const note = (kind: 'torn' | 'damaged', line: number) => {
    if (kind === 'torn') {
      damage.tornCount += 1;
      if (damage.torn.length < MAX_LISTED_LINES) damage.torn.push(line);
    } else {
      damage.damagedCount += 1;
      if (damage.damaged.length < MAX_LISTED_LINES) damage.damaged.push(line);
    }
  };
  let pieces: Buffer[] = [];
  let pendingBytes = 0;
  let overlong = false;
  let lineNumber = 0;
  const finishLine = (terminated: boolean) => {
    lineNumber += 1;
    if (overlong) {
      note('damaged', lineNumber);
    } else if (pendingBytes > 0) {
      const text = (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)).toString('utf8');
      const record = parseLedgerLine(text);
      if (record) onRecord(record, lineNumber);
      else note(!terminated || isTornLedgerLine(text) ? 'torn' : 'damaged', lineNumber);
    }
    pieces = [];
    pendingBytes = 0;
    overlong = false;
  };
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      let start = 0;
      while (start < bytesRead) {
        const newline = buffer.indexOf(0x0a, start);
        const end = newline === -1 || newline >= bytesRead ? bytesRead : newline;
        if (!overlong && end > start) {
          if (pendingBytes + (end - start) > MAX_LINE_BYTES) {
            overlong = true;
            pieces = [];
          } else {
            // copied: the read buffer is reused for the next chunk
            pieces.push(Buffer.from(buffer.subarray(start, end)));
          }
        }
        pendingBytes += end - start;
        if (end === bytesRead) break;
        finishLine(true);
        start = end + 1;
      }
    }
    if (pendingBytes > 0 || overlong) finishLine(false);
  } finally {
    await handle.close();
  }
  return damage;
}

/** Warnings for a read that skipped lines, naming the file and line numbers; none for a clean read. */
export function describeLedgerDamage(file: string, damage: LedgerDamage): string[] {
  const warnings: string[] = [];
  if (damage.damagedCount > 0) {
    warnings.push(
      `${file}: ${describeLines(damage.damaged, damage.damagedCount)} damaged (altered or corrupted: not a record ozg wrote, or its checksum does not match) and skipped. ` +
        'Records may be lost: restore the file from a backup or a shard copy and merge it with `ozg ledger merge`',
    );
  }
  if (damage.tornCount > 0) {
    warnings.push(`${file}: ${describeLines(damage.torn, damage.tornCount)} cut off by a run killed while appending, skipped (expected after a crash; the records before and after are intact)`);
  }
  return warnings;
}

function describeLines(lines: number[], count: number): string {
  const shown = lines.slice(0, 20).join(', ');
  const more = count > 20 ? ` and ${count - 20} more` : '';
  return count === 1 ? `line ${shown} is` : `lines ${shown}${more} are`;
}

async function appendToLedgerFile(dir: string, file: string, records: readonly LedgerRecord[]): Promise<void> {
  if (records.length === 0) return;
  const body = records.map(formatLedgerLine).join('');
  // The steps before the write touch only metadata and one cached byte: done synchronously, each
  // takes microseconds, where an awaited step waits its turn on a busy event loop (16 sites
  // deploying over SSH: 5-20 ms per turn, nine turns per append). The write and the fsync, which
  // wait for the disk, stay asynchronous.
  let existed = true;
  try {
    statSync(file);
  } catch (error) {
    if (!isErrnoCode(error, 'ENOENT')) throw error;
    existed = false;
    mkdirSync(dir, { recursive: true });
  }
  // O_APPEND ('a+': read too, for the tail check): every write lands at the end and earlier
  // bytes are never rewritten, so a kill mid-write can only leave a torn last line.
  const fd = openSync(file, 'a+');
  try {
    const { size } = fstatSync(fd);
    // A previous run killed mid-line left no newline: start on a fresh line so our first
    // record is not glued onto the torn one.
    const prefix = endsWithNewline(fd, size) ? '' : '\n';
    try {
      await writeFully(fd, Buffer.from(prefix + body, 'utf8'));
      await fdatasyncAsync(fd);
    } catch (error) {
      // A full disk takes part of a write: cut it off again, so a failed append leaves the
      // ledger as it was (the caller keeps the records) instead of a torn line in the middle.
      try {
        ftruncateSync(fd, size);
      } catch {
        // the write's error is the one to report
      }
      throw error;
    }
  } finally {
    try {
      closeSync(fd);
    } catch {
      // after a synced write the records are on disk: a failed close must not fail their callers
      // (and after a failed write, that write's error is the one to report)
    }
  }
  // A new file's directory entry must be durable too, or a power loss can lose the whole file.
  if (!existed) await syncDirectory(dir);
}

function endsWithNewline(fd: number, size: number): boolean {
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

async function writeFully(fd: number, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const bytesWritten = await writeAsync(fd, buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}

function writeAsync(fd: number, buffer: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buffer, offset, length, null, (error, written) => (error ? reject(error) : resolve(written))));
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
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

/** Identifies a target in the ledger: site, environment, procedure. */
export function targetKey(record: Pick<LedgerRecord, 'site' | 'environment' | 'procedure'>): string {
  return `${record.site}\0${record.environment}\0${record.procedure}`;
}

/**
 * Aggregates records in file order into the latest live record per target. Order is causal,
 * never by clock: the higher `seq` wins, and at equal seq the later line. A record without a
 * seq (older ozg) takes the highest seq seen so far for its target, so it is ordered by its
 * place in the file.
 */
export class LatestTracker {
  readonly latest = new Map<string, LedgerRecord>();
  readonly seqs = new Map<string, number>();
  readonly holds = new HoldTracker();
  private readonly latestSeq = new Map<string, number>();

  constructor(private readonly filter: LedgerFilter = {}) {}

  add(record: LedgerRecord): void {
    const key = targetKey(record);
    const seq = record.seq ?? this.seqs.get(key) ?? 0;
    this.seqs.set(key, Math.max(this.seqs.get(key) ?? 0, seq));
    this.holds.add(key, seq, record);
    if (!LIVE_OUTCOMES.includes(record.outcome) || !matchesFilter(record, this.filter)) return;
    const best = this.latestSeq.get(key);
    if (best !== undefined && seq < best) return;
    // delete first so the map's order follows the latest record, not the first one seen
    this.latest.delete(key);
    this.latest.set(key, record);
    this.latestSeq.set(key, seq);
  }
}

/** The last live-making record per (site, environment, procedure), in causal order. */
export function selectLatest(records: readonly LedgerRecord[], filter: LedgerFilter = {}): LedgerRecord[] {
  const tracker = new LatestTracker(filter);
  for (const record of records) tracker.add(record);
  return [...tracker.latest.values()];
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
