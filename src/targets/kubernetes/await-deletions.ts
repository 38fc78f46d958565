/**
 * Objects of the bundle that are still being deleted. An object with finalizers is not removed
 * by a delete: it gets `metadata.deletionTimestamp` and stays until its finalizers are gone
 * (a claim keeps `kubernetes.io/pvc-protection` while a pod uses it). An apply onto it is
 * accepted, yet the object still goes a moment later: applying it would report a release
 * whose claim is about to vanish. So ozg waits for it to go, then creates it anew.
 */
import { ClusterError } from '../../errors.js';
import type { KubeClient } from './kube-client.js';
import { describeObject, isRecord, type KubeObject, type ManifestObject } from './manifests.js';
import type { Polling } from './namespace-scope.js';
import { PODS } from './wait-for-rollout.js';

export interface AwaitDeletionsOptions extends Polling {
  timeoutMs: number;
}

/**
 * Waits, up to `timeoutMs`, until no object of `objects` that `live` shows as being deleted
 * exists any more; then throws a ClusterError naming each one still there, its finalizers and,
 * for a claim, the pods that still use it. Nothing has been written when it throws.
 */
export async function awaitDeletions(c: KubeClient, objects: readonly ManifestObject[], live: ReadonlyMap<string, unknown>, key: (o: ManifestObject) => string, options: AwaitDeletionsOptions): Promise<void> {
  let going = objects.filter((o) => isBeingDeleted(live.get(key(o))));
  if (going.length === 0) return;
  const deadline = options.clock() + options.timeoutMs;
  let last = new Map<ManifestObject, KubeObject>();
  for (;;) {
    const still = new Map<ManifestObject, KubeObject>();
    for (const o of going) {
      const current = await c.get<KubeObject>(o.info, o.object.metadata.name);
      // gone; or gone and made anew by someone else (no deletionTimestamp): apply as usual
      if (isBeingDeleted(current)) still.set(o, current!);
    }
    last = still;
    going = [...still.keys()];
    if (going.length === 0) return;
    if (options.clock() >= deadline) break;
    await options.sleep(options.pollIntervalMs);
  }
  const reasons: string[] = [];
  for (const [o, object] of last) reasons.push(`${describeObject(o.object)} is still being deleted (${await whyStillThere(c, o, object)})`);
  throw new ClusterError(c.namespace, `${reasons.join('; ')}; waited ${Number((options.timeoutMs / 1000).toFixed(3))} s, nothing was applied`, undefined, {
    hint: 'an object being deleted goes once its finalizers are removed; a claim goes once no pod uses it: stop or remove those pods, wait for it to go, then run again',
  });
}

/** Marked deleted (deletionTimestamp) and waiting for its finalizers. */
export function isBeingDeleted(object: unknown): boolean {
  return isRecord(object) && isRecord(object.metadata) && typeof object.metadata.deletionTimestamp === 'string';
}

async function whyStillThere(c: KubeClient, o: ManifestObject, object: KubeObject): Promise<string> {
  const finalizers: string[] = Array.isArray(object.metadata.finalizers) ? object.metadata.finalizers : [];
  const named = finalizers.length > 0 ? `finalizer ${finalizers.join(', ')}` : 'no finalizer left';
  if (o.info.kind !== 'PersistentVolumeClaim') return named;
  const pods = await c.list<KubeObject>(PODS).catch(() => undefined);
  if (!pods) return `${named}: pods may still use it`;
  const claimsOf = (pod: KubeObject): unknown[] => (isRecord(pod.spec) && Array.isArray(pod.spec.volumes) ? pod.spec.volumes : []);
  const users = pods.filter((p) => claimsOf(p).some((v) => isRecord(v) && isRecord(v.persistentVolumeClaim) && v.persistentVolumeClaim.claimName === o.object.metadata.name));
  return users.length > 0 ? `${named}: pods still use it: ${users.map((p) => p.metadata.name).join(', ')}` : named;
}
