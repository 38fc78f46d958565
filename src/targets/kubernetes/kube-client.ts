/**
 * The requests the driver makes, all inside one namespace, and the one place that turns an API
 * server's answer into an error a person can act on (who was refused what, which field
 * manager holds which field). Nothing here lists or watches at cluster scope.
 */
import { ClusterError, InvalidInputError, UnreachableError, type OzgError, type OzgErrorOptions, type Problem } from '../../errors.js';
import { MAX_RETRIES, type KubeApi, type KubeResponse } from './kube-api.js';
import { resourcePath, type KindInfo } from './kinds.js';
import { describeObject, isRecord, type KubeObject } from './manifests.js';

/**
 * The field manager of one procedure: what it applied, it owns. One per procedure, so two
 * procedures of a site that define the same object get a conflict from the API server
 * instead of silently taking each other's fields.
 */
export function fieldManagerFor(procedure: string): string {
  return `ozg-${procedure}`;
}

/** The one field manager ozg used for every procedure before: its fields are taken over once. */
export const LEGACY_FIELD_MANAGER = 'ozg';

export interface ApplyOptions {
  /** the procedure's field manager (fieldManagerFor) */
  fieldManager: string;
  dryRun?: boolean;
  /**
   * On a conflict with this manager alone, take its fields over (force) and then drop its
   * claim on the object: the one-time migration from LEGACY_FIELD_MANAGER. A conflict with
   * any other manager is still an error.
   */
  takeOverFrom?: string;
  /**
   * `deploy --reinstall` and `verify`: take over fields another manager changed (kubectl edit);
   * a replica count held through the scale subresource stays refused unless it is a dry run
   */
  forceConflicts?: boolean;
  /** the manifest the object came from, so a schema error of the apply names file and field */
  source?: ManifestSource;
}

/** `antrag-formular/1.1.0/deployment.yaml`, its document number (0-based) and line. */
export interface ManifestSource {
  file: string;
  document: number;
  line?: number;
}

export interface KubeClient {
  readonly namespace: string;
  readonly server: string;
  /** the object, or undefined when it does not exist */
  get<T = KubeObject>(info: Pick<KindInfo, 'apiVersion' | 'plural'>, name: string): Promise<T | undefined>;
  list<T = KubeObject>(info: Pick<KindInfo, 'apiVersion' | 'plural'>, labelSelector?: string, fieldSelector?: string): Promise<T[]>;
  /** server-side apply as `options.fieldManager`, never forcing: a field held by another manager is an error naming it */
  apply(info: KindInfo, object: KubeObject, options: ApplyOptions): Promise<KubeObject>;
  /** create (POST) as `fieldManager`: 409 AlreadyExists when the name is taken, which apply would not say */
  create(info: KindInfo, object: KubeObject, options: { fieldManager: string }): Promise<KubeObject>;
  /** true when deleted, false when it was already gone */
  delete(info: Pick<KindInfo, 'apiVersion' | 'plural'>, name: string): Promise<boolean>;
  /** a pod's log (the last `tailLines`, or its first `limitBytes`), or undefined when the pod is gone */
  podLog(pod: string, options?: { tailLines?: number; limitBytes?: number; container?: string }): Promise<string | undefined>;
}

/** What a request tried to do, for messages: `patch configmaps/x`. */
interface Attempt {
  verb: string;
  resource: string;
  name?: string;
}

