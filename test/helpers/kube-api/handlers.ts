import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { admitCreate, admitUpdate, type AdmissionContext } from './admission.js';
import { typedConversionErrors, typedPatchMessage } from './apply-schema.js';
import { applyConfiguration, trackUpdate } from './apply.js';
import { isAllowed, type KubeUser, type UserRegistry } from './auth.js';
import type { Controllers } from './controllers.js';
import { asObject, mediaTypeOf, parseDocument, sendText } from './http-io.js';
import { clone, formatTime, isPlainObject, randomSuffix, type KubeObject } from './objects.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.js';
import { renderLog, type PodLogs } from './pod-logs.js';
import type { ResourceRequest } from './request-info.js';
import { groupVersionOf, resolveResourceType, type ResourceType, type Verb } from './resources.js';
import { compileFieldSelector, compileLabelSelector } from './selectors.js';
import { alreadyExists, ApiError, badRequest, forbidden, notFound, unsupportedMediaType, updateConflict } from './status.js';
import { checkQuota } from './quota.js';
import { scaledParent, scaleOf } from './scale.js';
import { checkEscalation } from './rbac-escalation.js';
import type { ObjectStore } from './store.js';
import { toTable, wantsTable, type IncludeObject } from './table.js';
import { removeUnknownFields, type FieldValidation } from './unknown-fields.js';
import { serveWatch } from './watch.js';

/** Everything the request handlers share. */
export interface ServerState {
  store: ObjectStore;
  users: UserRegistry;
  logs: PodLogs;
  controllers: Controllers;
  admission: AdmissionContext;
  openWatches: Set<() => void>;
}

export interface ResourceCall {
  state: ServerState;
  target: ResourceRequest;
  user: KubeUser;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  response: ServerResponse;
}

/** A JSON answer, or undefined when the handler streamed its own (watch, logs). */
export type HandlerResult = { code: number; body: unknown; headers?: Record<string, string> } | undefined;

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const NAMESPACES = resolveResourceType('namespaces');

function ok(body: unknown, code = 200, headers?: Record<string, string>): HandlerResult {
  return { code, body, headers };
}

/** The real server's default field manager: the user agent up to the first '/'. */
function managerFor(call: ResourceCall): string {
  const explicit = call.query.get('fieldManager');
  if (explicit) {
    if (explicit.length > 128) throw badRequest(`fieldManager: Too long: may not be more than 128 bytes`);
    return explicit;
  }
  const agent = String(call.headers['user-agent'] ?? '');
  return agent.split('/')[0].slice(0, 128) || 'unknown';
}

function isDryRun(call: ResourceCall): boolean {
  const values = call.query.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw badRequest(`Invalid dry run value: ${JSON.stringify(v)}; supported values: "All"`);
  return values.length > 0;
}

function fieldValidationOf(call: ResourceCall): FieldValidation {
  const value = call.query.get('fieldValidation') ?? 'Warn';
  if (value !== 'Strict' && value !== 'Warn' && value !== 'Ignore') throw badRequest(`fieldValidation parameter unsupported: ${JSON.stringify(value)}`);
  return value;
}

/** Unknown fields: 400 when Strict, else Warning headers (always removed before storing). */
function screenUnknownFields(call: ResourceCall, object: KubeObject, apply: boolean): Record<string, string> {
  const unknown = removeUnknownFields(call.target.type, object);
  if (unknown.length === 0) return {};
  const mode = fieldValidationOf(call);
  if (mode === 'Strict') {
    throw badRequest(apply ? unknown.map((f) => `.${f}: field not declared in schema`).join(', ') : `strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
  }
  return mode === 'Warn' ? { Warning: unknown.map((f) => `299 - "unknown field \\"${f}\\""`).join(', ') } : {};
}

function requireNamespace(state: ServerState, namespace: string | undefined): void {
  if (namespace !== undefined && !state.store.get(NAMESPACES, undefined, namespace)) throw notFound(NAMESPACES, namespace);
}

/** kind, apiVersion, name and namespace of a body must agree with the URL; missing ones are filled in. */
function checkIdentity(call: ResourceCall, object: KubeObject, requireKind: boolean): void {
  const { type, namespace, name } = call.target;
  const expected = groupVersionOf(type);
  if ((object.kind !== undefined || requireKind) && object.kind !== type.kind) {
    throw badRequest(`${object.kind ?? 'Object'} in version "${object.apiVersion ?? ''}" cannot be handled as a ${type.kind}: the object provided is unrecognized (must be of type ${type.kind})`);
  }
  if ((object.apiVersion !== undefined || requireKind) && object.apiVersion !== expected) {
    throw badRequest(`the API version in the data (${object.apiVersion ?? ''}) does not match the expected API version (${expected})`);
  }
  object.kind = type.kind;
  object.apiVersion = expected;
  if (type.namespaced) {
    if (object.metadata.namespace !== undefined && object.metadata.namespace !== '' && object.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    object.metadata.namespace = namespace;
  }
  if (name !== undefined) {
    if (object.metadata.name !== undefined && object.metadata.name !== name) {
      throw badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`);
    }
    object.metadata.name = name;
  }
}

