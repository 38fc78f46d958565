import { statSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { copyToTemp, parseJsonLines, removeTemp, repoRoot, resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { startKubeApiServer, type KubeApiServer, type KubeObject, type KubeRequestRecord } from '../helpers/kube-api/index.js';

/**
 * Issue 12, "Helm charts", through the real CLI and the real helm against the local Kubernetes
 * API server: the example chart procedure templates/vorgang-manager deployed to two sites, its
 * test hook run as ozg's smoke Job, the namespace checks on helm's output, the test gate,
 * rollback and pruning, and a missing helm.
 */

const PROCEDURE = 'vorgang-manager';
const SITES = ['kiel', 'husum'] as const;
const SMTP_PASSWORD = 'smtp-geheim-7c41e9';
const TEST_HOOK = 'vorgang-manager-test-connection';
const ns = (site: string, environment: 'test' | 'prod') => `ozg-${site}-${environment}`;
const NAMESPACES = SITES.flatMap((s) => [ns(s, 'test'), ns(s, 'prod')]);
const RECORD = `ozg-release-${PROCEDURE}`;

let server: KubeApiServer | undefined;
const temps: string[] = [];

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

afterAll(async () => {
  await Promise.all(temps.map(removeTemp));
});

function requireHelm(): void {
  // the tests need the real helm: CI installs it with scripts/install-helm.sh
  const found = (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      return statSync(path.join(dir, 'helm')).isFile();
    } catch {
      return false;
    }
  });
  if (!found) throw new Error('helm is not on PATH: run scripts/install-helm.sh (installs helm v4 into /usr/local/bin)');
}

/** A server with the four site namespaces and one account per environment; a checkout naming it. */
async function setup(versions: Partial<Record<(typeof SITES)[number], string>> = {}): Promise<{ dir: string; server: KubeApiServer }> {
  const started = await startKubeApiServer({ namespaces: NAMESPACES });
  server = started;
  const kubeconfigs: Record<string, string> = {};
  for (const environment of ['test', 'prod'] as const) {
    const user = started.addUser({ name: `ozg-landes-it-${environment}`, namespaces: SITES.map((s) => ns(s, environment)) });
    kubeconfigs[environment] = await started.kubeconfigFor(user, ns('kiel', environment));
  }
  const dir = await copyToTemp([{ from: path.join(repoRoot, 'templates', PROCEDURE), to: `templates/${PROCEDURE}` }]);
  temps.push(dir);
  await mkdir(path.join(dir, 'secrets'));
  await writeFile(path.join(dir, 'secrets/smtp.txt'), SMTP_PASSWORD + '\n', { mode: 0o600 });
  await writeInventory(dir, kubeconfigs, versions);
  return { dir, server: started };
}

async function writeInventory(dir: string, kubeconfigs: Record<string, string>, versions: Partial<Record<string, string>>): Promise<void> {
  const inventory = {
    catalogues: ['./templates'],
    dataCenters: {
      'rz-nord': {
        kind: 'kubernetes',
        environments: {
          test: { kubeconfig: kubeconfigs.test, namespace: 'ozg-{site}-test' },
          prod: { kubeconfig: kubeconfigs.prod, namespace: 'ozg-{site}-prod' },
        },
      },
    },
    sites: Object.fromEntries(
      SITES.map((site, i) => [
        site,
        {
          dataCenter: 'rz-nord',
          procedures: {
            [PROCEDURE]: {
              version: versions[site] ?? '1.0.0',
              values: { host: `vorgang.${site}.example`, municipalityKey: ['01002000', '01054056'][i] },
              secrets: { smtpPassword: { file: './secrets/smtp.txt' } },
            },
          },
        },
      ]),
    ),
  };
  await writeFile(path.join(dir, 'sites.yaml'), stringify(inventory));
}

/** Writes the inventory again with other versions (same server). */
async function pinVersions(dir: string, versions: Partial<Record<string, string>>): Promise<void> {
  const text = await readFile(path.join(dir, 'sites.yaml'), 'utf8');
  const parsed = parse(text);
  for (const [site, version] of Object.entries(versions)) parsed.sites[site].procedures[PROCEDURE].version = version;
  await writeFile(path.join(dir, 'sites.yaml'), stringify(parsed));
}

