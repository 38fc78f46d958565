import { isPlainObject, type KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';

/**
 * `fieldValidation`: the fake server has no schemas, so it checks the two levels it knows,
 * the top level of each kind and metadata. Strict turns unknown fields into a 400, Warn into
 * `Warning` headers (the server default), Ignore lets them through. Unknown fields are
 * dropped before storing either way, as the real decoder does.
 */

const TOP_LEVEL: Record<string, readonly string[]> = {
  ConfigMap: ['data', 'binaryData', 'immutable'],
  Secret: ['data', 'stringData', 'type', 'immutable'],
  ServiceAccount: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  Event: ['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'series', 'action', 'related', 'reportingComponent', 'reportingInstance'],
  Role: ['rules'],
  ClusterRole: ['rules', 'aggregationRule'],
  RoleBinding: ['subjects', 'roleRef'],
  ClusterRoleBinding: ['subjects', 'roleRef'],
};

const METADATA = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Dotted paths (`spec`, `metadata.lables`) of fields the kind does not have; removes them from `object`. */
export function removeUnknownFields(type: ResourceType, object: KubeObject): string[] {
  const allowed = new Set(['apiVersion', 'kind', 'metadata', ...(TOP_LEVEL[type.kind] ?? ['spec', 'status'])]);
  const unknown: string[] = [];
  for (const key of Object.keys(object)) {
    if (!allowed.has(key)) {
      unknown.push(key);
      delete object[key];
    }
  }
  if (isPlainObject(object.metadata)) {
    for (const key of Object.keys(object.metadata)) {
      if (!METADATA.has(key)) {
        unknown.push(`metadata.${key}`);
        delete object.metadata[key];
      }
    }
  }
  return unknown;
}
