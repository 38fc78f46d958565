/**
 * A hand-written, in-memory stand-in for one namespace of an API server: enough of apply,
 * create, get, list (label selectors with `=` only) and delete for the driver's logic. Workloads and
 * Jobs get their status from `onApply` hooks the test sets. Every request is logged.
 */
import type { KubeApi, KubeRequest, KubeResponse } from '../../../../src/targets/kubernetes/kube-api.js';

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string; generation?: number; [k: string]: unknown };
  [field: string]: unknown;
}

export interface FakeKubeApi extends KubeApi {
  requests: KubeRequest[];
  objects: Map<string, StoredObject>;
  /** called after an object was stored by an apply; may set status */
  onApply?: (path: string, object: StoredObject) => void;
  /** answer a request before the store does (403s, failures) */
  intercept?: (request: KubeRequest) => KubeResponse | undefined;
  logs: Map<string, string>;
  writes(): KubeRequest[];
}

const PATH = /^\/(?:api|apis\/[^/]+)\/[^/]+\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(\/log)?$/;

export function createFakeKubeApi(namespaceAllowed: string): FakeKubeApi {
  let version = 1;
  const fake: FakeKubeApi = {
    server: 'https://fake.invalid:6443',
    requests: [],
    objects: new Map(),
    logs: new Map(),
    writes: () => fake.requests.filter((r) => r.method !== 'GET'),
    close: () => undefined,
    async request(request: KubeRequest): Promise<KubeResponse> {
      fake.requests.push(request);
      const intercepted = fake.intercept?.(request);
      if (intercepted) return intercepted;
      const m = PATH.exec(request.path);
      if (!m) return status(404, 'NotFound', `no route ${request.path}`);
      const [, namespace, plural, name, log] = m;
      if (namespace !== namespaceAllowed) {
        return status(403, 'Forbidden', `${plural} is forbidden: User "ozg" cannot ${verbOf(request, name)} resource "${plural}" in API group "" in the namespace "${namespace}"`);
      }
      const collection = name ? request.path.replace(/\/[^/]+(\/log)?$/, '') : request.path;
      const key = name ? `${collection}/${name}` : '';
      if (log) {
        const pod = fake.objects.get(key);
        if (!pod) return status(404, 'NotFound', `pods "${name}" not found`);
        return { status: 200, body: fake.logs.get(name!) ?? '' };
      }
      switch (request.method) {
        case 'GET': {
          if (name) {
            const object = fake.objects.get(key);
            return object ? ok(object) : status(404, 'NotFound', `${plural} "${name}" not found`);
          }
          const selector = parseSelector(request.query?.labelSelector);
          const items = [...fake.objects.entries()]
            .filter(([k]) => k.startsWith(collection + '/') && !k.slice(collection.length + 1).includes('/'))
            .map(([, o]) => o)
            .filter((o) => Object.entries(selector).every(([l, v]) => o.metadata.labels?.[l] === v));
          return ok({ kind: 'List', items });
        }
        case 'PATCH': {
          const body = JSON.parse(request.body ?? '{}') as StoredObject;
          const existing = fake.objects.get(key);
          const wantedVersion = body.metadata.resourceVersion;
          if (wantedVersion !== undefined && existing && existing.metadata.resourceVersion !== wantedVersion) {
            return status(409, 'Conflict', 'the object has been modified');
          }
          const specChanged = JSON.stringify(existing?.spec) !== JSON.stringify(body.spec);
          const stored: StoredObject = {
            ...body,
            metadata: {
              ...body.metadata,
              namespace,
              resourceVersion: String(++version),
              generation: (existing?.metadata.generation ?? 0) + (specChanged || !existing ? 1 : 0),
              creationTimestamp: existing?.metadata.creationTimestamp ?? new Date(version * 1000).toISOString(),
            },
            ...(existing?.status ? { status: existing.status } : {}),
          };
          if (request.query?.dryRun === 'All') return ok(stored);
          fake.objects.set(key, stored);
          fake.onApply?.(key, stored);
          return ok(fake.objects.get(key));
        }
        case 'POST': {
          const body = JSON.parse(request.body ?? '{}') as StoredObject;
          const created = `${collection}/${body.metadata.name}`;
          if (fake.objects.has(created)) return status(409, 'AlreadyExists', `${plural} "${body.metadata.name}" already exists`);
          const stored: StoredObject = { ...body, metadata: { ...body.metadata, namespace, resourceVersion: String(++version), creationTimestamp: new Date(version * 1000).toISOString() } };
          fake.objects.set(created, stored);
          return { status: 201, body: JSON.stringify(stored) };
        }
        case 'DELETE': {
          if (!fake.objects.delete(key)) return status(404, 'NotFound', `${plural} "${name}" not found`);
          return ok({ kind: 'Status', status: 'Success' });
        }
        default:
          return status(405, 'MethodNotAllowed', request.method);
      }
    },
  };
  return fake;
}

function verbOf(request: KubeRequest, name: string | undefined): string {
  if (request.method === 'GET') return name ? 'get' : 'list';
  return request.method.toLowerCase();
}

function parseSelector(selector: string | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const part of (selector ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    result[k!] = v ?? '';
  }
  return result;
}

function ok(body: unknown): KubeResponse {
  return { status: 200, body: JSON.stringify(body) };
}

export function status(code: number, reason: string, message: string, details?: unknown): KubeResponse {
  return { status: code, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, ...(details ? { details } : {}) }) };
}
