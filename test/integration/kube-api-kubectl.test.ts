import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startKubeApiServer, type KubeApiServer, type KubeUser } from '../helpers/kube-api/index.js';

/**
 * The fake Kubernetes API server checked with the real kubectl: if kubectl accepts its
 * answers, the Kubernetes driver's tests against it mean something. kubectl comes from PATH,
 * or from OZG_TEST_KUBECTL (e.g. an old Debian kubectl 1.20 to check compatibility).
 * A second part checks, over plain HTTPS, REST semantics a driver relies on that kubectl
 * does not exercise here.
 */

interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const INSTALL_STEP = 'apt-get install -y kubernetes-client (or put kubectl >= 1.20 on PATH, or set OZG_TEST_KUBECTL)';
const NAMESPACE = 'ozg-kiel';
const OTHER_NAMESPACE = 'ozg-luebeck';

let server: KubeApiServer;
let user: KubeUser;
let kubeconfig: string;
let workDir: string;
let kubectlBinary: string;
let kubectlMinor: number;

function runKubectl(args: string[], options: { kubeconfig?: string; stdin?: string } = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlBinary, ['--cache-dir', path.join(workDir, 'cache'), '--request-timeout=10s', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: workDir, KUBECONFIG: options.kubeconfig ?? kubeconfig },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new Error(`kubectl not found (${kubectlBinary}): ${INSTALL_STEP}`) : error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/** Run kubectl and insist on exit code 0, showing its output otherwise. */
async function kubectl(args: string[], options: { kubeconfig?: string; stdin?: string } = {}): Promise<KubectlResult> {
  const result = await runKubectl(args, options);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Run kubectl and insist it fails. */
async function kubectlFails(args: string[], options: { kubeconfig?: string; stdin?: string } = {}): Promise<KubectlResult> {
  const result = await runKubectl(args, options);
  if (result.code === 0) throw new Error(`kubectl ${args.join(' ')} succeeded but should have failed\n${result.stdout}\n${result.stderr}`);
  return result;
}

function applyFlags(): string[] {
  return ['--server-side'];
}
/** kubectl 1.21+ hides managedFields unless asked. */
function managedFieldsFlag(): string[] {
  return kubectlMinor >= 21 ? ['--show-managed-fields'] : [];
}

async function writeManifest(name: string, text: string): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, text);
  return file;
}

function webManifests(options: { greeting: string; colour?: string; image?: string; replicas?: number }): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {app: web}
data:
  greeting: ${options.greeting}
${options.colour ? `  colour: ${options.colour}\n` : ''}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ${options.replicas ?? 2}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${options.image ?? 'registry.example/ozg/web:1.4.2'}
          ports:
            - containerPort: 8080
          env:
            - name: GREETING
              valueFrom:
                configMapKeyRef: {name: web-config, key: greeting}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
