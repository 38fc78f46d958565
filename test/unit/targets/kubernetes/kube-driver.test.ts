import { ClusterError, ConcurrentChangeError, InvalidInputError, UsageError } from '../../../../src/errors.js';
import { createKubernetesDriver, type KubernetesDriver } from '../../../../src/targets/kubernetes/kube-driver.js';
import { UNFINISHED_GRACE_MS } from '../../../../src/targets/kubernetes/deploy-release.js';
import { selectPrunable } from '../../../../src/targets/kubernetes/owned-objects.js';
import { jobOutcome } from '../../../../src/targets/kubernetes/run-smoke-jobs.js';
import { LABELS } from '../../../../src/targets/kubernetes/manifests.js';
import { BODY_MARKER } from '../../../../src/targets/kubernetes/smoke-job.js';
import { createFakeKubeApi, status, type FakeKubeApi, type StoredObject } from './fake-kube-api.js';
import { configMap, deployment, makeBundle, secret, service } from './make-bundle.js';

const NS = 'ozg-kiel-test';
const DEPLOYMENTS = `/apis/apps/v1/namespaces/${NS}/deployments`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const JOBS = `/apis/batch/v1/namespaces/${NS}/jobs`;

interface Setup {
  api: FakeKubeApi;
  driver: KubernetesDriver;
  clock: { ms: number };
}

