/**
 * The Kubernetes driver against the local HTTPS API server (test/helpers/kube-api): real TLS,
 * real kubeconfigs read by @kubernetes/client-node, server-side apply with field managers,
 * namespace-only authorization, simulated controllers for rollouts and Jobs.
 */
import { InvalidInputError, ClusterError, ConcurrentChangeError, UnreachableError } from '../../src/errors.js';
import type { DataCenter, EnvironmentSpec, Site } from '../../src/inventory/types.js';
import { createDriver } from '../../src/targets/create-driver.js';
import type { KubernetesDriver } from '../../src/targets/kubernetes/kube-driver.js';
import { createKubernetesDriverFor, type KubernetesTargetOptions } from '../../src/targets/kubernetes/kube-target.js';
import { LABELS } from '../../src/targets/kubernetes/manifests.js';
import { createKubeApi, type KubeApi } from '../../src/targets/kubernetes/kube-api.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-api/index.js';
import { configMap, deployment, horizontalPodAutoscaler as hpa, makeBundle, secret, service } from '../unit/targets/kubernetes/make-bundle.js';

const PROCEDURE = 'antrag-formular';
const SECRET_VALUE = 'correct-horse-battery-staple';

let server: KubeApiServer;
let kubeconfig: string;

function site(name: string): Site {
  return { name, labels: {}, dataCenter: 'rz-nord', facts: {}, setups: [] };
}

function environment(overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return { name: 'test', kubeconfig, context: 'ozg-test', namespace: 'ozg-{site}-test', ...overrides };
}

function dataCenter(spec: EnvironmentSpec): DataCenter {
  return { name: 'rz-nord', kind: 'kubernetes', environments: { test: spec }, keepReleases: 3 };
}

const drivers: KubernetesDriver[] = [];
function driverFor(name: string, spec: EnvironmentSpec = environment(), options: KubernetesTargetOptions = {}): KubernetesDriver {
  const driver = createKubernetesDriverFor(dataCenter(spec), spec, site(name), { rolloutTimeoutMs: 5000, pollIntervalMs: 50, ...options });
  drivers.push(driver);
  return driver;
}

function bundleV1(siteName = 'kiel') {
  return makeBundle(
    {
      'configmap.yaml': configMap('antrag-formular-config', { 'app.json': '{"title":"Antrag v1"}' }),
      'extra.yaml': configMap('antrag-formular-extra', { note: 'only in 1.0.0' }),
      'secret.yaml': secret('antrag-formular-smtp', SECRET_VALUE),
      'deployment.yaml': deployment('antrag-formular', 'registry.ozg.example/ozg/antrag-formular:1.0.0'),
      'service.yaml': service('antrag-formular'),
    },
    { site: siteName, version: '1.0.0', sensitive: ['secret.yaml'] },
  );
}

function bundleV2(image = 'registry.ozg.example/ozg/antrag-formular:1.1.0', siteName = 'kiel') {
  return makeBundle(
    {
      'configmap.yaml': configMap('antrag-formular-config', { 'app.json': '{"title":"Antrag v2"}' }),
      'secret.yaml': secret('antrag-formular-smtp', SECRET_VALUE),
      'deployment.yaml': deployment('antrag-formular', image),
      'service.yaml': service('antrag-formular'),
    },
    { site: siteName, version: '1.1.0', sensitive: ['secret.yaml'] },
  );
}

const writes = () => server.requests.filter((r) => r.method !== 'GET');

beforeAll(async () => {
  const namespaces = ['ozg-kiel-test', 'ozg-flensburg-test', 'ozg-husum-test', 'ozg-heide-test', 'ozg-rendsburg-test', 'ozg-sylt-test', 'ozg-amrum-test', 'ozg-schleswig-test', 'ozg-eckernfoerde-test', 'ozg-wyk-test'];
  server = await startKubeApiServer({ namespaces });
  server.addUser({ name: 'deployer', namespaces, token: 'deployer-token' });
  // a second operator's run, to tell its requests from the first one's
  server.addUser({ name: 'deployer-b', namespaces, token: 'deployer-b-token' });
  kubeconfig = await server.kubeconfigFor('deployer', 'ozg-kiel-test');
});

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await server?.stop();
});

