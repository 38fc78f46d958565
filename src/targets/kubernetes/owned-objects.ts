/**
 * Which objects of a namespace belong to which procedure of the site, by ozg's labels: the
 * ownership check before anything is written, and the one listing of what a procedure owns
 * that its new set no longer has, shared by prune (deploy) and diff (the preview).
 */
import { ClusterError } from '../../errors.js';
import type { KubeClient } from './kube-client.js';
import { findKind, kindKey, type KindInfo } from './kinds.js';
import { describeObject, isRecord, LABELS, MANAGED_BY, PRUNE_ANNOTATION, type KubeObject, type ManifestObject } from './manifests.js';

/** What the objects of a bundle already are in the namespace. */
export interface Ownership {
  /** keys (objectKey) of the objects this procedure's label already marks */
  ours: Set<string>;
  /** one line per object another procedure's label marks */
  foreign: string[];
  /** each object as it is now (undefined: not there), in the order given */
  live: Map<string, KubeObject | undefined>;
}

/**
 * An object belongs to one procedure of the site: one that another procedure's label marks
 * is refused before anything is written, so neither procedure takes over, relabels or later
 * prunes the other's object.
 */
export async function readOwnership(c: KubeClient, procedure: string, objects: readonly ManifestObject[]): Promise<Ownership> {
  const ownership: Ownership = { ours: new Set(), foreign: [], live: new Map() };
  for (const o of objects) {
    const live = await c.get<KubeObject>(o.info, o.object.metadata.name);
    ownership.live.set(objectKey(o), live);
    const owner = live?.metadata?.labels?.[LABELS.procedure];
    if (owner === undefined) continue;
    if (owner === procedure) ownership.ours.add(objectKey(o));
    else ownership.foreign.push(`${describeObject(o.object)} (${o.source}) belongs to procedure ${owner}`);
  }
  return ownership;
}

export function foreignObjectsError(namespace: string, procedure: string, foreign: readonly string[]): ClusterError {
  return new ClusterError(namespace, `${procedure}: ${foreign.join('; ')} (label ${LABELS.procedure}); nothing was applied`, undefined, {
    hint: 'an object belongs to one procedure of a site: rename it in one of the two procedures, or remove it from the procedure that should not have it',
  });
}

export interface ListOwnedObjectsOptions {
  site: string;
  procedure: string;
  /** `apiVersion/kind` of everything ever applied for the procedure (the release record's `kinds`) */
  kinds: readonly string[];
  /** the procedure's new set of objects */
  objects: readonly ManifestObject[];
}

/**
 * Objects ozg applied for the procedure earlier that the new set no longer has: what prune
 * deletes and diff shows. Listed kind by kind as they are consumed, so prune deletes one
 * kind's objects before it lists the next kind.
 */
export async function* listOwnedObjects(c: KubeClient, options: ListOwnedObjectsOptions): AsyncGenerator<{ info: KindInfo; object: KubeObject }> {
  const desired = new Set(options.objects.map((o) => desiredKey(o.info, o.object)));
  const selector = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.site}=${options.site},${LABELS.procedure}=${options.procedure}`;
  for (const key of options.kinds) {
    const info = infoForKey(key);
    if (!info) continue;
    const items = await c.list<KubeObject>(info, selector);
    for (const object of selectPrunable(info, items, desired)) yield { info, object };
  }
}

/**
 * Objects of one kind, listed by ozg's labels, that the new set no longer has. ozg's own
 * records and smoke Jobs are never pruned, nor anything annotated `ozg.example/prune: "false"`.
 * `desired` holds `Kind/name` (desiredKey): an object served under two API versions is one object.
 */
export function selectPrunable(info: Pick<KindInfo, 'kind'>, items: readonly KubeObject[], desired: ReadonlySet<string>): KubeObject[] {
  return items.filter((item) => {
    const metadata = isRecord(item.metadata) ? item.metadata : undefined;
    if (!metadata || typeof metadata.name !== 'string') return false;
    const labels = metadata.labels ?? {};
    if (labels[LABELS.managedBy] !== MANAGED_BY) return false;
    if (labels[LABELS.record] !== undefined || labels[LABELS.smoke] !== undefined) return false;
    if (metadata.annotations?.[PRUNE_ANNOTATION] === 'false') return false;
    if (typeof metadata.deletionTimestamp === 'string') return false; // already going
    return !desired.has(desiredKey(info, item as KubeObject));
  });
}

function desiredKey(info: Pick<KindInfo, 'kind'>, object: Pick<KubeObject, 'metadata'>): string {
  return `${info.kind}/${object.metadata.name}`;
}

/** `apiVersion/Kind/name`: one object of a bundle. */
export function objectKey(o: ManifestObject): string {
  return `${kindKey(o.info.apiVersion, o.info.kind)}/${o.object.metadata.name}`;
}

function infoForKey(key: string): KindInfo | undefined {
  const at = key.lastIndexOf('/');
  return at > 0 ? findKind(key.slice(0, at), key.slice(at + 1)) : undefined;
}
