import { ClusterError, UnreachableError } from '../../../../src/errors.js';
import { createKubeClient, parseForbidden } from '../../../../src/targets/kubernetes/kube-client.js';
import { findKind } from '../../../../src/targets/kubernetes/kinds.js';
import { createFakeKubeApi, status } from './fake-kube-api.js';

const CONFIG_MAP = findKind('v1', 'ConfigMap')!;
const DEPLOYMENT = findKind('apps/v1', 'Deployment')!;
const object = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'ozg-kiel-test' }, spec: {} };

describe('kube client', () => {
  it('applies server-side as the given field manager, without forcing, as JSON in an apply patch', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    await createKubeClient(api, 'ozg-kiel-test').apply(DEPLOYMENT, object, { fieldManager: 'ozg-antrag' });
    expect(api.requests).toEqual([
      {
        method: 'PATCH',
        path: '/apis/apps/v1/namespaces/ozg-kiel-test/deployments/web',
        query: { fieldManager: 'ozg-antrag', force: 'false' },
        body: JSON.stringify(object),
        contentType: 'application/apply-patch+yaml',
      },
    ]);
  });

  it('turns a 403 into a ClusterError naming verb, resource and namespace', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    api.intercept = () =>
      status(403, 'Forbidden', 'configmaps "x" is forbidden: User "system:serviceaccount:ozg:deployer" cannot patch resource "configmaps" in API group "" in the namespace "ozg-kiel-test"');
    const error = (await createKubeClient(api, 'ozg-kiel-test').apply(CONFIG_MAP, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, { fieldManager: 'ozg-antrag' }).catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.status).toBe(403);
    expect(error.message).toBe('namespace ozg-kiel-test: forbidden: cannot patch configmaps x in namespace ozg-kiel-test (as system:serviceaccount:ozg:deployer)');
    expect(error.hint).toMatch(/allow patch on configmaps in namespace ozg-kiel-test/);
  });

  it('reads refusals at cluster scope and in API groups', () => {
    const attempt = { verb: 'list', resource: 'x' };
    expect(parseForbidden('namespaces is forbidden: User "u" cannot list resource "namespaces" in API group "" at the cluster scope', attempt, 'ns')).toEqual({
      user: 'u',
      verb: 'list',
      resource: 'namespaces',
      scope: 'cluster scope',
    });
    expect(parseForbidden('User "u" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "ns"', attempt, 'ns')).toMatchObject({ group: 'rbac.authorization.k8s.io', scope: 'namespace ns' });
    expect(parseForbidden('RBAC: access denied', attempt, 'ns')).toEqual({ verb: 'list', resource: 'x', scope: 'namespace ns' });
  });

  it('names the object, the field and the other manager of an apply conflict, and how to resolve it', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    api.intercept = () =>
      status(409, 'Conflict', 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas', {
        causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-edit" using apps/v1', field: '.spec.replicas' }],
      });
    const error = (await createKubeClient(api, 'ozg-kiel-test').apply(DEPLOYMENT, object, { fieldManager: 'ozg-antrag' }).catch((e: unknown) => e)) as ClusterError;
    expect(error.message).toBe('namespace ozg-kiel-test: deployment/web: apply conflict: .spec.replicas is owned by field manager "kubectl-edit"');
    expect(error.hint).toMatch(/ozg does not take them over silently/);
    expect(error.hint).toMatch(/--field-manager=ozg-antrag --force-conflicts/);
  });

  it('explains a replicas conflict with a writer of the scale subresource (an HPA) without suggesting to force', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    const holder = 'conflict with "kube-controller-manager" with subresource "scale" using apps/v1';
    api.intercept = () =>
      status(409, 'Conflict', `Apply failed with 1 conflict: ${holder}: .spec.replicas`, { causes: [{ reason: 'FieldManagerConflict', message: holder, field: '.spec.replicas' }] });
    const error = (await createKubeClient(api, 'ozg-kiel-test').apply(DEPLOYMENT, object, { fieldManager: 'ozg-antrag' }).catch((e: unknown) => e)) as ClusterError;
    expect(error.message).toBe('namespace ozg-kiel-test: deployment/web: apply conflict: .spec.replicas is owned by field manager "kube-controller-manager"');
    expect(error.hint).not.toMatch(/force/i);
    expect(error.hint).toMatch(/HorizontalPodAutoscaler/);
  });

  it('says a missing namespace is missing, and that ozg does not create it', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    api.intercept = () => status(404, 'NotFound', 'namespaces "ozg-kiel-test" not found', { name: 'ozg-kiel-test', kind: 'namespaces' });
    const client = createKubeClient(api, 'ozg-kiel-test');
    const error = (await client.get(CONFIG_MAP, 'x').catch((e: unknown) => e)) as ClusterError;
    expect(error.message).toMatch(/namespace ozg-kiel-test does not exist/);
    expect(error.hint).toMatch(/ozg does not create namespaces/);
  });

  it('gives undefined for a missing object and false for deleting one that is gone', async () => {
    const client = createKubeClient(createFakeKubeApi('ozg-kiel-test'), 'ozg-kiel-test');
    expect(await client.get(CONFIG_MAP, 'nope')).toBeUndefined();
    expect(await client.delete(CONFIG_MAP, 'nope')).toBe(false);
  });

  it('reports invalid objects with the server’s reason', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    api.intercept = () => status(422, 'Invalid', 'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`');
    const error = (await createKubeClient(api, 'ozg-kiel-test').apply(DEPLOYMENT, object, { fieldManager: 'ozg-antrag' }).catch((e: unknown) => e)) as ClusterError;
    expect(error.message).toMatch(/^namespace ozg-kiel-test: deployment\/web is invalid: Deployment.apps "web" is invalid: spec.template/);
  });

  it('keeps the message of a 403 that names no RBAC verb (an admission webhook) and blames no right', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    api.intercept = () => status(403, 'Forbidden', 'admission webhook "policy.example" denied the request: images must come from registry.ozg.example');
    const error = (await createKubeClient(api, 'ozg-kiel-test').apply(DEPLOYMENT, object, { fieldManager: 'ozg-antrag' }).catch((e: unknown) => e)) as ClusterError;
    expect(error.message).toBe('namespace ozg-kiel-test: deployment/web: forbidden: admission webhook "policy.example" denied the request: images must come from registry.ozg.example');
    expect(error.hint).not.toMatch(/allow patch/);
  });

  it('names unchangeable fields of a StatefulSet and a Service as such', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    const forbiddenSpec = 'Forbidden: updates to statefulset spec for fields other than \'replicas\', \'ordinals\', \'template\', \'updateStrategy\', \'persistentVolumeClaimRetentionPolicy\' and \'minReadySeconds\' are forbidden';
    api.intercept = () => status(422, 'Invalid', `StatefulSet.apps "web" is invalid: spec: ${forbiddenSpec}`, { name: 'web', kind: 'StatefulSet', causes: [{ reason: 'FieldValueForbidden', field: 'spec', message: forbiddenSpec }] });
    const statefulSet = { ...object, kind: 'StatefulSet' };
    const error = (await createKubeClient(api, 'ozg-kiel-test').apply(findKind('apps/v1', 'StatefulSet')!, statefulSet, { fieldManager: 'ozg-antrag' }).catch((e: unknown) => e)) as ClusterError;
    expect(error.message).toMatch(/^namespace ozg-kiel-test: statefulset\/web: spec cannot change on a live object \(StatefulSet.apps "web" is invalid/);
    expect(error.hint).toMatch(/delete it \(kubectl -n ozg-kiel-test delete statefulset\/web\)/);
  });

  it('counts refused credentials as an unreachable target, like a refused SSH login', async () => {
    const api = createFakeKubeApi('ozg-kiel-test');
    api.intercept = () => status(401, 'Unauthorized', 'Unauthorized');
    const error = (await createKubeClient(api, 'ozg-kiel-test').get(CONFIG_MAP, 'x').catch((e: unknown) => e)) as UnreachableError;
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.message).toBe("https://fake.invalid:6443: the API server did not accept the kubeconfig's credentials (401 Unauthorized, on get configmaps/x in namespace ozg-kiel-test)");
  });
});