export function createKubeClient(api: KubeApi, namespace: string): KubeClient {
  return {
    namespace,
    server: api.server,

    async get<T>(info: Pick<KindInfo, 'apiVersion' | 'plural'>, name: string): Promise<T | undefined> {
      const attempt = { verb: 'get', resource: info.plural, name };
      const response = await api.request({ method: 'GET', path: resourcePath(info, namespace, name) });
      if (response.status === 404 && !isNamespaceMissing(response, namespace)) return undefined;
      if (!isOk(response.status)) throw describeFailure(response, attempt, namespace, undefined, api.server);
      return parseJson(response, attempt, namespace) as T;
    },

    async list<T>(info: Pick<KindInfo, 'apiVersion' | 'plural'>, labelSelector?: string, fieldSelector?: string): Promise<T[]> {
      const attempt = { verb: 'list', resource: info.plural };
      const response = await api.request({ method: 'GET', path: resourcePath(info, namespace), query: { labelSelector, ...(fieldSelector ? { fieldSelector } : {}) } });
      if (!isOk(response.status)) throw describeFailure(response, attempt, namespace, undefined, api.server);
      const list = parseJson(response, attempt, namespace);
      return (isRecord(list) && Array.isArray(list.items) ? list.items : []) as T[];
    },

    async apply(info: KindInfo, object: KubeObject, options: ApplyOptions): Promise<KubeObject> {
      const attempt = { verb: 'patch', resource: info.plural, name: object.metadata.name };
      const send = (body: KubeObject, fieldManager: string, force: boolean) =>
        api.request({
          method: 'PATCH',
          path: resourcePath(info, namespace, object.metadata.name),
          query: { fieldManager, force: String(force), ...(options.dryRun ? { dryRun: 'All' } : {}) },
          // JSON is YAML: the server reads exactly the data ozg checked, whatever YAML quirks the template had.
          body: JSON.stringify(body),
          contentType: 'application/apply-patch+yaml',
        });
      let response = await send(object, options.fieldManager, false);
      const takeOver = options.takeOverFrom;
      const holders = response.status === 409 && takeOver !== undefined ? conflictManagers(response) : [];
      if (holders.length > 0 && holders.every((m) => m === takeOver)) {
        response = await send(object, options.fieldManager, true);
      } else if (response.status === 409 && options.forceConflicts && (options.dryRun || !(parseStatus(response.body).details?.causes ?? []).some(isScaledReplicas))) {
        // the operator asked to put back what the release applied (an autoscaler's replicas excepted)
        response = await send(object, options.fieldManager, true);
      }
      if (response.status === 409) throw describeApplyConflict(response, object, namespace, options.fieldManager);
      if (response.status === 500 && options.source) {
        const schemaError = describeSchemaError(response, object, options.source);
        if (schemaError) throw schemaError;
      }
      if (!isOk(response.status)) throw describeFailure(response, attempt, namespace, object, api.server);
      let applied = parseJson(response, attempt, namespace) as KubeObject;
      // only once the procedure's manager holds the object, or the old one's fields would just vanish
      if (takeOver !== undefined && !options.dryRun && hasApplyManager(applied, takeOver) && hasApplyManager(applied, options.fieldManager)) {
        // The old manager applies an empty configuration: it gives up its fields, and only those
        // nobody else holds (ones the procedure dropped meanwhile) leave the object.
        const empty = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace } };
        const released = await send(empty, takeOver, false);
        if (!isOk(released.status)) throw describeFailure(released, attempt, namespace, object, api.server);
        applied = parseJson(released, attempt, namespace) as KubeObject;
      }
      return applied;
    },

    async create(info: KindInfo, object: KubeObject, options: { fieldManager: string }): Promise<KubeObject> {
      const attempt = { verb: 'create', resource: info.plural, name: object.metadata.name };
      const response = await api.request({
        method: 'POST',
        path: resourcePath(info, namespace),
        query: { fieldManager: options.fieldManager },
        body: JSON.stringify(object),
        contentType: 'application/json',
      });
      if (!isOk(response.status)) throw describeFailure(response, attempt, namespace, object, api.server);
      return parseJson(response, attempt, namespace) as KubeObject;
    },

    async delete(info: Pick<KindInfo, 'apiVersion' | 'plural'>, name: string): Promise<boolean> {
      const attempt = { verb: 'delete', resource: info.plural, name };
      // Background: owned objects (a Job's pods, a Deployment's ReplicaSets) go with their owner.
      const response = await api.request({ method: 'DELETE', path: resourcePath(info, namespace, name), query: { propagationPolicy: 'Background' } });
      if (response.status === 404 && !isNamespaceMissing(response, namespace)) return false;
      if (!isOk(response.status)) throw describeFailure(response, attempt, namespace, undefined, api.server);
      return true;
    },

    async podLog(pod: string, options: { tailLines?: number; limitBytes?: number; container?: string } = {}): Promise<string | undefined> {
      const attempt = { verb: 'get', resource: 'pods/log', name: pod };
      const path = `${resourcePath({ apiVersion: 'v1', plural: 'pods' }, namespace, pod)}/log`;
      const response = await api.request({
        method: 'GET',
        path,
        query: {
          tailLines: options.tailLines === undefined ? undefined : String(options.tailLines),
          limitBytes: options.limitBytes === undefined ? undefined : String(options.limitBytes),
          container: options.container,
        },
      });
      if (response.status === 404) return undefined;
      // A pod that never started has no log yet: 400 "container … is waiting to start".
      if (response.status === 400) return undefined;
      if (!isOk(response.status)) throw describeFailure(response, attempt, namespace, undefined, api.server);
      return response.body;
    },
  };
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

