/**
 * Helm chart procedures rendered by the real helm (scripts/install-helm.sh): every chart
 * procedure under templates/ with a realistic site, plus charts made here for the cases the
 * renderer must refuse. Through the CLI: test/e2e/kubernetes-chart.test.ts.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { InvalidInputError, RenderError, ToolMissingError } from '../../src/errors.js';
import type { Site } from '../../src/inventory/types.js';
import { createHelmLocator, type HelmTool } from '../../src/procedure/helm-tool.js';
import { renderBundle } from '../../src/procedure/render.js';
import { splitHelmOutput } from '../../src/procedure/render-chart.js';
import type { Bundle, Procedure } from '../../src/procedure/types.js';
import { buildSmokeJob } from '../../src/targets/kubernetes/smoke-job.js';
import { readBundleManifests } from '../../src/targets/kubernetes/manifests.js';
import { podSecurityViolations } from '../helpers/kube-api/pod-security.js';
import { repoRoot } from '../helpers/run-ozg.js';

const templatesDir = path.join(repoRoot, 'templates');
const SECRET = `pa'ss"w$(touch /tmp/ozg-pwned)\n\\ord`;
const NAMESPACE = 'ozg-kiel-test';

function loadProcedure(dir: string): Procedure {
  const file = path.join(dir, 'procedure.yaml');
  const doc = YAML.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  return { name: doc.name, version: String(doc.version), description: doc.description, dir, file, valuesSchema: doc.values, secrets: doc.secrets ?? [], kubernetes: doc.kubernetes, smoke: doc.smoke ?? [] };
}

const charts = readdirSync(templatesDir)
  .flatMap((name) => readdirSync(path.join(templatesDir, name)).map((version) => path.join(templatesDir, name, version)))
  .map(loadProcedure)
  .filter((p) => p.kubernetes?.chart !== undefined);

const site: Site = { name: 'kiel', labels: {}, dataCenter: 'rz-nord', facts: {}, setups: [] };
const values = { host: 'vorgang.kiel.de', municipalityKey: '01002000' };
const helm = createHelmLocator({ env: process.env });

async function render(procedure: Procedure, options: { environment?: 'test' | 'prod'; values?: Record<string, unknown>; helm?: () => Promise<HelmTool> } = {}): Promise<Bundle> {
  return renderBundle({
    procedure,
    site,
    setup: { procedure: procedure.name, version: procedure.version, values: options.values ?? values, secrets: {} },
    environment: options.environment ?? 'test',
    targetKind: 'kubernetes',
    values: options.values ?? values,
    secrets: Object.fromEntries(procedure.secrets.map((name) => [name, SECRET])),
    chart: { namespace: NAMESPACE, helm: options.helm ?? helm },
  });
}

const temps: string[] = [];
afterAll(() => temps.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** vorgang-manager 1.0.0 copied, `files` (chart-relative) written into its chart. */
function variant(files: Record<string, string>): Procedure {
  const dir = mkdtempSync(path.join(tmpdir(), 'ozg-chart-'));
  temps.push(dir);
  const versionDir = path.join(dir, 'vorgang-manager/1.0.0');
  cpSync(path.join(templatesDir, 'vorgang-manager/1.0.0'), versionDir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(versionDir, 'chart', file), text);
  return loadProcedure(versionDir);
}

it('has helm', async () => {
  const found = (process.env.PATH ?? '').split(path.delimiter).some((dir) => statSync(path.join(dir, 'helm'), { throwIfNoEntry: false })?.isFile());
  if (!found) throw new Error('helm is not on PATH: run scripts/install-helm.sh (installs helm v4 into /usr/local/bin)');
  expect((await helm()).version).toMatch(/^v[34]\./);
});

it('ships a chart procedure', () => {
  expect(charts.map((p) => `${p.name}@${p.version}`)).toContain('vorgang-manager@1.0.0');
});

