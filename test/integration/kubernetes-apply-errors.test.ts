/**
 * What a real API server refuses on the apply path, and how the driver reports it: 403s that
 * are not "User … cannot …" (create-on-apply, ResourceQuota, RBAC escalation prevention), a
 * namespace that does not exist for a namespace-only account, schema errors of apply (500),
 * and immutable fields (422).
 */
import { ClusterError, InvalidInputError } from '../../src/errors.js';
import type { DataCenter, EnvironmentSpec, Site } from '../../src/inventory/types.js';
import type { KubernetesDriver } from '../../src/targets/kubernetes/kube-driver.js';
import { createKubernetesDriverFor } from '../../src/targets/kubernetes/kube-target.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-api/index.js';
import { configMap, deployment, makeBundle } from '../unit/targets/kubernetes/make-bundle.js';

let server: KubeApiServer;
const drivers: KubernetesDriver[] = [];

function driverFor(siteName: string, kubeconfig: string): KubernetesDriver {
  const spec: EnvironmentSpec = { name: 'test', kubeconfig, context: 'ozg-test', namespace: 'ozg-{site}-test' };
  const dataCenter: DataCenter = { name: 'rz-nord', kind: 'kubernetes', environments: { test: spec }, keepReleases: 3 };
  const site: Site = { name: siteName, labels: {}, dataCenter: 'rz-nord', facts: {}, setups: [] };
  const driver = createKubernetesDriverFor(dataCenter, spec, site, { rolloutTimeoutMs: 5000, pollIntervalMs: 50 });
  drivers.push(driver);
  return driver;
}

async function failure(promise: Promise<unknown>): Promise<ClusterError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClusterError);
  return error as ClusterError;
}

const role = (name: string, resources: string[], verbs: string[]): string =>
  `apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: ${name}\nrules:\n  - apiGroups: [""]\n    resources: ${JSON.stringify(resources)}\n    verbs: ${JSON.stringify(verbs)}\n`;

beforeAll(async () => {
  server = await startKubeApiServer({ namespaces: [] });
});

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await server?.stop();
});

describe('403s that are not "User … cannot …"', () => {
  it('says an apply that creates needs create, not only patch, and keeps the server message', async () => {
    const account = server.addServiceAccount('ozg-kiel-test', 'patch-only', { forbid: [{ verbs: ['create'], resources: ['deployments'] }] });
    const driver = driverFor('kiel', await server.kubeconfigFor(account, 'ozg-kiel-test'));
    const bundle = makeBundle({ 'configmap.yaml': configMap('antrag-formular-config'), 'deployment.yaml': deployment('antrag-formular', 'registry.ozg.example/ozg/antrag-formular:1.0.0') });
    const error = await failure(driver.apply(bundle, '20260101T080000Z-aaaaaaaa'));
    expect(error.status).toBe(403);
    expect(error.message).toContain(
      'deployment/antrag-formular: forbidden: cannot create deployments antrag-formular in namespace ozg-kiel-test (deployments.apps "antrag-formular" is forbidden:)',
    );
    expect(error.hint).toMatch(/allow create \(besides patch\) on deployments/);
    expect(error.hint).not.toMatch(/allow patch/);
  });

  it('names the full ResourceQuota and keeps its message', async () => {
    server.createNamespace('ozg-husum-test');
    server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'objects', namespace: 'ozg-husum-test' }, spec: { hard: { 'count/configmaps': '3' } } });
    server.putObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'already-here', namespace: 'ozg-husum-test' }, data: {} });
    const account = server.addServiceAccount('ozg-husum-test', 'ozg');
    const driver = driverFor('husum', await server.kubeconfigFor(account, 'ozg-husum-test'));
    const error = await failure(driver.apply(makeBundle({ 'configmap.yaml': configMap('antrag-formular-config') }, { site: 'husum' }), '20260101T080000Z-aaaaaaaa'));
    expect(error.status).toBe(403);
    expect(error.message).toContain(
      'configmap/antrag-formular-config: refused by a ResourceQuota: configmaps "antrag-formular-config" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=3, limited: count/configmaps=3',
    );
    expect(error.hint).toMatch(/ResourceQuota objects allows no more/);
  });

  it('names RBAC escalation prevention when a Role grants more than the account holds', async () => {
    const account = server.addServiceAccount('ozg-flensburg-test', 'ozg', { forbid: [{ resources: ['pods'] }, { verbs: ['escalate', 'bind'] }] });
    const driver = driverFor('flensburg', await server.kubeconfigFor(account, 'ozg-flensburg-test'));
    const error = await failure(
      driver.apply(makeBundle({ 'role.yaml': role('antrag-formular-reader', ['configmaps', 'pods'], ['get', 'list']) }, { site: 'flensburg' }), '20260101T080000Z-aaaaaaaa'),
    );
    expect(error.status).toBe(403);
    expect(error.message).toContain(
      'role/antrag-formular-reader: refused by RBAC escalation prevention: roles.rbac.authorization.k8s.io "antrag-formular-reader" is forbidden: user "system:serviceaccount:ozg-flensburg-test:ozg" (groups=["system:serviceaccounts" "system:serviceaccounts:ozg-flensburg-test" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
    );
    expect(error.hint).toMatch(/only rights the deploying account holds/);
    // what the account holds itself it may grant
    await driver.apply(makeBundle({ 'role.yaml': role('antrag-formular-reader', ['configmaps'], ['get', 'list']) }, { site: 'flensburg' }), '20260101T080000Z-bbbbbbbb');
    expect(server.getObject('roles', 'ozg-flensburg-test', 'antrag-formular-reader')).toBeDefined();
  });

  it('says a namespace-only account meets a missing namespace as 403: it may not exist, or hold no rights', async () => {
    const account = server.addServiceAccount('ozg-sylt-test', 'ozg');
    const kubeconfig = await server.kubeconfigFor(account, 'ozg-sylt-test');
    server.deleteObject('namespaces', undefined, 'ozg-sylt-test');
    const driver = driverFor('sylt', kubeconfig);
    const error = await failure(driver.live('antrag-formular'));
    expect(error.status).toBe(403);
    expect(error.hint).toMatch(/the namespace ozg-sylt-test may not exist, or the account has no rights in it/);
  });
});