/** A new chart version: 1.0.0 copied, then `change` applied to its folder. */
async function addVersion(dir: string, version: string, change: (versionDir: string) => Promise<void>): Promise<void> {
  const from = path.join(dir, 'templates', PROCEDURE, '1.0.0');
  const to = path.join(dir, 'templates', PROCEDURE, version);
  await cp(from, to, { recursive: true });
  for (const file of ['procedure.yaml', 'chart/Chart.yaml']) {
    const text = await readFile(path.join(to, file), 'utf8');
    await writeFile(path.join(to, file), text.replace(/^version: 1\.0\.0$/m, `version: ${version}`).replace(/^appVersion: "1\.0\.0"$/m, `appVersion: "${version}"`));
  }
  await change(to);
}

function ozg(dir: string, args: string[], env?: Record<string, string>): Promise<OzgRun> {
  return runOzg(args, { cwd: dir, ...(env ? { env } : {}) });
}

function outcomes(run: OzgRun): string[] {
  return resultOf(run)
    .sites.flatMap((s: any) => s.items.flatMap((i: any) => i.environments.map((e: any) => `${s.site}/${e.environment}: ${e.status}`)))
    .sort();
}

function releaseRecord(k: KubeApiServer, namespace: string): any {
  const configMap = k.getObject('configmaps', namespace, RECORD);
  return configMap ? JSON.parse(configMap.data['release.json']) : undefined;
}

/** name → resourceVersion of every object of a namespace. */
function snapshot(k: KubeApiServer, namespace: string): Record<string, string> {
  const objects: KubeObject[] = ['configmaps', 'secrets', 'services', 'deployments', 'ingresses', 'jobs', 'pods'].flatMap((r) => k.listObjects(r, namespace));
  return Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, String(o.metadata.resourceVersion)]));
}

function errorOf(run: OzgRun): Record<string, any> | undefined {
  return parseJsonLines(run.stdout).find((l) => l.type === 'error');
}

const isWrite = (r: KubeRequestRecord) => !['GET', 'HEAD'].includes(r.method);
const describeRequest = (r: KubeRequestRecord) => `${r.method} ${r.path}`;

/** The chart's test hook answers (its Job's log is what busybox wget prints). */
function arrangeTestHook(k: KubeApiServer, outcome: 'succeed' | 'fail', jobs: KubeObject[] = []): () => void {
  return k.arrangeJob({
    commandIncludes: 'http://vorgang-manager:80/health',
    outcome,
    ...(outcome === 'fail' ? { exitCode: 1 } : {}),
    log: (job) => {
      jobs.push(job);
      return outcome === 'fail' ? 'wget: server returned error: HTTP/1.1 503 Service Unavailable\n' : '{"status":"UP"}\n';
    },
  });
}

beforeAll(() => {
  requireHelm();
});