describe('kubernetes driver against the local API server', () => {
  it('deploys ConfigMap, Secret, Deployment and Service into the site namespace, labelled and owned by the procedure', async () => {
    const driver = driverFor('kiel');
    const result = await driver.apply(bundleV1(), '20260101T080000Z-aaaaaaaa');
    expect(result).toMatchObject({ status: 'applied', live: { procedure: PROCEDURE, version: '1.0.0', release: '20260101T080000Z-aaaaaaaa' } });

    for (const [resource, name] of [
      ['configmaps', 'antrag-formular-config'],
      ['secrets', 'antrag-formular-smtp'],
      ['deployments', 'antrag-formular'],
      ['services', 'antrag-formular'],
    ] as const) {
      const object = server.getObject(resource, 'ozg-kiel-test', name);
      expect(object).toBeDefined();
      expect(object!.metadata.labels).toMatchObject({
        [LABELS.managedBy]: 'ozg',
        [LABELS.site]: 'kiel',
        [LABELS.environment]: 'test',
        [LABELS.procedure]: PROCEDURE,
        [LABELS.release]: '20260101T080000Z-aaaaaaaa',
      });
      // each procedure applies as its own field manager, so the server reports two procedures claiming one field
      const appliers = (object!.metadata.managedFields as Array<{ manager: string; operation: string }>).filter((m) => m.operation === 'Apply').map((m) => m.manager);
      expect(appliers).toEqual([`ozg-${PROCEDURE}`]);
    }
    const applies = server.requests.filter((r) => r.method === 'PATCH');
    expect(applies.every((r) => r.contentType?.startsWith('application/apply-patch+yaml') && r.query.fieldManager === `ozg-${PROCEDURE}` && r.query.force === 'false')).toBe(true);
    // nothing at cluster scope, nothing outside the namespace
    expect(server.requests.every((r) => r.namespace === 'ozg-kiel-test')).toBe(true);

    const secretObject = server.getObject('secrets', 'ozg-kiel-test', 'antrag-formular-smtp');
    expect(Buffer.from(secretObject!.data.PASSWORD, 'base64').toString()).toBe(SECRET_VALUE);
    const record = JSON.stringify(server.getObject('configmaps', 'ozg-kiel-test', 'ozg-release-antrag-formular'));
    expect(record).not.toContain(SECRET_VALUE);
    expect(record).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
    expect(server.getObject('secrets', 'ozg-kiel-test', 'ozg-release-antrag-formular.v1')?.type).toBe('ozg.example/release-archive');
  });

  it('sends no write at all when the bundle hash is live already', async () => {
    server.clearRequests();
    const result = await driverFor('kiel').apply(bundleV1(), '20260101T090000Z-aaaaaaaa');
    expect(result).toMatchObject({ status: 'unchanged', live: { release: '20260101T080000Z-aaaaaaaa' } });
    expect(server.requests.length).toBeGreaterThan(0);
    expect(writes()).toEqual([]);
  });

  it('reads the live release from a fresh driver, as status on another machine would', async () => {
    const fresh = await createDriver(dataCenter(environment()), environment(), site('kiel'));
    try {
      expect(await fresh.live(PROCEDURE)).toEqual({
        procedure: PROCEDURE,
        version: '1.0.0',
        hash: bundleV1().hash,
        release: '20260101T080000Z-aaaaaaaa',
        deployedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(await fresh.live('dms-connector')).toBeUndefined();
    } finally {
      await fresh.close();
    }
  });

  it('upgrades and prunes the object the new version no longer has', async () => {
    server.clearRequests();
    const result = await driverFor('kiel').apply(bundleV2(), '20260102T080000Z-bbbbbbbb');
    expect(result).toMatchObject({ status: 'applied', live: { version: '1.1.0', previous: { version: '1.0.0', release: '20260101T080000Z-aaaaaaaa' } } });
    expect(server.getObject('configmaps', 'ozg-kiel-test', 'antrag-formular-extra')).toBeUndefined();
    expect(writes().filter((r) => r.method === 'DELETE').map((r) => `${r.resource}/${r.name}`)).toEqual(['configmaps/antrag-formular-extra']);
    expect(server.getObject('configmaps', 'ozg-kiel-test', 'kube-root-ca.crt')).toBeDefined(); // not ours, untouched
    expect(JSON.stringify(server.getObject('deployments', 'ozg-kiel-test', 'antrag-formular')!.spec)).toContain('antrag-formular:1.1.0');
  });

  it('keeps two sites apart in two namespaces', async () => {
    const flensburg = driverFor('flensburg');
    await flensburg.apply(bundleV1('flensburg'), '20260103T080000Z-aaaaaaaa');
    expect(server.getObject('deployments', 'ozg-flensburg-test', 'antrag-formular')!.metadata.labels![LABELS.site]).toBe('flensburg');
    expect(await flensburg.live(PROCEDURE)).toMatchObject({ version: '1.0.0' });
    expect(await driverFor('kiel').live(PROCEDURE)).toMatchObject({ version: '1.1.0' });
    // the same bundle content hashes the same for both sites, and each namespace has its own record
    expect(server.getObject('configmaps', 'ozg-flensburg-test', 'ozg-release-antrag-formular')).toBeDefined();
  });

  it('refuses a ClusterRole and an object naming another namespace without a single request', async () => {
    const driver = driverFor('kiel');
    server.clearRequests();
    const clusterRole = makeBundle({
      'deployment.yaml': deployment('antrag-formular', 'x:1'),
      'rbac.yaml': 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: antrag-formular-reader\nrules: []\n',
    });
    const refused = (await driver.apply(clusterRole, '20260104T080000Z-cccccccc').catch((e: unknown) => e)) as InvalidInputError;
    expect(refused).toBeInstanceOf(InvalidInputError);
    expect(refused.exitCode).toBe(3);
    expect(refused.problems[0]).toMatchObject({ file: 'antrag-formular/1.0.0/rbac.yaml', line: 2, path: 'documents[0].kind' });

    const foreign = makeBundle({ 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ozg-flensburg-test\n' });
    await expect(driver.apply(foreign, '20260104T080000Z-cccccccc')).rejects.toThrow(/names namespace "ozg-flensburg-test", but this target is namespace ozg-kiel-test only/);
    expect(server.requests).toHaveLength(0);
  });

  it('names the refused verb, resource and namespace when the account lacks rights there', async () => {
    server.addServiceAccount('ozg-husum-test', 'ozg');
    const husumOnly = await server.kubeconfigFor('system:serviceaccount:ozg-husum-test:ozg', 'ozg-husum-test');
    const driver = driverFor('kiel', environment({ kubeconfig: husumOnly }));
    const error = (await driver.live(PROCEDURE).catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/forbidden: cannot get configmaps ozg-release-antrag-formular in namespace ozg-kiel-test \(as system:serviceaccount:ozg-husum-test:ozg\)/);
  });

  describe('a Deployment an autoscaler scales through the scale subresource', () => {
    const bundle = (siteName: string, version: string, withHpa: boolean) =>
      makeBundle(
        {
          'deployment.yaml': deployment(PROCEDURE, `registry.ozg.example/ozg/antrag-formular:${version}`, 2),
          ...(withHpa ? { 'hpa.yaml': hpa(PROCEDURE) } : {}),
        },
        { site: siteName, version },
      );

    it('leaves replicas to the HPA in the bundle: after it scales to 3, a redeploy applies without conflict and keeps 3', async () => {
      const driver = driverFor('schleswig');
      await driver.apply(bundle('schleswig', '1.0.0', true), '20260101T080000Z-aaaaaaaa');
      const first = server.getObject('deployments', 'ozg-schleswig-test', PROCEDURE)!;
      // no replicas applied: the API's default of 1 until the autoscaler takes over
      expect(first.spec.replicas).toBe(1);
      server.scaleAsHpa('deployments', 'ozg-schleswig-test', PROCEDURE, 3);

      const result = await driver.apply(bundle('schleswig', '1.1.0', true), '20260102T080000Z-bbbbbbbb');

      expect(result).toMatchObject({ status: 'applied', live: { version: '1.1.0' } });
      const live = server.getObject('deployments', 'ozg-schleswig-test', PROCEDURE)!;
      expect(live.spec.replicas).toBe(3);
      expect(JSON.stringify(live.spec)).toContain('antrag-formular:1.1.0');
      const owners = (live.metadata.managedFields ?? []).map((m) => ({ manager: m.manager, subresource: m.subresource, replicas: m.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined }));
      expect(owners.filter((o) => o.replicas)).toEqual([{ manager: 'kube-controller-manager', subresource: 'scale', replicas: true }]);
    });

    it('without the HPA in the bundle, a replicas conflict with the autoscaler is reported and the hint does not say to force', async () => {
      const driver = driverFor('eckernfoerde');
      await driver.apply(bundle('eckernfoerde', '1.0.0', false), '20260101T080000Z-aaaaaaaa');
      server.scaleAsHpa('deployments', 'ozg-eckernfoerde-test', PROCEDURE, 3);

      const error = (await driver.apply(bundle('eckernfoerde', '1.1.0', false), '20260102T080000Z-bbbbbbbb').catch((e: unknown) => e)) as ClusterError;

      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/deployment\/antrag-formular: apply conflict: \.spec\.replicas is owned by field manager "kube-controller-manager"/);
      expect(error.hint).not.toMatch(/force/i);
      expect(error.hint).toMatch(/HorizontalPodAutoscaler/);
      expect(error.hint).toMatch(/ozg then leaves spec\.replicas out/);
      expect(server.getObject('deployments', 'ozg-eckernfoerde-test', PROCEDURE)!.spec.replicas).toBe(3);
    });
  });

  it('stops at a field another manager took over, naming field and manager, and never forces', async () => {
    const driver = driverFor('flensburg');
    const live = server.getObject('configmaps', 'ozg-flensburg-test', 'antrag-formular-config')!;
    server.putObject({ ...live, data: { 'app.json': '{"title":"edited by hand"}' } }, { manager: 'kubectl-edit' });
    const error = (await driver.apply(bundleV2(undefined, 'flensburg'), '20260105T080000Z-bbbbbbbb').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/configmap\/antrag-formular-config: apply conflict: \.data\.app\.json is owned by field manager "kubectl-edit"/);
    expect(error.hint).toMatch(/--force-conflicts/);
    expect(server.getObject('configmaps', 'ozg-flensburg-test', 'antrag-formular-config')!.data['app.json']).toBe('{"title":"edited by hand"}');
    expect(await driver.live(PROCEDURE)).toMatchObject({ version: '1.0.0', incomplete: { version: '1.1.0', failed: expect.stringMatching(/apply conflict/) } });
  });

  it('reports a failed Job smoke check with the Job’s log, skips VM-only checks and cleans up', async () => {
    const undo = server.arrangeJob({ commandIncludes: 'pg_isready', outcome: 'fail', exitCode: 2, log: 'checking db:5432\ndb:5432 - no response\n' });
    const undoHttp = server.arrangeJob({
      annotation: { key: 'ozg.example/smoke-check', value: 'health' },
      outcome: 'succeed',
      log: '  HTTP/1.1 200 OK\n  Content-Type: text/plain\n--- ozg: wget exit 0 ---\n--- ozg: body ---\nstatus: ok\n',
    });
    try {
      const results = await driverFor('kiel').smoke(PROCEDURE, [
        { name: 'config-valid', command: 'sh hooks/check.sh' },
        { name: 'database', command: 'pg_isready -h db -p 5432', targets: ['kubernetes'], timeoutSeconds: 10 },
        { name: 'health', http: { url: 'http://antrag-formular/health', status: 200, contains: 'ok' }, timeoutSeconds: 10 },
      ]);
      expect(results).toEqual([
        expect.objectContaining({ name: 'config-valid', passed: true, skipped: true, attempts: 0 }),
        expect.objectContaining({ name: 'database', passed: false, attempts: 1, detail: 'exit 2 (expected 0)', output: 'checking db:5432\ndb:5432 - no response' }),
        expect.objectContaining({ name: 'health', passed: true, detail: 'status 200, body contains "ok"' }),
      ]);
      const jobWrites = server.requests.filter((r) => r.resource === 'jobs' && r.method !== 'GET');
      expect(jobWrites.map((r) => r.method)).toEqual(['PATCH', 'DELETE', 'PATCH', 'DELETE']);
      expect(jobWrites.filter((r) => r.method === 'DELETE').every((r) => r.query.propagationPolicy === 'Background')).toBe(true);
      expect(server.listObjects('jobs', 'ozg-kiel-test')).toEqual([]);
    } finally {
      undo();
      undoHttp();
    }
  });

  it('gives a smoke Job the start-up time the inventory environment sets (smokeStartupSeconds)', async () => {
    const deadlines: number[] = [];
    const undo = server.arrangeJob({ commandIncludes: 'pg_isready', log: (job) => (deadlines.push(job.spec.activeDeadlineSeconds), 'ok\n') });
    try {
      const check = { name: 'database', command: 'pg_isready -h db', targets: ['kubernetes' as const], timeoutSeconds: 10 };
      expect(await driverFor('kiel', environment({ smokeStartupSeconds: 7 })).smoke(PROCEDURE, [check])).toEqual([expect.objectContaining({ passed: true })]);
      expect(await driverFor('kiel').smoke(PROCEDURE, [check])).toEqual([expect.objectContaining({ passed: true })]);
      // the check's 10 s plus the environment's 7 s, then plus the default 120 s
      expect(deadlines).toEqual([17, 130]);
    } finally {
      undo();
    }
  });

  it('fails a rollout that never gets ready with the pod reason, then rollback restores the previous release', async () => {
    const driver = driverFor('kiel', environment(), { rolloutTimeoutMs: 1500 });
    const undo = server.arrangeWorkload({ imageIncludes: ':9.9.9', state: 'ImagePullBackOff' });
    try {
      const error = (await driver.apply(bundleV2('registry.ozg.example/ozg/antrag-formular:9.9.9'), '20260106T080000Z-dddddddd').catch((e: unknown) => e)) as ClusterError;
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/^namespace ozg-kiel-test: deployment\/antrag-formular not ready after 1\.5 s \(/);
      expect(error.message).toMatch(/\n {2}pod antrag-formular-[a-z0-9-]+: container app waiting: ImagePullBackOff \(Back-off pulling image/);
      expect(error.hint).toMatch(/release 20260102T080000Z-bbbbbbbb \(1\.1\.0\) is still recorded as live/);
      expect(await driver.live(PROCEDURE)).toMatchObject({ release: '20260102T080000Z-bbbbbbbb', incomplete: { release: '20260106T080000Z-dddddddd' } });

      const rolledBack = await driver.rollback(PROCEDURE);
      expect(rolledBack).toMatchObject({ status: 'rolled-back', live: { version: '1.1.0', release: '20260102T080000Z-bbbbbbbb' } });
      expect(JSON.stringify(server.getObject('deployments', 'ozg-kiel-test', 'antrag-formular')!.spec)).toContain('antrag-formular:1.1.0');
      expect(await driver.live(PROCEDURE)).not.toHaveProperty('incomplete');

      // and one step further back: the release before, with the object the upgrade had pruned
      const older = await driver.rollback(PROCEDURE);
      expect(older).toMatchObject({ status: 'rolled-back', live: { version: '1.0.0', release: '20260101T080000Z-aaaaaaaa', previous: { release: '20260102T080000Z-bbbbbbbb' } } });
      expect(server.getObject('configmaps', 'ozg-kiel-test', 'antrag-formular-extra')).toBeDefined();
      expect(JSON.stringify(server.getObject('deployments', 'ozg-kiel-test', 'antrag-formular')!.spec)).toContain('antrag-formular:1.0.0');
    } finally {
      undo();
    }
  });

  it('shows what an apply would change by a server-side dry run, changing nothing', async () => {
    const driver = driverFor('kiel');
    server.clearRequests();
    const diff = await driver.diffBundle(bundleV2());
    expect(diff).toEqual({
      create: [],
      change: ['configmap/antrag-formular-config', 'deployment/antrag-formular'],
      unchanged: ['secret/antrag-formular-smtp', 'service/antrag-formular'],
      prune: ['configmap/antrag-formular-extra'],
    });
    expect(writes().every((r) => r.query.dryRun === 'All')).toBe(true);
    expect(server.getObject('configmaps', 'ozg-kiel-test', 'antrag-formular-extra')).toBeDefined();
  });

  it('refuses to talk to a server whose certificate it cannot verify, naming the server', async () => {
    const wrongCa = await server.wrongCaKubeconfigFor('deployer', 'ozg-kiel-test');
    const error = (await driverFor('kiel', environment({ kubeconfig: wrongCa })).live(PROCEDURE).catch((e: unknown) => e)) as UnreachableError;
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(new RegExp(`^${server.url.replace(/[.]/g, '\\.')}: the server's certificate could not be verified \\(x509: `));
    expect(error.hint).toMatch(/certificate-authority/);
  });

  it('refuses a kubeconfig that skips TLS verification, before connecting', async () => {
    const insecure = await server.kubeconfigFor('deployer', 'ozg-kiel-test', { insecureSkipTlsVerify: true });
    server.clearRequests();
    const error = await driverFor('kiel', environment({ kubeconfig: insecure })).live(PROCEDURE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toMatch(/insecure-skip-tls-verify/);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses an object another procedure of the site owns, before writing anything', async () => {
    const first = driverFor('husum');
    await first.apply(makeBundle({ 'shared.yaml': configMap('shared-settings', { owner: 'antrag' }) }, { site: 'husum' }), '20260107T080000Z-aaaaaaaa');
    server.clearRequests();
    const second = makeBundle({ 'settings.yaml': configMap('shared-settings', { owner: 'melde' }) }, { site: 'husum', procedure: 'melde-register' });
    const error = (await driverFor('husum').apply(second, '20260107T090000Z-bbbbbbbb').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/configmap\/shared-settings \(settings\.yaml\) belongs to procedure antrag-formular/);
    expect(writes()).toEqual([]);
    const live = server.getObject('configmaps', 'ozg-husum-test', 'shared-settings')!;
    expect(live.data).toEqual({ owner: 'antrag' });
    expect(live.metadata.labels![LABELS.procedure]).toBe(PROCEDURE);
    expect(await driverFor('husum').live('melde-register')).toBeUndefined();
  });

  it('takes over once what the former shared field manager `ozg` applied for the procedure', async () => {
    // the driver as it was: every procedure applied as `ozg`
    const inner = await createKubeApi({ kubeconfigPath: kubeconfig, context: 'ozg-test' });
    const legacyApi: KubeApi = {
      ...inner,
      request: (request) => inner.request(request.query?.fieldManager ? { ...request, query: { ...request.query, fieldManager: 'ozg' } } : request),
    };
    const old = makeBundle({ 'cm.yaml': configMap('legacy-settings', { title: 'v1', dropped: 'only in 1.0.0' }) }, { site: 'husum', procedure: 'legacy-app' });
    await driverFor('husum', environment(), { api: legacyApi }).apply(old, '20260108T080000Z-aaaaaaaa');
    const appliers = (name: string) =>
      (server.getObject('configmaps', 'ozg-husum-test', name)!.metadata.managedFields as Array<{ manager: string; operation: string }>).filter((m) => m.operation === 'Apply').map((m) => m.manager);
    expect(appliers('legacy-settings')).toEqual(['ozg']);

    const next = makeBundle({ 'cm.yaml': configMap('legacy-settings', { title: 'v2' }) }, { site: 'husum', procedure: 'legacy-app', version: '1.1.0' });
    const result = await driverFor('husum').apply(next, '20260108T090000Z-bbbbbbbb');
    expect(result).toMatchObject({ status: 'applied', live: { version: '1.1.0' } });
    expect(appliers('legacy-settings')).toEqual(['ozg-legacy-app']);
    expect(appliers('ozg-release-legacy-app')).toEqual(['ozg-legacy-app']);
    // what only the old manager held and the new version dropped is gone, as after any upgrade
    expect(server.getObject('configmaps', 'ozg-husum-test', 'legacy-settings')!.data).toEqual({ title: 'v2' });
    inner.close();
  });

  describe('a Deployment with minReadySeconds, on a first install', () => {
    // pods must stay ready for minReadySeconds before they count as available; until then the
    // server leaves availableReplicas out and kubectl rollout status keeps waiting
    const minReady = (siteName: string, image: string) =>
      makeBundle({ 'deployment.yaml': deployment(PROCEDURE, image).replace('spec:\n  replicas: 1', 'spec:\n  minReadySeconds: 1\n  replicas: 1') }, { site: siteName, version: '1.0.0' });
    let luebeck: string;
    beforeAll(async () => {
      server.createNamespace('ozg-luebeck-test');
      server.createNamespace('ozg-ploen-test');
      server.addUser({ name: 'north-deployer', namespaces: ['ozg-luebeck-test', 'ozg-ploen-test'], token: 'north-token' });
      luebeck = await server.kubeconfigFor('north-deployer', 'ozg-luebeck-test');
    });

    it('records the release live only once the pods are available, not when they are first ready', async () => {
      const driver = driverFor('luebeck', environment({ kubeconfig: luebeck }));
      await driver.apply(minReady('luebeck', 'registry.ozg.example/ozg/antrag-formular:1.0.0'), '20260110T080000Z-aaaaaaaa');
      const status = server.getObject('deployments', 'ozg-luebeck-test', PROCEDURE)!.status;
      expect(status).toMatchObject({ availableReplicas: 1, conditions: expect.arrayContaining([expect.objectContaining({ type: 'Available', status: 'True' })]) });
      expect(await driver.live(PROCEDURE)).toMatchObject({ release: '20260110T080000Z-aaaaaaaa' });
    });

    it('does not record a release whose pod crashes within minReadySeconds, and names the crash', async () => {
      const undo = server.arrangeWorkload({ imageIncludes: ':1.0.0-crash', crashesAfterMs: 200 });
      try {
        const driver = driverFor('ploen', environment({ kubeconfig: luebeck }), { rolloutTimeoutMs: 2500 });
        const error = (await driver.apply(minReady('ploen', 'registry.ozg.example/ozg/antrag-formular:1.0.0-crash'), '20260110T090000Z-bbbbbbbb').catch((e: unknown) => e)) as ClusterError;
        expect(error).toBeInstanceOf(ClusterError);
        expect(error.message).toMatch(/^namespace ozg-ploen-test: deployment\/antrag-formular not ready after 2\.5 s \(0 of 1 replicas ready\)/);
        expect(error.message).toMatch(/\n {2}pod antrag-formular-[a-z0-9-]+: container app waiting: CrashLoopBackOff/);
        expect(error.hint).toMatch(/nothing was live before/);
        expect(await driver.live(PROCEDURE)).toBeUndefined();
      } finally {
        undo();
      }
    });
  });

  describe('pod admission', () => {
    let restrictedConfig: string;
    beforeAll(async () => {
      server.createNamespace('ozg-eutin-test', { 'pod-security.kubernetes.io/enforce': 'restricted' });
      server.createNamespace('ozg-preetz-test');
      server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-pods', namespace: 'ozg-preetz-test' }, spec: { hard: { pods: '0' } } });
      // a compute quota that pods without requests and limits cannot pass, and a tight LimitRange
      server.createNamespace('ozg-ratzeburg-test');
      server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: 'ozg-ratzeburg-test' }, spec: { hard: { 'requests.cpu': '2', 'requests.memory': '2Gi', 'limits.cpu': '4', 'limits.memory': '4Gi' } } });
      server.createNamespace('ozg-bargteheide-test');
      server.putObject({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'small-containers', namespace: 'ozg-bargteheide-test' }, spec: { limits: [{ type: 'Container', max: { memory: '32Mi' } }] } });
      server.addUser({ name: 'admission-deployer', namespaces: ['ozg-eutin-test', 'ozg-preetz-test', 'ozg-ratzeburg-test', 'ozg-bargteheide-test'], token: 'admission-token' });
      restrictedConfig = await server.kubeconfigFor('admission-deployer', 'ozg-eutin-test');
    });

    it('names the Pod Security refusal when a Deployment gets no pods in a `restricted` namespace', async () => {
      const driver = driverFor('eutin', environment({ kubeconfig: restrictedConfig }), { rolloutTimeoutMs: 1000 });
      const bundle = makeBundle({ 'deployment.yaml': deployment(PROCEDURE, 'registry.ozg.example/ozg/antrag-formular:1.0.0') }, { site: 'eutin', version: '1.0.0' });
      const error = (await driver.apply(bundle, '20260111T080000Z-aaaaaaaa').catch((e: unknown) => e)) as ClusterError;
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/^namespace ozg-eutin-test: deployment\/antrag-formular not ready after 1 s \(0 of 1 replicas updated\)/);
      expect(error.message).toMatch(
        /\n {2}ReplicaFailure: FailedCreate \(pods "antrag-formular-\w+-\w+" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "app" must set securityContext\.allowPrivilegeEscalation=false\), unrestricted capabilities/,
      );
    });

    it('names the Pod Security refusal from the events of a StatefulSet that gets no pod', async () => {
      const driver = driverFor('eutin', environment({ kubeconfig: restrictedConfig }), { rolloutTimeoutMs: 1000 });
      const statefulSet = [
        'apiVersion: apps/v1',
        'kind: StatefulSet',
        'metadata:',
        '  name: db',
        'spec:',
        '  serviceName: db',
        '  selector: { matchLabels: { app: db } }',
        '  template:',
        '    metadata: { labels: { app: db } }',
        '    spec:',
        '      containers: [{ name: db, image: registry.ozg.example/postgres:16 }]',
        '',
      ].join('\n');
      const error = (await driver.apply(makeBundle({ 'db.yaml': statefulSet }, { site: 'eutin', version: '1.0.0' }), '20260111T090000Z-bbbbbbbb').catch((e: unknown) => e)) as ClusterError;
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/statefulset\/db not ready after 1 s/);
      expect(error.message).toMatch(/\n {2}FailedCreate: create Pod db-0 in StatefulSet db failed error: pods "db-0" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
      expect(server.controllerErrors).toEqual([]);
    });

    it('runs its smoke Jobs in a `restricted` namespace: their pods pass Pod Security', async () => {
      const undoHttp = server.arrangeJob({ annotation: { key: 'ozg.example/smoke-check', value: 'health' }, log: '  HTTP/1.1 200 OK\n--- ozg: wget exit 0 ---\n--- ozg: body ---\nstatus: ok\n' });
      try {
        const results = await driverFor('eutin', environment({ kubeconfig: restrictedConfig })).smoke(PROCEDURE, [
          { name: 'db', command: 'pg_isready -h db', targets: ['kubernetes'], timeoutSeconds: 10 },
          { name: 'health', http: { url: 'http://antrag-formular/health', status: 200, contains: 'ok' }, timeoutSeconds: 10 },
        ]);
        expect(results).toEqual([expect.objectContaining({ name: 'db', passed: true }), expect.objectContaining({ name: 'health', passed: true })]);
        expect(server.listObjects('events', 'ozg-eutin-test').filter((e) => e.reason === 'FailedCreate' && e.involvedObject.kind === 'Job')).toEqual([]);
      } finally {
        undoHttp();
      }
    });

    it('names the refusal when a smoke Job gets no pod (a quota), instead of only "timed out"', async () => {
      const preetz = await server.kubeconfigFor('admission-deployer', 'ozg-preetz-test');
      const driver = driverFor('preetz', environment({ kubeconfig: preetz }), { smokeStartupSeconds: 0 });
      const results = await driver.smoke(PROCEDURE, [
        { name: 'db', command: 'pg_isready -h db', targets: ['kubernetes'], timeoutSeconds: 1 },
        { name: 'health', http: { url: 'http://antrag-formular/health', status: 200 }, timeoutSeconds: 1 },
      ]);
      const refusal = /FailedCreate: Error creating: pods "ozg-smoke-[a-z0-9-]+" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0/;
      expect(results[0]).toMatchObject({ name: 'db', passed: false, detail: expect.stringMatching(refusal), output: expect.stringMatching(refusal) });
      expect(results[1]).toMatchObject({ name: 'health', passed: false, detail: expect.stringMatching(refusal) });
    });
    it('names the compute quota a Deployment without requests and limits fails (ReplicaFailure), instead of only "not ready"', async () => {
      const config = await server.kubeconfigFor('admission-deployer', 'ozg-ratzeburg-test');
      const driver = driverFor('ratzeburg', environment({ kubeconfig: config }), { rolloutTimeoutMs: 1000 });
      const bundle = makeBundle({ 'deployment.yaml': deployment(PROCEDURE, 'registry.ozg.example/ozg/antrag-formular:1.0.0') }, { site: 'ratzeburg', version: '1.0.0' });
      const error = (await driver.apply(bundle, '20260112T080000Z-aaaaaaaa').catch((e: unknown) => e)) as ClusterError;
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/^namespace ozg-ratzeburg-test: deployment\/antrag-formular not ready after 1 s/);
      expect(error.message).toMatch(
        /\n {2}ReplicaFailure: FailedCreate \(pods "antrag-formular-\w+-\w+" is forbidden: failed quota: compute: must specify limits\.cpu for: app; limits\.memory for: app; requests\.cpu for: app; requests\.memory for: app\)/,
      );
    });

    it('runs its smoke Jobs under a compute quota: they declare requests and limits, so no pod is refused', async () => {
      const config = await server.kubeconfigFor('admission-deployer', 'ozg-ratzeburg-test');
      const undo = server.arrangeJob({ namespace: 'ozg-ratzeburg-test', log: 'ok\n' });
      try {
        const results = await driverFor('ratzeburg', environment({ kubeconfig: config })).smoke(PROCEDURE, [{ name: 'db', command: 'pg_isready -h db', targets: ['kubernetes'], timeoutSeconds: 10 }]);
        expect(results).toEqual([expect.objectContaining({ name: 'db', passed: true })]);
        expect(server.listObjects('events', 'ozg-ratzeburg-test').filter((e) => e.reason === 'FailedCreate' && e.involvedObject.kind === 'Job')).toEqual([]);
      } finally {
        undo();
      }
    });

    it('names the LimitRange a smoke Job’s pod exceeds (FailedCreate), instead of only "timed out"', async () => {
      const config = await server.kubeconfigFor('admission-deployer', 'ozg-bargteheide-test');
      const driver = driverFor('bargteheide', environment({ kubeconfig: config, smokeStartupSeconds: 0 }));
      const results = await driver.smoke(PROCEDURE, [{ name: 'db', command: 'pg_isready -h db', targets: ['kubernetes'], timeoutSeconds: 1 }]);
      expect(results[0]).toMatchObject({
        name: 'db',
        passed: false,
        detail: expect.stringMatching(/^timed out after 1 s: the check's Job did not finish: FailedCreate: Error creating: pods "ozg-smoke-[a-z0-9-]+" is forbidden: maximum memory usage per Container is 32Mi, but limit is 64Mi/),
        output: expect.stringMatching(/FailedCreate: Error creating: pods "ozg-smoke-[a-z0-9-]+" is forbidden: maximum memory usage per Container is 32Mi, but limit is 64Mi/),
      });
    });
  });

  describe('a namespace whose pods get an injected mesh sidecar', () => {
    const MESH = 'sidecar.ozg.example/inject';
    const configs: Record<string, string> = {};
    beforeAll(async () => {
      server.createNamespace('ozg-ploen-test', { [MESH]: 'forced' });
      server.createNamespace('ozg-eckernfoerde-test', { [MESH]: 'enabled' });
      server.createNamespace('ozg-moelln-test', { [MESH]: 'native' });
      const namespaces = ['ozg-ploen-test', 'ozg-eckernfoerde-test', 'ozg-moelln-test'];
      server.addUser({ name: 'mesh-deployer', namespaces, token: 'mesh-token' });
      for (const namespace of namespaces) configs[namespace] = await server.kubeconfigFor('mesh-deployer', namespace);
    });
    const checks = [
      { name: 'database', command: 'pg_isready -h db -p 5432', targets: ['kubernetes' as const], timeoutSeconds: 2 },
      { name: 'health', http: { url: 'http://antrag-formular/health', status: 200, contains: 'ok' }, timeoutSeconds: 2 },
    ];
    const arrange = (outcome: 'succeed' | 'fail') => {
      const undoDb = server.arrangeJob({ commandIncludes: 'pg_isready', outcome, exitCode: 2, log: outcome === 'fail' ? 'db:5432 - no response\n' : 'db:5432 - accepting connections\n' });
      const undoHttp = server.arrangeJob({ annotation: { key: 'ozg.example/smoke-check', value: 'health' }, log: '  HTTP/1.1 200 OK\n--- ozg: wget exit 0 ---\n--- ozg: body ---\nstatus: ok\n' });
      return () => {
        undoDb();
        undoHttp();
      };
    };

    it('judges each check by the smoke container once it exited, though the injected proxy keeps the pod Running and the Job incomplete', async () => {
      const before = server.requests.length;
      const undo = arrange('succeed');
      try {
        const driver = driverFor('ploen', environment({ kubeconfig: configs['ozg-ploen-test'] }), { smokeStartupSeconds: 0 });
        const results = await driver.smoke(PROCEDURE, checks);
        expect(results).toEqual([
          expect.objectContaining({ name: 'database', passed: true, output: 'db:5432 - accepting connections' }),
          expect.objectContaining({ name: 'health', passed: true, detail: 'status 200, body contains "ok"' }),
        ]);
        const logReads = server.requests.slice(before).filter((r) => r.subresource === 'log');
        expect(logReads).toHaveLength(2);
        // two containers in the pod: a log read without `container` is a 400 on a real server
        expect(logReads.every((r) => r.query.container === 'check')).toBe(true);
        expect(server.listObjects('jobs', 'ozg-ploen-test')).toEqual([]);
      } finally {
        undo();
      }
    });

    it('fails a check by the smoke container’s exit code and log, not as "timed out"', async () => {
      const undo = arrange('fail');
      try {
        const driver = driverFor('ploen', environment({ kubeconfig: configs['ozg-ploen-test'] }), { smokeStartupSeconds: 0 });
        const [database] = await driver.smoke(PROCEDURE, [checks[0]!]);
        expect(database).toMatchObject({ name: 'database', passed: false, attempts: 1, detail: 'exit 2 (expected 0)', output: 'db:5432 - no response' });
      } finally {
        undo();
      }
    });

    it('opts the smoke Job out of injection, which a mesh that honours the annotations respects', async () => {
      const undo = arrange('succeed');
      const templates: any[] = [];
      const undoSeen = server.arrangeJob({
        commandIncludes: 'pg_isready',
        log: (job) => {
          templates.push(job.spec.template);
          return 'db:5432 - accepting connections\n';
        },
      });
      try {
        const driver = driverFor('eckernfoerde', environment({ kubeconfig: configs['ozg-eckernfoerde-test'] }), { smokeStartupSeconds: 0 });
        const results = await driver.smoke(PROCEDURE, checks);
        expect(results.map((r) => r.passed)).toEqual([true, true]);
        expect(templates[0].metadata.annotations).toMatchObject({ 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' });
      } finally {
        undoSeen();
        undo();
      }
    });

    it('passes with a native sidecar (an init container that restarts always), which lets the Job complete', async () => {
      const undo = arrange('succeed');
      try {
        const driver = driverFor('moelln', environment({ kubeconfig: configs['ozg-moelln-test'] }));
        const results = await driver.smoke(PROCEDURE, checks);
        expect(results.map((r) => r.passed)).toEqual([true, true]);
      } finally {
        undo();
      }
    });
  });

  it('judges an HTTP check whose body runs to hundreds of lines by its status line, reading the log from its start', async () => {
    const body = Array.from({ length: 600 }, (_, i) => `line ${i + 1} of a long page`).join('\n');
    const undo = server.arrangeJob({
      annotation: { key: 'ozg.example/smoke-check', value: 'long-page' },
      outcome: 'succeed',
      log: `  HTTP/1.1 200 OK\n  Content-Type: text/html\n--- ozg: wget exit 0 ---\n--- ozg: body ---\n${body}\n`,
    });
    // only this check's requests: tests before it read logs of their own
    const before = server.requests.length;
    try {
      const results = await driverFor('kiel').smoke(PROCEDURE, [{ name: 'long-page', http: { url: 'http://antrag-formular/', status: 200, contains: 'line 1 of' }, timeoutSeconds: 10 }]);
      expect(results).toEqual([expect.objectContaining({ name: 'long-page', passed: true, detail: 'status 200, body contains "line 1 of"' })]);
      const logRead = server.requests.slice(before).find((r) => r.subresource === 'log');
      expect(logRead?.query.limitBytes).toBeDefined();
      expect(logRead?.query.tailLines).toBeUndefined();
    } finally {
      undo();
    }
  });

  describe('two runs deploying the procedure into one namespace at once', () => {
    const RECORD = /^\/api\/v1\/namespaces\/ozg-(heide|rendsburg)-test\/configmaps(\/ozg-release-antrag-formular)?$/;

    /** Run B reads the record, then its first write waits until `during` (the other change) is done. */
    async function raceRunB(siteName: string, during: () => Promise<void>): Promise<unknown> {
      const kubeconfigB = await server.kubeconfigFor('deployer-b', `ozg-${siteName}-test`);
      let release!: () => void;
      const hold = server.injectFault({ method: ['POST', 'PATCH', 'PUT'], path: RECORD, user: 'deployer-b', holdUntil: new Promise<void>((resolve) => (release = resolve)) });
      const runB = driverFor(siteName, environment({ kubeconfig: kubeconfigB })).apply(bundleV2(undefined, siteName), '20260109T090000Z-bbbbbbbb');
      const outcome = runB.then(
        () => 'applied',
        (error: unknown) => error,
      );
      await Promise.race([hold.reached, outcome]);
      await during();
      release();
      return outcome;
    }
    const writesOfB = () => server.requests.filter((r) => r.user === 'deployer-b' && r.method !== 'GET');

    it('of two first installs, the one that claims the release record second applies nothing', async () => {
      server.clearRequests();
      const error = (await raceRunB('rendsburg', async () => {
        await driverFor('rendsburg').apply(bundleV1('rendsburg'), '20260109T080000Z-aaaaaaaa');
      })) as ClusterError;

      expect(error).toBeInstanceOf(ConcurrentChangeError);
      expect((error as ConcurrentChangeError).applied).toBe(false);
      expect(error.status).toBe(409);
      expect(error.message).toContain('the release record of antrag-formular changed while this run was working on it (ConfigMap ozg-release-antrag-formular, before this run applied anything)');
      expect(error.message).toContain('another ozg run');
      expect(error.hint).toMatch(/let it finish, then run again/);
      expect(writesOfB()).toHaveLength(1); // its claim, refused
      expect(await driverFor('rendsburg').live(PROCEDURE)).toMatchObject({ version: '1.0.0', release: '20260109T080000Z-aaaaaaaa' });
      expect(server.getObject('configmaps', 'ozg-rendsburg-test', 'antrag-formular-extra')).toBeDefined(); // not pruned by the loser
    });

    it('of two upgrades read at the same resourceVersion, the one that claims second applies nothing', async () => {
      await driverFor('heide').apply(bundleV1('heide'), '20260109T070000Z-00000000');
      server.clearRequests();
      const error = (await raceRunB('heide', async () => {
        await driverFor('heide').apply(bundleV2('registry.ozg.example/ozg/antrag-formular:1.2.0', 'heide'), '20260109T080000Z-aaaaaaaa');
      })) as ClusterError;

      expect(error).toBeInstanceOf(ClusterError);
      expect(error.status).toBe(409);
      expect(error.message).toContain('(ConfigMap ozg-release-antrag-formular, before this run applied anything): another ozg run changed it');
      expect(writesOfB()).toHaveLength(1);
      expect(JSON.stringify(server.getObject('deployments', 'ozg-heide-test', 'antrag-formular')!.spec)).toContain('antrag-formular:1.2.0');
      expect(await driverFor('heide').live(PROCEDURE)).toMatchObject({ release: '20260109T080000Z-aaaaaaaa' });
    });

    it('a run that starts while another run is still applying stops before any write', async () => {
      let release!: () => void;
      // the first run has claimed the record; its first object waits
      const hold = server.injectFault({
        method: 'PATCH',
        path: '/api/v1/namespaces/ozg-heide-test/secrets/antrag-formular-smtp',
        user: 'deployer',
        holdUntil: new Promise<void>((resolve) => (release = resolve)),
      });
      const first = driverFor('heide').apply(bundleV1('heide'), '20260109T100000Z-cccccccc');
      await hold.reached;
      server.clearRequests();
      const kubeconfigB = await server.kubeconfigFor('deployer-b', 'ozg-heide-test');
      const error = (await driverFor('heide', environment({ kubeconfig: kubeconfigB }))
        .apply(bundleV2(undefined, 'heide'), '20260109T100100Z-dddddddd')
        .catch((e: unknown) => e)) as ConcurrentChangeError;
      release();

      expect(error).toBeInstanceOf(ConcurrentChangeError);
      expect(error.message).toMatch(/another ozg run started deploying release 20260109T100000Z-cccccccc \(1\.0\.0\) of antrag-formular at \S+ and has not finished; this run applied nothing/);
      expect(error.hint).toMatch(/if it was killed, run again after \d{4}-/);
      expect(writesOfB()).toEqual([]);
      await expect(first).resolves.toMatchObject({ status: 'applied', live: { release: '20260109T100000Z-cccccccc' } });
    });

    it('a run that took over the ledger lock of a killed run deploys at once over the change that run left unfinished; a live run\'s change still stops it', async () => {
      let release!: () => void;
      // run A claimed the record and stops at its first object, as a run SIGKILLed mid-apply would
      const hold = server.injectFault({
        method: 'PATCH',
        path: '/api/v1/namespaces/ozg-wyk-test/secrets/antrag-formular-smtp',
        user: 'deployer',
        holdUntil: new Promise<void>((resolve) => (release = resolve)),
      });
      const runA = driverFor('wyk', environment(), { run: 'run-a' }).apply(bundleV1('wyk'), '20260110T100000Z-aaaaaaaa');
      const outcomeA = runA.then(
        () => 'applied',
        (error: unknown) => error,
      );
      await hold.reached;
      const claimed = JSON.parse(server.getObject('configmaps', 'ozg-wyk-test', 'ozg-release-antrag-formular')!.data['release.json']);
      expect(claimed.incomplete).toMatchObject({ release: '20260110T100000Z-aaaaaaaa', run: 'run-a' });
      const kubeconfigB = await server.kubeconfigFor('deployer-b', 'ozg-wyk-test');

      // a run that took over some other run's lock: run A is not known dead, so it is refused as before
      server.clearRequests();
      const refused = (await driverFor('wyk', environment({ kubeconfig: kubeconfigB }), { run: 'run-b', deadRuns: ['run-x'] })
        .apply(bundleV2(undefined, 'wyk'), '20260110T100100Z-bbbbbbbb')
        .catch((e: unknown) => e)) as ConcurrentChangeError;
      expect(refused).toBeInstanceOf(ConcurrentChangeError);
      expect(refused.message).toMatch(/another ozg run started deploying release 20260110T100000Z-aaaaaaaa \(1\.0\.0\) of antrag-formular at \S+ and has not finished/);
      expect(writesOfB()).toEqual([]);

      // the run that took over run A's lock goes ahead at once and completes
      const taken = await driverFor('wyk', environment({ kubeconfig: kubeconfigB }), { run: 'run-c', deadRuns: ['run-a'] }).apply(bundleV2(undefined, 'wyk'), '20260110T100200Z-cccccccc');
      expect(taken).toMatchObject({ status: 'applied', live: { version: '1.1.0', release: '20260110T100200Z-cccccccc' } });
      const record = JSON.parse(server.getObject('configmaps', 'ozg-wyk-test', 'ozg-release-antrag-formular')!.data['release.json']);
      expect(record.incomplete).toBeUndefined();
      expect(record.live).toMatchObject({ release: '20260110T100200Z-cccccccc' });

      // (a real killed run never comes back; let A's request go so the test leaves nothing pending)
      release();
      await outcomeA;
    });

    it('names the field manager of a hand edit of the release record instead of blaming another ozg run', async () => {
      server.clearRequests();
      const error = (await raceRunB('heide', async () => {
        const record = server.getObject('configmaps', 'ozg-heide-test', 'ozg-release-antrag-formular')!;
        server.putObject({ ...record, metadata: { ...record.metadata, annotations: { note: 'edited by hand' } } }, { manager: 'kubectl-edit' });
      })) as ClusterError;

      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/before this run applied anything\): field manager "kubectl-edit" changed it at \S+, not ozg/);
      expect(error.hint).toContain('kubectl -n ozg-heide-test get configmap ozg-release-antrag-formular -o yaml');
      expect(writesOfB()).toHaveLength(1);
    });
  });

  describe('an overloaded or failing API server', () => {
    const recordPath = (ns: string) => `/api/v1/namespaces/${ns}/configmaps/ozg-release-antrag-formular`;

    it('retries 429 and 503 with Retry-After as client-go does, and the deploy goes through', async () => {
      server.clearRequests();
      const throttled = server.injectFault({ method: 'GET', path: recordPath('ozg-sylt-test'), times: 2, status: 429, retryAfterSeconds: 1 });
      const failing = server.injectFault({ method: 'PATCH', path: '/apis/apps/v1/namespaces/ozg-sylt-test/deployments/antrag-formular', status: 503, retryAfterSeconds: 1 });

      const result = await driverFor('sylt').apply(bundleV1('sylt'), '20260110T080000Z-aaaaaaaa');

      expect(result).toMatchObject({ status: 'applied', live: { version: '1.0.0' } });
      expect([throttled.hits, failing.hits]).toEqual([2, 1]);
      const codes = (method: string, path: string) => server.requests.filter((r) => r.method === method && r.path === path).map((r) => r.code);
      expect(codes('GET', recordPath('ozg-sylt-test')).slice(0, 3)).toEqual([429, 429, 404]);
      expect(codes('PATCH', '/apis/apps/v1/namespaces/ozg-sylt-test/deployments/antrag-formular')).toEqual([503, 201]);
    });

    it('does not send a create again after a 5xx, and says the server failed', async () => {
      server.clearRequests();
      server.injectFault({ method: 'POST', path: '/api/v1/namespaces/ozg-amrum-test/configmaps', status: 503, retryAfterSeconds: 1 });

      const error = (await driverFor('amrum').apply(bundleV1('amrum'), '20260110T090000Z-aaaaaaaa').catch((e: unknown) => e)) as ClusterError;

      expect(error).toBeInstanceOf(ClusterError);
      expect(error.status).toBe(503);
      expect(error.message).toContain('failed with 503 ServiceUnavailable: the server is currently unable to handle the request');
      expect(error.hint).toMatch(/the API server failed, not the request/);
      expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/v1/namespaces/ozg-amrum-test/configmaps']);
    });

    it('gives up on a server that stays overloaded, naming the 429', async () => {
      server.clearRequests();
      server.injectFault({ method: 'GET', path: recordPath('ozg-amrum-test'), times: 100, status: 429, retryAfterSeconds: 0 });

      const error = (await driverFor('amrum').apply(bundleV1('amrum'), '20260110T100000Z-aaaaaaaa').catch((e: unknown) => e)) as ClusterError;

      expect(error).toBeInstanceOf(ClusterError);
      expect(error.status).toBe(429);
      expect(error.message).toContain('get configmaps/ozg-release-antrag-formular was refused as too many requests (429): Too many requests, please try again later.');
      expect(error.hint).toMatch(/stayed overloaded while ozg retried \(up to 4 times/);
      expect(server.requests.filter((r) => r.path === recordPath('ozg-amrum-test')).length).toBe(5);
    });
  });

  describe('a claim still being deleted', () => {
    // release 2 drops the claim from its bundle but its Deployment still mounts it: prune
    // deletes the claim, which stays Terminating (pvc-protection) while that pod runs
    const claim = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n`;
    const mounting = deployment(PROCEDURE, 'registry.ozg.example/ozg/antrag-formular:1.0.0') +
      `          volumeMounts:\n            - name: data\n              mountPath: /data\n      volumes:\n        - name: data\n          persistentVolumeClaim:\n            claimName: data\n`;
    const withClaim = (siteName: string) => makeBundle({ 'claim.yaml': claim, 'deployment.yaml': mounting }, { site: siteName, version: '1.0.0' });
    const withoutClaim = (siteName: string) => makeBundle({ 'deployment.yaml': mounting }, { site: siteName, version: '1.1.0' });
    let wykConfig: string;
    beforeAll(async () => {
      server.createNamespace('ozg-wyk-test');
      server.createNamespace('ozg-nebel-test');
      server.addUser({ name: 'claim-deployer', namespaces: ['ozg-wyk-test', 'ozg-nebel-test'], token: 'claim-token' });
      wykConfig = await server.kubeconfigFor('claim-deployer', 'ozg-wyk-test');
    });

    async function pruneClaimInUse(driver: KubernetesDriver, namespace: string): Promise<void> {
      await driver.apply(withClaim(namespace.split('-')[1]!), '20260120T080000Z-aaaaaaaa');
      await driver.apply(withoutClaim(namespace.split('-')[1]!), '20260121T080000Z-bbbbbbbb');
      const terminating = server.getObject('persistentvolumeclaims', namespace, 'data')!;
      expect(terminating.metadata).toMatchObject({ deletionTimestamp: expect.any(String), finalizers: ['kubernetes.io/pvc-protection'] });
    }

    it('a rollback onto a claim that stays Terminating fails naming the claim, its finalizer and the pod, and applies nothing', async () => {
      const driver = driverFor('wyk', environment({ kubeconfig: wykConfig }), { rolloutTimeoutMs: 300 });
      await pruneClaimInUse(driver, 'ozg-wyk-test');
      server.clearRequests();

      const error = (await driver.rollback(PROCEDURE).catch((e: unknown) => e)) as ClusterError;
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toMatch(/^namespace ozg-wyk-test: persistentvolumeclaim\/data is still being deleted \(finalizer kubernetes\.io\/pvc-protection: pods still use it: antrag-formular-[a-z0-9-]+\); waited 0\.3 s, nothing was applied$/);
      expect(error.hint).toMatch(/a claim goes once no pod uses it/);
      expect(writes()).toEqual([]);
      expect(await driver.live(PROCEDURE)).toMatchObject({ release: '20260121T080000Z-bbbbbbbb' });
      expect(await driver.live(PROCEDURE)).not.toHaveProperty('incomplete');
    });

    it('a rollback waits for a Terminating claim to go once its pod is gone, then creates it anew', async () => {
      const driver = driverFor('nebel', environment({ kubeconfig: wykConfig, namespace: 'ozg-nebel-test' }), { rolloutTimeoutMs: 20_000 });
      await pruneClaimInUse(driver, 'ozg-nebel-test');
      const oldUid = server.getObject('persistentvolumeclaims', 'ozg-nebel-test', 'data')!.metadata.uid;
      // the preview shows the claim as created, not as unchanged
      expect(await driver.diffBundle(withClaim('nebel'))).toMatchObject({ create: ['persistentvolumeclaim/data'], unchanged: ['deployment/antrag-formular'] });
      server.clearRequests();

      let settled = false;
      const rollback = driver.rollback(PROCEDURE).finally(() => (settled = true));
      // the driver read the claim once for ownership; a second read is its wait
      const claimReads = () => server.requests.filter((r) => r.method === 'GET' && r.resource === 'persistentvolumeclaims' && r.name === 'data').length;
      while (claimReads() < 2 && !settled) await new Promise((resolve) => setTimeout(resolve, 10));
      for (const pod of server.listObjects('pods', 'ozg-nebel-test')) server.deleteObject('pods', 'ozg-nebel-test', pod.metadata.name!);

      expect(await rollback).toMatchObject({ status: 'rolled-back', live: { release: '20260120T080000Z-aaaaaaaa' } });
      const recreated = server.getObject('persistentvolumeclaims', 'ozg-nebel-test', 'data')!;
      expect(recreated.metadata.deletionTimestamp).toBeUndefined();
      expect(recreated.metadata.uid).not.toBe(oldUid);
    });
  });

  it('left the controllers without errors', () => {
    expect(server.controllerErrors).toEqual([]);
  });
});
