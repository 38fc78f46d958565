import { applyConfiguration, trackUpdate } from '../../helpers/kube-api/apply.js';
import type { KubeObject } from '../../helpers/kube-api/objects.js';
import { ApiError } from '../../helpers/kube-api/status.js';

const NOW = '2025-01-01T00:00:00Z';

function apply(live: KubeObject | undefined, applied: KubeObject, manager = 'ozg', force = false): KubeObject {
  return applyConfiguration({ live, applied, manager, force, apiVersion: applied.apiVersion ?? 'v1', now: NOW, ignoreStatus: true });
}

function configMap(data: Record<string, string>, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web', namespace: 'ozg-kiel', ...(labels ? { labels } : {}) }, data };
}

function deployment(env: { name: string; value: string }[], image = 'web:1'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ozg-kiel' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image, ports: [{ containerPort: 8080 }], env }] } },
    },
  };
}

function owners(object: KubeObject): Record<string, unknown> {
  return Object.fromEntries((object.metadata.managedFields ?? []).map((m) => [`${m.manager}/${m.operation}`, m.fieldsV1]));
}

function conflictOf(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a conflict');
}

describe('server-side apply', () => {
  it('records exactly the applied fields, walking keyed lists item by item', () => {
    const result = apply(undefined, deployment([{ name: 'A', value: '1' }]));
    const containers = (owners(result)['ozg/Apply'] as any)['f:spec']['f:template']['f:spec']['f:containers'];

    expect(Object.keys(containers)).toEqual(['k:{"name":"web"}']);
    expect(containers['k:{"name":"web"}']).toEqual({
      '.': {},
      'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
      'f:image': {},
      'f:name': {},
      'f:ports': { 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
    });
    expect(owners(result)['ozg/Apply']).not.toHaveProperty(['f:metadata', 'f:name']);
  });

  it('removes what the manager applied before and applies no longer, keeping the rest of the list', () => {
    const first = apply(undefined, deployment([{ name: 'A', value: '1' }, { name: 'B', value: '2' }]));
    const second = apply(first, deployment([{ name: 'B', value: '3' }]));

    expect(second.spec.template.spec.containers[0].env).toEqual([{ name: 'B', value: '3' }]);
    const env = (owners(second)['ozg/Apply'] as any)['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"web"}']['f:env'];
    expect(Object.keys(env)).toEqual(['k:{"name":"B"}']);
  });

  it('keeps fields another manager set even when the applier drops them', () => {
    const applied = apply(undefined, configMap({ a: '1' }));
    const updated = { ...applied, data: { a: '1', b: 'from-someone-else' } };
    trackUpdate({ live: applied, result: updated, manager: 'kubectl-edit', apiVersion: 'v1', now: NOW });
    const reapplied = apply(updated, configMap({ c: '3' }));

    expect(reapplied.data).toEqual({ b: 'from-someone-else', c: '3' });
    expect(owners(reapplied)['kubectl-edit/Update']).toEqual({ 'f:data': { 'f:b': {} } });
  });

  it('refuses a different value for a field another applier owns, naming manager and field', () => {
    const live = apply(undefined, configMap({ greeting: 'hello' }), 'kubectl');
    const error = conflictOf(() => apply(live, configMap({ greeting: 'servus' }), 'site-admin'));

    expect(error.code).toBe(409);
    expect(error.reason).toBe('Conflict');
    expect(error.message).toBe('Apply failed with 1 conflict: conflict with "kubectl": .data.greeting');
    expect(error.details?.causes).toEqual([{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.data.greeting' }]);
  });

  it('names Update managers with their API version and time, and counts several conflicts', () => {
    const created = configMap({ a: '1', b: '2' });
    trackUpdate({ live: undefined, result: created, manager: 'kubectl-create', apiVersion: 'v1', now: NOW });
    const error = conflictOf(() => apply(created, configMap({ a: 'x', b: 'y' })));

    expect(error.message).toBe(
      `Apply failed with 2 conflicts: conflict with "kubectl-create" using v1 at ${NOW}: .data.a\nconflict with "kubectl-create" using v1 at ${NOW}: .data.b`,
    );
  });

  it('shares a field applied with the same value, and force takes a conflicting one over', () => {
    const live = apply(undefined, configMap({ greeting: 'hello' }, { app: 'web' }), 'kubectl');
    const shared = apply(live, configMap({ greeting: 'hello' }), 'site-admin');
    expect(owners(shared)['kubectl/Apply']).toEqual({ 'f:data': { 'f:greeting': {} }, 'f:metadata': { 'f:labels': { 'f:app': {} } } });
    expect(owners(shared)['site-admin/Apply']).toEqual({ 'f:data': { 'f:greeting': {} } });

    const forced = apply(shared, configMap({ greeting: 'servus' }), 'site-admin', true);
    expect(forced.data).toEqual({ greeting: 'servus' });
    expect(owners(forced)['kubectl/Apply']).toEqual({ 'f:metadata': { 'f:labels': { 'f:app': {} } } });
  });

  it('ignores status on the main resource and server-owned metadata', () => {
    const applied = { ...configMap({ a: '1' }), status: { ready: true } } as KubeObject;
    applied.metadata.resourceVersion = '7';
    applied.metadata.uid = 'client-made-up';
    const result = apply(undefined, applied);

    expect(result.status).toBeUndefined();
    expect(result.metadata.uid).toBeUndefined();
    expect(result.metadata.resourceVersion).toBeUndefined();
  });
});

describe('update tracking', () => {
  it('gives the updater what it changed and takes it from the others', () => {
    const live = apply(undefined, configMap({ a: '1', b: '2' }), 'kubectl');
    const next = { ...live, data: { a: '1', b: 'changed' } };
    trackUpdate({ live, result: next, manager: 'ozg', apiVersion: 'v1', now: NOW });

    expect(owners(next)).toEqual({ 'kubectl/Apply': { 'f:data': { 'f:a': {} } }, 'ozg/Update': { 'f:data': { 'f:b': {} } } });
    expect(next.metadata.managedFields?.find((m) => m.manager === 'ozg')).toMatchObject({ operation: 'Update', apiVersion: 'v1', time: NOW, fieldsType: 'FieldsV1' });
  });
});
