import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError, InvalidTargetError, OzgError, UnreachableError } from '../../../../src/errors.js';
import type { DataCenter, EnvironmentSpec, Site } from '../../../../src/inventory/types.js';
import { createDriver } from '../../../../src/targets/create-driver.js';
import { createKubeApi, describeNetworkError } from '../../../../src/targets/kubernetes/kube-api.js';
import { resolveNamespace } from '../../../../src/targets/kubernetes/kube-target.js';

const site = (name: string): Site => ({ name, labels: {}, dataCenter: 'k8s', facts: {}, setups: [] });
const dataCenter = (test: EnvironmentSpec): DataCenter => ({ name: 'k8s', kind: 'kubernetes', environments: { test }, keepReleases: 3 });

function kubeconfig(cluster: Record<string, unknown>, extra = ''): string {
  const lines = Object.entries(cluster).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1
kind: Config
clusters:
  - name: dc
    cluster:
${lines.join('\n')}
users:
  - name: deployer
    user:
      token: abc
contexts:
  - name: kiel
    context: { cluster: dc, user: deployer }
current-context: kiel
${extra}`;
}

describe('kubernetes targets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ozg-kube-target-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('put a site into the namespace its pattern names, and refuse names that are no DNS label', () => {
    expect(resolveNamespace(dataCenter({ name: 'test', namespace: 'ozg-{site}-test' }), { name: 'test', namespace: 'ozg-{site}-test' }, site('kiel'))).toBe('ozg-kiel-test');
    const long = { name: 'test' as const, namespace: `ozg-{site}-${'x'.repeat(50)}` };
    expect(() => resolveNamespace(dataCenter(long), long, site('amt-hohner-harde'))).toThrow(/is not a DNS label of at most 63 characters/);
    const none = { name: 'test' as const };
    expect(() => resolveNamespace(dataCenter(none), none, site('kiel'))).toThrow(/names no namespace pattern/);
    expect(() => resolveNamespace(dataCenter(none), none, site('kiel'))).toThrow(InvalidTargetError);
  });

  it('are built by createDriver without sending anything (the kubeconfig is read on first use)', async () => {
    const spec: EnvironmentSpec = { name: 'test', kubeconfig: join(dir, 'missing'), context: 'kiel', namespace: 'ozg-{site}-test' };
    const driver = await createDriver(dataCenter(spec), spec, site('kiel'));
    expect(driver.description).toBe('kiel/test @ namespace ozg-kiel-test (context kiel)');
    const error = await driver.live('antrag-formular').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toMatch(/kubeconfig does not exist/);
    await driver.close();
  });

  it('need a kubeconfig', async () => {
    const spec: EnvironmentSpec = { name: 'test', namespace: 'ozg-{site}-test' };
    await expect(createDriver(dataCenter(spec), spec, site('kiel'))).rejects.toThrow(/needs a kubeconfig/);
    await expect(createDriver(dataCenter(spec), spec, site('kiel'))).rejects.toThrow(InvalidTargetError);
  });
});

describe('createKubeApi', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ozg-kubeconfig-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(text: string): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, text);
    return file;
  }

  it('refuses a kubeconfig that turns TLS verification off', async () => {
    const file = write(kubeconfig({ server: 'https://127.0.0.1:6443', 'insecure-skip-tls-verify': true }));
    const error = (await createKubeApi({ kubeconfigPath: file }).catch((e: unknown) => e)) as InvalidInputError;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/cluster dc sets insecure-skip-tls-verify: ozg always verifies the API server's certificate/);
    expect(error.hint).toMatch(/certificate-authority/);
  });

  it('refuses plain http and unknown contexts', async () => {
    await expect(createKubeApi({ kubeconfigPath: write(kubeconfig({ server: 'http://127.0.0.1:8080' })) })).rejects.toThrow(/over https only/);
    await expect(createKubeApi({ kubeconfigPath: write(kubeconfig({ server: 'https://127.0.0.1:6443' })), context: 'flensburg' })).rejects.toThrow(
      /has no context "flensburg" \(it has: kiel\)/,
    );
  });

  it('names the server and the certificate problem when TLS verification fails', () => {
    const tls = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const error = describeNetworkError(tls, 'https://10.0.0.1:6443', '/etc/ozg/kubeconfig', 'dc');
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.message).toBe("https://10.0.0.1:6443: the server's certificate could not be verified (x509: unable to verify the first certificate) [UNABLE_TO_VERIFY_LEAF_SIGNATURE]");
    expect(error.hint).toMatch(/certificate-authority .* of cluster dc in \/etc\/ozg\/kubeconfig/);
    const refused = describeNetworkError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'https://10.0.0.1:6443', 'k', 'dc');
    expect(refused.message).toMatch(/cannot reach the Kubernetes API \(ECONNREFUSED/);
    const alert = Object.assign(new Error('tlsv13 alert certificate required'), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    expect(describeNetworkError(alert, 'https://10.0.0.1:6443', 'k', 'dc').message).toMatch(/cannot reach the Kubernetes API \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED/);
    expect(describeNetworkError(new OzgError('x'), 's', 'k', 'c').message).toBe('x');
  });
});
