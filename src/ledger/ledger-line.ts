import { createHash } from 'node:crypto';
import type { LedgerRecord } from './types.js';

/**
 * One ledger line: `{"v":1,"sum":"<sha256 hex of the r JSON>","r":{...}}`.
 * The checksum covers the exact bytes of `r` as written, and `r` comes last, so a reader
 * verifies the raw text without re-serialising (which could differ for foreign writers).
 */
export const LEDGER_LINE_VERSION = 1;

const LINE_PATTERN = /^\{"v":1,"sum":"([0-9a-f]{64})","r":(\{.*\})\}$/;

export function formatLedgerLine(record: LedgerRecord): string {
  const json = JSON.stringify(record);
  return `{"v":${LEDGER_LINE_VERSION},"sum":"${hashText(json)}","r":${json}}\n`;
}

/** The record on one line, or undefined when the line is torn, altered or not a record. */
export function parseLedgerLine(line: string): LedgerRecord | undefined {
  const match = LINE_PATTERN.exec(line);
  if (!match) return undefined;
  const [, sum, json] = match;
  if (hashText(json) !== sum) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return isLedgerRecord(value) ? value : undefined;
}

function isLedgerRecord(value: unknown): value is LedgerRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  return (
    ['id', 'time', 'site', 'procedure', 'version', 'hash', 'outcome'].every((k) => typeof r[k] === 'string') &&
    (r.environment === 'test' || r.environment === 'prod') &&
    Array.isArray(r.smoke) &&
    (r.seq === undefined || (Number.isSafeInteger(r.seq) && (r.seq as number) > 0))
  );
}

const LINE_START = '{"v":1,"sum":"';

/**
 * A line that failed to parse and looks like the beginning of a record cut off mid-write (a
 * run killed while appending), as opposed to a line that was altered or corrupted.
 */
export function isTornLedgerLine(line: string): boolean {
  if (line.length <= LINE_START.length) return LINE_START.startsWith(line);
  if (!line.startsWith(LINE_START)) return false;
  try {
    JSON.parse(line);
    return false; // complete JSON that did not verify: altered, not torn
  } catch {
    return true;
  }
}

function hashText(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