`;
}

function jobManifest(name: string, args: string[], annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, annotations },
    spec: {
      backoffLimit: 0,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'smoke', image: 'registry.example/ozg/smoke:1', command: ['/smoke'], args }] } },
    },
  });
}

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'ozg-kubectl-'));
  kubectlBinary = process.env.OZG_TEST_KUBECTL ?? 'kubectl';
  const version = await runKubectl(['version', '--client', '-o', 'json']);
  if (version.code !== 0) throw new Error(`kubectl version failed: ${version.stderr}\n${INSTALL_STEP}`);
  kubectlMinor = Number.parseInt((JSON.parse(version.stdout) as { clientVersion: { minor: string } }).clientVersion.minor, 10);
  server = await startKubeApiServer({ namespaces: [OTHER_NAMESPACE], readyDelayMs: 300, jobDelayMs: 200 });
  user = server.addServiceAccount(NAMESPACE);
  kubeconfig = await server.kubeconfigFor(user);
}, 30_000);

afterAll(async () => {
  await server?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('kubectl against the fake Kubernetes API server', () => {
  it('apply --server-side creates a ConfigMap, a Deployment and a Service', async () => {
    const manifests = await writeManifest('web.yaml', webManifests({ greeting: 'hello', colour: 'blue' }));
    const result = await kubectl(['apply', ...applyFlags(), '-f', manifests]);

    expect(result.stdout).toContain('configmap/web-config serverside-applied');
    expect(result.stdout).toContain('deployment.apps/web serverside-applied');
    expect(result.stdout).toContain('service/web serverside-applied');
    expect(server.getObject('configmaps', NAMESPACE, 'web-config')?.data).toEqual({ greeting: 'hello', colour: 'blue' });
    expect(server.getObject('deployments', NAMESPACE, 'web')?.spec.replicas).toBe(2);
    expect(server.getObject('services', NAMESPACE, 'web')?.spec.clusterIP).toMatch(/^10\.96\./);
    const patches = server.requests.filter((r) => r.method === 'PATCH' && r.resource === 'deployments');
    expect(patches.at(-1)).toMatchObject({ user: user.name, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'kubectl', force: 'false' } });
  });

  it('get deploy -o json shows the object with managedFields for manager kubectl', async () => {
    const result = await kubectl(['get', 'deploy', 'web', '-o', 'json', ...managedFieldsFlag()]);
    const deployment = JSON.parse(result.stdout);

    expect(deployment).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NAMESPACE, generation: 1 } });
    expect(deployment.spec.template.spec.containers[0].image).toBe('registry.example/ozg/web:1.4.2');
    const entry = deployment.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    expect(entry).toMatchObject({ operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1' });
    expect(entry.fieldsV1['f:spec']['f:replicas']).toEqual({});
    expect(entry.fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"web"}']['f:image']).toEqual({});
    // defaults the server added are nobody's: kubectl did not apply them
    expect(deployment.spec.strategy.type).toBe('RollingUpdate');
    expect(entry.fieldsV1['f:spec']['f:strategy']).toBeUndefined();
  });

  it('rollout status succeeds once the simulated controller reports the deployment ready', async () => {
    const result = await kubectl(['rollout', 'status', 'deploy/web', '--timeout=10s']);

    expect(result.stdout).toContain('deployment "web" successfully rolled out');
    const deployment = server.getObject('deployments', NAMESPACE, 'web');
    expect(deployment?.status).toMatchObject({ readyReplicas: 2, availableReplicas: 2, updatedReplicas: 2, observedGeneration: 1 });
    expect(server.requests.some((r) => r.resource === 'deployments' && r.verb === 'watch')).toBe(true);
    const pods = await kubectl(['get', 'pods', '-l', 'app=web']);
    expect(pods.stdout.match(/web-\w+-\w+ +1\/1 +Running/g)).toHaveLength(2);
  });

  it('re-apply with changed data updates the objects and drops what kubectl no longer applies', async () => {
    const before = server.getObject('configmaps', NAMESPACE, 'web-config');
    const manifests = await writeManifest('web-2.yaml', webManifests({ greeting: 'moin', image: 'registry.example/ozg/web:1.5.0' }));
    const result = await kubectl(['apply', ...applyFlags(), '-f', manifests]);

    expect(result.stdout).toContain('configmap/web-config serverside-applied');
    const after = server.getObject('configmaps', NAMESPACE, 'web-config');
    expect(after?.data).toEqual({ greeting: 'moin' });
    expect(Number(after?.metadata.resourceVersion)).toBeGreaterThan(Number(before?.metadata.resourceVersion));
    expect(server.getObject('deployments', NAMESPACE, 'web')?.metadata.generation).toBe(2);
    await kubectl(['rollout', 'status', 'deploy/web', '--timeout=10s']);
    const pods = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].spec.containers[0].image}']);
    expect(pods.stdout.split(' ')).toEqual(['registry.example/ozg/web:1.5.0', 'registry.example/ozg/web:1.5.0']);
  });

  it('a second field manager applying a conflicting value gets a conflict; --force-conflicts takes the field', async () => {
    const manifest = await writeManifest('cm-other.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  greeting: servus\n');
    const refused = await kubectlFails(['apply', ...applyFlags(), '--field-manager=site-admin', '-f', manifest]);

    expect(refused.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl": .data.greeting');
    expect(refused.stderr).toContain('--force-conflicts');
    expect(server.getObject('configmaps', NAMESPACE, 'web-config')?.data).toEqual({ greeting: 'moin' });

    await kubectl(['apply', ...applyFlags(), '--field-manager=site-admin', '--force-conflicts', '-f', manifest]);
    const taken = server.getObject('configmaps', NAMESPACE, 'web-config');
    expect(taken?.data).toEqual({ greeting: 'servus' });
    const owners = Object.fromEntries((taken?.metadata.managedFields ?? []).map((m) => [m.manager, m.fieldsV1]));
    expect(owners['site-admin']).toEqual({ 'f:data': { 'f:greeting': {} } });
    expect(owners.kubectl?.['f:data']).toBeUndefined();
    expect(owners.kubectl?.['f:metadata']).toEqual({ 'f:labels': { 'f:app': {} } });
  });

  it('scale deployment goes through the scale subresource; the writer owns .spec.replicas with subresource scale, and a later apply of replicas conflicts', async () => {
    const manifest = await writeManifest('scaled.yaml', webManifests({ greeting: 'moin', replicas: 1 }).split('---\n')[1].replace(/\bweb\b/g, 'scaled'));
    await kubectl(['apply', ...applyFlags(), '-f', manifest]);
    const scaled = await kubectl(['scale', 'deployment', 'scaled', '--replicas=3']);

    expect(scaled.stdout).toContain('deployment.apps/scaled scaled');
    expect(server.requests.some((r) => r.resource === 'deployments' && r.subresource === 'scale' && r.verb === 'patch' && r.code === 200)).toBe(true);
    const deployment = JSON.parse((await kubectl(['get', 'deployment', 'scaled', '-o', 'json', ...managedFieldsFlag()])).stdout);
    expect(deployment.spec.replicas).toBe(3);
    const entry = deployment.metadata.managedFields.find((m: { subresource?: string }) => m.subresource === 'scale');
    expect(entry).toMatchObject({ operation: 'Update', apiVersion: 'apps/v1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } });
    expect(entry.manager).toMatch(/^kubectl/);
    const applied = deployment.metadata.managedFields.find((m: { operation: string }) => m.operation === 'Apply');
    expect(applied.fieldsV1['f:spec']['f:replicas']).toBeUndefined();

    const refused = await kubectlFails(['apply', ...applyFlags(), '-f', manifest]);
    expect(refused.stderr).toContain(`Apply failed with 1 conflict: conflict with ${JSON.stringify(entry.manager)} with subresource "scale" using apps/v1`);
    expect(refused.stderr).toContain(': .spec.replicas');
    expect(server.getObject('deployments', NAMESPACE, 'scaled')?.spec?.replicas).toBe(3);
    await kubectl(['delete', 'deployment', 'scaled']);
  });

  it('apply --server-side with a stale resourceVersion in the manifest is a 409 Conflict; with the current one it applies', async () => {
    const live = server.getObject('configmaps', NAMESPACE, 'web-config');
    const current = live?.metadata.resourceVersion;
    const stale = String(Number(current) - 1);
    const manifest = (rv: string) =>
      writeManifest(`cm-rv-${rv}.yaml`, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  resourceVersion: "${rv}"\ndata:\n  greeting: hallo\n`);
    const refused = await kubectlFails(['apply', ...applyFlags(), '--field-manager=site-admin', '-f', await manifest(stale)]);

    expect(refused.stderr).toContain('Operation cannot be fulfilled on configmaps "web-config": the object has been modified; please apply your changes to the latest version and try again');
    expect(server.getObject('configmaps', NAMESPACE, 'web-config')?.metadata.resourceVersion).toBe(current);

    await kubectl(['apply', ...applyFlags(), '--field-manager=site-admin', '-f', await manifest(current!)]);
    expect(Number(server.getObject('configmaps', NAMESPACE, 'web-config')?.metadata.resourceVersion)).toBeGreaterThan(Number(current));
  });

  it('retries a 429 and a 503 that carry Retry-After, as client-go does, and then succeeds', async () => {
    const path = `/api/v1/namespaces/${NAMESPACE}/configmaps/web-config`;
    server.clearRequests();
    server.injectFault({ method: 'GET', path, times: 2, status: 429, retryAfterSeconds: 1 });
    server.injectFault({ method: 'GET', path, status: 503, retryAfterSeconds: 1 });

    const result = await kubectl(['get', 'cm', 'web-config', '-o', 'name']);

    expect(result.stdout).toBe('configmap/web-config\n');
    expect(server.requests.filter((r) => r.path === path).map((r) => r.code)).toEqual([429, 429, 503, 200]);
  });

  it('reports a 503 without Retry-After at once, with the Status message', async () => {
    const path = `/api/v1/namespaces/${NAMESPACE}/configmaps/web-config`;
    server.clearRequests();
    server.injectFault({ method: 'GET', path, status: 503 });

    const failed = await kubectlFails(['get', 'cm', 'web-config']);

    expect(failed.stderr).toContain('Error from server (ServiceUnavailable): the server is currently unable to handle the request');
    expect(server.requests.filter((r) => r.path === path).map((r) => r.code)).toEqual([503]);
  });

  it('apply --server-side --dry-run=server answers but stores nothing', async () => {
    const manifest = await writeManifest('dry.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry-only\ndata:\n  a: "1"\n');
    const result = await kubectl(['apply', ...applyFlags(), '--dry-run=server', '-f', manifest]);

    expect(result.stdout).toContain('configmap/dry-only serverside-applied (server dry run)');
    expect(server.getObject('configmaps', NAMESPACE, 'dry-only')).toBeUndefined();
    expect(server.requests.find((r) => r.name === 'dry-only')?.query.dryRun).toBe('All');
    await kubectlFails(['get', 'cm', 'dry-only']);
  });

  it('get cm lists config maps as a table, with label and field selectors', async () => {
    const all = await kubectl(['get', 'cm']);
    expect(all.stdout).toMatch(/^NAME +DATA +AGE\n/);
    expect(all.stdout).toMatch(/\nweb-config +1 +\d+s\n/);
    expect(all.stdout).toContain('kube-root-ca.crt');

    const labelled = await kubectl(['get', 'cm', '-l', 'app in (web,api)', '-o', 'name']);
    expect(labelled.stdout).toBe('configmap/web-config\n');
    const byName = await kubectl(['get', 'cm', '--field-selector', 'metadata.name=kube-root-ca.crt', '-o', 'name']);
    expect(byName.stdout).toBe('configmap/kube-root-ca.crt\n');
  });

  it('logs job/<name> returns the log arranged for the job', async () => {
    server.arrangeJob({ name: 'smoke-ok', log: 'GET http://web/healthz 200\nsmoke ok\n' });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { stdin: jobManifest('smoke-ok', ['--url', 'http://web/healthz']) });

    await kubectl(['wait', '--for=condition=complete', 'job/smoke-ok', '--timeout=10s']);
    const logs = await kubectl(['logs', 'job/smoke-ok']);
    expect(logs.stdout).toBe('GET http://web/healthz 200\nsmoke ok\n');
  });

  it('a job arranged to fail ends Failed, and logs pod/<name> shows the default log (its command and args)', async () => {
    server.arrangeJob({ annotation: { key: 'ozg.example/expect', value: 'fail' }, outcome: 'fail' });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { stdin: jobManifest('smoke-bad', ['--url', 'http://web/broken'], { 'ozg.example/expect': 'fail' }) });

    await kubectl(['wait', '--for=condition=failed', 'job/smoke-bad', '--timeout=10s']);
    const pod = (await kubectl(['get', 'pods', '-l', 'job-name=smoke-bad', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout;
    expect(pod).toMatch(/^smoke-bad-\w{5}$/);
    const logs = await kubectl(['logs', `pod/${pod}`]);
    expect(logs.stdout).toBe('/smoke --url http://web/broken\n');
    const jobs = await kubectl(['get', 'jobs']);
    expect(jobs.stdout).toMatch(/smoke-bad +(Failed +)?0\/1/);
  });

  it('rollout status times out for a deployment whose image cannot be pulled', async () => {
    server.arrangeWorkload({ imageIncludes: 'does-not-exist', state: 'ImagePullBackOff' });
    const manifest = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: { selector: { matchLabels: { app: 'broken' } }, template: { metadata: { labels: { app: 'broken' } }, spec: { containers: [{ name: 'app', image: 'registry.example/does-not-exist:1' }] } } },
    });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { stdin: manifest });

    const rollout = await kubectlFails(['rollout', 'status', 'deploy/broken', '--timeout=2s']);
    expect(rollout.stdout).toContain('Waiting for deployment "broken" rollout to finish: 0 of 1 updated replicas are available');
    const pods = await kubectl(['get', 'pods', '-l', 'app=broken']);
    expect(pods.stdout).toMatch(/broken-\w+-\w+ +0\/1 +ImagePullBackOff/);
  });

  it('rollout status waits out minReadySeconds: ready pods are not available yet, and the status JSON omits availableReplicas', async () => {
    const manifest = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'slow' },
      spec: { minReadySeconds: 3, selector: { matchLabels: { app: 'slow' } }, template: { metadata: { labels: { app: 'slow' } }, spec: { containers: [{ name: 'app', image: 'registry.example/ozg/slow:1' }] } } },
    });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { stdin: manifest });
    await server.waitFor(() => server.getObject('deployments', NAMESPACE, 'slow')?.status?.readyReplicas === 1);

    const json = JSON.parse((await kubectl(['get', 'deploy', 'slow', '-o', 'json'])).stdout) as { status: Record<string, unknown> & { conditions: { type: string; status: string; reason: string }[] } };
    expect(json.status).not.toHaveProperty('availableReplicas');
    expect(json.status).toMatchObject({ readyReplicas: 1, updatedReplicas: 1, unavailableReplicas: 1 });
    expect(json.status.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }),
        expect.objectContaining({ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }),
      ]),
    );
    const once = await kubectl(['rollout', 'status', 'deploy/slow', '--watch=false']);
    expect(once.stdout).toContain('Waiting for deployment "slow" rollout to finish: 0 of 1 updated replicas are available');

    const watched = await kubectl(['rollout', 'status', 'deploy/slow', '--timeout=20s']);
    expect(watched.stdout).toContain('deployment "slow" successfully rolled out');
    expect(server.getObject('deployments', NAMESPACE, 'slow')?.status).toMatchObject({ availableReplicas: 1, conditions: expect.arrayContaining([expect.objectContaining({ type: 'Progressing', reason: 'NewReplicaSetAvailable' })]) });
  });

  it('Pod Security `restricted` refuses a pod with the real 403 text; a Deployment\'s ReplicaSet reports ReplicaFailure and a FailedCreate event', async () => {
    const restricted = 'ozg-restricted';
    server.createNamespace(restricted, { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const restrictedConfig = await server.kubeconfigFor(server.addServiceAccount(restricted), restricted);
    const container = { name: 'app', image: 'registry.example/ozg/web:1' };
    const plainPod = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [container] } });

    const refused = await kubectlFails(['create', '-f', '-'], { kubeconfig: restrictedConfig, stdin: plainPod });
    // the text a real kube-apiserver answers (kubernetes.io/docs/tutorials/security/ns-level-pss)
    expect(refused.stderr).toContain(
      'Error from server (Forbidden): error when creating "STDIN": pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    const compliant = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'compliant' },
      spec: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{ ...container, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
        volumes: [{ name: 'tmp', emptyDir: {} }],
      },
    });
    await kubectl(['create', '-f', '-'], { kubeconfig: restrictedConfig, stdin: compliant });

    const deployment = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'plain' }, spec: { selector: { matchLabels: { app: 'plain' } }, template: { metadata: { labels: { app: 'plain' } }, spec: { containers: [container] } } } });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { kubeconfig: restrictedConfig, stdin: deployment });
    await server.waitFor(() => server.listObjects('events', restricted).some((e) => e.reason === 'FailedCreate'));
    const replicaSets = JSON.parse((await kubectl(['get', 'rs', '-l', 'app=plain', '-o', 'json'], { kubeconfig: restrictedConfig })).stdout) as { items: { status: { conditions?: { type: string; reason: string; message: string }[] } }[] };
    expect(replicaSets.items[0]!.status.conditions).toEqual([expect.objectContaining({ type: 'ReplicaFailure', reason: 'FailedCreate', message: expect.stringMatching(/^pods "plain-\w+-\w+" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/) })]);
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=FailedCreate'], { kubeconfig: restrictedConfig });
    expect(events.stdout).toMatch(/replicaset\/plain-\w+ +Error creating: pods "plain-\w+-\w+" is forbidden: violates PodSecurity/);
    const rollout = await kubectl(['rollout', 'status', 'deploy/plain', '--watch=false'], { kubeconfig: restrictedConfig });
    expect(rollout.stdout).toContain('Waiting for deployment "plain" rollout to finish: 0 out of 1 new replicas have been updated');
  });

  it('with an injected mesh sidecar, a log read without a container is a 400 naming the containers (kubectl logs picks one itself), and the Job stays incomplete while the proxy runs', async () => {
    const mesh = 'ozg-mesh';
    server.createNamespace(mesh, { 'sidecar.ozg.example/inject': 'forced' });
    const meshConfig = await server.kubeconfigFor(server.addServiceAccount(mesh), mesh);
    server.arrangeJob({ name: 'smoke-mesh', log: 'smoke ok\n' });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { kubeconfig: meshConfig, stdin: jobManifest('smoke-mesh', ['--url', 'http://web/']) });
    const checkExited = () =>
      server.listObjects('pods', mesh).some((p) => (p.status?.containerStatuses ?? []).some((c: { name: string; state?: { terminated?: unknown } }) => c.name === 'smoke' && c.state?.terminated));
    await server.waitFor(checkExited);
    const pod = (await kubectl(['get', 'pods', '-l', 'job-name=smoke-mesh', '-o', 'jsonpath={.items[0].metadata.name}'], { kubeconfig: meshConfig })).stdout;

    // pkg/registry/core/pod/strategy.go LogLocation: the server picks no container for a pod with two
    const raw = await kubectlFails(['get', '--raw', `/api/v1/namespaces/${mesh}/pods/${pod}/log`], { kubeconfig: meshConfig });
    expect(raw.stderr).toContain(`Error from server (BadRequest): a container name must be specified for pod ${pod}, choose one of: [smoke istio-proxy]`);
    // kubectl logs picks one itself (the default-container annotation, else the first: kubectl's
    // podcmd.FindOrDefaultContainerByName), so a user's `kubectl logs` works where a plain client gets the 400
    const logs = await kubectl(['logs', `pod/${pod}`], { kubeconfig: meshConfig });
    expect(logs.stdout).toBe('smoke ok\n');
    expect(logs.stderr).toContain('Defaulted container "smoke" out of: smoke, istio-proxy');
    expect((await kubectl(['logs', `pod/${pod}`, '-c', 'smoke'], { kubeconfig: meshConfig })).stdout).toBe('smoke ok\n');

    // the proxy still runs: the pod is Running, the Job active and not complete
    const job = JSON.parse((await kubectl(['get', 'job', 'smoke-mesh', '-o', 'json'], { kubeconfig: meshConfig })).stdout) as { status: { active?: number; succeeded?: number; conditions?: unknown[] } };
    expect(job.status).toMatchObject({ active: 1 });
    expect(job.status.succeeded).toBeUndefined();
    expect(job.status.conditions).toBeUndefined();
    const phase = await kubectl(['get', 'pod', pod, '-o', 'jsonpath={.status.phase}'], { kubeconfig: meshConfig });
    expect(phase.stdout).toBe('Running');
  });

  it('a native sidecar (an init container with restartPolicy Always) lets the Job complete, and its pod\'s log needs no container name', async () => {
    const mesh = 'ozg-mesh-native';
    server.createNamespace(mesh, { 'sidecar.ozg.example/inject': 'native' });
    const meshConfig = await server.kubeconfigFor(server.addServiceAccount(mesh), mesh);
    server.arrangeJob({ name: 'smoke-native', log: 'smoke ok\n' });
    await kubectl(['apply', ...applyFlags(), '-f', '-'], { kubeconfig: meshConfig, stdin: jobManifest('smoke-native', ['--url', 'http://web/']) });
    await kubectl(['wait', '--for=condition=complete', 'job/smoke-native', '--timeout=10s'], { kubeconfig: meshConfig });
    const pod = (await kubectl(['get', 'pods', '-l', 'job-name=smoke-native', '-o', 'jsonpath={.items[0].metadata.name}'], { kubeconfig: meshConfig })).stdout;
    const init = await kubectl(['get', 'pod', pod, '-o', 'jsonpath={.spec.initContainers[0].name} {.spec.initContainers[0].restartPolicy}'], { kubeconfig: meshConfig });
    expect(init.stdout).toBe('istio-proxy Always');
    expect((await kubectl(['get', '--raw', `/api/v1/namespaces/${mesh}/pods/${pod}/log`], { kubeconfig: meshConfig })).stdout).toBe('smoke ok\n');
  });

  it('a ResourceQuota on pods refuses the pod beyond it with the real 403 text', async () => {
    const quoted = 'ozg-quota';
    server.createNamespace(quoted);
    server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'one-pod', namespace: quoted }, spec: { hard: { pods: '1' } } });
    const quotaConfig = await server.kubeconfigFor(server.addServiceAccount(quoted), quoted);
    const pod = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'registry.example/ozg/web:1' }] } });
    await kubectl(['create', '-f', '-'], { kubeconfig: quotaConfig, stdin: pod('first') });
    const refused = await kubectlFails(['create', '-f', '-'], { kubeconfig: quotaConfig, stdin: pod('second') });
    // plugin/pkg/admission/resourcequota/controller.go
    expect(refused.stderr).toContain('Error from server (Forbidden): error when creating "STDIN": pods "second" is forbidden: exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1');
  });

  it('apply --server-side takes what helm renders for the example chart (Ingress networking.k8s.io/v1, Secret data, Deployment, Service, ConfigMap)', async () => {
    // helm template of templates/vorgang-manager, its test hook left out as ozg leaves it out (ozg runs it as a smoke Job)
    const values = await writeManifest('chart-values.yaml', 'municipality: {name: kiel, key: "01002000"}\ningress: {host: vorgang.kiel.example}\nsmtp: {password: geheim-1234}\n');
    const chart = path.join(path.dirname(new URL(import.meta.url).pathname), '../../templates/vorgang-manager/1.0.0/chart');
    const rendered = await new Promise<KubectlResult>((resolve, reject) => {
      const child = spawn('helm', ['template', 'vorgang-manager', chart, '--namespace', NAMESPACE, '-f', values, '--skip-tests'], { env: { PATH: process.env.PATH ?? '', HOME: workDir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('helm not found: run scripts/install-helm.sh (installs helm v4 into /usr/local/bin)') : e));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect({ code: rendered.code, stderr: rendered.stderr }).toEqual({ code: 0, stderr: '' });
    expect(rendered.stdout).not.toContain('helm.sh/hook');
    const result = await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('chart.yaml', rendered.stdout)]);
    for (const line of ['configmap/vorgang-manager-config', 'secret/vorgang-manager-smtp', 'service/vorgang-manager', 'deployment.apps/vorgang-manager', 'ingress.networking.k8s.io/vorgang-manager']) {
      expect(result.stdout).toContain(`${line} serverside-applied`);
    }
    const ingress = JSON.parse((await kubectl(['get', 'ingress', 'vorgang-manager', '-o', 'json'])).stdout);
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      rules: [{ host: 'vorgang.kiel.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'vorgang-manager', port: { name: 'http' } } } }] } }],
      tls: [{ hosts: ['vorgang.kiel.example'], secretName: 'vorgang-manager-tls' }],
    });
    expect(Buffer.from(server.getObject('secrets', NAMESPACE, 'vorgang-manager-smtp')!.data.SMTP_PASSWORD, 'base64').toString()).toBe('geheim-1234');
    // a second apply of the same output changes nothing
    const again = await kubectl(['apply', ...applyFlags(), '-f', path.join(workDir, 'chart.yaml')]);
    expect(again.stdout).toContain('ingress.networking.k8s.io/vorgang-manager serverside-applied');
    await kubectl(['delete', 'ingress,deployment,service,secret,configmap', '-l', 'app.kubernetes.io/instance=vorgang-manager']);
  });

  it('a LimitRange fills in container defaults (annotated) and refuses a container beyond its max or min with the real 403 text', async () => {
    const limited = 'ozg-limits';
    server.createNamespace(limited);
    server.putObject({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'container-limits', namespace: limited }, spec: { limits: [{ type: 'Container', max: { cpu: '500m' }, min: { cpu: '50m' }, defaultRequest: { memory: '32Mi' }, default: { memory: '64Mi' } }] } });
    const config = await server.kubeconfigFor(server.addServiceAccount(limited), limited);
    const pod = (name: string, resources: object) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'registry.example/ozg/web:1', resources }] } });

    // the stored LimitRange carries the API's defaults: max becomes the default limit, and so the default request
    const range = JSON.parse((await kubectl(['get', 'limits', 'container-limits', '-o', 'json'], { kubeconfig: config })).stdout);
    expect(range.spec.limits[0]).toMatchObject({ default: { cpu: '500m', memory: '64Mi' }, defaultRequest: { cpu: '500m', memory: '32Mi' } });

    await kubectl(['create', '-f', '-'], { kubeconfig: config, stdin: pod('defaulted', {}) });
    const defaulted = JSON.parse((await kubectl(['get', 'pod', 'defaulted', '-o', 'json'], { kubeconfig: config })).stdout);
    expect(defaulted.spec.containers[0].resources).toEqual({ requests: { cpu: '500m', memory: '32Mi' }, limits: { cpu: '500m', memory: '64Mi' } });
    expect(defaulted.metadata.annotations['kubernetes.io/limit-ranger']).toBe('LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app');

    // plugin/pkg/admission/limitranger/admission.go maxConstraint / minConstraint
    const big = await kubectlFails(['create', '-f', '-'], { kubeconfig: config, stdin: pod('big', { limits: { cpu: '1' } }) });
    expect(big.stderr).toContain('Error from server (Forbidden): error when creating "STDIN": pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1');
    const small = await kubectlFails(['create', '-f', '-'], { kubeconfig: config, stdin: pod('small', { requests: { cpu: '10m' } }) });
    expect(small.stderr).toContain('pods "small" is forbidden: minimum cpu usage per Container is 50m, but request is 10m');
    expect(server.getObject('pods', limited, 'big')).toBeUndefined();
  });

  it('a compute ResourceQuota makes pods declare what it limits and refuses one beyond it with the real 403 texts', async () => {
    const quoted = 'ozg-compute';
    server.createNamespace(quoted);
    server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: quoted }, spec: { hard: { 'requests.cpu': '1', 'requests.memory': '1Gi', 'limits.memory': '2Gi' } } });
    const config = await server.kubeconfigFor(server.addServiceAccount(quoted), quoted);
    const pod = (name: string, resources: object) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'registry.example/ozg/web:1', resources }] } });

    // pkg/quota/v1/evaluator/core/pods.go Constraints, via resourcequota/controller.go
    const bare = await kubectlFails(['create', '-f', '-'], { kubeconfig: config, stdin: pod('bare', {}) });
    expect(bare.stderr).toContain('Error from server (Forbidden): error when creating "STDIN": pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: app; requests.cpu for: app; requests.memory for: app');

    await kubectl(['create', '-f', '-'], { kubeconfig: config, stdin: pod('first', { requests: { cpu: '600m', memory: '600Mi' }, limits: { memory: '600Mi' } }) });
    const second = await kubectlFails(['create', '-f', '-'], { kubeconfig: config, stdin: pod('second', { requests: { cpu: '300m', memory: '700Mi' }, limits: { memory: '700Mi' } }) });
    expect(second.stderr).toContain('pods "second" is forbidden: exceeded quota: compute, requested: requests.memory=700Mi, used: requests.memory=600Mi, limited: requests.memory=1Gi');
    // limits given, requests left out: the API defaults the requests to the limits
    await kubectl(['create', '-f', '-'], { kubeconfig: config, stdin: pod('third', { limits: { cpu: '400m', memory: '400Mi' } }) });
    expect(server.getObject('pods', quoted, 'third')!.spec.containers[0].resources.requests).toEqual({ cpu: '400m', memory: '400Mi' });
  });

  it('delete cm removes the config map', async () => {
    const result = await kubectl(['delete', 'cm', 'web-config']);

    expect(result.stdout).toContain('configmap "web-config" deleted');
    expect(server.getObject('configmaps', NAMESPACE, 'web-config')).toBeUndefined();
    const gone = await kubectlFails(['get', 'cm', 'web-config']);
    expect(gone.stderr).toContain('configmaps "web-config" not found');
  });

  it('refuses cluster-scoped requests and other namespaces with the real Forbidden messages', async () => {
    const subject = `User "system:serviceaccount:${NAMESPACE}:ozg"`;
    const clusterRoles = await kubectlFails(['get', 'clusterroles']);
    expect(clusterRoles.stderr).toContain(
      `Error from server (Forbidden): clusterroles.rbac.authorization.k8s.io is forbidden: ${subject} cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`,
    );
    const otherNamespace = await kubectlFails(['get', 'cm', '-n', OTHER_NAMESPACE]);
    expect(otherNamespace.stderr).toContain(`configmaps is forbidden: ${subject} cannot list resource "configmaps" in API group "" in the namespace "${OTHER_NAMESPACE}"`);
    const createNamespace = await kubectlFails(['create', 'namespace', 'ozg-new']);
    expect(createNamespace.stderr).toContain(`namespaces is forbidden: ${subject} cannot create resource "namespaces" in API group "" at the cluster scope`);
    expect(server.getObject('namespaces', undefined, 'ozg-new')).toBeUndefined();
  });

  it('refuses an apply that creates without create rights with an empty RBAC reason', async () => {
    const patchOnly = server.addServiceAccount(NAMESPACE, 'patch-only', { forbid: [{ verbs: ['create'], resources: ['configmaps'] }] });
    const file = await writeManifest('patch-only.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: patch-only\ndata:\n  a: "1"\n');
    const refused = await kubectlFails(['apply', ...applyFlags(), '-f', file], { kubeconfig: await server.kubeconfigFor(patchOnly, NAMESPACE) });
    expect(refused.stderr).toContain('Error from server (Forbidden): configmaps "patch-only" is forbidden: ');
    expect(refused.stderr).not.toContain('cannot');
    expect(server.getObject('configmaps', NAMESPACE, 'patch-only')).toBeUndefined();
  });

  it('refuses a create over a ResourceQuota with exceeded quota', async () => {
    const quotaUser = server.addServiceAccount('ozg-quota-objects');
    server.putObject({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'objects', namespace: 'ozg-quota-objects' }, spec: { hard: { 'count/configmaps': '1', secrets: '5' } } });
    // the namespace's kube-root-ca.crt counts: the quota is full
    const refused = await kubectlFails(['create', 'configmap', 'over', '--from-literal=a=1'], { kubeconfig: await server.kubeconfigFor(quotaUser, 'ozg-quota-objects') });
    expect(refused.stderr).toContain(
      'error: failed to create configmap: configmaps "over" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1',
    );
  });

  it('refuses a Role granting rights the account does not hold (RBAC escalation check)', async () => {
    const narrow = server.addServiceAccount(NAMESPACE, 'narrow', { forbid: [{ resources: ['pods'] }, { verbs: ['escalate', 'bind'] }] });
    const file = await writeManifest('role.yaml', 'apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: pod-reader\nrules:\n  - apiGroups: [""]\n    resources: ["pods"]\n    verbs: ["get", "list"]\n');
    const refused = await kubectlFails(['apply', ...applyFlags(), '-f', file], { kubeconfig: await server.kubeconfigFor(narrow, NAMESPACE) });
    expect(refused.stderr).toContain(
      `Error from server (Forbidden): roles.rbac.authorization.k8s.io "pod-reader" is forbidden: user "system:serviceaccount:${NAMESPACE}:narrow" (groups=["system:serviceaccounts" "system:serviceaccounts:${NAMESPACE}" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`,
    );
    expect(server.getObject('roles', NAMESPACE, 'pod-reader')).toBeUndefined();
  });

  it('answers a namespace-only account in a namespace that does not exist with 403, not 404', async () => {
    const gone = server.addServiceAccount('ozg-gone');
    server.deleteObject('namespaces', undefined, 'ozg-gone');
    const refused = await kubectlFails(['get', 'cm'], { kubeconfig: await server.kubeconfigFor(gone, 'ozg-gone') });
    expect(refused.stderr).toContain('Error from server (Forbidden): configmaps is forbidden: User "system:serviceaccount:ozg-gone:ozg" cannot list resource "configmaps" in API group "" in the namespace "ozg-gone"');
  });

  it('refuses an apply with a field the schema lacks or duplicate list keys with the 500 of the typed conversion', async () => {
    const typo = webManifests({ greeting: 'typo' })
      .split('---\n')[1]!
      .replace('  replicas: 2\n', '  replica: 2\n')
      .replace('          ports:\n', '          imagePullPolcy: Always\n          ports:\n')
      .replace('          env:\n', '          env:\n            - name: GREETING\n              value: twice\n');
    const refused = await kubectlFails(['apply', ...applyFlags(), '--validate=false', '-f', await writeManifest('typo.yaml', typo.replace('name: web\n', 'name: web-typo\n'))]);
    expect(refused.stderr).toContain(
      `Error from server: failed to create typed patch object (${NAMESPACE}/web-typo; apps/v1, Kind=Deployment): errors:\n` +
        '  .spec.replica: field not declared in schema\n' +
        '  .spec.template.spec.containers[name="web"].env: duplicate entries for key [name="GREETING"]\n' +
        '  .spec.template.spec.containers[name="web"].imagePullPolcy: field not declared in schema',
    );
    expect(server.getObject('deployments', NAMESPACE, 'web-typo')).toBeUndefined();
  });

  it('refuses changes to a claim’s spec and a RoleBinding’s roleRef with 422 field is immutable', async () => {
    const claim = (mode: string) => `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [${mode}]\n  resources:\n    requests:\n      storage: 1Gi\n`;
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('claim.yaml', claim('ReadWriteOnce'))]);
    const claimChange = await kubectlFails(['apply', ...applyFlags(), '-f', await writeManifest('claim.yaml', claim('ReadWriteMany'))]);
    expect(claimChange.stderr).toContain('The PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims');

    const binding = (role: string) =>
      `apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: readers\nsubjects:\n  - kind: ServiceAccount\n    name: default\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: ${role}\n`;
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('binding.yaml', binding('reader-a'))]);
    const rebind = await kubectlFails(['apply', ...applyFlags(), '-f', await writeManifest('binding.yaml', binding('reader-b'))]);
    expect(rebind.stderr).toContain('The RoleBinding "readers" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"reader-b"}: cannot change roleRef');
    expect(server.getObject('rolebindings', NAMESPACE, 'readers')!.roleRef.name).toBe('reader-a');
  });

  it('delete pvc leaves a claim a pod uses Terminating with its pvc-protection finalizer; it goes once the pod is gone', async () => {
    const claim = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: held\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n`;
    const pod = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: holder\nspec:\n  containers:\n    - name: main\n      image: registry.example/app:1\n      volumeMounts:\n        - name: data\n          mountPath: /data\n  volumes:\n    - name: data\n      persistentVolumeClaim:\n        claimName: held\n`;
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('held-claim.yaml', claim)]);
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('holder-pod.yaml', pod)]);
    const finalizers = await kubectl(['get', 'pvc', 'held', '-o', 'jsonpath={.metadata.finalizers}']);
    expect(finalizers.stdout).toContain('kubernetes.io/pvc-protection');

    // kubectl delete waits for the object to go by default; a claim in use does not go
    const deleted = await kubectl(['delete', 'pvc', 'held', '--wait=false']);
    expect(deleted.stdout).toContain('persistentvolumeclaim "held" deleted');
    const table = await kubectl(['get', 'pvc', 'held']);
    expect(table.stdout).toMatch(/^held\s+Terminating\s/m);
    const meta = JSON.parse((await kubectl(['get', 'pvc', 'held', '-o', 'json'])).stdout) as { metadata: { deletionTimestamp?: string; finalizers?: string[] } };
    expect(meta.metadata.deletionTimestamp).toEqual(expect.any(String));
    expect(meta.metadata.finalizers).toEqual(['kubernetes.io/pvc-protection']);
    // applying onto a claim being deleted is accepted, and it stays being deleted
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('held-claim.yaml', claim)]);
    expect(server.getObject('persistentvolumeclaims', NAMESPACE, 'held')!.metadata.deletionTimestamp).toBe(meta.metadata.deletionTimestamp);

    await kubectl(['delete', 'pod', 'holder', '--wait=false']);
    await kubectl(['wait', '--for=delete', 'pvc/held', '--timeout=60s']);
    const gone = await kubectlFails(['get', 'pvc', 'held']);
    expect(gone.stderr).toContain('persistentvolumeclaims "held" not found');
  });

  it('a claim mounted by a completed Job\u2019s pod stays Terminating until that pod is deleted (pvc-protection counts finished pods)', async () => {
    const claim = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: job-data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n`;
    const job = [
      'apiVersion: batch/v1',
      'kind: Job',
      'metadata:',
      '  name: uses-claim',
      'spec:',
      '  template:',
      '    spec:',
      '      restartPolicy: Never',
      '      containers: [{ name: main, image: registry.example/tool:1, volumeMounts: [{ name: data, mountPath: /data }] }]',
      '      volumes: [{ name: data, persistentVolumeClaim: { claimName: job-data } }]',
      '',
    ].join('\n');
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('job-claim.yaml', claim)]);
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('uses-claim.yaml', job)]);
    await kubectl(['wait', '--for=condition=complete', 'job/uses-claim', '--timeout=10s']);
    expect((await kubectl(['get', 'pods', '-l', 'job-name=uses-claim', '-o', 'jsonpath={.items[0].status.phase}'])).stdout).toBe('Succeeded');

    await kubectl(['delete', 'pvc', 'job-data', '--wait=false']);
    // the finished pod still names the claim: the controller keeps it
    await kubectl(['get', 'pods', '-l', 'job-name=uses-claim']);
    expect((await kubectl(['get', 'pvc', 'job-data'])).stdout).toMatch(/^job-data\s+Terminating\s/m);

    await kubectl(['delete', 'job', 'uses-claim', '--cascade=background', '--wait=false']);
    await kubectl(['wait', '--for=delete', 'pvc/job-data', '--timeout=60s']);
  });

  it('delete of an object with a finalizer only marks it; removing the finalizer deletes it', async () => {
    const held = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held-config\n  finalizers: [example.com/hold]\ndata:\n  a: "1"\n`;
    await kubectl(['apply', ...applyFlags(), '-f', await writeManifest('held-config.yaml', held)]);
    await kubectl(['delete', 'cm', 'held-config', '--wait=false']);
    const marked = JSON.parse((await kubectl(['get', 'cm', 'held-config', '-o', 'json'])).stdout) as { metadata: { deletionTimestamp?: string; deletionGracePeriodSeconds?: number } };
    expect(marked.metadata).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 0 });

    await kubectl(['patch', 'cm', 'held-config', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    const gone = await kubectlFails(['get', 'cm', 'held-config']);
    expect(gone.stderr).toContain('configmaps "held-config" not found');
  });

  it('rejects an unknown token with 401', async () => {
    const bogus = await server.kubeconfigFor(user, NAMESPACE, { token: 'not-a-known-token' });
    const result = await kubectlFails(['get', 'cm'], { kubeconfig: bogus });
    expect(result.stderr).toContain('You must be logged in to the server');
    const last = server.requests.at(-1);
    expect(last?.code).toBe(401);
    expect(last?.user).toBeUndefined();
  });

  it('fails with an x509 error when the kubeconfig trusts another CA', async () => {
    const wrongCa = await server.wrongCaKubeconfigFor(user);
    const result = await kubectlFails(['get', 'cm'], { kubeconfig: wrongCa });
    expect(result.stderr).toMatch(/x509: certificate signed by unknown authority/);
  });

});

