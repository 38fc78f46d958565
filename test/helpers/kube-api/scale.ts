import { clone, isPlainObject, type KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';
import { badRequest, invalid, updateConflict } from './status.js';

/**
 * The `scale` subresource of Deployments, StatefulSets and ReplicaSets, as
 * pkg/registry/apps/deployment/storage/storage.go (scaleFromDeployment, scaleUpdatedObjectInfo)
 * serves it: an autoscaling/v1 Scale with the parent's name, namespace, uid, resourceVersion and
 * creationTimestamp, spec.replicas, and status.replicas plus the selector as a string. A write
 * changes only the parent's spec.replicas; a resourceVersion in the Scale is a precondition on
 * the parent. Ownership (staging/src/k8s.io/apimachinery/pkg/util/managedfields/scalehandler.go,
 * ToParent): the writer's entry on the parent has subresource "scale", the parent's apiVersion
 * and owns `.spec.replicas`, taken from whoever owned it before.
 */
export function scaleOf(object: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = object.metadata;
  const labels = (object.spec?.selector?.matchLabels ?? {}) as Record<string, string>;
  const selector = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: object.spec?.replicas ?? 0 },
    status: { replicas: object.status?.replicas ?? 0, ...(selector ? { selector } : {}) },
  };
}

/** The parent with the Scale's replicas (not stored yet); 409 on a stale resourceVersion, 422 on a bad count. */
export function scaledParent(type: ResourceType, live: KubeObject, scale: unknown): KubeObject {
  if (!isPlainObject(scale)) throw badRequest('Object \'Kind\' is missing in scale body');
  const name = live.metadata.name ?? '';
  const metadata = isPlainObject(scale.metadata) ? scale.metadata : {};
  const version = metadata.resourceVersion;
  if (typeof version === 'string' && version !== '' && version !== live.metadata.resourceVersion) throw updateConflict(type, name);
  const replicas = isPlainObject(scale.spec) ? scale.spec.replicas : undefined;
  // pkg/apis/autoscaling/validation ValidateScale: spec.replicas must be >= 0
  if (typeof replicas === 'number' && replicas < 0) {
    throw invalid({ group: 'autoscaling', resource: 'scales', kind: 'Scale' }, name, [
      { field: 'spec.replicas', reason: 'FieldValueInvalid', message: `Invalid value: ${replicas}: must be greater than or equal to 0` },
    ]);
  }
  const next = clone(live);
  next.spec = { ...(next.spec ?? {}), replicas: typeof replicas === 'number' ? replicas : 0 };
  return next;
}