/** Deployments become ready on apply unless their image says `never-ready`; such a one gets a pod stuck pulling. */
function setUp(options: { rolloutTimeoutMs?: number; run?: string; deadRuns?: string[] } = {}): Setup {
  const api = createFakeKubeApi(NS);
  const clock = { ms: Date.parse('2026-01-01T00:00:00Z') };
  api.onApply = (path, object) => {
    if (path.startsWith(DEPLOYMENTS + '/')) {
      const replicas = (object.spec as { replicas?: number }).replicas ?? 1;
      const image = JSON.stringify(object.spec);
      if (image.includes('never-ready')) {
        object.status = { observedGeneration: object.metadata.generation, replicas, updatedReplicas: replicas, readyReplicas: 0 };
        api.objects.set(`${PODS}/${object.metadata.name}-7d9f`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${object.metadata.name}-7d9f`, namespace: NS, labels: { 'app.kubernetes.io/name': object.metadata.name } },
          status: {
            phase: 'Pending',
            conditions: [{ type: 'Ready', status: 'False' }],
            containerStatuses: [{ name: 'app', ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example/web:never-ready"' } } }],
          },
        });
      } else {
        object.status = { observedGeneration: object.metadata.generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas };
      }
    }
  };
  const driver = createKubernetesDriver({
    kubeconfigPath: '/nonexistent/kubeconfig',
    namespace: NS,
    site: 'kiel',
    environment: 'test',
    description: `kiel/test @ namespace ${NS}`,
    api,
    rolloutTimeoutMs: options.rolloutTimeoutMs ?? 60_000,
    ...(options.run ? { run: options.run } : {}),
    ...(options.deadRuns ? { deadRuns: options.deadRuns } : {}),
    pollIntervalMs: 1000,
    now: () => new Date(clock.ms),
    sleep: async (ms) => {
      clock.ms += ms;
    },
    createJobId: (() => {
      let n = 0;
      return () => `id${String(++n).padStart(4, '0')}`;
    })(),
  });
  return { api, driver, clock };
}

const v1 = () =>
  makeBundle(
    {
      'configmap.yaml': configMap('web-config', { 'app.json': '{"v":1}' }),
      'extra.yaml': configMap('web-extra'),
      'secret.yaml': secret('web-smtp', 'hunter2'),
      'deployment.yaml': deployment('web', 'registry.example/web:1.0.0'),
      'service.yaml': service('web'),
    },
    { version: '1.0.0', sensitive: ['secret.yaml'] },
  );
const v2 = (image = 'registry.example/web:1.1.0') =>
  makeBundle(
    {
      'configmap.yaml': configMap('web-config', { 'app.json': '{"v":2}' }),
      'secret.yaml': secret('web-smtp', 'hunter2'),
      'deployment.yaml': deployment('web', image),
      'service.yaml': service('web'),
    },
    { version: '1.1.0', sensitive: ['secret.yaml'] },
  );

function stored(api: FakeKubeApi, path: string): StoredObject | undefined {
  return api.objects.get(path);
}

describe('kubernetes driver (against a fake API)', () => {
  it('refuses a bundle with a cluster-scoped kind or a foreign namespace before sending anything', async () => {
    const { api, driver } = setUp();
    const clusterRole = makeBundle({ 'rbac.yaml': 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n' });
    await expect(driver.apply(clusterRole, 'r1')).rejects.toThrow(InvalidInputError);
    const foreign = makeBundle({ 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ozg-flensburg-test\n' });
    await expect(driver.apply(foreign, 'r1')).rejects.toThrow(/names namespace "ozg-flensburg-test"/);
    await expect(driver.diffBundle(foreign)).rejects.toThrow(InvalidInputError);
    expect(api.requests).toHaveLength(0);
  });

  it('installs: record first, objects labelled in order, rollout, archive, record', async () => {
    const { api, driver } = setUp();
    const result = await driver.apply(v1(), '20260101T000000Z-aaaaaaaa');
    expect(result).toEqual({ status: 'applied', live: expect.objectContaining({ version: '1.0.0', release: '20260101T000000Z-aaaaaaaa' }) });
    const writes = api.writes().map((r) => `${r.method} ${r.path.replace(/^.*namespaces\/[^/]+\//, '')}`);
    expect(writes).toEqual([
      // a new record is claimed by a create, which fails if another run claimed it first
      'POST configmaps',
      'PATCH configmaps/ozg-release-antrag-formular',
      'PATCH secrets/web-smtp',
      'PATCH configmaps/web-config',
      'PATCH configmaps/web-extra',
      'PATCH services/web',
      'PATCH deployments/web',
      'PATCH secrets/ozg-release-antrag-formular.v1',
      'PATCH configmaps/ozg-release-antrag-formular',
    ]);
    expect(stored(api, `${DEPLOYMENTS}/web`)!.metadata.labels).toMatchObject({
      [LABELS.managedBy]: 'ozg',
      [LABELS.site]: 'kiel',
      [LABELS.procedure]: 'antrag-formular',
      [LABELS.release]: '20260101T000000Z-aaaaaaaa',
    });
    // the record holds no secret, the archive (a Secret) does
    const record = JSON.stringify(stored(api, `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`));
    expect(record).not.toContain('hunter2');
    expect(stored(api, `/api/v1/namespaces/${NS}/secrets/ozg-release-antrag-formular.v1`)!.type).toBe('ozg.example/release-archive');
  });

  it('does nothing but one read when the live hash equals the bundle hash', async () => {
    const { api, driver } = setUp();
    await driver.apply(v1(), 'r1');
    api.requests.length = 0;
    const result = await driver.apply(v1(), 'r2');
    expect(result.status).toBe('unchanged');
    expect(result.live.release).toBe('r1');
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('upgrades, prunes what left the bundle and records the previous release', async () => {
    const { api, driver } = setUp();
    await driver.apply(v1(), 'r1');
    const result = await driver.apply(v2(), 'r2');
    expect(result.status).toBe('applied');
    expect(result.live.previous).toEqual({ version: '1.0.0', hash: v1().hash, release: 'r1' });
    expect(api.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`/api/v1/namespaces/${NS}/configmaps/web-extra`]);
    expect(stored(api, `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`)).toBeDefined(); // records survive pruning
    expect(await driver.live('antrag-formular')).toMatchObject({ version: '1.1.0', release: 'r2', previous: { release: 'r1' } });
  });

  it('keeps prune annotations and never lists kinds the procedure never used', async () => {
    const { api, driver } = setUp();
    const keep = configMap('web-extra').replace('  name: web-extra\n', '  name: web-extra\n  annotations:\n    ozg.example/prune: "false"\n');
    await driver.apply(makeBundle({ 'a.yaml': configMap('web-config'), 'b.yaml': keep }, { version: '1.0.0' }), 'r1');
    await driver.apply(makeBundle({ 'a.yaml': configMap('web-config', { x: 'y' }) }, { version: '1.0.1' }), 'r2');
    expect(api.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    const listed = new Set(api.requests.filter((r) => r.method === 'GET' && r.query?.labelSelector).map((r) => r.path.split('/').pop()));
    expect([...listed]).toEqual(['configmaps']);
  });

  it('fails a rollout that never gets ready with the pod reason, and rollback restores the live release', async () => {
    const { api, driver } = setUp({ rolloutTimeoutMs: 10_000 });
    await driver.apply(v1(), 'r1');
    const error = (await driver.apply(v2('registry.example/web:never-ready'), 'r2').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toBe(
      `namespace ${NS}: deployment/web not ready after 10 s (0 of 1 replicas ready)\n` +
        '  pod web-7d9f: container app waiting: ImagePullBackOff (Back-off pulling image "registry.example/web:never-ready")',
    );
    expect(error.hint).toMatch(/release r1 \(1.0.0\) is still recorded as live/);
    const live = await driver.live('antrag-formular');
    expect(live).toMatchObject({ release: 'r1', incomplete: { release: 'r2', failed: expect.stringMatching(/not ready after 10 s/) } });

    // the same hash as live is not "unchanged" while a failed change sits on top of it
    api.requests.length = 0;
    const rolledBack = await driver.rollback('antrag-formular');
    expect(rolledBack).toEqual({ status: 'rolled-back', live: expect.objectContaining({ release: 'r1', version: '1.0.0' }) });
    expect((rolledBack as { live: { incomplete?: unknown } }).live.incomplete).toBeUndefined();
    expect(JSON.stringify(stored(api, `${DEPLOYMENTS}/web`)!.spec)).toContain('web:1.0.0');
    expect(stored(api, `/api/v1/namespaces/${NS}/configmaps/web-extra`)).toBeDefined(); // restored
    expect(await driver.live('antrag-formular')).not.toHaveProperty('incomplete');
  });

  it('rolls back to the previous release and can go forward again by release id', async () => {
    const { api, driver } = setUp();
    expect(await driver.rollback('antrag-formular')).toEqual({ status: 'nothing-to-roll-back', reason: 'no release is live' });
    await driver.apply(v1(), 'r1');
    expect(await driver.rollback('antrag-formular')).toEqual({ status: 'nothing-to-roll-back', reason: 'the live release records no previous release' });
    await driver.apply(v2(), 'r2');
    const back = await driver.rollback('antrag-formular');
    expect(back).toEqual({ status: 'rolled-back', live: expect.objectContaining({ release: 'r1', previous: { version: '1.1.0', hash: v2().hash, release: 'r2' } }) });
    expect(JSON.stringify(stored(api, `/api/v1/namespaces/${NS}/configmaps/web-config`)!.data)).toContain('{\\"v\\":1}');
    expect(await driver.rollback('antrag-formular', 'r1')).toEqual({ status: 'nothing-to-roll-back', reason: 'release r1 is already live' });
    expect(await driver.rollback('antrag-formular', 'r9')).toEqual({ status: 'nothing-to-roll-back', reason: `release r9 is no longer kept in namespace ${NS}` });
    await expect(driver.rollback('antrag-formular', '../r1')).rejects.toThrow(UsageError);
    expect(await driver.rollback('antrag-formular', 'r2')).toMatchObject({ status: 'rolled-back', live: { release: 'r2', version: '1.1.0' } });
    // what `rollback --to` lists when asked for a release it does not keep: newest first
    expect(await driver.keptReleases!('antrag-formular')).toEqual([
      { release: 'r2', version: '1.1.0', hash: v2().hash },
      { release: 'r1', version: '1.0.0', hash: v1().hash },
    ]);
  });

  it('stops when another run changed the release record meanwhile', async () => {
    const { api, driver } = setUp();
    await driver.apply(v1(), 'r1');
    api.requests.length = 0;
    const recordPath = `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`;
    api.intercept = (r) => {
      if (r.method === 'PATCH' && r.path === recordPath) {
        api.intercept = undefined;
        api.objects.get(recordPath)!.metadata.resourceVersion = 'changed-elsewhere';
      }
      return undefined;
    };
    const error = (await driver.apply(v2(), 'r2').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/the release record of antrag-formular changed while this run was working on it/);
    expect(api.writes().map((r) => r.path)).toEqual([recordPath]); // nothing of r2 was applied
  });

  it('stops before applying anything when another run created the record of a new procedure first', async () => {
    const { api, driver } = setUp();
    const recordPath = `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`;
    api.intercept = (r) => {
      if (r.method === 'POST') {
        api.intercept = undefined;
        api.objects.set(recordPath, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ozg-release-antrag-formular', namespace: NS, resourceVersion: '99' } });
      }
      return undefined;
    };
    const error = (await driver.apply(v1(), 'r1').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.status).toBe(409);
    expect(error.message).toMatch(/changed while this run was working on it \(ConfigMap ozg-release-antrag-formular, before this run applied anything\)/);
    expect(api.writes().map((r) => r.method)).toEqual(['POST']);
  });

  it('takes over the claim of a run that stopped between creating the record and writing it', async () => {
    const { api, driver } = setUp();
    const recordPath = `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`;
    api.objects.set(recordPath, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ozg-release-antrag-formular', namespace: NS, resourceVersion: '99' } });
    const result = await driver.apply(v1(), 'r1');
    expect(result.status).toBe('applied');
    expect(api.writes()[0]).toMatchObject({ method: 'PATCH', path: recordPath });
    expect(JSON.parse(api.requests.find((r) => r.method === 'PATCH' && r.path === recordPath)!.body!).metadata.resourceVersion).toBe('99');
  });

  it('counts an unfinished change as another run at work until its rollout time and the grace have passed, then goes ahead', async () => {
    const { api, driver, clock } = setUp({ rolloutTimeoutMs: 60_000 });
    await driver.apply(v1(), 'r1');
    const recordPath = `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`;
    const stored = api.objects.get(recordPath)!;
    const body = JSON.parse((stored.data as Record<string, string>)['release.json']);
    // what a run that was killed while applying r2 leaves behind
    body.incomplete = { action: 'apply', release: 'r2', version: '1.1.0', hash: 'c'.repeat(64), startedAt: new Date(clock.ms).toISOString() };
    stored.data = { 'release.json': JSON.stringify(body) };
    api.requests.length = 0;

    clock.ms += 60_000 + UNFINISHED_GRACE_MS - 1;
    const error = (await driver.apply(v2(), 'r3').catch((e: unknown) => e)) as ConcurrentChangeError;
    expect(error).toBeInstanceOf(ConcurrentChangeError);
    expect(error.message).toMatch(/another ozg run started deploying release r2 \(1\.1\.0\) of antrag-formular at 2026-01-01T00:\d\d:\d\d.\d+Z and has not finished/);
    expect(api.writes()).toEqual([]);

    clock.ms += 1;
    expect(await driver.apply(v2(), 'r3')).toMatchObject({ status: 'applied', live: { release: 'r3' } });
  });

  it('goes ahead at once over a change left unfinished by a run it knows is dead, and writes its own run id into its claim', async () => {
    const { api, driver, clock } = setUp({ run: 'run-b', deadRuns: ['run-a'] });
    await driver.apply(v1(), 'r1');
    const recordPath = `/api/v1/namespaces/${NS}/configmaps/ozg-release-antrag-formular`;
    const claim = api.requests.find((r) => r.method === 'PATCH' && r.path === recordPath)!;
    expect(JSON.parse(JSON.parse(claim.body!).data['release.json']).incomplete).toMatchObject({ release: 'r1', run: 'run-b' });
    const stored = api.objects.get(recordPath)!;
    const body = JSON.parse((stored.data as Record<string, string>)['release.json']);
    // run-a was killed while applying r2; a record of a run that is not known dead (or of an ozg before run ids) still stops the deploy
    for (const left of [{ run: 'run-x' }, {}]) {
      body.incomplete = { action: 'apply', release: 'r2', version: '1.1.0', hash: 'c'.repeat(64), startedAt: new Date(clock.ms).toISOString(), ...left };
      stored.data = { 'release.json': JSON.stringify(body) };
      await expect(driver.apply(v2(), 'r3')).rejects.toBeInstanceOf(ConcurrentChangeError);
    }
    body.incomplete = { action: 'apply', release: 'r2', version: '1.1.0', hash: 'c'.repeat(64), startedAt: new Date(clock.ms).toISOString(), run: 'run-a' };
    stored.data = { 'release.json': JSON.stringify(body) };
    expect(await driver.apply(v2(), 'r3')).toMatchObject({ status: 'applied', live: { release: 'r3' } });
  });

  it('keeps only keepReleases archives', async () => {
    const api = createFakeKubeApi(NS);
    const driver = createKubernetesDriver({ kubeconfigPath: '/x', namespace: NS, site: 'kiel', environment: 'test', description: 'd', api, keepReleases: 2 });
    for (let i = 1; i <= 4; i++) await driver.apply(makeBundle({ 'a.yaml': configMap('c', { n: String(i) }) }, { version: `1.0.${i}` }), `r${i}`);
    const archives = [...api.objects.keys()].filter((k) => k.includes('/secrets/ozg-release-')).map((k) => k.split('/').pop());
    expect(archives.sort()).toEqual(['ozg-release-antrag-formular.v3', 'ozg-release-antrag-formular.v4']);
  });

  it('turns a refused list into a ClusterError naming verb, resource and namespace', async () => {
    const { api, driver } = setUp();
    api.intercept = (r) => (r.method === 'GET' && r.query?.labelSelector ? status(403, 'Forbidden', `services is forbidden: User "deployer" cannot list resource "services" in API group "" in the namespace "${NS}"`) : undefined);
    const error = (await driver.apply(v1(), 'r1').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/forbidden: cannot list services in namespace ozg-kiel-test \(as deployer\)/);
  });

  it('reports what an apply would change by a server-side dry run', async () => {
    const { api, driver } = setUp();
    await driver.apply(v1(), 'r1');
    api.requests.length = 0;
    const diff = await driver.diffBundle(v2());
    expect(diff).toEqual({ create: [], change: ['configmap/web-config', 'deployment/web'], unchanged: ['secret/web-smtp', 'service/web'], prune: ['configmap/web-extra'] });
    expect(api.writes().every((r) => r.query?.dryRun === 'All')).toBe(true);
  });

  it('deletes on deploy exactly what the preview listed to prune, and nothing of ozg\'s own records', async () => {
    const { api, driver } = setUp();
    await driver.apply(v1(), 'r1');
    // kept by annotation once it left the bundle: neither listed nor deleted
    const keep = configMap('web-claim').replace('  name: web-claim\n', "  name: web-claim\n  annotations:\n    ozg.example/prune: 'false'\n");
    const files = Object.fromEntries(v1().files.map((f) => [f.path, f.content.toString('utf8')]));
    await driver.apply(makeBundle({ ...files, 'claim.yaml': keep }, { version: '1.0.1', sensitive: ['secret.yaml'] }), 'r2');
    const diff = await driver.diffBundle(v2());
    api.requests.length = 0;
    await driver.apply(v2(), 'r3');
    const deleted = api.requests
      .filter((r) => r.method === 'DELETE' && !r.path.includes('/ozg-release-'))
      .map((r) => r.path.split('/').slice(-2).join('/').replace(/^configmaps\//, 'configmap/'));
    expect(diff.prune).toEqual(['configmap/web-extra']);
    expect(deleted).toEqual(diff.prune);
  });

  describe('smoke', () => {
    /** Jobs finish at once: exit code and log from the command the check runs. */
    function finishJobs(api: FakeKubeApi, outcome: (command: string) => { exitCode: number; log: string }): void {
      const previous = api.onApply;
      api.onApply = (path, object) => {
        previous?.(path, object);
        if (!path.startsWith(JOBS + '/')) return;
        const container = (object.spec as any).template.spec.containers[0];
        const env = Object.fromEntries((container.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
        const { exitCode, log } = outcome(env.OZG_URL ? `wget ${env.OZG_URL}` : container.command[2]);
        object.status = { conditions: [{ type: exitCode === 0 ? 'Complete' : 'Failed', status: 'True' }] };
        const pod = `${object.metadata.name}-x1`;
        api.objects.set(`${PODS}/${pod}`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: pod, namespace: NS, labels: { 'job-name': object.metadata.name } },
          status: { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'check', state: { terminated: { exitCode } } }] },
        });
        api.logs.set(pod, log);
      };
    }

    it('skips VM-only checks, runs the others as Jobs with logs, retries with a new Job and deletes every Job', async () => {
      const { api, driver } = setUp();
      let attempts = 0;
      finishJobs(api, (command) => {
        if (command.startsWith('wget')) return { exitCode: 0, log: `  HTTP/1.1 200 OK\n--- ozg: wget exit 0 ---\n${BODY_MARKER}\nstatus: ok\n` };
        attempts++;
        return { exitCode: attempts < 2 ? 3 : 0, log: `attempt ${attempts}\n` };
      });
      const results = await driver.smoke('antrag-formular', [
        { name: 'config-valid', command: 'sh hooks/check.sh' },
        { name: 'db', command: 'nc -z db 5432', targets: ['kubernetes'], retries: 1 },
        { name: 'health', http: { url: 'http://antrag-formular/health', status: 200, contains: 'ok' } },
      ]);
      expect(results).toEqual([
        { name: 'config-valid', passed: true, skipped: true, attempts: 0, durationMs: 0, detail: 'skipped: runs on vm targets only' },
        expect.objectContaining({ name: 'db', passed: true, attempts: 2, detail: 'exit 0', output: 'attempt 2' }),
        expect.objectContaining({ name: 'health', passed: true, attempts: 1, detail: 'status 200, body contains "ok"' }),
      ]);
      const created = api.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith(JOBS)).map((r) => r.path.split('/').pop());
      const deleted = api.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith(JOBS)).map((r) => r.path.split('/').pop());
      expect(created).toEqual(['ozg-smoke-antrag-formular-id0001', 'ozg-smoke-antrag-formular-id0002', 'ozg-smoke-antrag-formular-id0003']);
      expect(deleted).toEqual(created);
      expect(api.requests.find((r) => r.method === 'DELETE')!.query).toEqual({ propagationPolicy: 'Background' });
      expect(api.requests.some((r) => r.query?.labelSelector === 'job-name=ozg-smoke-antrag-formular-id0001')).toBe(true);
    });

    it('fails a check whose Job fails, with the exit code and the pod log', async () => {
      const { api, driver } = setUp();
      finishJobs(api, () => ({ exitCode: 2, log: 'connecting to db:5432\nnc: connection refused\n' }));
      const [result] = await driver.smoke('antrag-formular', [{ name: 'db', command: 'nc -z db 5432', targets: ['kubernetes'] }]);
      expect(result).toMatchObject({ name: 'db', passed: false, detail: 'exit 2 (expected 0)', output: 'connecting to db:5432\nnc: connection refused' });
    });

    it('times out a Job whose pod never starts, saying why', async () => {
      const { api, driver } = setUp();
      const previous = api.onApply;
      api.onApply = (path, object) => {
        previous?.(path, object);
        if (!path.startsWith(JOBS + '/')) return;
        api.objects.set(`${PODS}/p1`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p1', namespace: NS, labels: { 'job-name': object.metadata.name } },
          status: { phase: 'Pending', containerStatuses: [{ name: 'check', ready: false, state: { waiting: { reason: 'ErrImagePull', message: 'pull access denied' } } }] },
        });
      };
      const [command, http] = await driver.smoke('antrag-formular', [
        { name: 'db', command: 'true', targets: ['kubernetes'], timeoutSeconds: 5 },
        { name: 'health', http: { url: 'http://web/health' }, timeoutSeconds: 5 },
      ]);
      expect(command).toMatchObject({ passed: false, detail: "timed out after 5 s: the check's Job did not finish: pod p1: container check waiting: ErrImagePull (pull access denied)", output: 'pod p1: container check waiting: ErrImagePull (pull access denied)' });
      expect(http).toMatchObject({ passed: false, detail: "request failed: the check's Job did not finish: pod p1: container check waiting: ErrImagePull (pull access denied)" });
    });
  });
});

describe('selectPrunable', () => {
  const item = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels, annotations } });
  const ours = { [LABELS.managedBy]: 'ozg', [LABELS.procedure]: 'p' };

  it('picks ozg objects that left the bundle, never records, smoke Jobs, kept or foreign objects', () => {
    const items = [
      item('still-there', ours),
      item('gone', ours),
      item('ozg-release-p', { ...ours, [LABELS.record]: 'release' }),
      item('ozg-smoke-p-1', { ...ours, [LABELS.smoke]: 'check' }),
      item('kept', ours, { 'ozg.example/prune': 'false' }),
      item('helm-owned', { [LABELS.managedBy]: 'Helm' }),
    ];
    expect(selectPrunable({ kind: 'ConfigMap' }, items, new Set(['ConfigMap/still-there'])).map((o) => o.metadata.name)).toEqual(['gone']);
  });
});

describe('jobOutcome', () => {
  it('reads Complete and Failed from conditions or counters', () => {
    expect(jobOutcome({ status: {} })).toBeUndefined();
    expect(jobOutcome({ status: { conditions: [{ type: 'Complete', status: 'True' }] } })).toEqual({ state: 'complete' });
    expect(jobOutcome({ status: { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] } })).toEqual({ state: 'failed', reason: 'DeadlineExceeded' });
    expect(jobOutcome({ status: { succeeded: 1 } })).toEqual({ state: 'complete' });
    expect(jobOutcome({ status: { failed: 1 } })).toEqual({ state: 'failed' });
  });
});
