import type { KubeObject } from './objects.js';
import { qualifiedResource, resolveResourceType, type ResourceType } from './resources.js';
import { forbidden } from './status.js';
import type { ObjectStore } from './store.js';

/**
 * The ResourceQuota admission plugin for object counts (plugin/pkg/admission/resourcequota,
 * controller.go `checkRequest`): a create that would take a quota's `used` above `hard` is
 * refused with 403 `exceeded quota: <name>, requested: …, used: …, limited: …`, naming only the
 * exceeded resources. `used` is counted from the store, as a quota controller that has caught
 * up would report it. Counted: `count/<resource>[.<group>]` and the legacy core names.
 */

const LEGACY_COUNTS = new Set(['pods', 'services', 'configmaps', 'secrets', 'persistentvolumeclaims', 'replicationcontrollers', 'resourcequotas']);
const QUOTAS = resolveResourceType('resourcequotas');

function countNames(type: ResourceType): string[] {
  const names = [`count/${qualifiedResource(type)}`];
  if (type.group === '' && LEGACY_COUNTS.has(type.resource)) names.push(type.resource);
  return names;
}

/** `a=1,b=2`: quota's prettyPrint, sorted by resource name. */
function prettyPrint(values: Map<string, number>): string {
  return [...values.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Throws the quota 403 when creating `object` would exceed a quota of its namespace. */
export function checkQuota(store: ObjectStore, type: ResourceType, object: KubeObject): void {
  const namespace = object.metadata.namespace;
  if (!type.namespaced || namespace === undefined) return;
  const names = countNames(type);
  for (const quota of store.list(QUOTAS, namespace)) {
    const hard = (quota.spec?.hard ?? {}) as Record<string, unknown>;
    const exceeded = names.filter((n) => n in hard);
    if (exceeded.length === 0) continue;
    const used = store.list(type, namespace).length;
    const over = exceeded.filter((n) => used + 1 > Number(hard[n]));
    if (over.length === 0) continue;
    const requested = new Map(over.map((n) => [n, 1]));
    const usedNow = new Map(over.map((n) => [n, used]));
    const limited = new Map(over.map((n) => [n, Number(hard[n])]));
    throw forbidden(
      type,
      object.metadata.name,
      `exceeded quota: ${quota.metadata.name}, requested: ${prettyPrint(requested)}, used: ${prettyPrint(usedNow)}, limited: ${prettyPrint(limited)}`,
    );
  }
}
