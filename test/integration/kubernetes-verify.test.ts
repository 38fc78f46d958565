/**
 * Issue 13 on Kubernetes: `verify` compares the live objects with a server-side apply dry run
 * of the live release, so an object edited by hand (kubectl patch, another field manager) is
 * reported with the fields that differ, while an autoscaler's replicas and defaulted fields
 * are not; `apply` with `reinstall` takes the edited fields back.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataCenter, EnvironmentSpec, Site } from '../../src/inventory/types.js';
import type { KubernetesDriver } from '../../src/targets/kubernetes/kube-driver.js';
import { createKubernetesDriverFor } from '../../src/targets/kubernetes/kube-target.js';
import { startKubeApiServer, type KubeApiServer } from '../helpers/kube-api/index.js';
import { configMap, deployment, horizontalPodAutoscaler as hpa, makeBundle } from '../unit/targets/kubernetes/make-bundle.js';

const PROCEDURE = 'antrag-formular';
const INSTALL_STEP = 'apt-get install -y kubernetes-client (or put kubectl >= 1.20 on PATH, or set OZG_TEST_KUBECTL)';
const kubectlBinary = process.env.OZG_TEST_KUBECTL ?? 'kubectl';

let server: KubeApiServer;
let kubeconfig: string;
let workDir: string;
const drivers: KubernetesDriver[] = [];


function driverFor(site: string): KubernetesDriver {
  const spec: EnvironmentSpec = { name: 'test', kubeconfig, context: 'ozg-test', namespace: 'ozg-{site}-test' };
  const dataCenter: DataCenter = { name: 'rz-nord', kind: 'kubernetes', environments: { test: spec }, keepReleases: 3 };
  const siteSpec: Site = { name: site, labels: {}, dataCenter: 'rz-nord', facts: {}, setups: [] };
  const driver = createKubernetesDriverFor(dataCenter, spec, siteSpec, { rolloutTimeoutMs: 5000, pollIntervalMs: 50 });
  drivers.push(driver);
  return driver;
}

function bundle(site: string, withHpa = false) {
  return makeBundle(
    {
      'configmap.yaml': configMap('antrag-formular-config', { 'app.json': '{"title":"Antrag v1"}' }),
      // no replicas in the manifest when an HPA scales it (hpa-replicas.ts leaves them out)
      'deployment.yaml': deployment(PROCEDURE, 'registry.ozg.example/ozg/antrag-formular:1.0.0', 2),
      ...(withHpa ? { 'hpa.yaml': hpa(PROCEDURE) } : {}),
    },
    { site, version: '1.0.0' },
  );
}

/** `kubectl patch` as an operator would, through the test server: field manager kubectl-patch. */
function kubectl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlBinary, ['--cache-dir', path.join(workDir, 'cache'), '--request-timeout=10s', ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: workDir, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new Error(`kubectl not found (${kubectlBinary}): ${INSTALL_STEP}`) : error));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl ${args.join(' ')} exited ${code}\n${output}`))));
  });
}

beforeAll(async () => {
  const namespaces = ['ozg-kiel-test', 'ozg-husum-test'];
  server = await startKubeApiServer({ namespaces });
  server.addUser({ name: 'deployer', namespaces, token: 'deployer-token' });
  kubeconfig = await server.kubeconfigFor('deployer', 'ozg-kiel-test');
  workDir = await mkdtemp(path.join(os.tmpdir(), 'ozg-kube-verify-'));
});

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await server?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('verify and reinstall on a Kubernetes namespace', () => {
  it('reports an object patched by hand with its field; reinstall takes the field back; verify is clean again', async () => {
    const driver = driverFor('kiel');
    const v1 = bundle('kiel');
    await driver.apply(v1, '20260101T080000Z-aaaaaaaa');
    expect(await driver.verify!(PROCEDURE, v1)).toEqual({ status: 'clean', release: '20260101T080000Z-aaaaaaaa', checked: 2 });

    await kubectl(['-n', 'ozg-kiel-test', 'patch', 'deployment', PROCEDURE, '--type', 'merge', '--field-manager', 'kubectl-patch', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"evil.example/app:9"}]}}}}']);
    expect(JSON.stringify(server.getObject('deployments', 'ozg-kiel-test', PROCEDURE)!.spec)).toContain('evil.example/app:9');

    const drifted = await driver.verify!(PROCEDURE, v1);
    expect(drifted).toMatchObject({ status: 'drifted', changed: ['deployment/antrag-formular'], missing: [], extra: [] });
    // a merge patch replaces the containers list whole: the ports went with it
    expect(drifted.status === 'drifted' && drifted.fields).toEqual([{ object: 'deployment/antrag-formular', paths: ['spec.template.spec.containers[0].image', 'spec.template.spec.containers[0].ports'] }]);
    // verify changed nothing
    expect(JSON.stringify(server.getObject('deployments', 'ozg-kiel-test', PROCEDURE)!.spec)).toContain('evil.example/app:9');

    // a plain apply leaves the same release alone; reinstall applies it again
    expect(await driver.apply(v1, '20260102T080000Z-aaaaaaaa')).toMatchObject({ status: 'unchanged' });
    expect(await driver.apply(v1, '20260103T080000Z-aaaaaaaa', { reinstall: true })).toMatchObject({ status: 'applied' });
    expect(JSON.stringify(server.getObject('deployments', 'ozg-kiel-test', PROCEDURE)!.spec)).toContain('registry.ozg.example/ozg/antrag-formular:1.0.0');
    expect(await driver.verify!(PROCEDURE, v1)).toEqual({ status: 'clean', release: '20260103T080000Z-aaaaaaaa', checked: 2 });
  });

  it("an autoscaler's replicas are no drift", async () => {
    const driver = driverFor('husum');
    const withHpa = bundle('husum', true);
    await driver.apply(withHpa, '20260101T080000Z-aaaaaaaa');
    server.scaleAsHpa('deployments', 'ozg-husum-test', PROCEDURE, 4);
    expect(await driver.verify!(PROCEDURE, withHpa)).toEqual({ status: 'clean', release: '20260101T080000Z-aaaaaaaa', checked: 3 });
  });
});