function parseJson(response: KubeResponse, attempt: Attempt, namespace: string): unknown {
  try {
    return JSON.parse(response.body);
  } catch {
    throw new ClusterError(namespace, `${describeAttempt(attempt)}: the API server answered ${response.status} with something that is not JSON`, response.status);
  }
}

/** The `Status` object an API server sends with a failure, as far as it is one. */
export interface KubeStatus {
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

export function parseStatus(body: string): KubeStatus {
  try {
    const value = JSON.parse(body) as unknown;
    return isRecord(value) ? (value as KubeStatus) : {};
  } catch {
    return { message: body.trim().slice(0, 500) };
  }
}

function isNamespaceMissing(response: KubeResponse, namespace: string): boolean {
  const status = parseStatus(response.body);
  return status.details?.kind === 'namespaces' && status.details?.name === namespace;
}

function describeAttempt(attempt: Attempt): string {
  return `${attempt.verb} ${attempt.resource}${attempt.name ? '/' + attempt.name : ''}`;
}

/** `User "x" cannot patch resource "configmaps" in API group "" in the namespace "ns"` → its parts. */
const FORBIDDEN = /User "([^"]*)" cannot (\S+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)"| (at the cluster scope))?/;

export interface Forbidden {
  user?: string;
  verb: string;
  resource: string;
  group?: string;
  /** the namespace refused, or `cluster scope` */
  scope: string;
}

/** Who was refused what: from the Status message when it says, else from the request itself. */
export function parseForbidden(message: string | undefined, attempt: Attempt, namespace: string): Forbidden {
  const m = message ? FORBIDDEN.exec(message) : null;
  if (!m) return { verb: attempt.verb, resource: attempt.resource, scope: `namespace ${namespace}` };
  return {
    user: m[1],
    verb: m[2]!,
    resource: m[3]!,
    group: m[4] || undefined,
    scope: m[6] ? 'cluster scope' : `namespace ${m[5] ?? namespace}`,
  };
}