describe.each(charts.map((p) => [`${p.name}@${p.version}`, p] as const))('%s', (_id, procedure) => {
  let bundle: Bundle;
  beforeAll(async () => {
    bundle = await render(procedure);
  });

  it('renders one bundle file per chart template, named by its path in the procedure folder, which the namespace checks accept', () => {
    expect(bundle.files.length).toBeGreaterThanOrEqual(5);
    for (const file of bundle.files) expect(file.path).toMatch(/^chart\/templates\/[a-z-]+\.yaml$/);
    const objects = readBundleManifests(bundle, { namespace: NAMESPACE });
    expect(objects.map((o) => o.object.kind).sort()).toEqual(expect.arrayContaining(['ConfigMap', 'Deployment', 'Ingress', 'Secret', 'Service']));
    // the test hook is not among the objects: it became a smoke check
    expect(objects.filter((o) => o.object.metadata.annotations?.['helm.sh/hook'] !== undefined)).toEqual([]);
  });

  it('has pod templates that pass the `restricted` Pod Security Standard, and so does the smoke Job of its test hook', () => {
    const pods = readBundleManifests(bundle, { namespace: NAMESPACE }).flatMap((o) => (o.object.spec as any)?.template?.spec ?? []);
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) expect(podSecurityViolations('restricted', pod)).toEqual([]);
    const tests = bundle.smoke.filter((c) => 'command' in c && c.container);
    expect(tests.length).toBeGreaterThan(0);
    for (const check of tests) {
      const job = buildSmokeJob({ name: 'ozg-smoke-x', namespace: NAMESPACE, site: 'kiel', environment: 'test', procedure: procedure.name, check, image: 'busybox:1.36', startupSeconds: 60 });
      expect(podSecurityViolations('restricted', (job.spec as any).template.spec)).toEqual([]);
    }
  });

  it('carries the secret only base64-encoded in the Secret; every file is owner-only, because its values used a secret', () => {
    for (const file of bundle.files) {
      expect([file.path, file.sensitive, file.mode]).toEqual([file.path, true, 0o600]);
      const text = file.content.toString();
      expect(text).not.toContain(SECRET);
      const manifest = YAML.parse(text, { version: '1.1' });
      if (manifest.kind === 'Secret') expect(Object.values(manifest.data).map((v) => Buffer.from(String(v), 'base64').toString())).toContain(SECRET);
    }
  });

  it('hashes its rendered output: the same for the same input, different for other values or another environment', async () => {
    expect((await render(procedure)).hash).toBe(bundle.hash);
    expect((await render(procedure, { values: { ...values, host: 'vorgang2.kiel.de' } })).hash).not.toBe(bundle.hash);
    expect((await render(procedure, { environment: 'prod' })).hash).not.toBe(bundle.hash);
  });
});

