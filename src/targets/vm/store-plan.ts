/**
 * Which files of a bundle travel through the target's blob store (release-scripts.ts STORE_DIR)
 * instead of inside every release's archive: each blob file, and every other file of at least
 * STORE_THRESHOLD_BYTES, so an upgrade that changes only a config file of a 200 MB release
 * sends that file and nothing of the rest. Files holding secrets never enter the shared store.
 */
import { contentSha256 } from '../../procedure/hash.js';
import type { Bundle, BundleFile } from '../../procedure/types.js';
import type { ArchiveSource } from './archive.js';

/** In-memory files from this size on go through the store too. */
export const STORE_THRESHOLD_BYTES = 64 * 1024;

/** One store blob: `<sha256>-<mode>`, because hard links share a mode and files of one content may differ in theirs. */
export interface StoreBlob {
  key: string;
  mode: number;
  /** where its bytes come from on this machine */
  source: ArchiveSource | Buffer;
}

export interface StorePlan {
  /** store key of each release path that is a hard link to a store blob */
  links: Map<string, string>;
  /** every blob the bundle needs, by key, in bundle order */
  blobs: Map<string, StoreBlob>;
}

const plans = new WeakMap<Bundle, StorePlan>();

/** The bundle's plan, computed once per bundle (live() and apply() both need it). */
export function planStore(bundle: Bundle): StorePlan {
  let plan = plans.get(bundle);
  if (!plan) {
    plan = computePlan(bundle);
    plans.set(bundle, plan);
  }
  return plan;
}

function computePlan(bundle: Bundle): StorePlan {
  const links = new Map<string, string>();
  const blobs = new Map<string, StoreBlob>();
  for (const file of bundle.files) {
    if (!goesThroughStore(file)) continue;
    const mode = file.mode & 0o777;
    const sha256 = file.blob ? file.blob.sha256 : contentSha256(file.content);
    const key = `${sha256}-${mode.toString(8).padStart(3, '0')}`;
    links.set(file.path, key);
    if (!blobs.has(key)) blobs.set(key, { key, mode, source: file.blob ? { path: file.blob.path, size: file.blob.size } : file.content });
  }
  return { links, blobs };
}

function goesThroughStore(file: BundleFile): boolean {
  if (file.sensitive) return false;
  // the links list is one `<key> <path>` a line: a path with a newline travels in the archive
  if (file.path.includes('\n')) return false;
  if (file.blob) return true;
  return file.content.length >= STORE_THRESHOLD_BYTES;
}
