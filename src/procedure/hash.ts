/**
 * The bundle hash: what plan and apply compare against the ledger and the live marker.
 *
 * It covers exactly what lands on the target (procedure, version, target kind, every file's
 * path, mode and bytes, the hooks and the rendered smoke checks), not the site or the
 * environment: identical content in test and prod gets the identical hash, so a plan can
 * show that prod receives what test smoke-tested. Secret values are inside the file bytes,
 * so rotating a secret changes the hash and redeploys; a bundle rendered with redacted
 * secrets (`ozg render`) therefore hashes differently from the deployable one.
 */
import { hash } from 'node:crypto';
import { InternalError } from '../errors.js';
import type { Bundle } from './types.js';

/** Bumped whenever the serialisation below changes, so old and new hashes never collide. */
const HASH_FORMAT = 'ozg-bundle/1';

export type BundleHashInput = Pick<Bundle, 'procedure' | 'version' | 'targetKind' | 'hooks' | 'smoke'> & {
  /** a file with `blob` is hashed by the blob's sha256 and size, its bytes are not read */
  files: ReadonlyArray<{ path: string; mode: number; content: Buffer; blob?: { sha256: string; size: number } }>;
};

/** sha256 hex over a canonical serialisation; input order of files and object keys does not matter. */
export function hashBundle(input: BundleHashInput): string {
  const files = [...input.files].sort((a, b) => compareStrings(a.path, b.path));
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.path === files[i - 1]!.path) throw new InternalError(`bundle has two files at ${files[i]!.path}`);
  }
  const manifest = serializeCanonically({
    format: HASH_FORMAT,
    procedure: input.procedure,
    version: input.version,
    targetKind: input.targetKind,
    hooks: input.hooks,
    smoke: input.smoke,
    // the same entry whether the bytes are in memory or in a blob: where they wait does not change what lands
    files: files.map((f) => (f.blob ? { path: f.path, mode: f.mode, size: f.blob.size, sha256: f.blob.sha256 } : { path: f.path, mode: f.mode, size: f.content.length, sha256: contentSha256(f.content) })),
  });
  return sha256Hex(Buffer.from(manifest, 'utf8'));
}

/**
 * The sha256 of a bundle file's bytes, computed once per Buffer. A file that is the same for
 * every site (a static asset, a template without Liquid) is one Buffer shared by every bundle
 * (render.ts keeps it with the parsed template), and each target's bundle hash, store plan and release
 * manifest all need its digest: 200 KB hashed three times per target otherwise. Bundle bytes
 * are never changed after rendering; a Buffer is only ever hashed as the bytes it holds then.
 */
export function contentSha256(content: Buffer): string {
  let digest = contentDigests.get(content);
  if (digest === undefined) {
    digest = sha256Hex(content);
    contentDigestStats.computed++;
    contentDigests.set(content, digest);
  }
  return digest;
}

const contentDigests = new WeakMap<Buffer, string>();

/** digests contentSha256 actually computed (the others were looked up): what its test counts */
export const contentDigestStats = { computed: 0 };

export function sha256Hex(data: Buffer): string {
  // one-shot crypto.hash: a bundle hashes every file, and a Hash object per call cost more than the digest
  return hash('sha256', data, 'hex');
}

/** JSON with object keys sorted at every level; undefined members are left out, like JSON. */
export function serializeCanonically(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InternalError(`cannot hash the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : serializeCanonically(v))).join(',')}]`;
  if (typeof value === 'object') {
    // a loop rather than filter/sort/map/join: this runs for every object of every bundle
    const record = value as Record<string, unknown>;
    let out = '{';
    for (const key of Object.keys(record).sort(compareStrings)) {
      const member = record[key];
      if (member === undefined) continue;
      if (out.length > 1) out += ',';
      out += `${JSON.stringify(key)}:${serializeCanonically(member)}`;
    }
    return `${out}}`;
  }
  throw new InternalError(`cannot hash a ${typeof value}`);
}

/** Code-unit order: stable across locales, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
