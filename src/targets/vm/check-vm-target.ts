/**
 * What the VM driver refuses before it sends anything. `validate` and a deploy's check before
 * its first target run these same functions, so a bundle or a root the driver would refuse
 * is an input error (exit 3) found up front, never a failure half-way through a rollout.
 */
import type { Bundle } from '../../procedure/types.js';
import { findArchivePathProblem } from './archive.js';
import { HOOK_FILES_FILE, INCOMING_DIR, MANIFEST_FILE, RELEASE_METADATA_FILE } from './release-scripts.js';

/** One reason the driver would refuse a bundle; `file` is the bundle path it concerns, if any. */
export interface VmBundleProblem {
  file?: string;
  message: string;
}

/** What is wrong with `root` as a directory on a target, or undefined when it is usable. */
export function findRootProblem(root: string): string | undefined {
  if (!root.startsWith('/')) return 'must be an absolute path';
  if (root.includes('\0')) return 'contains a NUL character, which no path on a target can hold';
  if (root.split('/').some((s) => s === '.' || s === '..')) return 'must not have . or .. segments';
  return undefined;
}

/** Every reason the VM driver would refuse `bundle`. */
export function findBundleProblems(bundle: Bundle): VmBundleProblem[] {
  const problems: VmBundleProblem[] = [];
  if (bundle.targetKind !== 'vm') problems.push({ message: `the bundle of ${bundle.procedure} is for ${bundle.targetKind}, not a VM target` });
  const paths = new Set<string>();
  for (const file of bundle.files) {
    const problem = findArchivePathProblem(file.path);
    if (problem) problems.push({ file: file.path, message: `file path ${JSON.stringify(file.path)} ${problem}` });
    if (file.path === RELEASE_METADATA_FILE || file.path === MANIFEST_FILE || file.path === HOOK_FILES_FILE) {
      problems.push({ file: file.path, message: `${file.path} is the name of ozg's own release metadata on the target; rename this file` });
    }
    if (file.path === INCOMING_DIR || file.path.startsWith(`${INCOMING_DIR}/`)) {
      problems.push({ file: file.path, message: `${INCOMING_DIR} is where ozg's blobs arrive in a release on the target; rename this folder` });
    }
    if (file.blob && !/^[0-9a-f]{64}$/.test(file.blob.sha256)) {
      problems.push({ file: file.path, message: `the blob of ${file.path} names sha256 ${JSON.stringify(file.blob.sha256)}, not 64 lowercase hex digits` });
    }
    paths.add(file.path);
  }
  for (const [name, hook] of Object.entries(bundle.hooks)) {
    if (hook !== undefined && !paths.has(hook)) problems.push({ message: `the ${name} hook ${hook} is not a file of the bundle` });
  }
  return problems;
}
