import { ClusterError } from '../../errors.js';
import type { RollbackResult } from '../driver.js';
import { deployRelease, type DeployReleaseOptions } from './deploy-release.js';
import { omitHpaScaledReplicas } from './hpa-replicas.js';
import { findKind } from './kinds.js';
import { sortForApply, type KubeObject, type ManifestObject } from './manifests.js';
import type { NamespaceScope } from './namespace-scope.js';
import { decodeArchive, type KeptRelease } from './release-record.js';
import { readRecord, SECRET } from './release-store.js';

/**
 * Makes a kept release live again from its archive: `toRelease`, or without it the previous
 * release (or the live one, when a change on top of it did not finish). What cannot be rolled
 * back to is an answer, not an error.
 */
export async function rollbackRelease(scope: NamespaceScope, procedure: string, toRelease: string | undefined, options: DeployReleaseOptions): Promise<RollbackResult> {
  const { client: c } = scope;
  const stored = await readRecord(c, procedure);
  const { record } = stored;
  const liveNow = record?.live;
  if (!record || !liveNow) {
    return { status: 'nothing-to-roll-back', reason: record?.incomplete ? `no release was live before release ${record.incomplete.release}, which did not finish` : 'no release is live' };
  }
  const wanted = toRelease ?? (record.incomplete ? liveNow.release : liveNow.previous?.release);
  if (wanted === undefined) return { status: 'nothing-to-roll-back', reason: 'the live release records no previous release' };
  if (wanted === liveNow.release && !record.incomplete) return { status: 'nothing-to-roll-back', reason: `release ${wanted} is already live` };
  const entry = record.kept.find((k) => k.release === wanted);
  if (!entry) return { status: 'nothing-to-roll-back', reason: `release ${wanted} is no longer kept in namespace ${c.namespace}` };
  const secret = await c.get(SECRET, entry.archive);
  if (!secret) return { status: 'nothing-to-roll-back', reason: `the archive of release ${wanted} (Secret ${entry.archive}) is gone` };
  const decoded = decodeArchive(secret);
  if (typeof decoded === 'string') throw new ClusterError(c.namespace, `Secret ${entry.archive}: ${decoded}`, undefined, { hint: 'roll back to another kept release with --to, or deploy again' });
  // archives written before ozg left HPA-scaled replicas out still hold them
  const objects = omitHpaScaledReplicas(sortForApply(decoded.map((object) => archivedObject(object, entry, c.namespace))));
  const next = await deployRelease(scope, { procedure, objects, target: entry, action: 'rollback', stored }, options);
  return { status: 'rolled-back', live: next };
}

/** An archived object, checked again: archives live in the namespace and could have been edited. */
function archivedObject(object: KubeObject, entry: KeptRelease, namespace: string): ManifestObject {
  const info = findKind(String(object.apiVersion), String(object.kind));
  if (!info || (object.metadata.namespace !== undefined && object.metadata.namespace !== namespace)) {
    throw new ClusterError(namespace, `the archive of release ${entry.release} holds ${object.kind}/${object.metadata?.name}, which ozg would not apply here`);
  }
  return { info, source: entry.archive, object: { ...object, metadata: { ...object.metadata, namespace } } };
}
