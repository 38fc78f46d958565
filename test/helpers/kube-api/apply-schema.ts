import { listKeyFields } from './field-set.js';
import { isPlainObject, type KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';

/**
 * The typed schema server-side apply converts an applied configuration into before merging
 * (structured-merge-diff `typed.AsTyped`, through the apiserver's type converter built from the
 * OpenAPI models: k8s.io/apimachinery/pkg/util/managedfields/internal/structuredmerge.go). A
 * field the schema does not declare, or two items of an associative list with the same key,
 * fail the conversion, and the apply is answered 500 with reason Unknown:
 * `failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.replica:
 * field not declared in schema` (several errors: `errors:` and one indented line each).
 *
 * Trimmed from the upstream OpenAPI (api/openapi-spec/v3): the kinds ozg applies, down to the
 * fields its own objects and the example procedures use and their siblings. `ANY` marks a
 * subtree this copy does not describe (accepted as is); HPA, PDB and NetworkPolicy specs are
 * such subtrees. Data only: widen it by adding fields here.
 */

type Schema = 'scalar' | 'any' | { struct: Record<string, Schema> } | { list: Schema } | { map: Schema };

const S: Schema = 'scalar';
const ANY: Schema = 'any';
const struct = (fields: Record<string, Schema>): Schema => ({ struct: fields });
const list = (item: Schema): Schema => ({ list: item });
const map = (value: Schema): Schema => ({ map: value });
const names = (fields: string, type: Schema = S): Record<string, Schema> => Object.fromEntries(fields.split(' ').map((f) => [f, type]));

const OBJECT_META = struct({
  ...names('name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds'),
  labels: map(S),
  annotations: map(S),
  finalizers: list(S),
  ownerReferences: list(struct(names('apiVersion kind name uid controller blockOwnerDeletion'))),
  managedFields: list(ANY),
});
const LABEL_SELECTOR = struct({ matchLabels: map(S), matchExpressions: list(struct({ key: S, operator: S, values: list(S) })) });
const KEY_REF = struct(names('name key optional'));
const ENV_VAR = struct({
  name: S,
  value: S,
  valueFrom: struct({ configMapKeyRef: KEY_REF, secretKeyRef: KEY_REF, fieldRef: struct(names('apiVersion fieldPath')), resourceFieldRef: struct(names('containerName resource divisor')) }),
});
const ENV_FROM = struct({ prefix: S, configMapRef: struct(names('name optional')), secretRef: struct(names('name optional')) });
const PROBE = struct({
  ...names('initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold terminationGracePeriodSeconds'),
  exec: struct({ command: list(S) }),
  httpGet: struct({ ...names('path port host scheme'), httpHeaders: list(struct(names('name value'))) }),
  tcpSocket: struct(names('port host')),
  grpc: struct(names('port service')),
});
const RESOURCES = struct({ limits: map(S), requests: map(S), claims: list(struct(names('name request'))) });
const CONTAINER_SECURITY = struct({
  ...names('allowPrivilegeEscalation privileged readOnlyRootFilesystem runAsNonRoot runAsUser runAsGroup procMount'),
  capabilities: struct({ add: list(S), drop: list(S) }),
  seccompProfile: struct(names('type localhostProfile')),
  appArmorProfile: struct(names('type localhostProfile')),
  seLinuxOptions: ANY,
  windowsOptions: ANY,
});
const CONTAINER = struct({
  ...names('name image workingDir terminationMessagePath terminationMessagePolicy imagePullPolicy restartPolicy stdin stdinOnce tty'),
  command: list(S),
  args: list(S),
  ports: list(struct(names('name containerPort hostPort hostIP protocol'))),
  env: list(ENV_VAR),
  envFrom: list(ENV_FROM),
  resources: RESOURCES,
  resizePolicy: list(struct(names('resourceName restartPolicy'))),
  volumeMounts: list(struct(names('name mountPath subPath subPathExpr readOnly recursiveReadOnly mountPropagation'))),
  volumeDevices: list(struct(names('name devicePath'))),
  livenessProbe: PROBE,
  readinessProbe: PROBE,
  startupProbe: PROBE,
  lifecycle: ANY,
  securityContext: CONTAINER_SECURITY,
});
const VOLUME = struct({
  name: S,
  configMap: struct({ ...names('name defaultMode optional'), items: list(struct(names('key path mode'))) }),
  secret: struct({ ...names('secretName defaultMode optional'), items: list(struct(names('key path mode'))) }),
  emptyDir: struct(names('medium sizeLimit')),
  persistentVolumeClaim: struct(names('claimName readOnly')),
  projected: ANY,
  downwardAPI: ANY,
  ephemeral: ANY,
  csi: ANY,
  nfs: ANY,
  hostPath: ANY,
});
const POD_SPEC = struct({
  ...names(
    'restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy serviceAccountName serviceAccount automountServiceAccountToken nodeName ' +
      'hostNetwork hostPID hostIPC shareProcessNamespace hostname subdomain schedulerName priorityClassName priority runtimeClassName enableServiceLinks ' +
      'preemptionPolicy setHostnameAsFQDN hostUsers',
  ),
  containers: list(CONTAINER),
  initContainers: list(CONTAINER),
  ephemeralContainers: list(ANY),
  volumes: list(VOLUME),
  nodeSelector: map(S),
  securityContext: struct({
    ...names('runAsUser runAsGroup runAsNonRoot fsGroup fsGroupChangePolicy supplementalGroupsPolicy'),
    supplementalGroups: list(S),
    seccompProfile: struct(names('type localhostProfile')),
    appArmorProfile: struct(names('type localhostProfile')),
    seLinuxOptions: ANY,
    sysctls: list(struct(names('name value'))),
    windowsOptions: ANY,
  }),
  imagePullSecrets: list(struct({ name: S })),
  affinity: ANY,
  tolerations: list(struct(names('key operator value effect tolerationSeconds'))),
  hostAliases: list(struct({ ip: S, hostnames: list(S) })),
  dnsConfig: ANY,
  readinessGates: list(struct({ conditionType: S })),
  overhead: map(S),
  topologySpreadConstraints: list(ANY),
  os: struct({ name: S }),
  schedulingGates: list(struct({ name: S })),
  resourceClaims: list(ANY),
  resources: RESOURCES,
});
const POD_TEMPLATE = struct({ metadata: OBJECT_META, spec: POD_SPEC });
const JOB_SPEC = struct({
  ...names('parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex maxFailedIndexes manualSelector ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy'),
  selector: LABEL_SELECTOR,
  template: POD_TEMPLATE,
  podFailurePolicy: ANY,
  successPolicy: ANY,
});
const PVC_SPEC = struct({
  ...names('volumeName storageClassName volumeMode volumeAttributesClassName'),
  accessModes: list(S),
  selector: LABEL_SELECTOR,
  resources: struct({ limits: map(S), requests: map(S) }),
  dataSource: ANY,
  dataSourceRef: ANY,
});
const POLICY_RULE = struct({ apiGroups: list(S), resources: list(S), resourceNames: list(S), verbs: list(S), nonResourceURLs: list(S) });

/** What a kind may hold besides apiVersion, kind and metadata; status is ignored by apply. */
const KINDS: Record<string, Record<string, Schema>> = {
  ConfigMap: { data: map(S), binaryData: map(S), immutable: S },
  Secret: { data: map(S), stringData: map(S), type: S, immutable: S },
  ServiceAccount: { secrets: list(ANY), imagePullSecrets: list(struct({ name: S })), automountServiceAccountToken: S },
  PersistentVolumeClaim: { spec: PVC_SPEC, status: ANY },
  Role: { rules: list(POLICY_RULE) },
  RoleBinding: { subjects: list(struct(names('kind apiGroup name namespace'))), roleRef: struct(names('apiGroup kind name')) },
  Service: {
    spec: struct({
      ...names('type clusterIP externalName sessionAffinity loadBalancerIP externalTrafficPolicy internalTrafficPolicy healthCheckNodePort publishNotReadyAddresses ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass trafficDistribution'),
      ports: list(struct(names('name protocol appProtocol port targetPort nodePort'))),
      selector: map(S),
      clusterIPs: list(S),
      externalIPs: list(S),
      loadBalancerSourceRanges: list(S),
      ipFamilies: list(S),
      sessionAffinityConfig: ANY,
    }),
    status: ANY,
  },
  Deployment: {
    spec: struct({
      ...names('replicas minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds'),
      selector: LABEL_SELECTOR,
      template: POD_TEMPLATE,
      strategy: struct({ type: S, rollingUpdate: struct(names('maxUnavailable maxSurge')) }),
    }),
    status: ANY,
  },
  StatefulSet: {
    spec: struct({
      ...names('replicas serviceName podManagementPolicy revisionHistoryLimit minReadySeconds'),
      selector: LABEL_SELECTOR,
      template: POD_TEMPLATE,
      volumeClaimTemplates: list(struct({ apiVersion: S, kind: S, metadata: OBJECT_META, spec: PVC_SPEC, status: ANY })),
      updateStrategy: struct({ type: S, rollingUpdate: struct(names('partition maxUnavailable')) }),
      persistentVolumeClaimRetentionPolicy: struct(names('whenDeleted whenScaled')),
      ordinals: struct({ start: S }),
    }),
    status: ANY,
  },
  Job: { spec: JOB_SPEC, status: ANY },
  CronJob: {
    spec: struct({
      ...names('schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend successfulJobsHistoryLimit failedJobsHistoryLimit'),
      jobTemplate: struct({ metadata: OBJECT_META, spec: JOB_SPEC }),
    }),
    status: ANY,
  },
  Ingress: {
    spec: struct({
      ingressClassName: S,
      defaultBackend: ANY,
      tls: list(struct({ hosts: list(S), secretName: S })),
      rules: list(
        struct({
          host: S,
          http: struct({
            paths: list(struct({ path: S, pathType: S, backend: struct({ service: struct({ name: S, port: struct(names('name number')) }), resource: ANY }) })),
          }),
        }),
      ),
    }),
    status: ANY,
  },
  HorizontalPodAutoscaler: { spec: ANY, status: ANY },
  PodDisruptionBudget: { spec: ANY, status: ANY },
  NetworkPolicy: { spec: ANY },
};

/** `[name="app"]`, `[containerPort=8080,protocol="TCP"]`: how structured-merge-diff prints a key. */
function keyText(keys: readonly string[], item: Record<string, unknown>): string {
  return `[${keys
    .filter((k) => item[k] !== undefined)
    .map((k) => `${k}=${JSON.stringify(item[k])}`)
    .join(',')}]`;
}

function walk(schema: Schema, value: unknown, path: string, field: string, errors: string[]): void {
  if (schema === 'any' || schema === 'scalar' || value === null || value === undefined) return;
  if ('struct' in schema) {
    if (!isPlainObject(value)) return;
    // in key order, as the server walks the decoded object
    for (const [key, child] of Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const childSchema = schema.struct[key];
      if (!childSchema) errors.push(`${path}.${key}: field not declared in schema`);
      else walk(childSchema, child, `${path}.${key}`, key, errors);
    }
    return;
  }
  if ('map' in schema) {
    if (isPlainObject(value)) for (const [key, child] of Object.entries(value)) walk(schema.map, child, `${path}.${key}`, key, errors);
    return;
  }
  if (!Array.isArray(value)) return;
  const keys = value.length > 0 ? listKeyFields(field, value) : undefined;
  const seen = new Set<string>();
  value.forEach((item, index) => {
    let itemPath = `${path}[${index}]`;
    if (keys) {
      const key = keyText(keys, item as Record<string, unknown>);
      if (seen.has(key)) {
        errors.push(`${path}: duplicate entries for key ${key}`);
        return;
      }
      seen.add(key);
      itemPath = `${path}${key}`;
    }
    walk(schema.list, item, itemPath, field, errors);
  });
}

/** The conversion errors of an applied object (none for kinds this copy does not describe). */
export function typedConversionErrors(type: ResourceType, object: KubeObject): string[] {
  const fields = KINDS[type.kind];
  if (!fields) return [];
  const errors: string[] = [];
  walk(struct({ apiVersion: S, kind: S, metadata: OBJECT_META, ...fields }), object, '', '', errors);
  return errors;
}

/** The message of the 500: one error on its own, several under `errors:`. */
export function typedPatchMessage(type: ResourceType, object: KubeObject, errors: string[]): string {
  const name = object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : `/${object.metadata.name}`;
  const groupVersion = type.group ? `${type.group}/${type.version}` : type.version;
  const detail = errors.length === 1 ? errors[0] : `errors:\n  ${errors.join('\n  ')}`;
  return `failed to create typed patch object (${name}; ${groupVersion}, Kind=${type.kind}): ${detail}`;
}
