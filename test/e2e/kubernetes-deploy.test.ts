import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { LEDGER_FILE, readLedgerFile } from '../../src/ledger/ledger.js';
import type { LedgerRecord } from '../../src/ledger/types.js';
import { copyToTemp, parseJsonLines, removeTemp, repoRoot, resultOf, runOzg, spawnOzg, type OzgRun } from '../helpers/run-ozg.js';
import { snapshotDirs, type DirSnapshot } from '../helpers/dir-snapshot.js';
import { startKubeApiServer, type KubeApiServer, type KubeObject, type KubeRequestRecord, type StoreSnapshot } from '../helpers/kube-api/index.js';

/**
 * The issue "Kubernetes data centers" through the real CLI, against the local HTTPS
 * Kubernetes API server (test/helpers/kube-api): real TLS and kubeconfigs, server-side apply,
 * namespace-only authorization, simulated rollouts and Jobs.
 *
 * Credentials: the inventory names ONE kubeconfig per environment and a namespace pattern per
 * environment, so one account must reach every site's namespace of that environment. As a
 * data center would give the state's IT team one account per environment, the test server
 * gets one user per environment bound to the site namespaces of that environment only
 * (test's account cannot touch prod, and neither can touch any other namespace).
 */

const templates = path.join(repoRoot, 'test/fixtures/e2e/kubernetes/templates');
const SITES = ['kiel', 'husum'] as const;
const PROCEDURE = 'kube-probe';
const API_TOKEN = 'kube-probe-token-3f9a1c';
const RECORD = `ozg-release-${PROCEDURE}`;
/** prod's smoke image: a data center's mirror (test uses ozg's default, busybox:1.36) */
const MIRROR_IMAGE = 'registry.rz-nord.example/mirror/busybox:1.36';
const ns = (site: string, environment: 'test' | 'prod') => `ozg-${site}-${environment}`;

/** this test's own server: empty namespaces, or both sites deployed (startDeployed) */
let server: KubeApiServer;
/** the server not yet stopped */
let running: KubeApiServer | undefined;
const kubeconfigs: Record<'test' | 'prod', string> = { test: '', prod: '' };
const temps: string[] = [];
/** the checkout the deployed state belongs to */
let cwd: string;
/** the namespaces and the checkout's ledger right after both sites were deployed once */
let deployed: { objects: StoreSnapshot; checkout: DirSnapshot };

/** A server whose namespaces hold `objects` (default: nothing yet), with one account per environment. */
async function startServer(objects?: StoreSnapshot): Promise<KubeApiServer> {
  await running?.stop();
  const started = await startKubeApiServer({ namespaces: SITES.flatMap((s) => [ns(s, 'test'), ns(s, 'prod')]), ...(objects ? { objects } : {}) });
  server = running = started;
  for (const environment of ['test', 'prod'] as const) {
    const user = started.addUser({ name: `ozg-landes-it-${environment}`, namespaces: SITES.map((s) => ns(s, environment)) });
    kubeconfigs[environment] = await started.kubeconfigFor(user, ns('kiel', environment));
  }
  return started;
}

/** Both sites at kube-probe 1.0.0 in test and prod, recorded in the checkout at `cwd`: a fresh copy for every test. */
async function startDeployed(): Promise<KubeApiServer> {
  const started = await startServer(deployed.objects);
  await deployed.checkout.restore();
  // the checkout names this server's kubeconfigs
  await writeInventory(cwd);
  return started;
}

/** The smoke Job of kube-probe's health check answers like the service does. */
function arrangeHealthyService(onJob: (job: KubeObject) => unknown = () => undefined): () => void {
  return server.arrangeJob({
    commandIncludes: 'http://kube-probe/health',
    log: (job) => {
      onJob(job);
      return '{"status":"ok"}\n';
    },
  });
}

/** What the deploy that made the deployed state did: its output, the requests it sent, the smoke Jobs' images. */
let firstDeploy: { run: OzgRun; requests: KubeRequestRecord[]; jobImages: string[] };

