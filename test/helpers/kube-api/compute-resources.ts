import { isPlainObject, type KubeObject } from './objects.js';
import { addQuantities, compareQuantities, formatQuantity, prettyPrint, resourceListOf, zeroQuantity, type Quantity, type ResourceList } from './quantity.js';
import type { ResourceType } from './resources.js';
import { forbidden, type ApiError } from './status.js';

/**
 * Pod admission on compute resources: the LimitRanger plugin (defaults, then min/max) and the
 * ResourceQuota plugin for compute resources and pod counts. A refused pod gets 403 Forbidden,
 * so a controller never gets it (FailedCreate events, a ReplicaSet's ReplicaFailure).
 *
 * Followed (kubernetes/kubernetes):
 * - pkg/apis/core/v1/defaults.go SetDefaults_Pod: a container's limit without a request
 *   becomes its request too (pods only, not templates).
 * - plugin/pkg/admission/limitranger/admission.go: mutating, for each LimitRange in turn, the
 *   `default`/`defaultRequest` of its `type: Container` items fill in what a container (and an
 *   init container) leaves out, noted in the `kubernetes.io/limit-ranger` annotation
 *   (mergeContainerResources); validating (PodValidateLimitFunc), `min` and `max` per container:
 *   `minimum cpu usage per Container is 100m, but request is 10m`, `maximum cpu usage per
 *   Container is 500m, but limit is 1`, `maximum memory usage per Container is 1Gi.  No limit
 *   is specified` (two spaces, as upstream), several joined as utilerrors' aggregate
 *   `[a, b]`. Resource names are taken in sorted order (Go ranges over a map). Not modelled:
 *   `maxLimitRequestRatio`, `type: Pod` and `type: PersistentVolumeClaim` items.
 * - pkg/quota/v1/evaluator/core/pods.go: the resources a pod is charged (`pods`, `count/pods`,
 *   `cpu`/`requests.cpu`, `limits.cpu`, the same for memory and ephemeral-storage;
 *   podComputeUsageHelper), terminal pods charged only `count/pods` (PodUsageFunc), and
 *   Constraints: a quota on cpu or memory makes every container declare it, else
 *   `must specify limits.cpu for: app; requests.memory for: app,init`.
 * - staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go checkRequest:
 *   `failed quota: <name>: <Constraints error>`, then for each quota `exceeded quota: <name>,
 *   requested: …, used: …, limited: …` naming only the exceeded resources. `used` is counted
 *   from the pods in the store, as a quota controller that has caught up would report it.
 * Order within admission (pkg/kubeapiserver/options/plugins.go AllOrderedPlugins): LimitRanger
 * mutates before webhooks (a mesh injector), and validates before PodSecurity and
 * ResourceQuota.
 */

interface Container {
  name?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

function containersOf(pod: KubeObject): Array<{ container: Container; init: boolean }> {
  const list = (value: unknown): Container[] => (Array.isArray(value) ? value.filter(isPlainObject) : []) as Container[];
  return [...list(pod.spec?.containers).map((container) => ({ container, init: false })), ...list(pod.spec?.initContainers).map((container) => ({ container, init: true }))];
}

/** SetDefaults_Pod: requests default to limits, per container. */
export function defaultPodRequests(pod: KubeObject): void {
  for (const list of [pod.spec?.containers, pod.spec?.initContainers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list as Container[]) {
      if (!isPlainObject(c?.resources?.limits)) continue;
      const requests = (c.resources!.requests ??= {});
      for (const [name, value] of Object.entries(c.resources!.limits!)) if (!(name in requests)) requests[name] = value;
    }
  }
}

// ---------------------------------------------------------------- LimitRanger

/**
 * SetDefaults_LimitRangeItem (pkg/apis/core/v1/defaults.go), on the stored LimitRange: a
 * `type: Container` item's `default` limit falls back to its `max`, its `defaultRequest` to
 * `default`, then to `min`. So a container without a limit gets the maximum as its limit.
 */
export function defaultLimitRange(limitRange: KubeObject): void {
  for (const item of itemsOf(limitRange)) {
    if (item.type !== 'Container') continue;
    const defaults = (item.default ??= {});
    const requests = (item.defaultRequest ??= {});
    for (const [name, value] of Object.entries(item.max ?? {})) if (!(name in defaults)) defaults[name] = value;
    for (const [name, value] of Object.entries(defaults)) if (!(name in requests)) requests[name] = value;
    for (const [name, value] of Object.entries(item.min ?? {})) if (!(name in requests)) requests[name] = value;
  }
}

interface LimitItem {
  type?: string;
  default?: Record<string, unknown>;
  defaultRequest?: Record<string, unknown>;
  min?: Record<string, unknown>;
  max?: Record<string, unknown>;
}

const itemsOf = (limitRange: KubeObject): LimitItem[] => (Array.isArray(limitRange.spec?.limits) ? limitRange.spec.limits.filter(isPlainObject) : []);

/** The mutating half: each LimitRange's container defaults, and the annotation saying what was set. */
export function applyLimitRangeDefaults(type: ResourceType, pod: KubeObject, limitRanges: readonly KubeObject[]): void {
  if (type.resource !== 'pods') return;
  for (const limitRange of limitRanges) {
    const requests: Record<string, unknown> = {};
    const limits: Record<string, unknown> = {};
    for (const item of itemsOf(limitRange)) {
      if (item.type !== 'Container') continue;
      Object.assign(requests, item.defaultRequest ?? {});
      Object.assign(limits, item.default ?? {});
    }
    const notes: string[] = [];
    for (const { container, init } of containersOf(pod)) {
      const resources = (container.resources ??= {});
      const setLimits = fillIn((resources.limits ??= {}), limits);
      const setRequests = fillIn((resources.requests ??= {}), requests);
      // empty maps are omitted when the pod is stored (omitempty)
      if (Object.keys(resources.limits!).length === 0) delete resources.limits;
      if (Object.keys(resources.requests!).length === 0) delete resources.requests;
      const who = `${init ? 'init container' : 'container'} ${container.name}`;
      if (setRequests.length > 0) notes.push(`${setRequests.join(', ')} request for ${who}`);
      if (setLimits.length > 0) notes.push(`${setLimits.join(', ')} limit for ${who}`);
    }
    // containers come before init containers in the annotation, as in mergePodResourceRequirements
    if (notes.length > 0) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), 'kubernetes.io/limit-ranger': `LimitRanger plugin set: ${notes.join('; ')}` };
  }
}

