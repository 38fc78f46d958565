import type { KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';

/**
 * meta.k8s.io/v1 Table answers for `kubectl get` (which asks with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns the real server
 * prints for the common types and Name/Age for the rest.
 */

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  description: string;
  priority?: number;
  cell(object: KubeObject, now: number): string | number;
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  return `${Math.floor(hours / 24 / 365)}y`;
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name ?? '' };
const AGE: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => (o.metadata.creationTimestamp ? humanDuration(now - Date.parse(o.metadata.creationTimestamp)) : '<unknown>'),
};

function podPhaseText(pod: KubeObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  for (const s of pod.status?.containerStatuses ?? []) {
    if (s.state?.waiting?.reason) return s.state.waiting.reason;
    if (s.state?.terminated?.reason && pod.status?.phase !== 'Running') return s.state.terminated.reason;
  }
  return pod.status?.phase ?? 'Pending';
}

function count(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function servicePorts(o: KubeObject): string {
  const ports = (o.spec?.ports ?? []) as { port: number; protocol?: string; nodePort?: number }[];
  return ports.length === 0 ? '<none>' : ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

function jobStatus(o: KubeObject): string {
  const conditions = (o.status?.conditions ?? []) as { type: string; status: string }[];
  const has = (type: string): boolean => conditions.some((c) => c.type === type && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (o.metadata.deletionTimestamp) return 'Terminating';
  if (has('Suspended')) return 'Suspended';
  if (has('FailureTarget')) return 'FailureTarget';
  return 'Running';
}

const COLUMNS: Record<string, Column[]> = {
  ConfigMap: [NAME, { name: 'Data', type: 'integer', description: 'Data contains the configuration data.', cell: (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length }, AGE],
  Secret: [
    NAME,
    { name: 'Type', type: 'string', description: 'Used to facilitate programmatic handling of secret data.', cell: (o) => o.type ?? 'Opaque' },
    { name: 'Data', type: 'integer', description: 'Data contains the secret data.', cell: (o) => Object.keys(o.data ?? {}).length },
    AGE,
  ],
  Service: [
    NAME,
    { name: 'Type', type: 'string', description: 'type determines how the Service is exposed.', cell: (o) => o.spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', description: 'clusterIP is the IP address of the service.', cell: (o) => o.spec?.clusterIP ?? '<none>' },
    { name: 'External-IP', type: 'string', description: 'List of IP addresses for which nodes in the cluster will also accept traffic.', cell: () => '<none>' },
    { name: 'Port(s)', type: 'string', description: 'The list of ports that are exposed by this service.', cell: servicePorts },
    AGE,
  ],
  Pod: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      description: 'The aggregate readiness state of this pod for accepting traffic.',
      cell: (o) => `${(o.status?.containerStatuses ?? []).filter((s: { ready?: boolean }) => s.ready).length}/${(o.spec?.containers ?? []).length}`,
    },
    { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', cell: podPhaseText },
    {
      name: 'Restarts',
      type: 'string',
      description: 'The number of times the containers in this pod have been restarted.',
      cell: (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, s: { restartCount?: number }) => n + count(s.restartCount), 0)),
    },
    AGE,
  ],
  Deployment: [
    NAME,
    { name: 'Ready', type: 'string', description: 'Number of the pod with ready state', cell: (o) => `${count(o.status?.readyReplicas)}/${count(o.spec?.replicas)}` },
    { name: 'Up-to-date', type: 'integer', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', cell: (o) => count(o.status?.updatedReplicas) },
    { name: 'Available', type: 'integer', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', cell: (o) => count(o.status?.availableReplicas) },
    AGE,
  ],
  StatefulSet: [NAME, { name: 'Ready', type: 'string', description: 'Number of the pod with ready state', cell: (o) => `${count(o.status?.readyReplicas)}/${count(o.spec?.replicas)}` }, AGE],
  ReplicaSet: [
    NAME,
    { name: 'Desired', type: 'integer', description: 'Replicas is the number of desired replicas.', cell: (o) => count(o.spec?.replicas) },
    { name: 'Current', type: 'integer', description: 'Replicas is the most recently observed number of replicas.', cell: (o) => count(o.status?.replicas) },
    { name: 'Ready', type: 'integer', description: 'The number of ready replicas for this replica set.', cell: (o) => count(o.status?.readyReplicas) },
    AGE,
  ],
  Job: [
    NAME,
    { name: 'Status', type: 'string', description: 'Status of the job.', cell: jobStatus },
    { name: 'Completions', type: 'string', description: 'The desired number of successfully finished pods the job should be run with.', cell: (o) => `${count(o.status?.succeeded)}/${o.spec?.completions ?? 1}` },
    {
      name: 'Duration',
      type: 'string',
      description: 'Time required to complete the job.',
      cell: (o, now) => (o.status?.startTime ? humanDuration((o.status?.completionTime ? Date.parse(o.status.completionTime) : now) - Date.parse(o.status.startTime)) : ''),
    },
    AGE,
  ],
  CronJob: [
    NAME,
    { name: 'Schedule', type: 'string', description: 'The schedule in Cron format.', cell: (o) => o.spec?.schedule ?? '' },
    { name: 'Timezone', type: 'string', description: 'The time zone name for the given schedule.', cell: (o) => o.spec?.timeZone ?? '<none>' },
    { name: 'Suspend', type: 'string', description: 'This flag tells the controller to suspend subsequent executions.', cell: (o) => String(o.spec?.suspend ?? false) },
    { name: 'Active', type: 'integer', description: 'A list of pointers to currently running jobs.', cell: (o) => (o.status?.active ?? []).length },
    { name: 'Last Schedule', type: 'string', description: 'Information when was the last time the job was successfully scheduled.', cell: () => '<none>' },
    AGE,
  ],
  Ingress: [
    NAME,
    { name: 'Class', type: 'string', description: 'ingressClassName', cell: (o) => o.spec?.ingressClassName ?? '<none>' },
    { name: 'Hosts', type: 'string', description: 'Hosts that incoming requests are matched against.', cell: (o) => (o.spec?.rules ?? []).map((r: { host?: string }) => r.host ?? '*').join(',') || '*' },
    { name: 'Address', type: 'string', description: 'Address is a list containing ingress points for the load-balancer.', cell: () => '' },
    { name: 'Ports', type: 'string', description: 'Ports of TLS configurations that open', cell: (o) => ((o.spec?.tls ?? []).length > 0 ? '80, 443' : '80') },
    AGE,
  ],
  PersistentVolumeClaim: [
    NAME,
    { name: 'Status', type: 'string', description: 'phase represents the current phase of PersistentVolumeClaim.', cell: (o) => (o.metadata.deletionTimestamp ? 'Terminating' : o.status?.phase ?? 'Pending') },
    { name: 'Volume', type: 'string', description: 'volumeName is the binding reference to the PersistentVolume backing this claim.', cell: (o) => o.spec?.volumeName ?? '' },
    { name: 'Capacity', type: 'string', description: 'capacity represents the actual resources of the underlying volume.', cell: (o) => o.status?.capacity?.storage ?? '' },
    { name: 'Access Modes', type: 'string', description: 'accessModes contains all ways the volume can be mounted.', cell: (o) => (o.status?.accessModes ?? []).map((m: string) => m.replace('ReadWriteOnce', 'RWO').replace('ReadOnlyMany', 'ROX').replace('ReadWriteMany', 'RWX')).join(',') },
    { name: 'StorageClass', type: 'string', description: 'storageClassName is the name of the StorageClass required by the claim.', cell: (o) => o.spec?.storageClassName ?? '<unset>' },
    AGE,
  ],
  Namespace: [NAME, { name: 'Status', type: 'string', description: 'The status of the namespace', cell: (o) => o.status?.phase ?? 'Active' }, AGE],
  Event: [
    { name: 'Last Seen', type: 'string', description: 'Time of the most recent occurrence.', cell: (o, now) => (o.lastTimestamp ? humanDuration(now - Date.parse(o.lastTimestamp)) : '<unknown>') },
    { name: 'Type', type: 'string', description: 'Type of this event (Normal, Warning).', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', description: 'This should be a short, machine understandable string.', cell: (o) => o.reason ?? '' },
    { name: 'Object', type: 'string', description: 'The object that this event is about.', cell: (o) => `${String(o.involvedObject?.kind ?? '').toLowerCase()}/${o.involvedObject?.name ?? ''}` },
    { name: 'Message', type: 'string', description: 'A human-readable description of the status of this operation.', cell: (o) => o.message ?? '' },
  ],
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function toTable(type: ResourceType, objects: KubeObject[], options: { includeObject: IncludeObject; resourceVersion?: string; now: number }): Record<string, unknown> {
  const columns = COLUMNS[type.kind] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: options.resourceVersion ? { resourceVersion: options.resourceVersion } : {},
    columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, options.now)),
      object:
        options.includeObject === 'None'
          ? undefined
          : options.includeObject === 'Object'
            ? o
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

/** Whether an Accept header prefers a meta.k8s.io/v1 Table to the plain object or list. */
export function wantsTable(accept: string | undefined): boolean {
  for (const entry of (accept ?? '').split(',')) {
    const [mediaType, ...rawParams] = entry.split(';').map((p) => p.trim());
    const params = new Map(rawParams.map((p) => p.split('=') as [string, string]));
    if (params.get('as') === 'Table' && params.get('g') === 'meta.k8s.io' && params.get('v') === 'v1') return true;
    if (!params.has('as') && (mediaType === 'application/json' || mediaType === '*/*')) return false;
  }
  return false;
}