/** What a dry run answers: the object as it would be stored, nothing stored. */
function preview(type: ResourceType, object: KubeObject, live: KubeObject | undefined): KubeObject {
  const result = clone(object);
  result.apiVersion = groupVersionOf(type);
  result.kind = type.kind;
  result.metadata.creationTimestamp = live?.metadata.creationTimestamp ?? formatTime(Date.now());
  if (live) {
    result.metadata.uid = live.metadata.uid;
    result.metadata.resourceVersion = live.metadata.resourceVersion;
    if (type.generation) result.metadata.generation = live.metadata.generation;
  } else if (type.generation) {
    result.metadata.generation = 1;
  }
  return result;
}

function listItems(call: ResourceCall): KubeObject[] {
  const { type, namespace } = call.target;
  const labels = compileLabelSelector(call.query.get('labelSelector') ?? undefined);
  const fields = compileFieldSelector(type.resource, call.query.get('fieldSelector') ?? undefined);
  return call.state.store.list(type, namespace).filter((o) => labels(o.metadata.labels) && fields(o));
}

function withoutTypeMeta(object: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = object;
  return rest as KubeObject;
}

function get(call: ResourceCall): HandlerResult {
  const { type, namespace, name } = call.target;
  const object = call.state.store.get(type, namespace, name ?? '');
  if (!object) throw notFound(type, name ?? '');
  if (wantsTable(call.headers.accept)) {
    return ok(toTable(type, [object], { includeObject: includeObjectOf(call), now: Date.now() }));
  }
  return ok(object);
}

function includeObjectOf(call: ResourceCall): IncludeObject {
  const value = call.query.get('includeObject') ?? 'Metadata';
  if (value !== 'None' && value !== 'Metadata' && value !== 'Object') throw badRequest(`includeObject: Unsupported value: "${value}"`);
  return value;
}

function list(call: ResourceCall): HandlerResult {
  const { type } = call.target;
  const all = listItems(call);
  const limit = Number(call.query.get('limit') ?? 0);
  const offset = call.query.get('continue') ? Number(Buffer.from(call.query.get('continue')!, 'base64url').toString()) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw new ApiError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
  const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
  const remaining = all.length - offset - items.length;
  const metadata: Record<string, unknown> = { resourceVersion: String(call.state.store.resourceVersion) };
  if (limit > 0 && remaining > 0) {
    metadata.continue = Buffer.from(String(offset + items.length)).toString('base64url');
    metadata.remainingItemCount = remaining;
  }
  if (wantsTable(call.headers.accept)) {
    const table = toTable(type, items, { includeObject: includeObjectOf(call), resourceVersion: String(call.state.store.resourceVersion), now: Date.now() });
    return ok({ ...table, metadata });
  }
  return ok({ kind: `${type.kind}List`, apiVersion: groupVersionOf(type), metadata, items: items.map(withoutTypeMeta) });
}

function watch(call: ResourceCall): HandlerResult {
  const { type, namespace } = call.target;
  const labels = compileLabelSelector(call.query.get('labelSelector') ?? undefined);
  const fields = compileFieldSelector(type.resource, call.query.get('fieldSelector') ?? undefined);
  const timeout = call.query.get('timeoutSeconds');
  serveWatch(
    call.response,
    call.state.store,
    {
      type,
      namespace,
      matches: (o) => labels(o.metadata.labels) && fields(o),
      resourceVersion: call.query.get('resourceVersion') ?? undefined,
      sendInitialEvents: call.query.get('sendInitialEvents') === 'true',
      allowBookmarks: call.query.get('allowWatchBookmarks') === 'true',
      timeoutSeconds: timeout ? Number(timeout) : undefined,
    },
    call.state.openWatches,
  );
  return undefined;
}

