import { admitCreate, admitUpdate, type AdmissionContext } from '../../helpers/kube-api/admission.js';
import type { KubeObject } from '../../helpers/kube-api/objects.js';
import { resolveResourceRequest } from '../../helpers/kube-api/request-info.js';
import { resolveResourceType } from '../../helpers/kube-api/resources.js';
import { ApiError } from '../../helpers/kube-api/status.js';

const context: AdmissionContext = { allocateClusterIp: () => '10.96.0.42' };

function rejection(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a 422');
}

function job(args: string[]): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'smoke', namespace: 'ozg-kiel' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'smoke', image: 'smoke:1', args }] } } },
  };
}

describe('admission', () => {
  it('defaults a Job like the real server: selector and labels from its uid, backoffLimit 6', () => {
    const admitted = admitCreate(resolveResourceType('jobs'), job(['a']), context);
    const uid = admitted.metadata.uid ?? '';

    expect(uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(admitted.spec.selector).toEqual({ matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
    expect(admitted.spec.template.metadata.labels).toMatchObject({ 'job-name': 'smoke', 'controller-uid': uid });
    expect(admitted.spec.backoffLimit).toBe(6);
    expect(admitted.spec.template.spec.containers[0]).toMatchObject({ imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log' });
  });

  it('refuses a changed Job pod template: spec.template is immutable', () => {
    const type = resolveResourceType('jobs');
    const live = admitCreate(type, job(['a']), context);
    const changed = { ...live, spec: { ...live.spec, template: { ...live.spec.template, spec: { ...live.spec.template.spec, containers: [{ name: 'smoke', image: 'smoke:2' }] } } } };
    const error = rejection(() => admitUpdate(type, changed, live, context));

    expect(error.code).toBe(422);
    expect(error.reason).toBe('Invalid');
    expect(error.message).toMatch(/^Job\.batch "smoke" is invalid: spec\.template: Invalid value: .*: field is immutable$/);
  });

  it('lists every problem of a Deployment at once', () => {
    const error = rejection(() =>
      admitCreate(
        resolveResourceType('deployments'),
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'Web', namespace: 'ozg-kiel' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'web' }] } } } },
        context,
      ),
    );

    expect(error.message.startsWith('Deployment.apps "Web" is invalid: [metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain')).toBe(true);
    expect(error.details?.causes?.map((c) => c.field)).toEqual(['metadata.name', 'spec.template.metadata.labels', 'spec.template.spec.containers[0].image']);
  });

  it('gives a Service a cluster IP and keeps it on update', () => {
    const type = resolveResourceType('services');
    const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'ozg-kiel' }, spec: { ports: [{ port: 80 }] } };
    const created = admitCreate(type, service, context);
    expect(created.spec).toMatchObject({ type: 'ClusterIP', clusterIP: '10.96.0.42', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] });
    const updated = admitUpdate(type, { ...service, spec: { ports: [{ port: 81 }] } }, created, { allocateClusterIp: () => '10.96.9.9' });
    expect(updated.spec.clusterIP).toBe('10.96.0.42');
  });

  it('refuses data changes of an immutable ConfigMap', () => {
    const type = resolveResourceType('configmaps');
    const live = admitCreate(type, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n' }, data: { a: '1' }, immutable: true }, context);
    const error = rejection(() => admitUpdate(type, { ...live, data: { a: '2' } }, live, context));
    expect(error.message).toBe('ConfigMap "c" is invalid: data: Forbidden: field is immutable when `immutable` is set');
  });
});

describe('request paths', () => {
  const resolve = (method: string, path: string, query = ''): unknown => {
    const r = resolveResourceRequest(method, path, new URLSearchParams(query));
    return { resource: r.type.resource, verb: r.verb, namespace: r.namespace, name: r.name, subresource: r.subresource };
  };

  it.each([
    ['GET', '/api/v1/namespaces/ozg-kiel/configmaps', '', { resource: 'configmaps', verb: 'list', namespace: 'ozg-kiel', name: undefined, subresource: undefined }],
    ['GET', '/api/v1/configmaps', '', { resource: 'configmaps', verb: 'list', namespace: undefined, name: undefined, subresource: undefined }],
    ['GET', '/apis/apps/v1/namespaces/ozg-kiel/deployments', 'watch=true', { resource: 'deployments', verb: 'watch', namespace: 'ozg-kiel', name: undefined, subresource: undefined }],
    ['PATCH', '/apis/apps/v1/namespaces/ozg-kiel/deployments/web/status', '', { resource: 'deployments', verb: 'patch', namespace: 'ozg-kiel', name: 'web', subresource: 'status' }],
    ['GET', '/api/v1/namespaces/ozg-kiel/pods/web-0/log', '', { resource: 'pods', verb: 'get', namespace: 'ozg-kiel', name: 'web-0', subresource: 'log' }],
    ['GET', '/api/v1/namespaces/ozg-kiel', '', { resource: 'namespaces', verb: 'get', namespace: 'ozg-kiel', name: 'ozg-kiel', subresource: undefined }],
    ['POST', '/api/v1/namespaces', '', { resource: 'namespaces', verb: 'create', namespace: undefined, name: undefined, subresource: undefined }],
    ['DELETE', '/apis/batch/v1/namespaces/ozg-kiel/jobs', '', { resource: 'jobs', verb: 'deletecollection', namespace: 'ozg-kiel', name: undefined, subresource: undefined }],
  ])('%s %s?%s', (method, path, query, expected) => {
    expect(resolve(method, path, query)).toEqual(expected);
  });

  it('answers unknown resources with 404 and unsupported verbs with 405', () => {
    expect(() => resolve('GET', '/apis/example.com/v1/widgets')).toThrow('the server could not find the requested resource');
    expect(() => resolve('POST', '/api/v1/namespaces/ozg-kiel/pods/web-0/log')).toThrow('the server does not allow this method on the requested resource');
  });
});