export function describeFailure(response: KubeResponse, attempt: Attempt, namespace: string, object?: KubeObject, server = ''): OzgError {
  const status = parseStatus(response.body);
  const what = object ? describeObject(object) : describeAttempt(attempt);
  const message = status.message ?? (response.body.trim().slice(0, 300) || `HTTP ${response.status}`);
  const options = (hint: string): OzgErrorOptions => ({ hint });
  switch (response.status) {
    case 401:
      // Like a refused SSH login: the target cannot be used at all, so it counts as unreachable.
      return new UnreachableError(server, `the API server did not accept the kubeconfig's credentials (401 Unauthorized, on ${describeAttempt(attempt)} in namespace ${namespace})`, {
        hint: 'renew the token or client certificate in the kubeconfig',
      });
    case 403:
      return describeForbidden(status.message ?? '', attempt, namespace, what);
    case 404:
      if (isNamespaceMissing(response, namespace)) {
        return new ClusterError(namespace, `namespace ${namespace} does not exist`, 404, options('ozg does not create namespaces: ask the data center to create it (or fix the namespace pattern in sites.yaml)'));
      }
      return new ClusterError(namespace, `${what}: not found (${message})`, 404);
    case 422: {
      const immutable = immutableFields(status);
      if (immutable.length > 0 && object) {
        return new ClusterError(namespace, `${what}: ${immutable.join(', ')} cannot change on a live object (${message})`, 422, options(immutableHint(object, namespace)));
      }
      return new ClusterError(namespace, `${what} is invalid: ${message}`, 422, options("fix the procedure's manifest template; nothing after this object was applied"));
    }
    case 429:
      return new ClusterError(namespace, `${what}: ${describeAttempt(attempt)} was refused as too many requests (429): ${message}`, 429, {
        hint: `the API server stayed overloaded while ozg retried (up to ${MAX_RETRIES} times, as Retry-After asked): run again later, or ask the data center about the API server's load`,
      });
    default:
      if (response.status >= 500) {
        return new ClusterError(namespace, `${what}: ${describeAttempt(attempt)} failed with ${response.status}${status.reason ? ' ' + status.reason : ''}: ${message}`, response.status, {
          hint: `the API server failed, not the request${response.retryAfter !== undefined ? ` (ozg retried up to ${MAX_RETRIES} times)` : ''}: run again; if it keeps failing, ask the data center`,
        });
      }
      return new ClusterError(namespace, `${what}: ${describeAttempt(attempt)} failed with ${response.status}${status.reason ? ' ' + status.reason : ''}: ${message}`, response.status);
  }
}

/**
 * A 403 says why in its message, and not always as "User … cannot …": an apply that creates
 * needs `create` besides `patch` (RBAC's refusal then has no reason text), a ResourceQuota
 * says `exceeded quota: …`, RBAC's escalation check says `… is attempting to grant RBAC
 * permissions not currently held`. Each gets its own hint, and the server's words are kept.
 */
function describeForbidden(message: string, attempt: Attempt, namespace: string, what: string): ClusterError {
  if (/exceeded quota: /.test(message)) {
    const quota = /exceeded quota: ([^,]+)/.exec(message)?.[1] ?? '';
    return new ClusterError(namespace, `${what}: refused by a ResourceQuota: ${message}`, 403, {
      hint: `the namespace's ResourceQuota ${quota} allows no more of these: ask the data center to raise it, or remove objects from the procedure; nothing after this object was applied`,
    });
  }
  if (/is attempting to grant RBAC permissions not currently held/.test(message)) {
    return new ClusterError(namespace, `${what}: refused by RBAC escalation prevention: ${message}`, 403, {
      hint:
        'a Role or RoleBinding may grant only rights the deploying account holds itself: narrow the Role in the procedure, ' +
        'or ask the data center to grant the account these rights (or the escalate/bind verb on roles)',
    });
  }
  if (FORBIDDEN.test(message)) {
    const f = parseForbidden(message, attempt, namespace);
    const resource = f.group ? `${f.resource}.${f.group}` : f.resource;
    const text = `forbidden: cannot ${f.verb} ${resource}${attempt.name && f.resource === attempt.resource ? ` ${attempt.name}` : ''} in ${f.scope}` + (f.user ? ` (as ${f.user})` : '');
    // A namespace-only account's rights live in the namespace: where it does not exist, the
    // account has none, so a missing namespace shows as this 403 (not 404) on a real server.
    const reading = ['get', 'list', 'watch'].includes(f.verb) && f.scope === `namespace ${namespace}`;
    return new ClusterError(namespace, text, 403, {
      hint: reading
        ? `the namespace ${namespace} may not exist, or the account has no rights in it: ask the data center to create it or to grant the account rights there (or fix the namespace pattern in sites.yaml)`
        : `the account in the kubeconfig lacks this right: ask the data center to allow ${f.verb} on ${resource} in namespace ${namespace}, or leave that kind out of the procedure`,
    });
  }
  if (attempt.verb === 'patch' && /is forbidden:\s*$/.test(message)) {
    // server-side apply of a missing object is a create: RBAC checks `create` then, without a reason text
    return new ClusterError(namespace, `${what}: forbidden: cannot create ${attempt.resource}${attempt.name ? ` ${attempt.name}` : ''} in namespace ${namespace} (${message.trim()})`, 403, {
      hint: `the object does not exist yet, and applying it creates it: ask the data center to allow create (besides patch) on ${attempt.resource} in namespace ${namespace}`,
    });
  }
  return new ClusterError(namespace, `${what}: forbidden: ${message || 'HTTP 403'}`, 403, {
    hint: 'the API server refused this for the reason it gives (an admission policy or webhook): ask the data center about it',
  });
}