function create(call: ResourceCall): HandlerResult {
  const { type, namespace } = call.target;
  const object = asObject(parseDocument(call.body, mediaTypeOf(call.headers)));
  checkIdentity(call, object, false);
  const warnings = screenUnknownFields(call, object, false);
  if (!object.metadata.name && object.metadata.generateName) object.metadata.name = `${object.metadata.generateName}${randomSuffix()}`;
  requireNamespace(call.state, namespace);
  if (object.metadata.name && call.state.store.get(type, namespace, object.metadata.name)) throw alreadyExists(type, object.metadata.name);
  for (const field of ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'managedFields']) delete object.metadata[field];
  const admitted = admitCreate(type, object, call.state.admission);
  checkEscalation(call.state.store, call.user, type, admitted);
  checkQuota(call.state.store, type, admitted);
  trackUpdate({ live: undefined, result: admitted, manager: managerFor(call), apiVersion: groupVersionOf(type), now: formatTime(Date.now()) });
  if (isDryRun(call)) return ok(preview(type, admitted, undefined), 201, warnings);
  return ok(call.state.store.insert(type, admitted), 201, warnings);
}

/** Store an updated object of the main resource or of its status subresource. */
function commitUpdate(call: ResourceCall, live: KubeObject, next: KubeObject, tracked: boolean): KubeObject {
  const { type, subresource } = call.target;
  let result: KubeObject;
  if (subresource === 'status') {
    result = clone(live);
    result.status = next.status;
    result.metadata.managedFields = next.metadata.managedFields;
  } else {
    result = admitUpdate(type, next, live, call.state.admission);
    checkEscalation(call.state.store, call.user, type, result);
  }
  if (!tracked) trackUpdate({ live, result, manager: managerFor(call), apiVersion: groupVersionOf(type), now: formatTime(Date.now()), subresource });
  // Being deleted stays being deleted: an update cannot set or clear deletionTimestamp, and the
  // update that removes the last finalizer of such an object deletes it
  // (apiserver registry/generic/registry/store.go Update → ShouldDeleteDuringUpdate; the object
  // is returned as it was last stored).
  if (live.metadata.deletionTimestamp !== undefined) {
    result.metadata.deletionTimestamp = live.metadata.deletionTimestamp;
    result.metadata.deletionGracePeriodSeconds = live.metadata.deletionGracePeriodSeconds;
  } else {
    delete result.metadata.deletionTimestamp;
    delete result.metadata.deletionGracePeriodSeconds;
  }
  if (isDryRun(call)) return preview(type, result, live);
  if (result.metadata.deletionTimestamp !== undefined && (result.metadata.finalizers ?? []).length === 0) {
    return call.state.store.remove(type, result.metadata.namespace, result.metadata.name ?? '') ?? result;
  }
  return call.state.store.replace(type, result);
}

