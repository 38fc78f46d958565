/**
 * `ozg verify` on VM targets: each release carries its file list with every file's sha256
 * (release-scripts.ts MANIFEST_FILE), the marker carries the list's sha256, and one read-only
 * exec hashes what the live release holds now. The comparison happens here, not in sh.
 */
import { createHash } from 'node:crypto';
import { contentSha256 } from '../../procedure/hash.js';
import type { Bundle } from '../../procedure/types.js';
import type { VerifyResult } from '../driver.js';
import { parseMarker } from './live-marker.js';
import { HOOK_FILES_FILE, MANIFEST_FILE, MARKER_FILE, VERIFY_PREFIX } from './release-scripts.js';

/** The release's file list as written to MANIFEST_FILE: one JSON line, paths sorted. */
export function renderManifest(bundle: Bundle): string {
  const sums = bundle.files
    .map((f) => [f.path, f.blob ? f.blob.sha256 : contentSha256(f.content)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(sums));
}

export function digestManifest(manifest: string): string {
  return createHash('sha256').update(manifest).digest('hex');
}

/** The verify script's stdout, compared: what changed, went missing or was added since the apply. */
export function judgeVerifyOutput(stdout: string, procedure: string): VerifyResult {
  const lines = stdout.split('\n');
  let marker: string | undefined;
  let manifest: string | undefined;
  let sumsAt = -1;
  let presentAt = -1;
  for (const [index, line] of lines.entries()) {
    if (line.startsWith(`${VERIFY_PREFIX} marker `)) marker = line.slice(`${VERIFY_PREFIX} marker `.length);
    else if (line.startsWith(`${VERIFY_PREFIX} manifest `)) manifest = line.slice(`${VERIFY_PREFIX} manifest `.length);
    else if (line === `${VERIFY_PREFIX} no-current`) return { status: 'unverifiable', reason: 'the marker names a release, but `current` is missing: deploy --reinstall to repair it' };
    else if (line === `${VERIFY_PREFIX} no-tool`) return { status: 'unverifiable', reason: 'neither sha256sum nor shasum is installed on the target' };
    else if (line === `${VERIFY_PREFIX} present`) presentAt = index;
    else if (line === `${VERIFY_PREFIX} sums`) {
      sumsAt = index;
      break;
    }
  }
  if (marker === undefined) return { status: 'unverifiable', reason: 'no release is live' };
  const live = parseMarker(marker, procedure);
  if (typeof live === 'string') return { status: 'unverifiable', reason: `${MARKER_FILE}: ${live}` };
  const release = live.release;
  if (manifest === undefined) return { status: 'unverifiable', release, reason: 'no checksums recorded (deployed by an older ozg); reinstall to record them' };
  const expected = parseManifest(manifest);
  if (!expected) return { status: 'unverifiable', release, reason: `${MANIFEST_FILE} of release ${release} is not ozg's file list; reinstall to repair it` };
  if (live.files !== undefined && live.files !== digestManifest(manifest)) {
    return { status: 'unverifiable', release, reason: `${MANIFEST_FILE} of release ${release} was changed since the apply; reinstall to repair it` };
  }
  const actual = parseSums(sumsAt < 0 ? [] : lines.slice(sumsAt + 1));
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [path, sha256] of Object.entries(expected)) {
    const seen = actual.get(path);
    if (seen === undefined) missing.push(path);
    else if (seen !== sha256) changed.push(path);
  }
  // files the hooks made at apply time belong to the release (their content is theirs to change)
  const hookMade = new Set(presentAt < 0 ? [] : lines.slice(presentAt + 1, sumsAt < 0 ? undefined : sumsAt).filter((l) => l.startsWith('./')).map((l) => l.slice(2)));
  const extra = [...actual.keys()].filter((path) => !Object.hasOwn(expected, path) && !hookMade.has(path)).sort();
  const checked = Object.keys(expected).length;
  if (changed.length + missing.length + extra.length === 0) return { status: 'clean', release, checked };
  return { status: 'drifted', release, checked, changed: changed.sort(), missing: missing.sort(), extra };
}

function parseManifest(text: string): Record<string, string> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.values(value).every((v) => typeof v === 'string')) return undefined;
    return value as Record<string, string>;
  } catch {
    return undefined;
  }
}

/**
 * sha256sum lines of `find .`: `<hex>  ./path`; a name holding a backslash or newline comes
 * as `\<hex>  ./path` with `\\` and `\n` escaped (coreutils' escaping).
 */
function parseSums(lines: string[]): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of lines) {
    const escaped = line.startsWith('\\');
    const match = /^([0-9a-f]{64}) [ *]\.\/(.*)$/.exec(escaped ? line.slice(1) : line);
    if (!match) continue;
    const name = escaped ? match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c)) : match[2]!;
    sums.set(name, match[1]!);
  }
  return sums;
}
