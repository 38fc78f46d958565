import type { LiveRelease } from './driver.js';

/**
 * The live release a target stores about itself (a VM's marker file, a namespace's release
 * record), read back: the one decoder for both, or a message saying what is wrong. `what`
 * names the stored thing in that message, e.g. `.ozg-live.json`. Members beyond the
 * LiveRelease ones (a record's revision) are the caller's to read.
 */
export function decodeLiveRelease(value: unknown, procedure: string, what: string): LiveRelease | string {
  if (!isObject(value) || !['procedure', 'version', 'hash', 'release', 'deployedAt'].every((k) => isText(value[k]))) {
    return `${what} lacks procedure, version, hash, release or deployedAt`;
  }
  if (value.procedure !== procedure) return `${what} is for procedure ${String(value.procedure)}, not ${procedure}`;
  const live: LiveRelease = {
    procedure,
    version: value.version as string,
    hash: value.hash as string,
    release: value.release as string,
    deployedAt: value.deployedAt as string,
  };
  if (isText(value.files)) live.files = value.files;
  const p = value.previous;
  if (isObject(p) && isText(p.version) && isText(p.hash) && isText(p.release)) live.previous = { version: p.version, hash: p.hash, release: p.release };
  return live;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
