/** The resource types the fake API server knows: what discovery lists and what routes accept. */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceType {
  /** API group, '' for the core group */
  group: string;
  version: string;
  /** plural, as in URLs and RBAC rules */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: readonly Verb[];
  shortNames?: readonly string[];
  categories?: readonly string[];
  /** a `/status` subresource exists: writes to the main resource keep status, and vice versa */
  statusSubresource?: boolean;
  /** metadata.generation is kept and bumped on spec changes */
  generation?: boolean;
}

const ALL_VERBS: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const NO_COLLECTION_DELETE: readonly Verb[] = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

function core(resource: string, singular: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType {
  return { group: '', version: 'v1', resource, singular, kind, namespaced: true, verbs: ALL_VERBS, ...extra };
}
function grouped(group: string, version: string, resource: string, singular: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType {
  return { group, version, resource, singular, kind, namespaced: true, verbs: ALL_VERBS, generation: true, ...extra };
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  core('namespaces', 'namespace', 'Namespace', { namespaced: false, verbs: NO_COLLECTION_DELETE, shortNames: ['ns'], statusSubresource: true }),
  core('nodes', 'node', 'Node', { namespaced: false, shortNames: ['no'], statusSubresource: true }),
  core('configmaps', 'configmap', 'ConfigMap', { shortNames: ['cm'] }),
  core('secrets', 'secret', 'Secret'),
  core('services', 'service', 'Service', { shortNames: ['svc'], categories: ['all'], statusSubresource: true }),
  core('pods', 'pod', 'Pod', { shortNames: ['po'], categories: ['all'], statusSubresource: true }),
  core('persistentvolumeclaims', 'persistentvolumeclaim', 'PersistentVolumeClaim', { shortNames: ['pvc'], statusSubresource: true }),
  core('serviceaccounts', 'serviceaccount', 'ServiceAccount', { shortNames: ['sa'] }),
  core('events', 'event', 'Event', { shortNames: ['ev'] }),
  core('resourcequotas', 'resourcequota', 'ResourceQuota', { shortNames: ['quota'], statusSubresource: true }),
  core('limitranges', 'limitrange', 'LimitRange', { shortNames: ['limits'] }),
  grouped('apps', 'v1', 'deployments', 'deployment', 'Deployment', { shortNames: ['deploy'], categories: ['all'], statusSubresource: true }),
  grouped('apps', 'v1', 'statefulsets', 'statefulset', 'StatefulSet', { shortNames: ['sts'], categories: ['all'], statusSubresource: true }),
  grouped('apps', 'v1', 'replicasets', 'replicaset', 'ReplicaSet', { shortNames: ['rs'], categories: ['all'], statusSubresource: true }),
  grouped('batch', 'v1', 'jobs', 'job', 'Job', { categories: ['all'], statusSubresource: true }),
  grouped('batch', 'v1', 'cronjobs', 'cronjob', 'CronJob', { shortNames: ['cj'], categories: ['all'], statusSubresource: true }),
  grouped('networking.k8s.io', 'v1', 'ingresses', 'ingress', 'Ingress', { shortNames: ['ing'], statusSubresource: true }),
  grouped('networking.k8s.io', 'v1', 'networkpolicies', 'networkpolicy', 'NetworkPolicy', { shortNames: ['netpol'] }),
  grouped('policy', 'v1', 'poddisruptionbudgets', 'poddisruptionbudget', 'PodDisruptionBudget', { shortNames: ['pdb'], statusSubresource: true }),
  grouped('autoscaling', 'v2', 'horizontalpodautoscalers', 'horizontalpodautoscaler', 'HorizontalPodAutoscaler', { shortNames: ['hpa'], categories: ['all'], statusSubresource: true }),
  grouped('rbac.authorization.k8s.io', 'v1', 'roles', 'role', 'Role', { generation: false }),
  grouped('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'rolebinding', 'RoleBinding', { generation: false }),
  grouped('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'clusterrole', 'ClusterRole', { namespaced: false, generation: false }),
  grouped('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'clusterrolebinding', 'ClusterRoleBinding', { namespaced: false, generation: false }),
];

/** Served by a handler of its own (create only, always allowed), listed in discovery like the real one. */
export const SELF_SUBJECT_ACCESS_REVIEWS: ResourceType = {
  group: 'authorization.k8s.io',
  version: 'v1',
  resource: 'selfsubjectaccessreviews',
  singular: 'selfsubjectaccessreview',
  kind: 'SelfSubjectAccessReview',
  namespaced: false,
  verbs: ['create'],
};

/** Workloads served with a `scale` subresource (autoscaling/v1 Scale), as in kube-apiserver. */
export const SCALABLE_RESOURCES: ReadonlySet<string> = new Set(['deployments', 'statefulsets', 'replicasets']);

/**
 * Subresources in discovery (`pods/log` is read-only text; `status` reads and writes status only;
 * `scale` is an autoscaling/v1 Scale, named with its group and version so that client-go's
 * discovery scale-kind resolver, which `kubectl scale` uses, finds it).
 */
export function subresourcesOf(type: ResourceType): { name: string; kind: string; verbs: readonly Verb[]; group?: string; version?: string }[] {
  const subresources: { name: string; kind: string; verbs: readonly Verb[]; group?: string; version?: string }[] = [];
  if (SCALABLE_RESOURCES.has(type.resource)) subresources.push({ name: 'scale', kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' });
  if (type.statusSubresource) subresources.push({ name: 'status', kind: type.kind, verbs: ['get', 'patch', 'update'] });
  if (type.resource === 'pods') subresources.push({ name: 'log', kind: 'Pod', verbs: ['get'] });
  return subresources;
}

export function groupVersionOf(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** `deployments.apps`, `configmaps`: how the API names a resource in its messages. */
export function qualifiedResource(type: Pick<ResourceType, 'group' | 'resource'>): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

/** `Deployment.apps`, `ConfigMap`: how validation errors name a kind. */
export function qualifiedKind(type: Pick<ResourceType, 'group' | 'kind'>): string {
  return type.group ? `${type.kind}.${type.group}` : type.kind;
}

export function findResourceType(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.resource === resource);
}

/**
 * Look a type up the way a test names it: `deployments`, `deployment`, `deploy`,
 * `Deployment` or `deployments.apps`.
 */
export function resolveResourceType(name: string): ResourceType {
  const [head, ...groupParts] = name.split('.');
  const group = groupParts.join('.');
  const lower = head.toLowerCase();
  const found = RESOURCE_TYPES.find(
    (t) =>
      (group === '' || t.group === group) &&
      (t.resource === lower || t.singular === lower || t.kind.toLowerCase() === lower || (t.shortNames ?? []).includes(lower)),
  );
  if (!found) throw new Error(`the fake Kubernetes API does not serve a resource named "${name}"`);
  return found;
}

export function resourceTypeForKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => groupVersionOf(t) === apiVersion && t.kind === kind);
}