/**
 * Server-side apply converts the object to the kind's typed schema before anything else; a
 * field the schema lacks (`spec.replica`, `imagePullPolcy`) or two list items with the same key
 * (two `env` entries named alike) fail that with a 500 `failed to create typed patch object
 * (…): <field>: field not declared in schema` (or `duplicate entries for key [name="X"]`, several
 * under `errors:`). That is a mistake in the manifest, so it is an input error naming file and
 * field; undefined when the 500 is something else.
 */
export function describeSchemaError(response: KubeResponse, object: KubeObject, source: ManifestSource): InvalidInputError | undefined {
  const message = parseStatus(response.body).message ?? '';
  const m = /failed to create typed (?:patch|live) object \([^)]*\): ([\s\S]*)$/.exec(message);
  if (!m) return undefined;
  const lines = m[1]!.startsWith('errors:') ? m[1]!.slice('errors:'.length).split('\n').map((l) => l.trim()).filter(Boolean) : [m[1]!.trim()];
  const problems: Problem[] = lines.map((text) => {
    const at = /^(\.\S*?): (.*)$/.exec(text);
    return {
      file: source.file,
      line: source.line ?? 1,
      col: 1,
      path: `documents[${source.document}]${at ? at[1] : ''}`,
      message: `${object.kind}/${object.metadata.name}: ${at ? at[2] : text} (the API server's schema for ${object.apiVersion} ${object.kind})`,
    };
  });
  return new InvalidInputError(problems, { hint: "fix the field in the procedure's manifest template (a typo, or a field of another kind or version); the API server changed nothing for this object" });
}

/**
 * The fields a 422 names as unchangeable: `field is immutable` (a Job's template, a Deployment's
 * selector), `cannot change roleRef`, `spec is immutable after creation` (a claim), a StatefulSet's
 * `updates to statefulset spec for fields other than …`, a Service's clusterIP. Empty when
 * the 422 is about something else.
 */
export function immutableFields(status: KubeStatus): string[] {
  const causes = status.details?.causes ?? [];
  return causes.filter((c) => /is immutable|cannot change|may not change|updates to statefulset spec for fields other than/.test(c.message ?? '')).map((c) => c.field ?? '?');
}

/** What the operator can do about an unchangeable field, by kind. */
function immutableHint(object: KubeObject, namespace: string): string {
  const ref = `${object.kind.toLowerCase()}/${object.metadata.name}`;
  switch (object.kind) {
    case 'PersistentVolumeClaim':
      return (
        "a claim's spec is fixed once created (only a bound claim's storage request may grow), and ozg never deletes a claim: it holds data. " +
        'Keep the claim as it is in the manifest, or add a claim under a new name and move the data over'
      );
    case 'RoleBinding':
      return `a RoleBinding's roleRef is fixed: give the binding a new name in the manifest, or delete it (kubectl -n ${namespace} delete ${ref}) and deploy again`;
    default:
      return `give the object a new name in the manifest, or delete it (kubectl -n ${namespace} delete ${ref}) and deploy again; nothing after this object was applied`;
  }
}