describe('the example chart in detail', () => {
  const procedure = charts.find((p) => p.name === 'vorgang-manager')!;

  it('turns the test hook Pod into a smoke check with its container: image, command, args; Kubernetes only', async () => {
    const bundle = await render(procedure);
    expect(bundle.smoke).toEqual([
      {
        name: 'vorgang-manager-test-connection',
        command: 'wget -q -O - http://vorgang-manager:80/health',
        targets: ['kubernetes'],
        image: 'busybox:1.36',
        timeoutSeconds: 60,
        container: { source: 'vorgang-manager/1.0.0/chart/templates/tests/test-connection.yaml', command: ['wget'], args: ['-q', '-O', '-', 'http://vorgang-manager:80/health'] },
      },
    ]);
    const job = buildSmokeJob({ name: 'ozg-smoke-x', namespace: NAMESPACE, site: 'kiel', environment: 'test', procedure: 'vorgang-manager', check: bundle.smoke[0]!, image: 'busybox:1.36', startupSeconds: 60 });
    const container = (job.spec as any).template.spec.containers[0];
    expect(container).toMatchObject({ name: 'check', image: 'busybox:1.36', command: ['wget'], args: ['-q', '-O', '-', 'http://vorgang-manager:80/health'] });
    expect(container.env.map((e: any) => e.name)).toEqual(['OZG_SITE', 'OZG_ENVIRONMENT', 'OZG_PROCEDURE', 'OZG_NAMESPACE']);
  });

  it('refuses other hook kinds and test hooks it cannot carry over, naming the template', async () => {
    const job = (hook: string) => `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: ${hook}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{ name: m, image: busybox:1.36 }]\n`;
    // helm itself leaves out hooks of kinds it does not know (Helm 2's crd-install) and only logs it: refused too, naming the chart
    const unknown = await render(variant({ 'templates/hook.yaml': job('crd-install') })).catch((e: unknown) => e);
    expect([(unknown as RenderError).template, (unknown as Error).message]).toEqual(['vorgang-manager/1.0.0/chart', expect.stringContaining('helm.sh/hook "crd-install"')]);
    for (const hook of ['pre-install', 'post-upgrade', 'pre-delete', 'post-delete', 'pre-rollback', 'test,post-install']) {
      const error = await render(variant({ 'templates/hook.yaml': job(hook) })).catch((e: unknown) => e);
      expect([hook, error instanceof RenderError]).toEqual([hook, true]);
      expect([hook, (error as RenderError).template, (error as RenderError).message]).toEqual([hook, 'vorgang-manager/1.0.0/chart/templates/hook.yaml', expect.stringContaining(`helm.sh/hook "${hook}" is not supported`)]);
    }
    const twoContainers =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: t2\n  annotations: { "helm.sh/hook": test }\nspec:\n  containers: [{ name: a, image: busybox }, { name: b, image: busybox }]\n';
    const withVolume =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: t3\n  annotations: { "helm.sh/hook": test }\nspec:\n  volumes: [{ name: v, emptyDir: {} }]\n  containers: [{ name: a, image: busybox, volumeMounts: [{ name: v, mountPath: /v }] }]\n';
    const secretInEnv =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: t4\n  annotations: { "helm.sh/hook": test }\nspec:\n  containers: [{ name: a, image: busybox, env: [{ name: P, value: {{ .Values.smtp.password | quote }} }] }]\n';
    for (const [text, message] of [
      [twoContainers, 'needs exactly one container'],
      [withVolume, 'volumes are not carried over'],
      [secretInEnv, 'carries the value of secret smtpPassword'],
    ] as const) {
      const error = await render(variant({ 'templates/tests/extra.yaml': text })).catch((e: unknown) => e);
      expect([(error as RenderError).template, (error as Error).message]).toEqual(['vorgang-manager/1.0.0/chart/templates/tests/extra.yaml', expect.stringContaining(message)]);
      expect((error as Error).message).not.toContain(SECRET);
    }
  });

  it('renders a packaged .tgz chart like its folder', async () => {
    const folder = variant({});
    const tgzDir = path.join(folder.dir, 'packaged');
    const tool = await helm();
    const packaged = await tool.run(['package', path.join(folder.dir, 'chart'), '--destination', tgzDir]);
    expect(packaged.exitCode).toBe(0);
    const archive = readdirSync(tgzDir)[0]!;
    const procedure = { ...folder, kubernetes: { chart: `packaged/${archive}`, values: 'values.yaml' } };
    const [fromFolder, fromArchive] = [await render(folder), await render(procedure)];
    expect(fromArchive.files.map((f) => f.path).sort()).toEqual(fromFolder.files.map((f) => f.path.replace(/^chart\//, `packaged/${archive}/`)).sort());
    expect(fromArchive.files.map((f) => f.content.toString()).sort()).toEqual(fromFolder.files.map((f) => f.content.toString()).sort());
  });

  it('accepts `namespace: {{ .Release.Namespace }}` (the target namespace), names a vendored subchart\'s files by their path, and refuses a chart\'s CRDs naming crds/', async () => {
    const ownNamespace = variant({ 'templates/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: {{ .Release.Namespace }}\ndata: {}\n' });
    const sub = path.join(ownNamespace.dir, 'chart/charts/db');
    mkdirSync(path.join(sub, 'templates'), { recursive: true });
    writeFileSync(path.join(sub, 'Chart.yaml'), 'apiVersion: v2\nname: db\nversion: 0.1.0\n');
    writeFileSync(path.join(sub, 'templates/service.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-db\nspec:\n  ports: [{ port: 5432 }]\n');
    const bundle = await render(ownNamespace);
    expect(bundle.files.map((f) => f.path)).toEqual(expect.arrayContaining(['chart/templates/extra.yaml', 'chart/charts/db/templates/service.yaml']));
    const objects = readBundleManifests(bundle, { namespace: NAMESPACE });
    expect(objects.filter((o) => ['extra', 'vorgang-manager-db'].includes(o.object.metadata.name)).map((o) => `${o.source} ${o.object.metadata.namespace}`).sort()).toEqual([
      `chart/charts/db/templates/service.yaml ${NAMESPACE}`,
      `chart/templates/extra.yaml ${NAMESPACE}`,
    ]);

    const withCrd = variant({});
    mkdirSync(path.join(withCrd.dir, 'chart/crds'));
    writeFileSync(
      path.join(withCrd.dir, 'chart/crds/forms.yaml'),
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: forms.ozg.example\nspec:\n  group: ozg.example\n  names: { kind: Form, plural: forms }\n  scope: Namespaced\n  versions: []\n',
    );
    let refused: unknown;
    try {
      readBundleManifests(await render(withCrd), { namespace: NAMESPACE });
    } catch (error) {
      refused = error;
    }
    expect((refused as InvalidInputError).problems).toEqual([
      expect.objectContaining({ file: 'vorgang-manager/1.0.0/chart/crds/forms.yaml', message: expect.stringContaining('CustomResourceDefinition is cluster-scoped') }),
    ]);
  });

  it('hands helm the values in an owner-only file in a private folder, removed afterwards, and the chart, release and namespace', async () => {
    const real = await helm();
    const seen: { args: string[]; file?: string; mode?: number; dirMode?: number; text?: string } = { args: [] };
    const spy: HelmTool = {
      ...real,
      run: async (args, options) => {
        seen.args = [...args];
        const file = args[args.indexOf('--values') + 1]!;
        seen.file = file;
        seen.mode = statSync(file).mode & 0o777;
        seen.dirMode = statSync(path.dirname(file)).mode & 0o777;
        seen.text = readFileSync(file, 'utf8');
        return real.run(args, options);
      },
    };
    await render(procedure, { helm: async () => spy });
    expect(seen.args.slice(0, 7)).toEqual(['template', 'vorgang-manager', path.join(procedure.dir, 'chart'), '--namespace', NAMESPACE, '--include-crds', '--values']);
    expect([seen.mode, seen.dirMode]).toEqual([0o600, 0o700]);
    expect(YAML.parse(seen.text!)).toMatchObject({ municipality: { name: 'kiel', key: '01002000' }, environment: 'test', smtp: { password: SECRET } });
    expect(existsSync(path.dirname(seen.file!))).toBe(false);
  });

  it('runs helm with PATH and its own throw-away homes only: no kubeconfig, proxy or repository settings of the user', async () => {
    const calls: { args: readonly string[]; env: Record<string, string> }[] = [];
    const locate = createHelmLocator({
      env: { PATH: '/opt/helm/bin', OZG_HELM: '/opt/helm/bin/helm', KUBECONFIG: '/home/u/.kube/config', HTTPS_PROXY: 'http://proxy:3128', HELM_REPOSITORY_CONFIG: '/home/u/repos.yaml', HOME: '/home/u' },
      spawn: async (file, args, options) => {
        calls.push({ args, env: options.env });
        expect(file).toBe('/opt/helm/bin/helm');
        return { exitCode: 0, stdout: args[0] === 'version' ? 'v3.8.0' : '', stderr: '', durationMs: 1 };
      },
    });
    const tool = await locate();
    expect(tool.version).toBe('v3.8.0');
    await tool.run(['template', 'x', 'chart']);
    for (const call of calls) {
      expect(Object.keys(call.env).sort()).toEqual(['HELM_CACHE_HOME', 'HELM_CONFIG_HOME', 'HELM_DATA_HOME', 'HOME', 'PATH']);
      expect(call.env.PATH).toBe('/opt/helm/bin');
      expect(call.env.HOME).not.toBe('/home/u');
    }
    expect(existsSync(calls[0]!.env.HOME!)).toBe(false);
    // found once per run
    expect(await locate()).toBe(tool);
    expect(calls.filter((c) => c.args[0] === 'version')).toHaveLength(1);
  });

  it('a helm older than 3.8 is a ToolMissingError naming the version found', async () => {
    const old = createHelmLocator({ env: { PATH: '/usr/bin' }, spawn: async () => ({ exitCode: 0, stdout: 'v3.7.2', stderr: '', durationMs: 1 }) });
    const error = await old().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolMissingError);
    expect((error as Error).message).toBe('helm on PATH is helm v3.7.2; ozg needs helm 3.8.0 or newer to render charts');
  });

  it('a missing helm is a ToolMissingError naming the install script', async () => {
    const missing = createHelmLocator({ env: { PATH: '/nonexistent' } });
    const error = await render(procedure, { helm: missing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolMissingError);
    expect((error as ToolMissingError).hint).toContain('scripts/install-helm.sh');
  });
});

it('splits helm output by `# Source:` into documents, several documents of one template kept together in order', () => {
  const out = '---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/templates/b.yaml\nkind: B1\n---\n# Source: c/templates/b.yaml\nkind: B2\n---\n# Source: c/templates/empty.yaml\n# only a comment\n';
  expect(splitHelmOutput(out)).toEqual([
    { source: 'c/templates/a.yaml', text: '# Source: c/templates/a.yaml\nkind: A\n' },
    { source: 'c/templates/b.yaml', text: '# Source: c/templates/b.yaml\nkind: B1\n' },
    { source: 'c/templates/b.yaml', text: '# Source: c/templates/b.yaml\nkind: B2\n' },
  ]);
});