describe('apply checked against the kinds\' schemas', () => {
  const typoDeployment = deployment('antrag-formular', 'registry.ozg.example/ozg/antrag-formular:1.0.0')
    .replace('  replicas: 1\n', '  replica: 1\n')
    .replace('          ports:\n', '          imagePullPolcy: Always\n          env:\n            - name: MODE\n              value: a\n            - name: MODE\n              value: b\n          ports:\n');

  it('turns "field not declared in schema" and duplicate list keys into an input error naming file and field', async () => {
    const account = server.addServiceAccount('ozg-schleswig-test', 'ozg');
    const driver = driverFor('schleswig', await server.kubeconfigFor(account, 'ozg-schleswig-test'));
    const bundle = makeBundle({ 'configmap.yaml': configMap('antrag-formular-config'), 'deployment.yaml': typoDeployment }, { site: 'schleswig' });
    const error = await driver.apply(bundle, '20260101T080000Z-aaaaaaaa').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).exitCode).toBe(3);
    expect((error as InvalidInputError).problems).toEqual([
      expect.objectContaining({ file: 'antrag-formular/1.0.0/deployment.yaml', line: 1, path: 'documents[0].spec.replica', message: expect.stringMatching(/^Deployment\/antrag-formular: field not declared in schema/) }),
      expect.objectContaining({ path: 'documents[0].spec.template.spec.containers[name="app"].env', message: expect.stringContaining('duplicate entries for key [name="MODE"]') }),
      expect.objectContaining({ path: 'documents[0].spec.template.spec.containers[name="app"].imagePullPolcy', message: expect.stringContaining('field not declared in schema') }),
    ]);
    expect(server.getObject('deployments', 'ozg-schleswig-test', 'antrag-formular')).toBeUndefined();

    // the preview (server-side dry run) says the same
    const previewed = await driver.diffBundle(bundle).catch((e: unknown) => e);
    expect(previewed).toBeInstanceOf(InvalidInputError);
    expect((previewed as InvalidInputError).problems[0]).toMatchObject({ file: 'antrag-formular/1.0.0/deployment.yaml', path: 'documents[0].spec.replica' });
  });
});