function fillIn(target: Record<string, unknown>, defaults: Record<string, unknown>): string[] {
  const set = Object.keys(defaults)
    .filter((name) => !(name in target))
    .sort();
  for (const name of set) target[name] = defaults[name];
  return set;
}

/** The validating half: the first LimitRange a container breaks refuses the pod. */
export function enforceLimitRanges(type: ResourceType, pod: KubeObject, limitRanges: readonly KubeObject[]): ApiError | undefined {
  if (type.resource !== 'pods') return undefined;
  for (const limitRange of limitRanges) {
    const errors: string[] = [];
    for (const item of itemsOf(limitRange)) {
      if (item.type !== 'Container') continue;
      const min = resourceListOf(item.min);
      const max = resourceListOf(item.max);
      // containers, then init containers, as PodValidateLimitFunc walks them
      for (const { container } of containersOf(pod)) {
        const requests = resourceListOf(container.resources?.requests);
        const limits = resourceListOf(container.resources?.limits);
        for (const name of [...min.keys()].sort()) pushIf(errors, minConstraint(name, min.get(name)!, requests, limits));
        for (const name of [...max.keys()].sort()) pushIf(errors, maxConstraint(name, max.get(name)!, requests, limits));
      }
    }
    const unique = [...new Set(errors)];
    if (unique.length > 0) return forbidden(type, pod.metadata.name, unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`);
  }
  return undefined;
}

function pushIf(errors: string[], error: string | undefined): void {
  if (error) errors.push(error);
}

function minConstraint(name: string, enforced: Quantity, requests: ResourceList, limits: ResourceList): string | undefined {
  const request = requests.get(name);
  const limit = limits.get(name);
  if (!request) return `minimum ${name} usage per Container is ${formatQuantity(enforced)}.  No request is specified`;
  if (compareQuantities(request, enforced) < 0) return `minimum ${name} usage per Container is ${formatQuantity(enforced)}, but request is ${formatQuantity(request)}`;
  if (limit && compareQuantities(limit, enforced) < 0) return `minimum ${name} usage per Container is ${formatQuantity(enforced)}, but limit is ${formatQuantity(limit)}`;
  return undefined;
}

function maxConstraint(name: string, enforced: Quantity, requests: ResourceList, limits: ResourceList): string | undefined {
  const request = requests.get(name);
  const limit = limits.get(name);
  if (!limit) return `maximum ${name} usage per Container is ${formatQuantity(enforced)}.  No limit is specified`;
  if (compareQuantities(limit, enforced) > 0) return `maximum ${name} usage per Container is ${formatQuantity(enforced)}, but limit is ${formatQuantity(limit)}`;
  if (request && compareQuantities(request, enforced) > 0) return `maximum ${name} usage per Container is ${formatQuantity(enforced)}, but request is ${formatQuantity(request)}`;
  return undefined;
}

// ---------------------------------------------------------------- ResourceQuota on pods

const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'];
const POD_RESOURCES = new Set(['pods', 'count/pods', ...COMPUTE, ...COMPUTE.flatMap((r) => [`requests.${r}`, `limits.${r}`])]);
/** pods.go validationSet: "it was a mistake, but" a quota on these makes every container declare them. */
const MUST_DECLARE = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']);

/** podComputeUsageHelper: what a container (or a pod's totals) is charged. */
function computeUsage(requests: ResourceList, limits: ResourceList): ResourceList {
  const usage: ResourceList = new Map([['pods', { nanos: 1_000_000_000n, format: 'DecimalSI' }]]);
  for (const resource of COMPUTE) {
    const request = requests.get(resource);
    const limit = limits.get(resource);
    if (request) {
      usage.set(resource, request);
      usage.set(`requests.${resource}`, request);
    }
    if (limit) usage.set(`limits.${resource}`, limit);
  }
  return usage;
}

function addLists(a: ResourceList, b: ResourceList): ResourceList {
  const sum = new Map(a);
  for (const [name, q] of b) sum.set(name, sum.has(name) ? addQuantities(sum.get(name)!, q) : q);
  return sum;
}

const isTerminal = (pod: KubeObject): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** PodUsageFunc: `count/pods` always; the rest only while the pod has not finished. Requests sum over containers, an init container counts if it asks for more. */
function podUsage(pod: KubeObject): ResourceList {
  const one = { nanos: 1_000_000_000n, format: 'DecimalSI' as const };
  if (isTerminal(pod)) return new Map([['count/pods', one]]);
  let requests: ResourceList = new Map();
  let limits: ResourceList = new Map();
  const inits: Array<[ResourceList, ResourceList]> = [];
  for (const { container, init } of containersOf(pod)) {
    const r = resourceListOf(container.resources?.requests);
    const l = resourceListOf(container.resources?.limits);
    if (init) inits.push([r, l]);
    else {
      requests = addLists(requests, r);
      limits = addLists(limits, l);
    }
  }
  for (const [r, l] of inits) {
    for (const [list, init] of [[requests, r], [limits, l]] as const) {
      for (const [name, q] of init) if (!list.has(name) || compareQuantities(q, list.get(name)!) > 0) list.set(name, q);
    }
  }
  return new Map([['count/pods', one], ...computeUsage(requests, limits)]);
}

/** The 403 a pod gets from the namespace's quotas on pods and compute resources, or undefined. */
export function enforcePodQuotas(type: ResourceType, pod: KubeObject, quotas: readonly KubeObject[], pods: readonly KubeObject[]): ApiError | undefined {
  if (type.resource !== 'pods') return undefined;
  const sorted = [...quotas].sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
  const relevant = sorted.map((quota) => ({ quota, hard: resourceListOf(quota.spec?.hard) })).filter(({ hard }) => [...hard.keys()].some((r) => POD_RESOURCES.has(r)));
  for (const { quota, hard } of relevant) {
    const missing = missingDeclarations(pod, [...hard.keys()].filter((r) => MUST_DECLARE.has(r)));
    if (missing) return forbidden(type, pod.metadata.name, `failed quota: ${quota.metadata.name}: must specify ${missing}`);
  }
  const delta = podUsage(pod);
  const charged = pods.map(podUsage);
  for (const { quota, hard } of relevant) {
    const requested: ResourceList = new Map([...delta].filter(([name]) => hard.has(name)));
    // a quota controller's usage starts at zero for every resource the quota limits
    const used: ResourceList = new Map([...hard.keys()].filter((r) => POD_RESOURCES.has(r)).map((r) => [r, zeroQuantity()]));
    for (const usage of charged) for (const [name, q] of usage) if (used.has(name)) used.set(name, addQuantities(used.get(name)!, q));
    const exceeded = [...requested.keys()].filter((name) => compareQuantities(addQuantities(used.get(name) ?? zeroQuantity(), requested.get(name)!), hard.get(name)!) > 0);
    if (exceeded.length === 0) continue;
    const mask = (list: ResourceList): ResourceList => new Map(exceeded.filter((n) => list.has(n)).map((n) => [n, list.get(n)!]));
    return forbidden(type, pod.metadata.name, `exceeded quota: ${quota.metadata.name}, requested: ${prettyPrint(mask(requested))}, used: ${prettyPrint(mask(used))}, limited: ${prettyPrint(mask(hard))}`);
  }
  return undefined;
}

/** pods.go Constraints: `limits.cpu for: app; requests.memory for: app,init`, or undefined when every container declares what the quota needs. */
function missingDeclarations(pod: KubeObject, required: string[]): string | undefined {
  if (required.length === 0) return undefined;
  const missing = new Map<string, Set<string>>();
  for (const { container } of containersOf(pod)) {
    const declared = computeUsage(resourceListOf(container.resources?.requests), resourceListOf(container.resources?.limits));
    for (const resource of required) {
      if (declared.has(resource)) continue;
      if (!missing.has(resource)) missing.set(resource, new Set());
      missing.get(resource)!.add(String(container.name));
    }
  }
  if (missing.size === 0) return undefined;
  return [...missing.keys()]
    .sort()
    .map((resource) => `${resource} for: ${[...missing.get(resource)!].sort().join(',')}`)
    .join('; ');
}
