import semver from 'semver';
import { DNS_LABEL } from '../inventory/dns-label.js';
import type { LedgerRecord, ReleaseOutcome } from './types.js';

/** What a merged record may name: the sites and procedures of this inventory and catalogue. */
export interface RecordContext {
  sites: ReadonlySet<string>;
  procedures: ReadonlySet<string>;
}

// a Record, so a new outcome that is not listed here fails to compile instead of being refused on merge
const OUTCOME_SET: Record<ReleaseOutcome, true> = { applied: true, unchanged: true, 'smoke-failed': true, 'apply-failed': true, 'rolled-back': true, tested: true, skipped: true, adopted: true, 'hold-released': true };
const OUTCOMES = Object.keys(OUTCOME_SET) as ReleaseOutcome[];
const RECORD_KEYS = new Set(['id', 'time', 'seq', 'actor', 'run', 'site', 'environment', 'procedure', 'version', 'hash', 'release', 'outcome', 'smoke', 'durationMs', 'error', 'hold']);
const SMOKE_KEYS = new Set(['name', 'passed', 'attempts', 'durationMs', 'detail', 'output', 'skipped']);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** `20261129T053200Z-1a2b3c4d`, and anything else that is one safe path component */
const RELEASE_ID = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}$/;
/** C0 controls except tab and newline, DEL and C1: terminal escapes in a printed field */
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const CONTROL_ANY = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Problems of a record that came from elsewhere (a shard's ledger): a valid checksum only
 * says the line is intact, not that its content is something ozg would have written. Every
 * field is checked as strictly as this ozg writes it, and the record must name a site and a
 * procedure this inventory knows, so nothing printed, used as a path or trusted for
 * "recorded" comes from a forged or foreign line unchecked.
 */
export function checkForeignRecord(record: LedgerRecord, context: RecordContext): string[] {
  const problems: string[] = [];
  const r = record as unknown as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!RECORD_KEYS.has(key)) problems.push(`unknown field ${JSON.stringify(key)}`);
  const line = (key: string, max = 200) => {
    const value = r[key];
    if (typeof value !== 'string' || value.length === 0 || value.length > max || CONTROL_ANY.test(value)) {
      problems.push(`${key} must be 1 to ${max} characters without control characters`);
      return false;
    }
    return true;
  };
  line('id');
  line('actor');
  line('run');
  if (!ISO_TIME.test(record.time) || Number.isNaN(Date.parse(record.time))) problems.push(`time ${JSON.stringify(record.time)} is not an ISO 8601 time`);
  if (!DNS_LABEL.test(record.site)) problems.push(`site ${JSON.stringify(record.site)} is not a DNS label`);
  else if (!context.sites.has(record.site)) problems.push(`site "${record.site}" is not in the inventory`);
  if (!DNS_LABEL.test(record.procedure)) problems.push(`procedure ${JSON.stringify(record.procedure)} is not a DNS label`);
  else if (!context.procedures.has(record.procedure)) problems.push(`procedure "${record.procedure}" is not in the catalogue`);
  if (semver.valid(record.version) === null || record.version.length > 100) problems.push(`version ${JSON.stringify(record.version)} is not a semantic version`);
  if (record.hash !== '' && !/^[0-9a-f]{64}$/.test(record.hash)) problems.push('hash must be empty or 64 hex digits');
  if (record.release !== undefined && (typeof record.release !== 'string' || !RELEASE_ID.test(record.release) || record.release.includes('..'))) {
    problems.push(`release ${JSON.stringify(record.release)} is not a release id`);
  }
  if (!OUTCOMES.includes(record.outcome)) problems.push(`outcome ${JSON.stringify(record.outcome)} is not one of ${OUTCOMES.join(', ')}`);
  if (typeof record.durationMs !== 'number' || !Number.isFinite(record.durationMs) || record.durationMs < 0) problems.push('durationMs must be a number >= 0');
  if (record.error !== undefined && (typeof record.error !== 'string' || record.error.length > 100_000)) problems.push('error must be text');
  record.smoke.forEach((result, i) => problems.push(...checkSmokeResult(result, `smoke[${i}]`)));
  if (record.hold !== undefined) problems.push(...checkHold(record.hold, record.outcome));
  else if (record.outcome === 'hold-released') problems.push('a hold-released record must name the hold it released');
  return problems;
}

const HOLD_KEYS = new Set(['version', 'hash', 'reason']);

function checkHold(value: unknown, outcome: ReleaseOutcome): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['hold must be an object'];
  const h = value as Record<string, unknown>;
  const problems: string[] = [];
  if (outcome !== 'rolled-back' && outcome !== 'hold-released') problems.push(`hold is only written on rolled-back and hold-released records, not ${outcome}`);
  for (const key of Object.keys(h)) if (!HOLD_KEYS.has(key)) problems.push(`hold has an unknown field ${JSON.stringify(key)}`);
  if (typeof h.version !== 'string' || semver.valid(h.version) === null || h.version.length > 100) problems.push('hold.version must be a semantic version');
  if (typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) problems.push('hold.hash must be 64 hex digits');
  if (typeof h.reason !== 'string' || h.reason.length === 0 || h.reason.length > 2000 || CONTROL_ANY.test(h.reason)) problems.push('hold.reason must be 1 to 2000 characters without control characters');
  return problems;
}

function checkSmokeResult(value: unknown, where: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where} must be an object`];
  const s = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(s)) if (!SMOKE_KEYS.has(key)) problems.push(`${where} has an unknown field ${JSON.stringify(key)}`);
  if (typeof s.name !== 'string' || s.name.length === 0 || s.name.length > 200 || CONTROL_ANY.test(s.name)) problems.push(`${where}.name must be 1 to 200 characters without control characters`);
  if (typeof s.passed !== 'boolean') problems.push(`${where}.passed must be true or false`);
  if (s.skipped !== undefined && typeof s.skipped !== 'boolean') problems.push(`${where}.skipped must be true or false`);
  for (const key of ['attempts', 'durationMs']) {
    if (typeof s[key] !== 'number' || !Number.isFinite(s[key]) || (s[key] as number) < 0) problems.push(`${where}.${key} must be a number >= 0`);
  }
  for (const key of ['detail', 'output']) {
    const text = s[key];
    if (text === undefined && key === 'output') continue;
    if (typeof text !== 'string' || text.length > 1_000_000) problems.push(`${where}.${key} must be text`);
  }
  return problems;
}

/**
 * The record with terminal control characters in its free text (error, smoke detail and
 * output) written out as `\x1b`: command output legitimately carries colour codes, so such
 * records are kept, but no escape sequence from another machine's ledger reaches a terminal.
 */
export function escapeControlCharacters(record: LedgerRecord): LedgerRecord {
  const escape = (text: string) => text.replace(CONTROL_IN_TEXT, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const copy: LedgerRecord = { ...record, smoke: record.smoke.map((s) => ({ ...s, detail: escape(s.detail), ...(s.output !== undefined ? { output: escape(s.output) } : {}) })) };
  if (record.error !== undefined) copy.error = escape(record.error);
  return copy;
}