describe('immutable fields', () => {
  const job = (image: string): string =>
    `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: antrag-formular-migrate\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: ${image}\n`;
  const claim = (accessMode: string): string =>
    `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: antrag-formular-uploads\nspec:\n  accessModes: [${accessMode}]\n  resources:\n    requests:\n      storage: 1Gi\n`;
  const binding = (roleKind: string, roleName: string): string =>
    `apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: antrag-formular-readers\nsubjects:\n  - kind: ServiceAccount\n    name: default\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ${roleKind}\n  name: ${roleName}\n`;
  const readerRole = (name: string): string =>
    `apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: ${name}\nrules:\n  - apiGroups: [""]\n    resources: ["configmaps"]\n    verbs: ["get"]\n`;
  let driver: KubernetesDriver;
  const namespace = 'ozg-eckernfoerde-test';
  const bundle = (files: Record<string, string>, version: string) => makeBundle(files, { site: 'eckernfoerde', version });

  beforeAll(async () => {
    const account = server.addServiceAccount(namespace, 'ozg');
    driver = driverFor('eckernfoerde', await server.kubeconfigFor(account, namespace));
  });

  it('recreates a Job whose template changed (delete + apply)', async () => {
    await driver.apply(bundle({ 'job.yaml': job('registry.ozg.example/ozg/migrate:1') }, '1.0.0'), '20260101T080000Z-aaaaaaaa');
    const before = server.getObject('jobs', namespace, 'antrag-formular-migrate')!;
    await driver.apply(bundle({ 'job.yaml': job('registry.ozg.example/ozg/migrate:2') }, '1.1.0'), '20260102T080000Z-bbbbbbbb');
    const after = server.getObject('jobs', namespace, 'antrag-formular-migrate')!;
    expect(after.spec.template.spec.containers[0].image).toBe('registry.ozg.example/ozg/migrate:2');
    expect(after.metadata.uid).not.toBe(before.metadata.uid);
  });

  it('refuses to change a claim’s spec with a clear error, and never deletes the claim', async () => {
    await driver.apply(bundle({ 'pvc.yaml': claim('ReadWriteOnce') }, '2.0.0'), '20260103T080000Z-cccccccc');
    const uid = server.getObject('persistentvolumeclaims', namespace, 'antrag-formular-uploads')!.metadata.uid;
    const error = await failure(driver.apply(bundle({ 'pvc.yaml': claim('ReadWriteMany') }, '2.1.0'), '20260104T080000Z-dddddddd'));
    expect(error.status).toBe(422);
    expect(error.message).toContain(
      'persistentvolumeclaim/antrag-formular-uploads: spec cannot change on a live object (PersistentVolumeClaim "antrag-formular-uploads" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims)',
    );
    expect(error.hint).toMatch(/ozg never deletes a claim/);
    const live = server.getObject('persistentvolumeclaims', namespace, 'antrag-formular-uploads')!;
    expect({ uid: live.metadata.uid, accessModes: live.spec.accessModes }).toEqual({ uid, accessModes: ['ReadWriteOnce'] });
    // a bound claim may ask for more storage
    await server.waitFor(() => server.getObject('persistentvolumeclaims', namespace, 'antrag-formular-uploads')?.status?.phase === 'Bound');
    await driver.apply(bundle({ 'pvc.yaml': claim('ReadWriteOnce').replace('storage: 1Gi', 'storage: 2Gi') }, '2.2.0'), '20260104T090000Z-dddddddd');
    expect(server.getObject('persistentvolumeclaims', namespace, 'antrag-formular-uploads')!.spec.resources.requests.storage).toBe('2Gi');
  });

  it('names roleRef when a RoleBinding would bind another role, and a Deployment’s selector', async () => {
    const files = { 'role.yaml': `${readerRole('reader-a')}---\n${readerRole('reader-b')}`, 'binding.yaml': binding('Role', 'reader-a') };
    await driver.apply(bundle(files, '3.0.0'), '20260105T080000Z-eeeeeeee');
    const rebound = await failure(driver.apply(bundle({ ...files, 'binding.yaml': binding('Role', 'reader-b') }, '3.1.0'), '20260106T080000Z-ffffffff'));
    expect(rebound.status).toBe(422);
    expect(rebound.message).toContain(
      'rolebinding/antrag-formular-readers: roleRef cannot change on a live object (RoleBinding.rbac.authorization.k8s.io "antrag-formular-readers" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"reader-b"}: cannot change roleRef)',
    );
    expect(rebound.hint).toMatch(/roleRef is fixed: give the binding a new name/);
    expect(server.getObject('rolebindings', namespace, 'antrag-formular-readers')!.roleRef.name).toBe('reader-a');

    const web = deployment('antrag-formular-web', 'registry.ozg.example/ozg/antrag-formular:1.0.0');
    await driver.apply(bundle({ 'deployment.yaml': web }, '4.0.0'), '20260107T080000Z-aaaaaaab');
    const relabelled = web.replace(/app\.kubernetes\.io\/name: antrag-formular-web/g, 'app.kubernetes.io/component: web');
    const error = await failure(driver.apply(bundle({ 'deployment.yaml': relabelled }, '4.1.0'), '20260108T080000Z-aaaaaaac'));
    expect(error.message).toMatch(/^namespace ozg-eckernfoerde-test: deployment\/antrag-formular-web: spec\.selector cannot change on a live object/);
    expect(error.hint).toMatch(/give the object a new name in the manifest, or delete it \(kubectl -n ozg-eckernfoerde-test delete deployment\/antrag-formular-web\)/);
  });
});