interface HttpAnswer {
  status: number;
  text: string;
  json: any;
}

/** One request as the service account, trusting the server's CA. */
function callApi(method: string, apiPath: string, body?: unknown, contentType = 'application/json'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      `${server.url}${apiPath}`,
      {
        method,
        ca: server.caCertPem,
        headers: { Authorization: `Bearer ${user.token}`, Accept: 'application/json', ...(payload !== undefined ? { 'Content-Type': contentType } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const CONFIG_MAPS = `/api/v1/namespaces/${NAMESPACE}/configmaps`;

// Runs after the kubectl part and uses what it left behind (the smoke-ok job, the broken deployment).
describe('REST semantics over plain HTTPS', () => {
  it('PUT with a stale resourceVersion is a 409 Conflict; with the current one it replaces', async () => {
    const created = await callApi('POST', CONFIG_MAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rv' }, data: { a: '1' } });
    expect(created.status).toBe(201);
    const again = await callApi('POST', CONFIG_MAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rv' } });
    expect(again.json).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409, message: 'configmaps "rv" already exists' });

    const stale = await callApi('PUT', `${CONFIG_MAPS}/rv`, { ...created.json, metadata: { ...created.json.metadata, resourceVersion: '1' }, data: { a: '2' } });
    expect(stale.status).toBe(409);
    expect(stale.json.message).toBe('Operation cannot be fulfilled on configmaps "rv": the object has been modified; please apply your changes to the latest version and try again');
    const replaced = await callApi('PUT', `${CONFIG_MAPS}/rv`, { ...created.json, data: { a: '2' } });
    expect(replaced.status).toBe(200);
    expect(Number(replaced.json.metadata.resourceVersion)).toBeGreaterThan(Number(created.json.metadata.resourceVersion));
  });

  it('serves a Deployment\'s scale subresource: autoscaling/v1 Scale, resourceVersion precondition, 422 for a negative count', async () => {
    const deployments = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`;
    const created = await callApi('POST', deployments, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'rest-scaled' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'rest-scaled' } }, template: { metadata: { labels: { app: 'rest-scaled' } }, spec: { containers: [{ name: 'c', image: 'registry.example/c:1' }] } } },
    });
    expect(created.status).toBe(201);
    const scalePath = `${deployments}/rest-scaled/scale`;
    const read = await callApi('GET', scalePath);
    expect(read.json).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'rest-scaled', namespace: NAMESPACE, uid: created.json.metadata.uid }, spec: { replicas: 1 } });
    expect(read.json.status.selector).toBe('app=rest-scaled');

    const stale = await callApi('PUT', `${scalePath}?fieldManager=hpa-test`, { ...read.json, metadata: { ...read.json.metadata, resourceVersion: '1' }, spec: { replicas: 4 } });
    expect(stale.status).toBe(409);
    expect(stale.json.message).toMatch(/^Operation cannot be fulfilled on deployments(\.apps)? "rest-scaled": the object has been modified/);
    // the controllers write the Deployment's status meanwhile (a newer resourceVersion): from here
    // on the writes are unconditional, as an HPA's read-modify-write would be after a re-read
    const unconditional = { ...read.json, metadata: { ...read.json.metadata, resourceVersion: undefined } };
    const negative = await callApi('PUT', `${scalePath}?fieldManager=hpa-test`, { ...unconditional, spec: { replicas: -1 } });
    expect(negative.status).toBe(422);
    expect(negative.json.message).toBe('Scale.autoscaling "rest-scaled" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');

    const scaled = await callApi('PUT', `${scalePath}?fieldManager=hpa-test`, { ...unconditional, spec: { replicas: 4 } });
    expect(scaled.status).toBe(200);
    expect(scaled.json.spec.replicas).toBe(4);
    const live = server.getObject('deployments', NAMESPACE, 'rest-scaled')!;
    expect(live.spec.replicas).toBe(4);
    expect(live.metadata.managedFields?.find((m) => m.manager === 'hpa-test')).toMatchObject({ operation: 'Update', apiVersion: 'apps/v1', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:replicas': {} } } });
    // the creator lost .spec.replicas to the scale writer, as managedfields' ScaleHandler.ToParent does
    const others = (live.metadata.managedFields ?? []).filter((m) => m.manager !== 'hpa-test');
    expect(others.length).toBeGreaterThan(0);
    for (const m of others) expect(m.fieldsV1?.['f:spec']?.['f:replicas']).toBeUndefined();
  });

  it('a watch from a resourceVersion replays later changes and streams new ones', async () => {
    const list = await callApi('GET', CONFIG_MAPS);
    expect(list.json).toMatchObject({ kind: 'ConfigMapList', apiVersion: 'v1' });
    await callApi('POST', CONFIG_MAPS, { metadata: { name: 'watched' } });
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}${CONFIG_MAPS}?watch=true&resourceVersion=${list.json.metadata.resourceVersion}&timeoutSeconds=5`, { ca: server.caCertPem, headers: { Authorization: `Bearer ${user.token}` } }, (res) => {
        let buffered = '';
        res.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            const event = JSON.parse(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
            events.push(`${event.type} ${event.object.metadata.name}`);
            if (events.length === 1) void callApi('DELETE', `${CONFIG_MAPS}/watched`);
            if (events.length === 2) {
              req.destroy();
              resolve();
            }
          }
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
      req.end();
    });
    expect(events).toEqual(['ADDED watched', 'DELETED watched']);
  });

  it('lists in pages and deletes a collection by label selector', async () => {
    for (const name of ['page-a', 'page-b', 'page-c']) await callApi('POST', CONFIG_MAPS, { metadata: { name, labels: { batch: 'pages' } } });
    const first = await callApi('GET', `${CONFIG_MAPS}?labelSelector=batch%3Dpages&limit=2`);
    expect(first.json.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['page-a', 'page-b']);
    expect(first.json.metadata.remainingItemCount).toBe(1);
    const second = await callApi('GET', `${CONFIG_MAPS}?labelSelector=batch%3Dpages&limit=2&continue=${first.json.metadata.continue}`);
    expect(second.json.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['page-c']);

    const deleted = await callApi('DELETE', `${CONFIG_MAPS}?labelSelector=batch%3Dpages`);
    expect(deleted.json.items).toHaveLength(3);
    expect(server.listObjects('configmaps', NAMESPACE, 'batch=pages')).toEqual([]);
  });

  it('finds job pods by job-name and controller-uid; deleting a Job without propagationPolicy orphans them', async () => {
    const created = await callApi('POST', `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`, JSON.parse(jobManifest('orphan-check', ['x'])));
    expect(created.status).toBe(201);
    await server.waitFor(() => server.getObject('jobs', NAMESPACE, 'orphan-check')?.status?.succeeded === 1);
    const byName = await callApi('GET', `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=job-name%3Dorphan-check`);
    const byUid = await callApi('GET', `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=controller-uid%3D${created.json.metadata.uid}`);
    expect(byName.json.items).toHaveLength(1);
    expect(byUid.json.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(byName.json.items.map((p: { metadata: { name: string } }) => p.metadata.name));
    const podName = byName.json.items[0].metadata.name;
    const log = await callApi('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${podName}/log`);
    expect(log.text).toBe('/smoke x\n');

    await callApi('DELETE', `/apis/batch/v1/namespaces/${NAMESPACE}/jobs/orphan-check`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.getObject('pods', NAMESPACE, podName)?.metadata.ownerReferences).toBeUndefined();
  });

  it('answers what a driver gets wrong with the real status codes', async () => {
    const noNamespace = await callApi('POST', '/api/v1/namespaces/ozg-kiel-typo/configmaps', { metadata: { name: 'x' } });
    expect(noNamespace.status).toBe(403);
    const strict = await callApi('PATCH', `${CONFIG_MAPS}/rv?fieldManager=ozg&fieldValidation=Strict`, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rv\ndatta:\n  a: "1"\n', 'application/apply-patch+yaml');
    expect(strict.json).toMatchObject({ code: 400, reason: 'BadRequest', message: '.datta: field not declared in schema' });
    const noManager = await callApi('PATCH', `${CONFIG_MAPS}/rv`, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rv\n', 'application/apply-patch+yaml');
    expect(noManager.status).toBe(400);
    const badType = await callApi('PATCH', `${CONFIG_MAPS}/rv`, '{}', 'text/plain');
    expect(badType.status).toBe(415);
    const immutableJob = await callApi('PATCH', `/apis/batch/v1/namespaces/${NAMESPACE}/jobs/smoke-ok`, { spec: { template: { spec: { containers: [{ name: 'smoke', image: 'other:2' }] } } } }, 'application/strategic-merge-patch+json');
    expect(immutableJob.json).toMatchObject({ code: 422, reason: 'Invalid', details: { kind: 'Job', group: 'batch', name: 'smoke-ok' } });
    const waitingLog = await callApi('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${server.listObjects('pods', NAMESPACE, 'app=broken')[0].metadata.name}/log`);
    expect(waitingLog.json.message).toMatch(/^container "app" in pod "broken-\w+-\w+" is waiting to start: trying and failing to pull image$/);
  });

  it('creating in a namespace that does not exist is a 404 for a user allowed there', async () => {
    const ops = server.addUser({ name: 'ops', namespaces: ['ozg-ghost'] });
    const answer = await new Promise<HttpAnswer>((resolve, reject) => {
      const req = request(`${server.url}/api/v1/namespaces/ozg-ghost/configmaps`, { method: 'POST', ca: server.caCertPem, headers: { Authorization: `Bearer ${ops.token}`, 'Content-Type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ metadata: { name: 'x' } }));
    });
    expect(answer.json).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "ozg-ghost" not found' });
  });
});

describe('after all of the above', () => {
  it('the simulated controllers threw no errors', () => {
    expect(server.controllerErrors).toEqual([]);
  });
});