describe('a Helm chart procedure on Kubernetes targets', () => {
  it('deploys the chart to two sites test → prod: the objects helm renders, labelled by ozg; the test hook as ozg smoke Job; no Helm release Secret', async () => {
    const { dir, server: k } = await setup();
    const jobs: KubeObject[] = [];
    const undo = arrangeTestHook(k, 'succeed', jobs);
    const run = await ozg(dir, ['deploy', '--json']).finally(undo);
    expect({ code: run.code, stderr: run.stderr, stdout: run.code === 0 ? '' : run.stdout }).toEqual({ code: 0, stderr: '', stdout: '' });
    expect(outcomes(run)).toEqual(['husum/prod: applied', 'husum/test: applied', 'kiel/prod: applied', 'kiel/test: applied']);

    for (const site of SITES) {
      for (const environment of ['test', 'prod'] as const) {
        const namespace = ns(site, environment);
        for (const [resource, name] of [
          ['configmaps', 'vorgang-manager-config'],
          ['secrets', 'vorgang-manager-smtp'],
          ['services', PROCEDURE],
          ['deployments', PROCEDURE],
          ['ingresses', PROCEDURE],
        ] as const) {
          expect({ resource, labels: k.getObject(resource, namespace, name)?.metadata.labels }).toEqual({
            resource,
            labels: expect.objectContaining({ 'app.kubernetes.io/managed-by': 'ozg', 'ozg.example/site': site, 'ozg.example/environment': environment, 'helm.sh/chart': 'vorgang-manager-1.0.0' }),
          });
        }
        expect(k.getObject('configmaps', namespace, 'vorgang-manager-config')!.data).toMatchObject({ MUNICIPALITY_NAME: site, OZG_ENVIRONMENT: environment });
        expect(Buffer.from(k.getObject('secrets', namespace, 'vorgang-manager-smtp')!.data.SMTP_PASSWORD, 'base64').toString()).toBe(SMTP_PASSWORD);
        expect(k.getObject('ingresses', namespace, PROCEDURE)!.spec.rules[0].host).toBe(`vorgang.${site}.example`);
        // the test hook was never applied as a plain Pod, and helm wrote no release Secret
        expect(k.listObjects('pods', namespace).map((p) => p.metadata.name)).not.toContain(TEST_HOOK);
        expect(k.listObjects('secrets', namespace).filter((s) => s.type === 'helm.sh/release.v1' || (s.metadata.name ?? '').startsWith('sh.helm.release'))).toEqual([]);
        expect(releaseRecord(k, namespace).live).toMatchObject({ version: '1.0.0' });
        expect(k.listObjects('jobs', namespace)).toEqual([]);
      }
    }
    // one smoke Job per namespace, built from the test hook's container under ozg's restricted settings
    expect(jobs.map((j) => j.metadata.namespace).sort()).toEqual([...NAMESPACES].sort());
    const pod = jobs[0]!.spec.template.spec;
    expect(pod.containers).toEqual([
      expect.objectContaining({
        name: 'check',
        image: 'busybox:1.36',
        command: ['wget'],
        args: ['-q', '-O', '-', 'http://vorgang-manager:80/health'],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      }),
    ]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const history = resultOf(await ozg(dir, ['history', '--json', '--site', 'kiel'])).records;
    expect(history.map((r: any) => r.smoke)).toEqual([
      [expect.objectContaining({ name: TEST_HOOK, passed: true, output: '{"status":"UP"}' })],
      [expect.objectContaining({ name: TEST_HOOK, passed: true })],
    ]);
    // the secret never reached output or the ledger
    expect(run.stdout + run.stderr).not.toContain(SMTP_PASSWORD);
    expect(await readFile(path.join(dir, '.ozg/ledger.jsonl'), 'utf8')).not.toContain(SMTP_PASSWORD);

    // `ozg render` writes helm's output per chart template, the secret redacted
    const rendered = await ozg(dir, ['render', 'kiel', '-o', 'out']);
    expect({ code: rendered.code, stderr: rendered.stderr }).toEqual({ code: 0, stderr: '' });
    const files = (await readdir(path.join(dir, 'out'), { recursive: true })).map((f) => f.split(path.sep).join('/'));
    const secretFile = files.find((f) => f.endsWith('test/vorgang-manager/chart/templates/secret.yaml'));
    expect({ secretFile, files }).toEqual({ secretFile: expect.any(String), files: expect.arrayContaining([expect.stringMatching(/test\/vorgang-manager\/chart\/templates\/ingress\.yaml$/)]) });
    const secretYaml = parse(await readFile(path.join(dir, 'out', secretFile!), 'utf8'));
    expect(Buffer.from(secretYaml.data.SMTP_PASSWORD, 'base64').toString()).toBe('«secret:smtpPassword»');
    expect(files.some((f) => f.includes('tests/test-connection'))).toBe(false);

    // a second deploy changes nothing: helm's output hashes the same
    const again = await ozg(dir, ['deploy', '--json']);
    expect({ code: again.code, outcomes: outcomes(again) }).toEqual({ code: 0, outcomes: ['husum/prod: unchanged', 'husum/test: unchanged', 'kiel/prod: unchanged', 'kiel/test: unchanged'] });
  });

  it('a failing chart test hook stops the site in test (exit 5, prod untouched); a new chart version prunes what it no longer renders; rollback puts it back', async () => {
    const { dir, server: k } = await setup();
    let undo = arrangeTestHook(k, 'succeed');
    expect((await ozg(dir, ['deploy', 'kiel', '--json']).finally(undo)).code).toBe(0);
    // 1.1.0 no longer renders the ConfigMap (its values moved into the Deployment)
    await addVersion(dir, '1.1.0', async (v) => {
      await rm(path.join(v, 'chart/templates/configmap.yaml'));
      const deployment = path.join(v, 'chart/templates/deployment.yaml');
      const text = await readFile(deployment, 'utf8');
      await writeFile(
        deployment,
        text
          .replace(/        checksum\/config: .*\n/, '        checksum/config: none\n')
          .replace(/            - configMapRef:\n                name: .*\n/, ''),
      );
    });
    await pinVersions(dir, { kiel: '1.1.0' });

    // plan sees the new chart version as a change, and writes nothing
    k.clearRequests();
    const plan = await ozg(dir, ['plan', 'kiel']);
    expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 10, stderr: '' });
    // its diff asks the server with dry-run applies, which store nothing
    expect(k.requests.filter((r) => isWrite(r) && r.query.dryRun !== 'All').map(describeRequest)).toEqual([]);
    expect(plan.stdout).toContain('vorgang-manager-config');

    const prodBefore = snapshot(k, ns('kiel', 'prod'));
    const testRelease = releaseRecord(k, ns('kiel', 'test')).live.release;
    undo = arrangeTestHook(k, 'fail');
    k.clearRequests();
    const failed = await ozg(dir, ['deploy', 'kiel', '--json']).finally(undo);
    expect({ code: failed.code, outcomes: outcomes(failed) }).toEqual({ code: 5, outcomes: ['kiel/prod: skipped', 'kiel/test: smoke-failed'] });
    expect(k.requests.filter((r) => r.namespace === ns('kiel', 'prod') && isWrite(r)).map(describeRequest)).toEqual([]);
    expect(snapshot(k, ns('kiel', 'prod'))).toEqual(prodBefore);
    // test went back to 1.0.0, its ConfigMap with it
    expect(releaseRecord(k, ns('kiel', 'test')).live).toMatchObject({ version: '1.0.0', release: testRelease });
    expect(k.getObject('configmaps', ns('kiel', 'test'), 'vorgang-manager-config')).toBeDefined();
    const records = resultOf(await ozg(dir, ['history', '--json', '--site', 'kiel'])).records.slice(-3);
    expect(records.map((r: any) => `${r.environment}: ${r.outcome} ${r.version}`)).toEqual(['test: smoke-failed 1.1.0', 'test: rolled-back 1.0.0', 'prod: skipped 1.1.0']);
    expect(records[0].smoke).toEqual([expect.objectContaining({ name: TEST_HOOK, passed: false, detail: 'exit 1 (expected 0)', output: expect.stringContaining('503 Service Unavailable') })]);

    // with the service healthy 1.1.0 goes through, and the ConfigMap it no longer renders is pruned
    undo = arrangeTestHook(k, 'succeed');
    const passed = await ozg(dir, ['deploy', 'kiel', '--json']).finally(undo);
    expect({ code: passed.code, outcomes: outcomes(passed) }).toEqual({ code: 0, outcomes: ['kiel/prod: applied', 'kiel/test: applied'] });
    for (const environment of ['test', 'prod'] as const) {
      expect(k.getObject('configmaps', ns('kiel', environment), 'vorgang-manager-config')).toBeUndefined();
      expect(k.getObject('deployments', ns('kiel', environment), PROCEDURE)!.metadata.labels!['helm.sh/chart']).toBe('vorgang-manager-1.1.0');
    }

    // rollback of prod: 1.0.0's objects again, the pruned ConfigMap included
    const rolledBack = await ozg(dir, ['rollback', 'kiel', '-p', PROCEDURE, '-e', 'prod', '--json']);
    expect({ code: rolledBack.code, stderr: rolledBack.stderr }).toEqual({ code: 0, stderr: '' });
    expect(releaseRecord(k, ns('kiel', 'prod')).live).toMatchObject({ version: '1.0.0' });
    expect(k.getObject('configmaps', ns('kiel', 'prod'), 'vorgang-manager-config')!.data.MUNICIPALITY_NAME).toBe('kiel');
    expect(k.getObject('deployments', ns('kiel', 'prod'), PROCEDURE)!.metadata.labels!['helm.sh/chart']).toBe('vorgang-manager-1.0.0');
  });

  it('refuses chart output that leaves the namespace or is cluster-scoped, naming the chart file; nothing is sent', async () => {
    const { dir, server: k } = await setup({ kiel: '1.2.0' });
    const before = NAMESPACES.map((namespace) => snapshot(k, namespace));
    await addVersion(dir, '1.2.0', async (v) => {
      await writeFile(path.join(v, 'chart/templates/monitoring.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-dashboards\n  namespace: monitoring\ndata: {}\n');
      await writeFile(
        path.join(v, 'chart/templates/rbac.yaml'),
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{ .Release.Name }}-reader\nrules: []\n',
      );
    });
    k.clearRequests();
    const run = await ozg(dir, ['deploy', '--json']);
    expect(run.code).toBe(3);
    // the site fails as itself with its problems (one site's input never blocks the others)
    const problems = parseJsonLines(run.stdout).flatMap((l) => (l.type === 'error' ? (l.problems ?? []) : l.type === 'result' ? (l.result.sites ?? []).flatMap((site: { problems?: unknown[] }) => site.problems ?? []) : []));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'vorgang-manager/1.2.0/chart/templates/monitoring.yaml', message: expect.stringContaining('names namespace "monitoring"') }),
        expect.objectContaining({ file: 'vorgang-manager/1.2.0/chart/templates/rbac.yaml', message: expect.stringContaining('ClusterRole is cluster-scoped') }),
      ]),
    );
    // kiel's refused output sends nothing; husum (valid) deploys as usual
    const kiel = [ns('kiel', 'test'), ns('kiel', 'prod')];
    expect(k.requests.filter((r) => isWrite(r) && kiel.includes(r.namespace ?? '')).map(describeRequest)).toEqual([]);
    expect(kiel.map((namespace) => snapshot(k, namespace))).toEqual(before.filter((_, i) => kiel.includes(NAMESPACES[i]!)));
  });

  it('refuses hooks other than tests and charts with missing dependencies, naming the chart file; helm errors are redacted', async () => {
    const { dir, server: k } = await setup({ kiel: '1.3.0', husum: '1.4.0' });
    await addVersion(dir, '1.3.0', async (v) => {
      await writeFile(
        path.join(v, 'chart/templates/migrate.yaml'),
        'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    "helm.sh/hook": pre-install,pre-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{ name: m, image: busybox:1.36 }]\n',
      );
    });
    await addVersion(dir, '1.4.0', async (v) => {
      await writeFile(path.join(v, 'chart/templates/guard.yaml'), '{{- if .Values.smtp.password }}{{ fail (printf "refusing password %s" .Values.smtp.password) }}{{ end }}\n');
    });
    k.clearRequests();
    const run = await ozg(dir, ['validate']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('vorgang-manager/1.3.0/chart/templates/migrate.yaml');
    expect(run.stderr).toContain('helm.sh/hook "pre-install,pre-upgrade" is not supported');
    expect(run.stderr).toContain('vorgang-manager/1.4.0/chart/templates/guard.yaml');
    expect(run.stderr).toContain('refusing password «secret:smtpPassword»');
    expect(run.stdout + run.stderr).not.toContain(SMTP_PASSWORD);

    // a dependency helm would have to download is an input error, never a download
    await writeFile(
      path.join(dir, 'templates', PROCEDURE, '1.3.0/chart/Chart.yaml'),
      'apiVersion: v2\nname: vorgang-manager\nversion: 1.3.0\ndependencies:\n  - name: postgresql\n    version: 15.0.0\n    repository: https://charts.example.invalid\n',
    );
    const missing = await ozg(dir, ['validate']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('vorgang-manager/1.3.0/chart');
    expect(missing.stderr).toContain('missing in charts/ directory: postgresql');
    expect(missing.stderr).toContain('vendor its dependencies into charts/');
    expect(k.requests.filter(isWrite)).toEqual([]);
  });

  it('without helm: exit 8 naming the install step, nothing sent', async () => {
    const { dir, server: k } = await setup();
    const before = NAMESPACES.map((namespace) => snapshot(k, namespace));
    k.clearRequests();
    const nowhere = await ozg(dir, ['deploy', '--json'], { OZG_HELM: path.join(dir, 'no-such-helm') });
    expect(nowhere.code).toBe(8);
    expect(errorOf(nowhere)).toMatchObject({ error: 'ToolMissingError', exitCode: 8, message: expect.stringContaining(`OZG_HELM=${path.join(dir, 'no-such-helm')}`), hint: expect.stringContaining('scripts/install-helm.sh') });
    const noPath = await ozg(dir, ['deploy'], { PATH: path.join(dir, 'empty-bin') });
    expect(noPath.code).toBe(8);
    expect(noPath.stderr).toContain('helm could not be started (helm on PATH)');
    expect(noPath.stderr).toContain('scripts/install-helm.sh');
    // a helm too old for ozg
    const old = path.join(dir, 'old-helm');
    await writeFile(old, '#!/bin/sh\necho v3.7.2\n', { mode: 0o755 });
    const tooOld = await ozg(dir, ['deploy'], { OZG_HELM: old });
    expect(tooOld.code).toBe(8);
    expect(tooOld.stderr).toContain('helm v3.7.2; ozg needs helm 3.8.0 or newer');
    expect(k.requests.filter(isWrite)).toEqual([]);
    expect(NAMESPACES.map((namespace) => snapshot(k, namespace))).toEqual(before);
  });
});