function update(call: ResourceCall): HandlerResult {
  const { type, namespace, name } = call.target;
  const object = asObject(parseDocument(call.body, mediaTypeOf(call.headers)));
  checkIdentity(call, object, false);
  const warnings = screenUnknownFields(call, object, false);
  const live = call.state.store.get(type, namespace, name ?? '');
  if (!live) throw notFound(type, name ?? '');
  const version = object.metadata.resourceVersion;
  if (version !== undefined && version !== '' && version !== live.metadata.resourceVersion) throw updateConflict(type, name ?? '');
  if (object.metadata.uid !== undefined && object.metadata.uid !== '' && object.metadata.uid !== live.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${object.metadata.uid}, UID in object meta: ${live.metadata.uid}`);
  }
  return ok(commitUpdate(call, live, object, false), 200, warnings);
}

function patch(call: ResourceCall): HandlerResult {
  const { type, namespace, name, subresource } = call.target;
  const mediaType = mediaTypeOf(call.headers);
  if (!PATCH_TYPES.includes(mediaType)) throw unsupportedMediaType(mediaType, PATCH_TYPES);
  const document = parseDocument(call.body, mediaType);
  const live = call.state.store.get(type, namespace, name ?? '');

  if (mediaType === 'application/apply-patch+yaml') {
    const manager = call.query.get('fieldManager');
    if (!manager) throw badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply requests');
    const force = call.query.get('force') === 'true';
    const applied = asObject(document);
    checkIdentity(call, applied, true);
    // Apply converts the configuration to its typed schema first: unknown fields and duplicate
    // list keys fail that conversion with a 500 (Strict still answers top-level unknowns 400 first).
    const typedErrors = typedConversionErrors(type, applied);
    const warnings = screenUnknownFields(call, applied, true);
    // Converting to the typed schema happens in the patcher, before the store checks preconditions.
    if (typedErrors.length > 0) throw new ApiError(500, '', typedPatchMessage(type, applied, typedErrors));
    // A resourceVersion in the applied configuration is a precondition, as on any update:
    // genericregistry Store.Update (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go)
    // answers 409 with OptimisticLockErrorMsg when it is not the live one. Creating ignores it
    // (ConfigMaps are created as applied, kubernetes/kubernetes#106745).
    const precondition = applied.metadata.resourceVersion;
    if (live && typeof precondition === 'string' && precondition !== '' && precondition !== live.metadata.resourceVersion) throw updateConflict(type, name ?? '');
    if (!live) {
      if (subresource) throw notFound(type, name ?? '');
      requireNamespace(call.state, namespace);
      // An apply that creates needs `create` too, checked once the object turns out to be
      // missing; RBAC's refusal has no reason text, so the message ends after "forbidden: "
      // (apiserver endpoints/handlers/patch.go, withAuthorization on createValidation).
      if (!isAllowed(call.user, { verb: 'create', type, namespace, name })) throw forbidden(type, name, '');
    }
    const result = applyConfiguration({
      live,
      applied,
      manager,
      force,
      apiVersion: groupVersionOf(type),
      now: formatTime(Date.now()),
      subresource,
      ignoreStatus: Boolean(type.statusSubresource),
    });
    if (!live) {
      const admitted = admitCreate(type, result, call.state.admission);
      admitted.metadata.managedFields = result.metadata.managedFields;
      checkEscalation(call.state.store, call.user, type, admitted);
      checkQuota(call.state.store, type, admitted);
      if (isDryRun(call)) return ok(preview(type, admitted, undefined), 201, warnings);
      return ok(call.state.store.insert(type, admitted), 201, warnings);
    }
    return ok(commitUpdate(call, live, result, true), 200, warnings);
  }

  if (!live) throw notFound(type, name ?? '');
  let patched: unknown;
  if (mediaType === 'application/json-patch+json') patched = applyJsonPatch(live, document);
  else if (mediaType === 'application/merge-patch+json') patched = applyMergePatch(live, document);
  else patched = applyStrategicMergePatch(live, document);
  const object = asObject(patched);
  if (object.metadata.name !== live.metadata.name) throw badRequest(`the name of the object (${String(object.metadata.name)}) does not match the name on the URL (${name})`);
  if (object.metadata.resourceVersion !== live.metadata.resourceVersion && isPlainObject(document) && isPlainObject(document.metadata) && 'resourceVersion' in document.metadata) {
    throw updateConflict(type, name ?? '');
  }
  const warnings = screenUnknownFields(call, object, false);
  object.metadata.managedFields = live.metadata.managedFields;
  return ok(commitUpdate(call, live, object, false), 200, warnings);
}

/** GET/PUT/PATCH …/scale: an autoscaling/v1 Scale view of the parent (scale.ts). */
function scale(call: ResourceCall): HandlerResult {
  const { type, namespace, name, verb } = call.target;
  const live = call.state.store.get(type, namespace, name ?? '');
  if (!live) throw notFound(type, name ?? '');
  if (verb === 'get') return ok(scaleOf(live));
  const mediaType = mediaTypeOf(call.headers);
  let requested: unknown;
  if (verb === 'update') {
    requested = parseDocument(call.body, mediaType);
  } else {
    const accepted = PATCH_TYPES.filter((t) => t !== 'application/apply-patch+yaml');
    if (!accepted.includes(mediaType)) throw unsupportedMediaType(mediaType, accepted);
    const document = parseDocument(call.body, mediaType);
    const current = scaleOf(live);
    if (mediaType === 'application/json-patch+json') requested = applyJsonPatch(current, document);
    else if (mediaType === 'application/merge-patch+json') requested = applyMergePatch(current, document);
    else requested = applyStrategicMergePatch(current, document);
  }
  return ok(scaleOf(commitUpdate(call, live, scaledParent(type, live, requested), false)));
}

function deleteOptionsOf(call: ResourceCall): { propagationPolicy?: string; preconditions?: { uid?: string; resourceVersion?: string } } {
  const text = call.body.toString('utf8').trim();
  const options = text ? (parseDocument(call.body, 'application/json') as Record<string, any>) : {};
  const policy = call.query.get('propagationPolicy') ?? options.propagationPolicy;
  if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
    throw badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
  }
  if (options.dryRun?.includes?.('All')) call.query.append('dryRun', 'All');
  return { propagationPolicy: policy, preconditions: options.preconditions };
}

/** Remove one object; dependents are collected by the controllers unless orphaned. */
function removeObject(call: ResourceCall, type: ResourceType, live: KubeObject, propagationPolicy: string | undefined): KubeObject {
  const { store } = call.state;
  // An object with finalizers is not removed: it gets deletionTimestamp (grace period 0) and
  // stays, answered 200 with the object, until its finalizers are gone; deleting it again
  // changes nothing (apiserver registry/generic/registry/store.go Delete →
  // updateForGracefulDeletionAndFinalizers, deletionFinalizersForGarbageCollection aside).
  if ((live.metadata.finalizers ?? []).length > 0) {
    if (live.metadata.deletionTimestamp !== undefined) return live;
    const marked = clone(live);
    marked.metadata.deletionTimestamp = formatTime(Date.now());
    marked.metadata.deletionGracePeriodSeconds = 0;
    return store.replace(type, marked);
  }
  // batch/v1 Jobs still default to orphaning their pods, as in the real API
  const policy = propagationPolicy ?? (type.resource === 'jobs' ? 'Orphan' : 'Background');
  if (policy === 'Orphan') {
    for (const dependentType of ['replicasets', 'pods', 'jobs']) {
      for (const dependent of store.list(resolveResourceType(dependentType), live.metadata.namespace)) {
        const refs = dependent.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === live.metadata.uid)) continue;
        dependent.metadata.ownerReferences = refs.filter((r) => r.uid !== live.metadata.uid);
        if (dependent.metadata.ownerReferences.length === 0) delete dependent.metadata.ownerReferences;
        store.replace(resolveResourceType(dependentType), dependent);
      }
    }
  }
  if (type.resource === 'namespaces') {
    const namespace = live.metadata.name;
    for (const t of ['pods', 'replicasets', 'deployments', 'statefulsets', 'jobs', 'cronjobs', 'services', 'configmaps', 'secrets', 'serviceaccounts', 'persistentvolumeclaims', 'events', 'ingresses', 'networkpolicies', 'poddisruptionbudgets', 'horizontalpodautoscalers', 'roles', 'rolebindings']) {
      const dependentType = resolveResourceType(t);
      for (const o of store.list(dependentType, namespace)) store.remove(dependentType, namespace, o.metadata.name ?? '');
    }
  }
  return store.remove(type, live.metadata.namespace, live.metadata.name ?? '') ?? live;
}

function del(call: ResourceCall): HandlerResult {
  const { type, namespace, name } = call.target;
  const live = call.state.store.get(type, namespace, name ?? '');
  if (!live) throw notFound(type, name ?? '');
  const options = deleteOptionsOf(call);
  const pre = options.preconditions ?? {};
  if (pre.uid && pre.uid !== live.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${type.resource} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${live.metadata.uid}`);
  }
  if (pre.resourceVersion && pre.resourceVersion !== live.metadata.resourceVersion) {
    throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${type.resource} "${name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${live.metadata.resourceVersion}`);
  }
  if (isDryRun(call)) return ok(live);
  return ok(removeObject(call, type, live, options.propagationPolicy));
}

