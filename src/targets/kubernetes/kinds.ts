/**
 * The kinds ozg deploys into a namespace. An allow-list on purpose: a data center that hands a
 * site one namespace with namespace-only rights cannot take anything cluster-scoped, and a kind
 * missing here is refused before any request rather than guessed at through discovery.
 */

/** A namespaced kind ozg knows how to apply, list (for pruning) and address by REST path. */
export interface KindInfo {
  apiVersion: string;
  kind: string;
  /** the resource name in REST paths, e.g. `deployments` */
  plural: string;
  /** apply order: what others refer to (accounts, secrets, config, claims) comes first */
  order: number;
  /** ozg waits for these to roll out after an apply */
  workload?: 'deployment' | 'statefulset';
}

export const NAMESPACED_KINDS: readonly KindInfo[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', order: 10 },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', order: 20 },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', order: 30 },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', order: 40 },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', order: 50 },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', order: 60 },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', order: 70 },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', order: 80, workload: 'deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', order: 81, workload: 'statefulset' },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', order: 90 },
  { apiVersion: 'batch/v1', kind: 'CronJob', plural: 'cronjobs', order: 91 },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', order: 100 },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', order: 101 },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', order: 110 },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses', order: 120 },
];

/** Kinds that exist only at cluster scope: named in errors so the refusal says why. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'APIService',
  'PriorityClass',
  'RuntimeClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'CertificateSigningRequest',
  'FlowSchema',
  'PriorityLevelConfiguration',
  'ComponentStatus',
]);

const BY_KEY = new Map(NAMESPACED_KINDS.map((k) => [kindKey(k.apiVersion, k.kind), k]));
const BY_KIND = new Map(NAMESPACED_KINDS.map((k) => [k.kind, k]));

export function kindKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

export function findKind(apiVersion: string, kind: string): KindInfo | undefined {
  return BY_KEY.get(kindKey(apiVersion, kind));
}

/** The supported entry for a kind name, whatever apiVersion a manifest wrote (for messages). */
export function findKindByName(kind: string): KindInfo | undefined {
  return BY_KIND.get(kind);
}

/** `/api/v1` or `/apis/<group>/<version>`. */
export function apiPrefix(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** REST path of a kind's collection in a namespace, or of one object when `name` is given. */
export function resourcePath(info: Pick<KindInfo, 'apiVersion' | 'plural'>, namespace: string, name?: string): string {
  const base = `${apiPrefix(info.apiVersion)}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}