/** The field managers a 409 apply conflict names (empty when it names none). */
export function conflictManagers(response: KubeResponse): string[] {
  const causes = parseStatus(response.body).details?.causes ?? [];
  const managers = causes.map((c) => /conflict with "([^"]+)"/.exec(c.message ?? '')?.[1]);
  return managers.length > 0 && managers.every((m) => m !== undefined) ? (managers as string[]) : [];
}

function hasApplyManager(object: KubeObject, manager: string): boolean {
  const entries = Array.isArray(object.metadata?.managedFields) ? (object.metadata.managedFields as Array<{ manager?: string; operation?: string }>) : [];
  return entries.some((e) => e.manager === manager && e.operation === 'Apply');
}

/**
 * `.spec.replicas` held through the scale subresource (an HPA, `kubectl scale`) or by the
 * controller manager: managedfields' ScaleHandler names such an entry `with subresource "scale"`.
 */
function isScaledReplicas(cause: { field?: string; message?: string }): boolean {
  return cause.field === '.spec.replicas' && /with subresource "scale"|conflict with "kube-controller-manager"/.test(cause.message ?? '');
}

/** A field manager conflict: which fields, held by whom, and the deliberate ways out. */
export function describeApplyConflict(response: KubeResponse, object: KubeObject, namespace: string, fieldManager: string): ClusterError {
  const status = parseStatus(response.body);
  const what = describeObject(object);
  const conflicts = (status.details?.causes ?? [])
    .filter((c) => c.field || c.message)
    .map((c) => {
      const manager = /conflict with "([^"]+)"/.exec(c.message ?? '')?.[1];
      return manager ? `${c.field ?? '?'} is owned by field manager "${manager}"` : `${c.field ?? ''} ${c.message ?? ''}`.trim();
    });
  if (conflicts.length === 0) {
    return new ClusterError(namespace, `${what}: ${status.message ?? 'conflict (409)'}`, 409, {
      hint: 'another change raced this one: run the deploy again',
    });
  }
  const procedures = conflictManagers(response).filter((m) => m.startsWith('ozg-') && m !== fieldManager);
  if (procedures.length > 0) {
    return new ClusterError(namespace, `${what}: apply conflict: ${conflicts.join('; ')}`, 409, {
      hint: `field manager ${procedures[0]} is another procedure of this site: an object belongs to one procedure. Rename it in one of the two procedures' manifests`,
    });
  }
  if ((status.details?.causes ?? []).some(isScaledReplicas)) {
    // Forcing would fight an autoscaler, which scales again a moment later (hpa-replicas.ts).
    return new ClusterError(namespace, `${what}: apply conflict: ${conflicts.join('; ')}`, 409, {
      hint:
        'the replica count is set by someone else, usually a HorizontalPodAutoscaler (field manager kube-controller-manager, ' +
        'subresource scale) or kubectl scale; taking it over would fight the autoscaler, which sets it again. If an HPA scales this workload, ship the HPA in the same ' +
        'procedure (ozg then leaves spec.replicas out) or remove replicas from the manifest; if it was a one-off kubectl scale, ' +
        'remove replicas from the manifest or scale back by hand, then deploy again',
    });
  }
  return new ClusterError(namespace, `${what}: apply conflict: ${conflicts.join('; ')}`, 409, {
    hint:
      'someone changed these fields with another tool, and ozg does not take them over silently. Either undo that change ' +
      `(or have its owner drop the fields), or take them over deliberately: kubectl -n ${namespace} apply --server-side ` +
      `--field-manager=${fieldManager} --force-conflicts -f <the rendered manifest>; then deploy again`,
  });
}