function deleteCollection(call: ResourceCall): HandlerResult {
  const { type } = call.target;
  const options = deleteOptionsOf(call);
  const items = listItems(call);
  const deleted = isDryRun(call) ? items : items.map((item) => removeObject(call, type, item, options.propagationPolicy));
  return ok({ kind: `${type.kind}List`, apiVersion: groupVersionOf(type), metadata: { resourceVersion: String(call.state.store.resourceVersion) }, items: deleted.map(withoutTypeMeta) });
}

function waitingText(reason: string): string {
  return reason === 'ImagePullBackOff' || reason === 'ErrImagePull' ? 'trying and failing to pull image' : reason;
}

/** GET …/pods/<name>/log: text/plain, as the kubelet serves it through the API server. */
function podLog(call: ResourceCall): HandlerResult {
  const { type, namespace, name } = call.target;
  const pod = call.state.store.get(type, namespace, name ?? '');
  if (!pod) throw notFound(type, name ?? '');
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c: { name: string }) => c.name);
  // pkg/registry/core/pod/strategy.go LogLocation: without `container` the pod must have exactly one
  // (regular) container. The `kubectl.kubernetes.io/default-container` annotation is read by
  // kubectl, not by the server, so it does not help a client that names no container.
  let container = call.query.get('container');
  if (!container) {
    const regular = (pod.spec?.containers ?? []).map((c: { name: string }) => c.name);
    const init = (pod.spec?.initContainers ?? []).map((c: { name: string }) => c.name);
    if (regular.length !== 1) {
      const initPart = init.length > 0 ? ` or one of the init containers: [${init.join(' ')}]` : '';
      throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${regular.join(' ')}]${initPart}`);
    }
    container = regular[0] as string;
  }
  if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  const status = (pod.status?.containerStatuses ?? []).find((s: { name: string }) => s.name === container);
  const waiting = status?.state?.waiting?.reason as string | undefined;
  if (waiting && waiting !== 'CrashLoopBackOff') throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${waitingText(waiting)}`);
  const number = (key: string): number | undefined => (call.query.get(key) === null ? undefined : Number(call.query.get(key)));
  const entry = call.state.logs.get(namespace ?? '', name ?? '', container) ?? { text: '', at: Date.now() };
  sendText(call.response, 200, renderLog(entry, { tailLines: number('tailLines'), limitBytes: number('limitBytes'), timestamps: call.query.get('timestamps') === 'true' }));
  return undefined;
}

