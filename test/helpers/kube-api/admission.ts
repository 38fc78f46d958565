import { randomUUID } from 'node:crypto';
import { clone, deepEqual, isPlainObject, type KubeObject } from './objects.js';
import { applyLimitRangeDefaults, defaultLimitRange, defaultPodRequests, enforceLimitRanges, enforcePodQuotas } from './compute-resources.js';
import { enforcePodSecurity } from './pod-security.js';
import type { ResourceType } from './resources.js';
import { injectSidecar } from './sidecar-injection.js';
import { labelSelectorToString, matchesLabelSelectorObject, type LabelSelectorObject } from './selectors.js';
import { invalid, type FieldError } from './status.js';

/**
 * Defaulting and validation, the part of the real API server's admission that manifests run
 * into most: defaults that show up in the live object (so a driver comparing live and desired
 * state meets them), required fields, matching selectors, and immutable fields (a Job's pod
 * template, a Deployment's selector, an immutable ConfigMap).
 */

export interface AdmissionContext {
  allocateClusterIp(): string;
  /** a namespace's labels, for Pod Security admission (pod-security.ts) */
  namespaceLabels?(namespace: string | undefined): Record<string, string> | undefined;
  /** objects of a type in a namespace, for LimitRange and quota admission (compute-resources.ts) */
  listInNamespace?(resource: string, namespace: string | undefined): KubeObject[];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

const SUBDOMAIN_HELP =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_HELP =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS_1035_HELP =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_HELP =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

function required(field: string, detail = ''): FieldError {
  return { field, reason: 'FieldValueRequired', message: `Required value${detail ? `: ${detail}` : ''}` };
}
function invalidValue(field: string, value: unknown, detail: string): FieldError {
  return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${goValue(value)}: ${detail}` };
}
function forbiddenField(field: string, detail: string): FieldError {
  return { field, reason: 'FieldValueForbidden', message: `Forbidden: ${detail}` };
}
function unsupported(field: string, value: unknown, allowed: string[]): FieldError {
  return { field, reason: 'FieldValueNotSupported', message: `Unsupported value: ${goValue(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}` };
}

/** Values rendered roughly the way Go's %#v renders them in field errors. */
function goValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string')) {
    return `map[string]string{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

// ---------------------------------------------------------------- defaults

function imagePullPolicyFor(image: unknown): string {
  const text = String(image ?? '');
  const lastSegment = text.split('/').pop() ?? '';
  if (text.includes('@')) return 'IfNotPresent';
  return !lastSegment.includes(':') || lastSegment.endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

function defaultContainers(containers: unknown): void {
  if (!Array.isArray(containers)) return;
  for (const c of containers) {
    if (!isPlainObject(c)) continue;
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    c.imagePullPolicy ??= imagePullPolicyFor(c.image);
    c.resources ??= {};
    if (Array.isArray(c.ports)) for (const p of c.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
  }
}

function defaultPodSpec(spec: unknown, restartPolicy: string | undefined): void {
  if (!isPlainObject(spec)) return;
  if (restartPolicy) spec.restartPolicy ??= restartPolicy;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  defaultContainers(spec.containers);
  defaultContainers(spec.initContainers);
}

function defaultTemplate(template: unknown, restartPolicy: string | undefined): void {
  if (!isPlainObject(template)) return;
  defaultPodSpec(template.spec, restartPolicy);
}

function defaultJobSpec(spec: Record<string, any>, uid: string | undefined, name: string | undefined): void {
  spec.backoffLimit ??= 6;
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  defaultTemplate(spec.template, undefined);
  if (uid && name && !spec.manualSelector) {
    // The job controller's labels: pods are found by controller-uid, people use job-name.
    spec.selector ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
    spec.template ??= {};
    spec.template.metadata ??= {};
    spec.template.metadata.labels = {
      ...(spec.template.metadata.labels ?? {}),
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': name,
      'controller-uid': uid,
      'job-name': name,
    };
  }
}

/** Fill in what the real API server defaults; `uid` is known by then (it is set at create). */
function applyDefaults(type: ResourceType, object: KubeObject, context: AdmissionContext, old: KubeObject | undefined): void {
  const spec = (object.spec ??= {}) as Record<string, any>;
  switch (type.kind) {
    case 'Namespace':
      spec.finalizers ??= ['kubernetes'];
      object.metadata.labels = { ...(object.metadata.labels ?? {}), 'kubernetes.io/metadata.name': object.metadata.name ?? '' };
      object.status = { phase: 'Active' };
      return;
    case 'Secret':
      delete object.spec;
      object.type ??= 'Opaque';
      if (isPlainObject(object.stringData)) {
        object.data = { ...(object.data ?? {}) };
        for (const [k, v] of Object.entries(object.stringData)) object.data[k] = Buffer.from(String(v)).toString('base64');
        delete object.stringData;
      }
      return;
    case 'ConfigMap':
    case 'ServiceAccount':
    case 'Event':
    case 'Role':
    case 'RoleBinding':
    case 'ClusterRole':
    case 'ClusterRoleBinding':
      if (Object.keys(spec).length === 0) delete object.spec;
      return;
    case 'Service': {
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      spec.internalTrafficPolicy ??= 'Cluster';
      spec.ipFamilyPolicy ??= 'SingleStack';
      spec.ipFamilies ??= ['IPv4'];
      const oldIp = old?.spec?.clusterIP;
      if (spec.type !== 'ExternalName') {
        spec.clusterIP ??= oldIp ?? context.allocateClusterIp();
        spec.clusterIPs ??= [spec.clusterIP];
      }
      if (Array.isArray(spec.ports)) {
        for (const p of spec.ports) {
          if (!isPlainObject(p)) continue;
          p.protocol ??= 'TCP';
          p.targetPort ??= p.port;
        }
      }
      object.status ??= { loadBalancer: {} };
      return;
    }
    case 'Pod':
      defaultPodSpec(spec, 'Always');
      defaultPodRequests(object);
      object.status ??= { phase: 'Pending', qosClass: 'BestEffort' };
      return;
    case 'Deployment':
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      spec.strategy ??= { type: 'RollingUpdate' };
      if (spec.strategy.type === 'RollingUpdate') spec.strategy.rollingUpdate ??= { maxUnavailable: '25%', maxSurge: '25%' };
      defaultTemplate(spec.template, 'Always');
      break;
    case 'ReplicaSet':
      spec.replicas ??= 1;
      defaultTemplate(spec.template, 'Always');
      break;
    case 'StatefulSet':
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.revisionHistoryLimit ??= 10;
      spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (spec.updateStrategy.type === 'RollingUpdate') spec.updateStrategy.rollingUpdate ??= { partition: 0 };
      spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      defaultTemplate(spec.template, 'Always');
      break;
    case 'Job':
      defaultJobSpec(spec, object.metadata.uid, object.metadata.name);
      break;
    case 'CronJob':
      spec.concurrencyPolicy ??= 'Allow';
      spec.suspend ??= false;
      spec.successfulJobsHistoryLimit ??= 3;
      spec.failedJobsHistoryLimit ??= 1;
      if (isPlainObject(spec.jobTemplate?.spec)) defaultJobSpec(spec.jobTemplate.spec as Record<string, any>, undefined, undefined);
      break;
    case 'LimitRange':
      defaultLimitRange(object);
      return;
    case 'PersistentVolumeClaim':
      spec.volumeMode ??= 'Filesystem';
      object.status ??= { phase: 'Pending' };
      return;
    default:
      break;
  }
  if (type.statusSubresource) object.status ??= {};
}

// ---------------------------------------------------------------- validation

function validateMetadata(type: ResourceType, object: KubeObject, errors: FieldError[]): void {
  const name = object.metadata.name;
  if (!name) {
    errors.push(required('metadata.name', 'name or generateName is required'));
  } else if (type.kind === 'Namespace') {
    if (!DNS_LABEL.test(name) || name.length > 63) errors.push(invalidValue('metadata.name', name, LABEL_HELP));
  } else if (type.kind === 'Service') {
    if (!DNS_1035_LABEL.test(name) || name.length > 63) errors.push(invalidValue('metadata.name', name, DNS_1035_HELP));
  } else if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    errors.push(invalidValue('metadata.name', name, SUBDOMAIN_HELP));
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    const [prefix, labelName] = key.includes('/') ? key.split('/', 2) : [undefined, key];
    if ((prefix !== undefined && !DNS_SUBDOMAIN.test(prefix)) || !LABEL_NAME.test(labelName ?? '') || (labelName ?? '').length > 63) {
      errors.push(invalidValue('metadata.labels', key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
    }
    if (typeof value !== 'string' || !LABEL_VALUE.test(value) || value.length > 63) errors.push(invalidValue('metadata.labels', value, LABEL_VALUE_HELP));
  }
}

function validatePodSpec(spec: any, path: string, errors: FieldError[], allowedRestart?: string[]): void {
  if (!isPlainObject(spec)) {
    errors.push(required(`${path}.containers`));
    return;
  }
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) errors.push(required(`${path}.containers`));
  const seen = new Set<string>();
  for (const [listName, list] of [['containers', containers], ['initContainers', spec.initContainers]] as const) {
    if (!Array.isArray(list)) continue;
    list.forEach((c: any, i: number) => {
      const at = `${path}.${listName}[${i}]`;
      if (!c?.name) errors.push(required(`${at}.name`));
      else if (!DNS_LABEL.test(c.name)) errors.push(invalidValue(`${at}.name`, c.name, LABEL_HELP));
      else if (seen.has(c.name)) errors.push({ field: `${at}.name`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(c.name)}` });
      if (c?.name) seen.add(c.name);
      if (!c?.image) errors.push(required(`${at}.image`));
    });
  }
  if (allowedRestart && !allowedRestart.includes(String(spec.restartPolicy))) {
    errors.push(spec.restartPolicy === undefined ? required(`${path}.restartPolicy`, `valid values: ${allowedRestart.map((r) => `"${r}"`).join(', ')}`) : unsupported(`${path}.restartPolicy`, spec.restartPolicy, allowedRestart));
  }
}

function validateSelectorAndTemplate(spec: any, errors: FieldError[]): void {
  const selector = spec?.selector as LabelSelectorObject | undefined;
  if (!isPlainObject(selector) || labelSelectorToString(selector) === '') {
    errors.push(required('spec.selector'));
    if (!isPlainObject(selector)) return;
  }
  const labels = spec?.template?.metadata?.labels;
  if (selector && labelSelectorToString(selector) !== '' && !matchesLabelSelectorObject(selector, labels)) {
    errors.push(invalidValue('spec.template.metadata.labels', labels ?? {}, '`selector` does not match template `labels`'));
  }
}

function validateShape(type: ResourceType, object: KubeObject, errors: FieldError[]): void {
  const spec = object.spec;
  switch (type.kind) {
    case 'ConfigMap':
    case 'Secret':
      for (const field of ['data', 'binaryData']) {
        for (const key of Object.keys(object[field] ?? {})) {
          if (!CONFIG_KEY.test(key) || key.length > 253) errors.push(invalidValue(`${field}[${key}]`, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
        }
      }
      if (type.kind === 'Secret') {
        for (const [key, value] of Object.entries(object.data ?? {})) {
          if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) errors.push(invalidValue(`data[${key}]`, '<secret contents redacted>', 'illegal base64 data'));
        }
      }
      return;
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
      validateSelectorAndTemplate(spec, errors);
      validatePodSpec(spec?.template?.spec, 'spec.template.spec', errors, ['Always']);
      if (typeof spec?.replicas === 'number' && spec.replicas < 0) errors.push(invalidValue('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
      return;
    case 'Job':
      validatePodSpec(spec?.template?.spec, 'spec.template.spec', errors, ['OnFailure', 'Never']);
      return;
    case 'CronJob':
      if (!spec?.schedule) errors.push(required('spec.schedule'));
      validatePodSpec(spec?.jobTemplate?.spec?.template?.spec, 'spec.jobTemplate.spec.template.spec', errors, ['OnFailure', 'Never']);
      return;
    case 'Pod':
      validatePodSpec(spec, 'spec', errors);
      return;
    case 'Service':
      if (spec?.type !== 'ExternalName' && spec?.clusterIP !== 'None' && (!Array.isArray(spec?.ports) || spec.ports.length === 0)) errors.push(required('spec.ports'));
      (spec?.ports ?? []).forEach((p: any, i: number) => {
        if (typeof p?.port !== 'number' || p.port < 1 || p.port > 65535) errors.push(invalidValue(`spec.ports[${i}].port`, p?.port ?? 0, 'must be between 1 and 65535, inclusive'));
      });
      return;
    default:
      return;
  }
}

const STATEFULSET_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

function validateImmutable(type: ResourceType, object: KubeObject, old: KubeObject, errors: FieldError[]): void {
  switch (type.kind) {
    case 'ConfigMap':
    case 'Secret':
      if (old.immutable === true) {
        if (object.immutable !== true) errors.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
        for (const field of ['data', 'binaryData']) {
          if (!deepEqual(object[field] ?? {}, old[field] ?? {})) errors.push(forbiddenField(field, 'field is immutable when `immutable` is set'));
        }
      }
      if (type.kind === 'Secret' && object.type !== old.type) errors.push(invalidValue('type', object.type, 'field is immutable'));
      return;
    case 'Deployment':
    case 'ReplicaSet':
      if (!deepEqual(object.spec?.selector, old.spec?.selector)) errors.push(invalidValue('spec.selector', object.spec?.selector, 'field is immutable'));
      return;
    case 'StatefulSet': {
      const strip = (spec: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(spec ?? {}).filter(([k]) => !STATEFULSET_MUTABLE.includes(k)));
      if (!deepEqual(strip(object.spec), strip(old.spec))) {
        errors.push(forbiddenField('spec', `updates to statefulset spec for fields other than ${STATEFULSET_MUTABLE.slice(0, -1).map((f) => `'${f}'`).join(', ')} and 'minReadySeconds' are forbidden`));
      }
      return;
    }
    case 'Job':
      if (!deepEqual(object.spec?.selector, old.spec?.selector)) errors.push(invalidValue('spec.selector', object.spec?.selector, 'field is immutable'));
      if (!deepEqual(object.spec?.template, old.spec?.template)) errors.push(invalidValue('spec.template', object.spec?.template, 'field is immutable'));
      if (object.spec?.completions !== old.spec?.completions) errors.push(invalidValue('spec.completions', object.spec?.completions, 'field is immutable'));
      return;
    case 'RoleBinding': {
      // pkg/apis/rbac/validation/validation.go ValidateRoleBindingUpdate
      const ref = (r: any): string => `rbac.RoleRef{APIGroup:${JSON.stringify(r?.apiGroup ?? '')}, Kind:${JSON.stringify(r?.kind ?? '')}, Name:${JSON.stringify(r?.name ?? '')}}`;
      if (ref(object.roleRef) !== ref(old.roleRef)) errors.push({ field: 'roleRef', reason: 'FieldValueInvalid', message: `Invalid value: ${ref(object.roleRef)}: cannot change roleRef` });
      return;
    }
    case 'PersistentVolumeClaim':
      validateClaimUpdate(object, old, errors);
      return;
    case 'Service':
      if (old.spec?.clusterIP && object.spec?.clusterIP !== old.spec.clusterIP) {
        errors.push(invalidValue('spec.clusterIPs[0]', [object.spec?.clusterIP], 'may not change once set'));
      }
      return;
    default:
      return;
  }
}

const QUANTITY_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
function bytesOf(quantity: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(quantity ?? ''));
  return m ? Number(m[1]) * QUANTITY_UNITS[m[2] ?? '']! : undefined;
}

/**
 * pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate: the spec is fixed
 * once created, except that a bound claim may ask for more storage (never less). The real
 * message appends a go-cmp diff of the two specs, left out here.
 */
function validateClaimUpdate(object: KubeObject, old: KubeObject, errors: FieldError[]): void {
  const bound = old.status?.phase === 'Bound';
  const comparable = (spec: any): unknown => {
    const copy = clone(spec ?? {});
    if (bound && isPlainObject(copy.resources?.requests)) delete copy.resources.requests.storage;
    // the volume controller sets volumeName once, and a class may be set where none was
    if (!old.spec?.volumeName) delete copy.volumeName;
    if (old.spec?.storageClassName === undefined) delete copy.storageClassName;
    return copy;
  };
  if (!deepEqual(comparable(object.spec), comparable(old.spec))) {
    errors.push(forbiddenField('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  }
  const before = bytesOf(old.spec?.resources?.requests?.storage);
  const after = bytesOf(object.spec?.resources?.requests?.storage);
  if (bound && before !== undefined && after !== undefined && after < before) {
    errors.push(forbiddenField('spec.resources.requests.storage', 'field can not be less than status.capacity'));
  }
}

/** Throws the 422 Invalid error listing every problem, like the real server. */
function validateObject(type: ResourceType, object: KubeObject, old: KubeObject | undefined): void {
  const errors: FieldError[] = [];
  validateMetadata(type, object, errors);
  validateShape(type, object, errors);
  if (old) validateImmutable(type, object, old, errors);
  if (errors.length > 0) throw invalid(type, object.metadata.name ?? '', errors);
}

/** Create: the server's uid goes in first, because Job defaults derive labels from it. */
/** The finalizer that keeps a claim while pods use it. */
export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';

export function admitCreate(type: ResourceType, input: KubeObject, context: AdmissionContext): KubeObject {
  const object = clone(input);
  object.metadata.uid = randomUUID();
  if (type.statusSubresource) delete object.status;
  applyDefaults(type, object, context, undefined);
  const namespace = object.metadata.namespace;
  const inNamespace = (resource: string): KubeObject[] => context.listInNamespace?.(resource, namespace) ?? [];
  const limitRanges = type.resource === 'pods' ? inNamespace('limitranges') : [];
  // mutating admission, in plugin order: LimitRanger's defaults, then webhooks (a mesh's injector)
  applyLimitRangeDefaults(type, object, limitRanges);
  injectSidecar(type, object, context.namespaceLabels?.(namespace));
  validateObject(type, object, undefined);
  // validating admission runs after the object validated, in plugin order: LimitRanger,
  // PodSecurity, ResourceQuota (compute-resources.ts, pod-security.ts)
  const refused =
    enforceLimitRanges(type, object, limitRanges) ??
    enforcePodSecurity(type, object, context.namespaceLabels?.(namespace)) ??
    (type.resource === 'pods' ? enforcePodQuotas(type, object, inNamespace('resourcequotas'), inNamespace('pods')) : undefined);
  if (refused) throw refused;
  // The StorageObjectInUseProtection admission plugin gives every new claim the pvc-protection
  // finalizer unless it has it already (kubernetes plugin/pkg/admission/storage/
  // storageobjectinuseprotection/admission.go admitPVC: a handler for Create only, the main
  // resource only, appended after the claim's own finalizers).
  if (type.resource === 'persistentvolumeclaims') {
    const finalizers: string[] = object.metadata.finalizers ?? [];
    if (!finalizers.includes(PVC_PROTECTION)) object.metadata.finalizers = [...finalizers, PVC_PROTECTION];
  }
  return object;
}

/** Update of the main resource: status stays as stored when the type has a status subresource. */
export function admitUpdate(type: ResourceType, input: KubeObject, old: KubeObject, context: AdmissionContext): KubeObject {
  const object = clone(input);
  object.metadata.uid = old.metadata.uid;
  if (type.statusSubresource) {
    if (old.status === undefined) delete object.status;
    else object.status = clone(old.status);
  }
  applyDefaults(type, object, context, old);
  validateObject(type, object, old);
  return object;
}