// One deploy makes the state most tests start from; the first test checks that deploy itself.
beforeAll(async () => {
  await startServer();
  cwd = await checkout();
  await writeInventory(cwd);
  const jobImages: string[] = [];
  const undo = arrangeHealthyService((job) => jobImages.push(`${job.metadata.namespace}: ${job.spec.template.spec.containers[0].image}`));
  server.clearRequests();
  const run = await ozg(cwd, 'deploy', '--json').finally(undo);
  firstDeploy = { run, requests: [...server.requests], jobImages };
  deployed = { objects: server.snapshot(), checkout: await snapshotDirs([cwd]) };
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

afterAll(async () => {
  await running?.stop();
  await deployed?.checkout.discard();
  await Promise.all(temps.map(removeTemp));
});

/** A checkout: the catalogue and an inventory, no ledger. */
async function checkout(): Promise<string> {
  const dir = await copyToTemp([{ from: templates, to: 'templates' }]);
  temps.push(dir);
  await mkdir(path.join(dir, 'secrets'));
  await writeFile(path.join(dir, 'secrets/api-token.txt'), API_TOKEN + '\n', { mode: 0o600 });
  return dir;
}

/** A checkout whose kiel also takes kube-twin, a procedure that defines kube-probe's ConfigMap too. */
async function checkoutWithTwin(): Promise<string> {
  const dir = await checkout();
  const twin = path.join(dir, 'templates/kube-twin/1.0.0');
  await mkdir(path.join(twin, 'kubernetes'), { recursive: true });
  await writeFile(
    path.join(twin, 'procedure.yaml'),
    'name: kube-twin\nversion: 1.0.0\ndescription: Defines an object kube-probe defines too.\nvalues: { type: object, additionalProperties: false, properties: {} }\nsecrets: []\nkubernetes:\n  manifests: kubernetes\nsmoke: []\n',
  );
  await writeFile(path.join(twin, 'kubernetes/settings.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube-probe-config\ndata:\n  owner: kube-twin\n');
  await writeInventory(dir, { procedures: { kiel: { [PROCEDURE]: '1.0.0', 'kube-twin': '1.0.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
  return dir;
}

interface InventoryOptions {
  /** procedure → version per site; default kube-probe 1.0.0 everywhere */
  procedures?: Record<string, Record<string, string>>;
  kubeconfig?: Partial<Record<'test' | 'prod', string>>;
  /** further settings of both environments (smokeStartupSeconds, rolloutTimeoutSeconds) */
  environments?: Record<string, unknown>;
}

async function writeInventory(dir: string, options: InventoryOptions = {}): Promise<void> {
  const procedures = options.procedures ?? Object.fromEntries(SITES.map((s) => [s, { [PROCEDURE]: '1.0.0' }]));
  const inventory = {
    catalogues: ['./templates'],
    dataCenters: {
      'rz-nord': {
        kind: 'kubernetes',
        environments: {
          test: { kubeconfig: options.kubeconfig?.test ?? kubeconfigs.test, namespace: 'ozg-{site}-test', ...options.environments },
          prod: { kubeconfig: options.kubeconfig?.prod ?? kubeconfigs.prod, namespace: 'ozg-{site}-prod', smokeImage: MIRROR_IMAGE, ...options.environments },
        },
      },
    },
    sites: Object.fromEntries(
      Object.entries(procedures).map(([site, chosen]) => [
        site,
        {
          dataCenter: 'rz-nord',
          procedures: Object.fromEntries(
            Object.entries(chosen).map(([procedure, version]) => [
              procedure,
              { version, ...(procedure === PROCEDURE ? { secrets: { apiToken: { file: './secrets/api-token.txt' } } } : {}) },
            ]),
          ),
        },
      ]),
    ),
  };
  await writeFile(path.join(dir, 'sites.yaml'), stringify(inventory));
}

function ozg(dir: string, ...args: string[]): Promise<OzgRun> {
  return runOzg(args, { cwd: dir });
}

/** `site/env: status` of a deploy --json result. */
function outcomes(run: OzgRun): string[] {
  return resultOf(run)
    .sites.flatMap((s: any) => s.items.flatMap((i: any) => i.environments.map((e: any) => `${s.site}/${e.environment}: ${e.status}`)))
    .sort();
}

/** What the namespace's release record says (the ConfigMap ozg keeps there). */
function releaseRecord(namespace: string): any {
  const configMap = server.getObject('configmaps', namespace, RECORD);
  return configMap ? JSON.parse(configMap.data['release.json']) : undefined;
}

function imageOf(namespace: string): string | undefined {
  return server.getObject('deployments', namespace, PROCEDURE)?.spec.template.spec.containers[0].image;
}

/** name → resourceVersion of every object in a namespace, to show nothing there changed. */
function snapshot(namespace: string): Record<string, string> {
  const objects: KubeObject[] = ['configmaps', 'secrets', 'services', 'deployments', 'jobs'].flatMap((r) => server.listObjects(r, namespace));
  return Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, String(o.metadata.resourceVersion)]));
}

/** The checkout's ledger, read directly (`ozg history --json` is shown where it matters). */
async function ledger(dir: string): Promise<LedgerRecord[]> {
  const { records, ignored } = await readLedgerFile(path.join(dir, '.ozg', LEDGER_FILE));
  expect(ignored).toBe(0);
  return records;
}

/** The `{"type":"error"}` line of a --json run, if there is one. */
function errorOf(run: OzgRun): Record<string, any> | undefined {
  return parseJsonLines(run.stdout).find((l) => l.type === 'error');
}

/** kubectl as an operator runs it against the test server (its own field manager). */
function kubectl(kubeconfig: string, args: string[]): Promise<void> {
  const binary = process.env.OZG_TEST_KUBECTL ?? 'kubectl';
  return new Promise((resolve, reject) => {
    const home = path.dirname(kubeconfig);
    const child = spawn(binary, ['--cache-dir', path.join(home, 'kubectl-cache'), '--request-timeout=10s', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error(`kubectl not found (${binary}): apt-get install -y kubernetes-client (or put kubectl on PATH, or set OZG_TEST_KUBECTL)`) : error),
    );
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl ${args.join(' ')} exited ${code}\n${output}`))));
  });
}

const isWrite = (r: KubeRequestRecord) => !['GET', 'HEAD'].includes(r.method);
const describeRequest = (r: KubeRequestRecord) => `${r.method} ${r.path}`;

describe('ozg deploy to a Kubernetes data center', () => {
  it('deploys two sites test → prod into their own namespaces, labelled, with release records', async () => {
    await startDeployed();
    const { run, requests, jobImages } = firstDeploy;
    expect({ code: run.code, stderr: run.stderr, error: errorOf(run) }).toEqual({ code: 0, stderr: '', error: undefined });
    expect(outcomes(run)).toEqual(['husum/prod: applied', 'husum/test: applied', 'kiel/prod: applied', 'kiel/test: applied']);

    for (const site of SITES) {
      for (const environment of ['test', 'prod'] as const) {
        const namespace = ns(site, environment);
        for (const [resource, name] of [
          ['configmaps', 'kube-probe-config'],
          ['secrets', 'kube-probe-api'],
          ['services', PROCEDURE],
          ['deployments', PROCEDURE],
        ]) {
          const object = server.getObject(resource!, namespace, name!);
          expect({ resource, labels: object?.metadata.labels }).toEqual({
            resource,
            labels: expect.objectContaining({
              'app.kubernetes.io/managed-by': 'ozg',
              'ozg.example/site': site,
              'ozg.example/environment': environment,
              'ozg.example/procedure': PROCEDURE,
              'ozg.example/release': expect.any(String),
            }),
          });
        }
        expect(JSON.parse(server.getObject('configmaps', namespace, 'kube-probe-config')!.data['probe.json'])).toEqual({ site, environment, version: '1.0.0', message: 'hello' });
        expect(imageOf(namespace)).toBe('registry.ozg.example/ozg/kube-probe:1.0.0');
        expect(Buffer.from(server.getObject('secrets', namespace, 'kube-probe-api')!.data.API_TOKEN, 'base64').toString()).toBe(API_TOKEN);
        const record = releaseRecord(namespace);
        expect(record).toMatchObject({ procedure: PROCEDURE, site, environment, live: { version: '1.0.0', revision: 1 } });
        expect(record).not.toHaveProperty('incomplete');
        // the release's objects are kept for rollback in a Secret, the record itself holds no secret
        expect(server.getObject('secrets', namespace, `${RECORD}.v1`)?.type).toBe('ozg.example/release-archive');
        expect(JSON.stringify(server.getObject('configmaps', namespace, RECORD))).not.toContain(API_TOKEN);
      }
    }
    // every request stayed in the four site namespaces, each environment's account in its own
    expect(requests.filter((r) => r.namespace === undefined || !/^ozg-(kiel|husum)-(test|prod)$/.test(r.namespace)).map(describeRequest)).toEqual([]);
    expect(requests.filter((r) => r.user !== `ozg-landes-it-${r.namespace!.split('-').at(-1)}`).map(describeRequest)).toEqual([]);
    // every object went in by server-side apply as the procedure's own field manager, never forcing
    const patches = requests.filter((r) => r.method === 'PATCH');
    expect(patches.length).toBeGreaterThan(0);
    expect(patches.filter((r) => !r.contentType?.startsWith('application/apply-patch+yaml') || r.query.fieldManager !== `ozg-${PROCEDURE}` || r.query.force !== 'false').map(describeRequest)).toEqual([]);
    // the smoke check ran as a Job in each namespace (test: the default image, prod: the
    // environment's smokeImage) and was cleaned up
    expect(jobImages.sort()).toEqual([`ozg-husum-prod: ${MIRROR_IMAGE}`, 'ozg-husum-test: busybox:1.36', `ozg-kiel-prod: ${MIRROR_IMAGE}`, 'ozg-kiel-test: busybox:1.36']);
    for (const site of SITES) for (const environment of ['test', 'prod'] as const) expect(server.listObjects('jobs', ns(site, environment))).toEqual([]);

    const history = await ledger(cwd);
    expect(history.map((r) => `${r.site}/${r.environment}: ${r.outcome} ${r.version}`).sort()).toEqual([
      'husum/prod: applied 1.0.0',
      'husum/test: applied 1.0.0',
      'kiel/prod: applied 1.0.0',
      'kiel/test: applied 1.0.0',
    ]);
    for (const r of history) expect(r.release).toBe(releaseRecord(ns(r.site, r.environment)).live.release);
    expect(history.flatMap((r) => r.smoke.map((s) => `${s.name}: ${s.passed} ${s.output}`))).toEqual(Array(4).fill('service-answers: true {"status":"ok"}'));
  });

  it('sends no write at all when rerun with nothing to change', async () => {
    await startDeployed();
    server.clearRequests();
    const run = await ozg(cwd, 'deploy', '--json');
    expect({ code: run.code, stderr: run.stderr, error: errorOf(run) }).toEqual({ code: 0, stderr: '', error: undefined });
    expect(outcomes(run)).toEqual(['husum/prod: unchanged', 'husum/test: unchanged', 'kiel/prod: unchanged', 'kiel/test: unchanged']);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.filter(isWrite).map(describeRequest)).toEqual([]);
  });

  it('status --json from a fresh checkout reads the live versions from the namespaces', async () => {
    await startDeployed();
    const fresh = await checkout();
    await writeInventory(fresh);
    const run = await ozg(fresh, 'status', '--json');
    expect({ code: run.code, stderr: run.stderr, error: errorOf(run) }).toEqual({ code: 0, stderr: '', error: undefined });
    const targets = resultOf(run).targets;
    expect(targets.map((t: any) => `${t.site}/${t.environment}`)).toEqual(['kiel/test', 'kiel/prod', 'husum/test', 'husum/prod']);
    for (const t of targets) {
      expect(t).toEqual({
        site: t.site,
        environment: t.environment,
        procedure: PROCEDURE,
        desired: '1.0.0',
        live: '1.0.0',
        liveRelease: releaseRecord(ns(t.site, t.environment)).live.release,
        recorded: null, // this checkout has no ledger: live comes from the namespace alone
        action: 'unchanged',
        upToDate: true,
        drift: false,
        error: null,
      });
    }
  });

  it('applies each procedure as its own field manager, visible in managedFields', async () => {
    await startDeployed();
    for (const site of SITES) {
      for (const environment of ['test', 'prod'] as const) {
        for (const [resource, name] of [['configmaps', 'kube-probe-config'], ['deployments', PROCEDURE], ['configmaps', RECORD]] as const) {
          const entries = server.getObject(resource, ns(site, environment), name)!.metadata.managedFields as Array<{ manager: string; operation: string }>;
          expect({ name, appliers: entries.filter((e) => e.operation === 'Apply').map((e) => e.manager) }).toEqual({ name, appliers: [`ozg-${PROCEDURE}`] });
        }
      }
    }
  });

  it('validate refuses two procedures of a site that define the same ConfigMap, naming both template files (exit 3)', async () => {
    await startServer();
    const dir = await checkoutWithTwin();
    const run = await ozg(dir, 'validate');
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/kube-twin\/1\.0\.0\/kubernetes\/settings\.yaml:\d+:\d+.*ConfigMap\/kube-probe-config is also defined by procedure kube-probe \(kube-probe\/1\.0\.0\/kubernetes\/configmap\.yaml:\d+\)/);
    expect(run.stdout).toBe('');
  });

  it('deploy refuses an object whose live copy carries another procedure’s label, applying nothing', async () => {
    await startDeployed();
    const dir = await checkoutWithTwin();
    const before = { test: snapshot(ns('kiel', 'test')), prod: snapshot(ns('kiel', 'prod')) };
    server.clearRequests();
    // only kube-twin is selected, so the catalogue check sees no clash: the namespace does
    const run = await ozg(dir, 'deploy', '--json', 'kiel', '-p', 'kube-twin');
    expect(run.code).toBe(4);
    expect(errorOf(run)?.message ?? run.stdout).toMatch(/configmap\/kube-probe-config \(settings\.yaml\) belongs to procedure kube-probe/);
    expect(outcomes(run)).toEqual(['kiel/prod: skipped', 'kiel/test: apply-failed']);
    expect(server.requests.filter(isWrite).map(describeRequest)).toEqual([]);
    expect({ test: snapshot(ns('kiel', 'test')), prod: snapshot(ns('kiel', 'prod')) }).toEqual(before);
    expect(server.getObject('configmaps', ns('kiel', 'test'), 'kube-probe-config')!.metadata.labels!['ozg.example/procedure']).toBe(PROCEDURE);

    // plan's server-side preview names the clash instead of a change the deploy would never make
    const plan = resultOf(await ozg(dir, 'plan', '--json', 'kiel', '-p', 'kube-twin'));
    expect(plan.targets.map((t: any) => t.error)).toEqual([expect.stringMatching(/belongs to procedure kube-probe/), expect.stringMatching(/belongs to procedure kube-probe/)]);
  });

  it('of two operators deploying one site at once from their own checkouts, the one that claims second applies nothing and puts nothing back', async () => {
    await startDeployed();
    // the second operator has an account of its own, so its requests can be told apart
    const other = server.addUser({ name: 'ozg-landes-it-test-2', namespaces: SITES.map((s) => ns(s, 'test')) });
    const otherCheckout = await checkout();
    await writeInventory(otherCheckout, { procedures: { kiel: { [PROCEDURE]: '1.1.0' } }, kubeconfig: { test: await server.kubeconfigFor(other, ns('kiel', 'test')) } });
    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.2.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
    let release!: () => void;
    // the second run has read the record; its claim waits until the first run is through
    const hold = server.injectFault({
      method: ['POST', 'PATCH'],
      path: `/api/v1/namespaces/${ns('kiel', 'test')}/configmaps/${RECORD}`,
      user: other.name,
      holdUntil: new Promise<void>((resolve) => (release = resolve)),
    });
    const undo = arrangeHealthyService();
    try {
      const second = ozg(otherCheckout, 'deploy', '--json', 'kiel');
      await Promise.race([hold.reached, second]);
      const first = await ozg(cwd, 'deploy', 'kiel');
      expect(first.code).toBe(0);
      release();
      const run = await second;

      expect(run.code).toBe(4);
      expect(errorOf(run)?.message ?? run.stdout + run.stderr).toMatch(
        /release record of kube-probe changed while this run was working on it \(ConfigMap ozg-release-kube-probe, before this run applied anything\): another ozg run/,
      );
      expect(outcomes(run)).toEqual(['kiel/prod: skipped', 'kiel/test: apply-failed']);
      // its refused claim, and no apply, prune or rollback after it
      expect(server.requests.filter((r) => r.user === other.name && isWrite(r)).map(describeRequest)).toEqual([`PATCH /api/v1/namespaces/${ns('kiel', 'test')}/configmaps/${RECORD}`]);
      expect(releaseRecord(ns('kiel', 'test')).live.version).toBe('1.2.0');
      expect(imageOf(ns('kiel', 'test'))).toBe('registry.ozg.example/ozg/kube-probe:1.2.0');
      const history = await ledger(otherCheckout);
      expect(history.map((r) => `${r.environment}: ${r.outcome} ${r.version}`)).toEqual(['test: apply-failed 1.1.0', 'prod: skipped 1.1.0']);
    } finally {
      release();
      undo();
    }
  });

  it('a deploy SIGKILLed while it applies leaves its change unfinished; the next run takes over its lock and deploys at once', async () => {
    await startDeployed();
    const namespace = ns('kiel', 'test');
    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.1.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
    let release!: () => void;
    // the run has claimed the release record; its apply of the Deployment waits here until it is killed
    const hold = server.injectFault({
      method: 'PATCH',
      path: `/apis/apps/v1/namespaces/${namespace}/deployments/${PROCEDURE}`,
      holdUntil: new Promise<void>((resolve) => (release = resolve)),
    });
    const undo = arrangeHealthyService();
    try {
      const { child, done } = spawnOzg(['deploy', '--json', 'kiel'], { cwd });
      await Promise.race([hold.reached, done]);
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      release();
      const left = releaseRecord(namespace);
      expect(left.incomplete).toMatchObject({ action: 'apply', version: '1.1.0', run: expect.any(String) });
      expect(left.incomplete).not.toHaveProperty('failed');

      const run = await ozg(cwd, 'deploy', '--json', 'kiel');
      expect({ code: run.code, error: errorOf(run) }).toEqual({ code: 0, error: undefined });
      expect(parseJsonLines(run.stdout).filter((l) => l.type === 'warning').map((l) => l.message)).toEqual([expect.stringContaining('took over the stale ledger lock')]);
      expect(outcomes(run)).toEqual(['kiel/prod: applied', 'kiel/test: applied']);
      const record = releaseRecord(namespace);
      expect(record.live.version).toBe('1.1.0');
      expect(record).not.toHaveProperty('incomplete');
      expect(imageOf(namespace)).toBe('registry.ozg.example/ozg/kube-probe:1.1.0');
    } finally {
      release();
      undo();
    }
  });

  it('refuses a ClusterRole, and an object in another site’s namespace, before sending a single request to that site', async () => {
    await startDeployed();
    const recordsBefore = (await ledger(cwd)).length;
    // issue 13: the refused site fails as itself, the other site goes on (here: unchanged, only read)
    const toKiel = () => server.requests.map(describeRequest).filter((request) => request.includes('ozg-kiel-'));
    const husumOnlyRead = () => server.requests.filter((request) => isWrite(request)).map(describeRequest);

    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.0.0', 'cluster-reader': '1.0.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
    server.clearRequests();
    const clusterRole = await ozg(cwd, 'deploy', '--json');
    expect({ code: clusterRole.code, requests: toKiel(), writes: husumOnlyRead() }).toEqual({ code: 3, requests: [], writes: [] });
    const sites = resultOf(clusterRole).sites as any[];
    expect(sites.map((site) => `${site.site}: ${site.result}`)).toEqual(['kiel: failed', 'husum: unchanged']);
    // the ClusterRole is the second document of rbac.yaml; the Role before it would be fine
    expect(sites[0].problems).toEqual([
      expect.objectContaining({ file: 'cluster-reader/1.0.0/rbac.yaml', line: 8, path: 'documents[1].kind', message: expect.stringMatching(/^ClusterRole is cluster-scoped: a namespace-only target cannot hold it/) }),
    ]);

    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.0.0', 'foreign-namespace': '1.0.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
    server.clearRequests();
    const foreign = await ozg(cwd, 'deploy');
    expect({ code: foreign.code, requests: toKiel(), writes: husumOnlyRead() }).toEqual({ code: 3, requests: [], writes: [] });
    for (const environment of ['test', 'prod']) {
      expect(foreign.stderr).toContain(
        `foreign-namespace/1.0.0/configmap.yaml:5:14  documents[0].metadata.namespace  ConfigMap/foreign-namespace names namespace "ozg-husum-${environment}", ` +
          `but this target is namespace ozg-kiel-${environment} only`,
      );
    }
    // nothing recorded for kiel; husum's unchanged targets are recorded as such
    expect((await ledger(cwd)).slice(recordsBefore).filter((record) => record.site === 'kiel')).toEqual([]);
  });

  it('stops at a failed smoke Job in test: exit 5, the Job log in the ledger, prod untouched', async () => {
    await startDeployed();
    let image: string | undefined;
    const undo = server.arrangeJob({
      commandIncludes: 'nc -z -w 3 kube-probe-db',
      outcome: 'fail',
      exitCode: 1,
      log: (job) => {
        image = job.spec.template.spec.containers[0].image;
        return 'nc: kube-probe-db (10.96.0.42:5432): Connection refused\n';
      },
    });
    try {
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.1.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      const prodBefore = snapshot(ns('kiel', 'prod'));
      const prodRecordBefore = releaseRecord(ns('kiel', 'prod'));
      const testRelease = releaseRecord(ns('kiel', 'test')).live.release;
      server.clearRequests();
      const run = await ozg(cwd, 'deploy', 'kiel', '--json');
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 5, stderr: '' });
      expect(outcomes(run)).toEqual(['kiel/prod: skipped', 'kiel/test: smoke-failed']);
      expect(image).toBe('registry.ozg.example/tools/netcat:1.0'); // the check's own image

      // prod: not one write, every object as it was, the record still on 1.0.0
      expect(server.requests.filter((r) => r.namespace === ns('kiel', 'prod') && isWrite(r)).map(describeRequest)).toEqual([]);
      expect(snapshot(ns('kiel', 'prod'))).toEqual(prodBefore);
      expect(releaseRecord(ns('kiel', 'prod'))).toEqual(prodRecordBefore);
      expect(prodRecordBefore.live.version).toBe('1.0.0');
      // test: 1.1.0 went in, failed its gate and was rolled back to the release before
      expect(releaseRecord(ns('kiel', 'test')).live).toMatchObject({ version: '1.0.0', release: testRelease });
      expect(imageOf(ns('kiel', 'test'))).toBe('registry.ozg.example/ozg/kube-probe:1.0.0');

      const history = resultOf(await ozg(cwd, 'history', '--json', '--site', 'kiel')).records.slice(-3);
      expect(history.map((r: any) => `${r.environment}: ${r.outcome} ${r.version}`)).toEqual(['test: smoke-failed 1.1.0', 'test: rolled-back 1.0.0', 'prod: skipped 1.1.0']);
      expect(history[0].smoke).toEqual([
        expect.objectContaining({ name: 'service-answers', passed: true }),
        expect.objectContaining({ name: 'database-reachable', passed: false, detail: 'exit 1 (expected 0)', output: 'nc: kube-probe-db (10.96.0.42:5432): Connection refused' }),
      ]);
    } finally {
      undo();
    }
  });

  it('in a namespace whose mesh injects a proxy into every pod, a failed smoke check is judged by its own container: exit 5 with its log, not "timed out"', async () => {
    await startDeployed();
    // a mesh that ignores the smoke pod's opt-out annotations: the proxy keeps the Job from completing
    server.putObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns('kiel', 'test'), labels: { 'sidecar.ozg.example/inject': 'forced' } } });
    const undoHealthy = arrangeHealthyService();
    const undo = server.arrangeJob({ commandIncludes: 'nc -z -w 3 kube-probe-db', outcome: 'fail', exitCode: 1, log: 'nc: kube-probe-db (10.96.0.42:5432): Connection refused\n' });
    try {
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.1.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      server.clearRequests();
      const run = await ozg(cwd, 'deploy', 'kiel', '--json');
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 5, stderr: '' });
      expect(outcomes(run)).toEqual(['kiel/prod: skipped', 'kiel/test: smoke-failed']);
      const logReads = server.requests.filter((r) => r.subresource === 'log');
      expect(logReads.length).toBeGreaterThan(0);
      expect(logReads.every((r) => r.query.container === 'check')).toBe(true);
      const history = resultOf(await ozg(cwd, 'history', '--json', '--site', 'kiel')).records.slice(-3);
      expect(history[0].smoke).toEqual([
        expect.objectContaining({ name: 'service-answers', passed: true }),
        expect.objectContaining({ name: 'database-reachable', passed: false, detail: 'exit 1 (expected 0)', output: 'nc: kube-probe-db (10.96.0.42:5432): Connection refused' }),
      ]);
    } finally {
      undo();
      undoHealthy();
    }
  });

  it('a smoke Job whose pod a LimitRange refuses fails the test gate naming the FailedCreate reason, after the environment’s smokeStartupSeconds: exit 5, prod untouched', async () => {
    await startDeployed();
    // app pods get the LimitRange's default limit and pass; the smoke Job declares 64Mi and is refused
    server.putObject({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'small-containers', namespace: ns('kiel', 'test') }, spec: { limits: [{ type: 'Container', max: { memory: '32Mi' } }] } });
    // kube-probe 1.3.0: 1.0.0 with a command check that may take 1 s, and an HTTP check
    const dir = path.join(cwd, 'templates/kube-probe/1.3.0');
    await cp(path.join(cwd, 'templates/kube-probe/1.0.0'), dir, { recursive: true });
    const procedure = (await readFile(path.join(dir, 'procedure.yaml'), 'utf8')).replace('version: 1.0.0', 'version: 1.3.0').replace('timeoutSeconds: 10', 'timeoutSeconds: 1');
    await writeFile(path.join(dir, 'procedure.yaml'), `${procedure}  - name: health-page\n    http: { url: "http://kube-probe/health" }\n    timeoutSeconds: 1\n`);
    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.3.0' }, husum: { [PROCEDURE]: '1.0.0' } }, environments: { smokeStartupSeconds: 0 } });
    const prodBefore = snapshot(ns('kiel', 'prod'));
    const prodRecordBefore = releaseRecord(ns('kiel', 'prod'));
    server.clearRequests();

    const run = await ozg(cwd, 'deploy', 'kiel', '--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 5, stderr: '' });
    expect(outcomes(run)).toEqual(['kiel/prod: skipped', 'kiel/test: smoke-failed']);
    const refusal = /FailedCreate: Error creating: pods "ozg-smoke-kube-probe-[a-z0-9-]+" is forbidden: maximum memory usage per Container is 32Mi, but limit is 64Mi/;
    const smoke = (name: string) => parseJsonLines(run.stdout).find((l) => l.type === 'smoke-result' && l.result?.name === name)?.result;
    // a command check: its verdict and its output (ledger, JUnit, --json) name the refusal
    expect(smoke('service-answers')).toMatchObject({ passed: false, detail: expect.stringMatching(refusal), output: expect.stringMatching(refusal) });
    // an HTTP check: the verdict the operator reads names the refusal
    expect(smoke('health-page')).toMatchObject({ passed: false, detail: expect.stringMatching(new RegExp(`^request failed: the check's Job did not finish: ${refusal.source}`)) });

    expect(server.requests.filter((r) => r.namespace === ns('kiel', 'prod') && isWrite(r)).map(describeRequest)).toEqual([]);
    expect(snapshot(ns('kiel', 'prod'))).toEqual(prodBefore);
    expect(releaseRecord(ns('kiel', 'prod'))).toEqual(prodRecordBefore);
    expect(releaseRecord(ns('kiel', 'test')).live.version).toBe('1.0.0');
    const history = resultOf(await ozg(cwd, 'history', '--json', '--site', 'kiel')).records.slice(-3);
    expect(history.map((r: any) => `${r.environment}: ${r.outcome} ${r.version}`)).toEqual(['test: smoke-failed 1.3.0', 'test: rolled-back 1.0.0', 'prod: skipped 1.3.0']);
    expect(history[0].smoke).toEqual([
      expect.objectContaining({ name: 'service-answers', passed: false, output: expect.stringMatching(refusal) }),
      expect.objectContaining({ name: 'health-page', passed: false, detail: expect.stringMatching(refusal) }),
    ]);
  });

  it('ozg rollback onto a claim still Terminating (pvc-protection, a pod uses it) fails naming claim, finalizer and pod, and applies nothing: exit 4', async () => {
    await startServer();
    const dir = await checkout();
    // kube-probe 1.3.0: 1.0.0 plus a claim its Deployment mounts; 1.4.0: the claim left the
    // bundle but the Deployment still mounts it, so the pruned claim stays Terminating
    const claim = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: kube-probe-data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n`;
    const mount = (text: string) =>
      text
        .replace('          volumeMounts:\n', '          volumeMounts:\n            - name: data\n              mountPath: /data\n')
        .replace('      volumes:\n', '      volumes:\n        - name: data\n          persistentVolumeClaim:\n            claimName: kube-probe-data\n');
    for (const version of ['1.3.0', '1.4.0']) {
      const target = path.join(dir, `templates/kube-probe/${version}`);
      await cp(path.join(dir, 'templates/kube-probe/1.0.0'), target, { recursive: true });
      await writeFile(path.join(target, 'procedure.yaml'), (await readFile(path.join(target, 'procedure.yaml'), 'utf8')).replace('version: 1.0.0', `version: ${version}`));
      const deploymentFile = path.join(target, 'kubernetes/deployment.yaml');
      await writeFile(deploymentFile, mount(await readFile(deploymentFile, 'utf8')));
      if (version === '1.3.0') await writeFile(path.join(target, 'kubernetes/pvc.yaml'), claim);
    }
    const undo = arrangeHealthyService();
    try {
      for (const version of ['1.3.0', '1.4.0']) {
        await writeInventory(dir, { procedures: { kiel: { [PROCEDURE]: version } }, environments: { rolloutTimeoutSeconds: 2 } });
        const deployed = await ozg(dir, 'deploy', 'kiel', '--yes');
        expect({ version, code: deployed.code }).toEqual({ version, code: 0 });
      }
    } finally {
      undo();
    }
    const namespace = ns('kiel', 'test');
    expect(server.getObject('persistentvolumeclaims', namespace, 'kube-probe-data')!.metadata).toMatchObject({ deletionTimestamp: expect.any(String), finalizers: ['kubernetes.io/pvc-protection'] });
    server.clearRequests();

    const run = await ozg(dir, 'rollback', 'kiel', '-p', PROCEDURE, '-e', 'test');
    expect(run.code).toBe(4);
    expect(run.stdout + run.stderr).toMatch(
      /persistentvolumeclaim\/kube-probe-data is still being deleted \(finalizer kubernetes\.io\/pvc-protection: pods still use it: kube-probe-[a-z0-9]+-[a-z0-9]+\); waited 2 s, nothing was applied/,
    );
    expect(server.requests.filter((r) => r.namespace === namespace && isWrite(r)).map(describeRequest)).toEqual([]);
    expect(releaseRecord(namespace).live.version).toBe('1.4.0');
    expect(server.getObject('persistentvolumeclaims', namespace, 'kube-probe-data')!.metadata.deletionTimestamp).toEqual(expect.any(String));
  });

  it('fails a Deployment that never gets ready with the pod reason, and restores the previous release', async () => {
    await startDeployed();
    // Progressing=False/ProgressDeadlineExceeded as soon as the image pull fails, as a real
    // Deployment reports once its progressDeadlineSeconds ran out
    const undo = server.arrangeWorkload({ imageIncludes: 'kube-probe:1.2.0', state: 'ImagePullBackOff', progressDeadlineExceeded: true });
    try {
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.2.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      const before = releaseRecord(ns('kiel', 'test')).live;
      const run = await ozg(cwd, 'deploy', 'kiel');
      expect(run.code).toBe(4);
      expect(run.stdout + run.stderr).toMatch(/deployment\/kube-probe failed \(progress deadline exceeded/);
      expect(run.stdout + run.stderr).toMatch(/pod kube-probe-[a-z0-9-]+: container app waiting: ImagePullBackOff/);

      // the pipeline saw the driver mark 1.2.0 incomplete and put the live release back itself
      const record = releaseRecord(ns('kiel', 'test'));
      expect(record).not.toHaveProperty('incomplete');
      expect(record.live).toMatchObject({ version: '1.0.0', release: before.release });
      expect(imageOf(ns('kiel', 'test'))).toBe('registry.ozg.example/ozg/kube-probe:1.0.0');
      expect(releaseRecord(ns('kiel', 'prod')).live.version).toBe('1.0.0');
      const history = (await ledger(cwd)).filter((r) => r.site === 'kiel').slice(-3);
      expect(history.map((r) => `${r.environment}: ${r.outcome} ${r.version}`)).toEqual(['test: apply-failed 1.2.0', 'test: rolled-back 1.0.0', 'prod: skipped 1.2.0']);
      expect(history[0].error).toMatch(/ImagePullBackOff/);
    } finally {
      undo();
    }
  });

  it('a first install with minReadySeconds whose pod crashes within the window is not recorded live: exit 4, the crash named, prod untouched', async () => {
    await startServer();
    const dir = await checkout();
    const deploymentFile = path.join(dir, 'templates/kube-probe/1.1.0/kubernetes/deployment.yaml');
    await writeFile(deploymentFile, (await readFile(deploymentFile, 'utf8')).replace('  replicas: 1\n', '  replicas: 1\n  minReadySeconds: 5\n'));
    await writeInventory(dir, { procedures: { kiel: { [PROCEDURE]: '1.1.0' } } });
    // ready at first (and so at ozg's second poll, 2 s in), crashed 3 s later, before it was
    // ready for minReadySeconds; the Deployment then reports Progressing=False, as it would
    // once its progressDeadlineSeconds ran out
    const undoCrash = server.arrangeWorkload({ imageIncludes: 'kube-probe:1.1.0', crashesAfterMs: 3000, progressDeadlineExceeded: true });
    const undoSmoke = arrangeHealthyService();
    try {
      const run = await ozg(dir, 'deploy', 'kiel');
      expect(run.code).toBe(4);
      expect(run.stdout + run.stderr).toMatch(/deployment\/kube-probe failed \(progress deadline exceeded/);
      expect(run.stdout + run.stderr).toMatch(/pod kube-probe-[a-z0-9-]+: container app waiting: CrashLoopBackOff/);
      expect(releaseRecord(ns('kiel', 'test'))?.live).toBeUndefined();
      expect(server.listObjects('deployments', ns('kiel', 'prod'))).toEqual([]);
      const history = (await ledger(dir)).filter((r) => r.site === 'kiel');
      expect(history.map((r) => `${r.environment}: ${r.outcome} ${r.version}`)).toEqual(['test: apply-failed 1.1.0', 'prod: skipped 1.1.0']);
    } finally {
      undoCrash();
      undoSmoke();
    }
  });

  it('a Deployment whose pods Pod Security refuses fails with the refusal named: exit 4, nothing recorded live', async () => {
    await startServer();
    server.putObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns('kiel', 'test'), labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    const dir = await checkout();
    await writeInventory(dir, { procedures: { kiel: { [PROCEDURE]: '1.0.0' } } });
    // Progressing=False as once its progressDeadlineSeconds ran out without a pod
    const undo = server.arrangeWorkload({ imageIncludes: 'kube-probe:1.0.0', progressDeadlineExceeded: true });
    try {
      const run = await ozg(dir, 'deploy', 'kiel');
      expect(run.code).toBe(4);
      expect(run.stdout + run.stderr).toMatch(/deployment\/kube-probe failed \(progress deadline exceeded/);
      expect(run.stdout + run.stderr).toMatch(/ReplicaFailure: FailedCreate \(pods "kube-probe-\w+-\w+" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
      expect(releaseRecord(ns('kiel', 'test'))?.live).toBeUndefined();
    } finally {
      undo();
    }
  });

  it('a rollback holds the bundle rolled back from: smoke-tested, plan shows it held, deploy skips it, --to an unknown release lists the kept ones', async () => {
    await startDeployed();
    const undo = arrangeHealthyService();
    try {
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.1.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      expect((await ozg(cwd, 'deploy', 'kiel')).code).toBe(0);
      const rollback = await ozg(cwd, 'rollback', 'kiel', '-p', PROCEDURE, '-e', 'prod', '--reason', 'wrong database', '--json');
      expect({ code: rollback.code, stderr: rollback.stderr }).toEqual({ code: 0, stderr: '' });
      expect(resultOf(rollback)).toMatchObject({
        status: 'rolled-back',
        live: { version: '1.0.0' },
        hold: { version: '1.1.0', reason: 'wrong database' },
        smoke: [expect.objectContaining({ name: 'service-answers', passed: true })],
      });
      expect(releaseRecord(ns('kiel', 'prod')).live.version).toBe('1.0.0');

      const plan = resultOf(await ozg(cwd, 'plan', 'kiel', '--json'));
      expect(plan.held).toBe(1);
      expect(plan.targets.find((t: any) => t.environment === 'prod').hold).toMatchObject({ version: '1.1.0', reason: 'wrong database', at: '1.0.0' });

      const prodBefore = snapshot(ns('kiel', 'prod'));
      server.clearRequests();
      const deploy = await ozg(cwd, 'deploy', 'kiel', '--json');
      expect({ code: deploy.code, stderr: deploy.stderr }).toEqual({ code: 0, stderr: '' });
      expect(outcomes(deploy)).toEqual(['kiel/prod: held', 'kiel/test: unchanged']);
      expect(server.requests.filter((r) => r.namespace === ns('kiel', 'prod') && isWrite(r)).map(describeRequest)).toEqual([]);
      expect(snapshot(ns('kiel', 'prod'))).toEqual(prodBefore);

      const kept = releaseRecord(ns('kiel', 'prod')).kept as Array<{ release: string; version: string }>;
      expect(kept.map((k) => k.version).sort()).toEqual(['1.0.0', '1.1.0']);
      const unknown = await ozg(cwd, 'rollback', 'kiel', '-p', PROCEDURE, '-e', 'prod', '--to', 'r-unknown');
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain(`error: release r-unknown is not kept on kiel/prod/${PROCEDURE}`);
      for (const k of kept) expect(unknown.stderr).toMatch(new RegExp(`\\n  ${k.release}  ${k.version.replace(/\./g, '\\.')}  `));
    } finally {
      undo();
    }
  });

  it('plan reads the live state: nothing pending, then pending after a version bump (exit 10)', async () => {
    await startDeployed();
    const fresh = await checkout();
    await writeInventory(fresh);
    const unchanged = await ozg(fresh, 'plan', '--json');
    expect({ code: unchanged.code, stderr: unchanged.stderr, pending: resultOf(unchanged).pending }).toEqual({ code: 0, stderr: '', pending: 0 });

    await writeInventory(fresh, { procedures: { kiel: { [PROCEDURE]: '1.0.0' }, husum: { [PROCEDURE]: '1.1.0' } } });
    server.clearRequests();
    const bumped = await ozg(fresh, 'plan', '--json');
    expect({ code: bumped.code, stderr: bumped.stderr }).toEqual({ code: 10, stderr: '' });
    const rows = resultOf(bumped).targets.map((t: any) => `${t.site}/${t.environment}: ${t.plan.action} ${t.plan.live?.version} → ${t.plan.desired.version}`);
    expect(rows).toEqual(['kiel/test: unchanged 1.0.0 → 1.0.0', 'kiel/prod: unchanged 1.0.0 → 1.0.0', 'husum/test: upgrade 1.0.0 → 1.1.0', 'husum/prod: upgrade 1.0.0 → 1.1.0']);
    // the pending targets were previewed with a server-side dry run, which stores nothing
    const husumTest = resultOf(bumped).targets.find((t: any) => t.site === 'husum' && t.environment === 'test');
    expect(husumTest.objects).toEqual(expect.objectContaining({ create: expect.any(Array), change: expect.any(Array), prune: expect.any(Array) }));
    expect(husumTest.objects.create.length + husumTest.objects.change.length).toBeGreaterThan(0);
    const writes = server.requests.filter(isWrite);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((r) => !(r.method === 'PATCH' && /dryRun\W*All/.test(JSON.stringify(r.query)))).map(describeRequest)).toEqual([]);
  });

  it('verify reports a Deployment patched by hand (another field manager) with its field (exit 11); deploy --reinstall repairs it through the gate', async () => {
    await startDeployed();
    const namespace = ns('kiel', 'test');
    const clean = await ozg(cwd, 'verify', 'kiel', '--json');
    expect({ code: clean.code, stderr: clean.stderr }).toEqual({ code: 0, stderr: '' });
    expect(resultOf(clean).targets.map((t: any) => t.verify.status)).toEqual(['clean', 'clean']);

    await kubectl(kubeconfigs.test, ['-n', namespace, 'patch', 'deployment', PROCEDURE, '--type', 'json', '--field-manager', 'kubectl-patch', '-p', '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"evil.example/app:9"}]']);
    const drifted = await ozg(cwd, 'verify', 'kiel', '--json');
    expect(drifted.code).toBe(11);
    expect(resultOf(drifted).targets.map((t: any) => ({ env: t.environment, ...t.verify, release: undefined, checked: undefined }))).toEqual([
      { env: 'test', status: 'drifted', release: undefined, checked: undefined, changed: [`deployment/${PROCEDURE}`], missing: [], extra: [], fields: [{ object: `deployment/${PROCEDURE}`, paths: ['spec.template.spec.containers[0].image'] }] },
      { env: 'prod', status: 'clean', release: undefined, checked: undefined },
    ]);

    const undo = arrangeHealthyService();
    const before = (await ledger(cwd)).length;
    const reinstalled = await ozg(cwd, 'deploy', 'kiel', '--reinstall', '--json');
    undo();
    expect({ code: reinstalled.code, stderr: reinstalled.stderr, error: errorOf(reinstalled) }).toEqual({ code: 0, stderr: '', error: undefined });
    expect(outcomes(reinstalled)).toEqual(['kiel/prod: applied', 'kiel/test: applied']);
    expect((await ledger(cwd)).slice(before).map((r) => `${r.environment}:${r.outcome}:${r.smoke.every((c) => c.passed)}`)).toEqual(['test:applied:true', 'prod:applied:true']);
    expect(imageOf(namespace)).not.toBe('evil.example/app:9');
    const repaired = await ozg(cwd, 'verify', 'kiel', '--json');
    expect({ code: repaired.code, statuses: resultOf(repaired).targets.map((t: any) => t.verify.status) }).toEqual({ code: 0, statuses: ['clean', 'clean'] });
  });

  it('reports a full ResourceQuota with the server’s message, not as a missing patch right (exit 4)', async () => {
    await startDeployed();
    const namespace = ns('kiel', 'test');
    const secrets = server.listObjects('secrets', namespace).length;
    server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'landes-it-limits', namespace }, spec: { hard: { 'count/secrets': String(secrets) } } });
    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.1.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
    const run = await ozg(cwd, 'deploy', 'kiel');
    expect(run.code).toBe(4);
    const output = run.stdout + run.stderr;
    expect(output).toMatch(/refused by a ResourceQuota: secrets "[^"]+" is forbidden: exceeded quota: landes-it-limits, requested: count\/secrets=1, used: count\/secrets=\d+, limited: count\/secrets=\d+/);
    expect(output).not.toMatch(/allow patch/);
  });

  it('reports a field the API server\'s schema lacks as invalid input naming the manifest file and field (exit 3)', async () => {
    await startDeployed();
    // kube-probe 1.3.0: 1.1.0 with a typo in its Deployment
    const typo = path.join(cwd, 'templates/kube-probe/1.3.0');
    await cp(path.join(cwd, 'templates/kube-probe/1.1.0'), typo, { recursive: true });
    await writeFile(path.join(typo, 'procedure.yaml'), (await readFile(path.join(typo, 'procedure.yaml'), 'utf8')).replace('version: 1.1.0', 'version: 1.3.0'));
    const manifest = path.join(typo, 'kubernetes/deployment.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('  replicas: 1', '  replica: 1'));
    await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.3.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
    const run = await ozg(cwd, 'deploy', 'kiel');
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toMatch(/kube-probe\/1\.3\.0\/deployment\.yaml:1:1 +documents\[0\]\.spec\.replica +Deployment\/kube-probe: field not declared in schema/);
    expect(imageOf(ns('kiel', 'test'))).toBe('registry.ozg.example/ozg/kube-probe:1.0.0');
    expect(releaseRecord(ns('kiel', 'prod')).live.version).toBe('1.0.0');
  });

  it('refuses to change a live claim’s spec, naming object and field, and keeps the claim (exit 4)', async () => {
    await startDeployed();
    // kube-probe 1.3.0 and 1.4.0: 1.1.0 plus a claim whose access mode 1.4.0 changes
    const claim = (mode: string) => `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: kube-probe-data\nspec:\n  accessModes: [${mode}]\n  resources:\n    requests:\n      storage: 1Gi\n`;
    for (const [version, mode] of [['1.3.0', 'ReadWriteOnce'], ['1.4.0', 'ReadWriteMany']] as const) {
      const dir = path.join(cwd, `templates/kube-probe/${version}`);
      await cp(path.join(cwd, 'templates/kube-probe/1.0.0'), dir, { recursive: true });
      await writeFile(path.join(dir, 'procedure.yaml'), (await readFile(path.join(dir, 'procedure.yaml'), 'utf8')).replace('version: 1.0.0', `version: ${version}`));
      await writeFile(path.join(dir, 'kubernetes/pvc.yaml'), claim(mode));
    }
    const undo = arrangeHealthyService();
    try {
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.3.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      const first = await ozg(cwd, 'deploy', 'kiel', '--yes');
      expect(first.code).toBe(0);
      const uid = server.getObject('persistentvolumeclaims', ns('kiel', 'test'), 'kube-probe-data')!.metadata.uid;

      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.4.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      const run = await ozg(cwd, 'deploy', 'kiel', '--yes');
      expect(run.code).toBe(4);
      expect(run.stdout + run.stderr).toContain('persistentvolumeclaim/kube-probe-data: spec cannot change on a live object');
      const live = server.getObject('persistentvolumeclaims', ns('kiel', 'test'), 'kube-probe-data')!;
      expect({ uid: live.metadata.uid, accessModes: live.spec.accessModes }).toEqual({ uid, accessModes: ['ReadWriteOnce'] });
      expect(releaseRecord(ns('kiel', 'test')).live.version).toBe('1.3.0');
    } finally {
      undo();
    }
  });

  it('after an autoscaler scaled the Deployment, a deploy is refused without advice to force; with the HPA in the procedure it applies and keeps the scale', async () => {
    await startDeployed();
    const namespace = ns('kiel', 'test');
    server.scaleAsHpa('deployments', namespace, PROCEDURE, 3);
    const undo = arrangeHealthyService();
    try {
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.1.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      const refused = await ozg(cwd, 'deploy', 'kiel', '--yes');
      expect(refused.code).toBe(4);
      const output = refused.stdout + refused.stderr;
      expect(output).toContain(`deployment/${PROCEDURE}: apply conflict: .spec.replicas is owned by field manager "kube-controller-manager"`);
      expect(output).not.toMatch(/force/i);
      // the error's hint reaches the site's summary line: ship the HPA with the workload
      expect(refused.stdout).toMatch(/ {6}hint: the replica count is set by someone else, usually a HorizontalPodAutoscaler .*If an HPA scales this workload, ship the HPA in the same /);

      // kube-probe 1.3.0: 1.1.0 plus the HPA that scales its Deployment
      const dir = path.join(cwd, 'templates/kube-probe/1.3.0');
      await cp(path.join(cwd, 'templates/kube-probe/1.1.0'), dir, { recursive: true });
      await writeFile(path.join(dir, 'procedure.yaml'), (await readFile(path.join(dir, 'procedure.yaml'), 'utf8')).replace('version: 1.1.0', 'version: 1.3.0'));
      await writeFile(
        path.join(dir, 'kubernetes/hpa.yaml'),
        `apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: ${PROCEDURE}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${PROCEDURE}}\n  minReplicas: 1\n  maxReplicas: 5\n`,
      );
      await writeInventory(cwd, { procedures: { kiel: { [PROCEDURE]: '1.3.0' }, husum: { [PROCEDURE]: '1.0.0' } } });
      const run = await ozg(cwd, 'deploy', 'kiel', '--yes');
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('kiel test kube-probe record: applied 1.3.0');
      expect(server.getObject('deployments', namespace, PROCEDURE)!.spec.replicas).toBe(3);
      expect(releaseRecord(namespace).live.version).toBe('1.3.0');
    } finally {
      undo();
    }
  });

  it('refuses an API server whose certificate the kubeconfig does not trust (exit 6)', async () => {
    await startServer();
    const wrongCa = await server.kubeconfigFor('ozg-landes-it-test', ns('kiel', 'test'), { ca: 'wrong' });
    const dir = await checkout();
    await writeInventory(dir, { kubeconfig: { test: wrongCa } });
    server.clearRequests();
    const run = await ozg(dir, 'deploy', 'kiel');
    expect(run.code).toBe(6);
    expect(run.stdout + run.stderr).toMatch(/the server's certificate could not be verified \(x509: [^)]*\) \[(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\]/);
    // the hint says which kubeconfig field to fix: in the summary, the --json result and the site's event
    const hint = `check certificate-authority / certificate-authority-data of cluster`;
    expect(run.stdout).toContain(`      hint: ${hint}`);
    const json = await ozg(dir, 'deploy', '--json', 'kiel');
    expect(json.code).toBe(6);
    const shown = resultOf(json).sites[0].items[0].environments[0].hint;
    expect(shown).toContain(hint);
    expect(shown).toContain(`in ${wrongCa}: it must hold the CA that signed the API server's certificate`);
    expect(parseJsonLines(json.stdout).find((e) => e.type === 'site-finished')?.hint).toContain(hint);
    // the handshake failed: no request reached the server
    expect(server.requests.map(describeRequest)).toEqual([]);
  });
});