/** POST selfsubjectaccessreviews: `kubectl auth can-i` against the same rules as every request. */
function selfSubjectAccessReview(call: ResourceCall): HandlerResult {
  const review = asObject(parseDocument(call.body, mediaTypeOf(call.headers)));
  const attributes = review.spec?.resourceAttributes;
  const nonResource = review.spec?.nonResourceAttributes;
  // every authenticated user may read discovery and /version (system:discovery)
  let allowed = isPlainObject(nonResource) && nonResource.verb === 'get' && /^\/(version|api|apis|openapi)(\/|$)/.test(String(nonResource.path ?? ''));
  if (isPlainObject(attributes)) {
    const group = String(attributes.group ?? '');
    const resource = String(attributes.resource ?? '');
    const matched = (() => {
      try {
        return resolveResourceType(group ? `${resource}.${group}` : resource);
      } catch {
        return undefined;
      }
    })();
    allowed = isAllowed(call.user, {
      verb: String(attributes.verb ?? '') as Verb,
      type: matched ?? { group, resource, kind: '' },
      subresource: attributes.subresource ? String(attributes.subresource) : undefined,
      namespace: attributes.namespace ? String(attributes.namespace) : undefined,
      name: attributes.name ? String(attributes.name) : undefined,
    });
  }
  return ok(
    { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: review.spec ?? {}, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed by the test server' } : {}) } },
    201,
  );
}

export function handleResourceCall(call: ResourceCall): HandlerResult {
  const { verb, subresource, type } = call.target;
  if (type.resource === 'selfsubjectaccessreviews') return selfSubjectAccessReview(call);
  if (subresource === 'log') return podLog(call);
  if (subresource === 'scale') return scale(call);
  switch (verb) {
    case 'get':
      return get(call);
    case 'list':
      return list(call);
    case 'watch':
      return watch(call);
    case 'create':
      return create(call);
    case 'update':
      return update(call);
    case 'patch':
      return patch(call);
    case 'delete':
      return del(call);
    case 'deletecollection':
      return deleteCollection(call);
  }
}
