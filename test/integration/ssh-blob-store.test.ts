/**
 * The blob store of a VM target over a real sshd: what the SSH transport counts as sent
 * (command text + stdin bytes as they go out) shows a blob crossing the wire once.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { InternalError } from '../../src/errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobSource, BundleFile } from '../../src/procedure/types.js';
import type { SshTransport } from '../../src/targets/ssh/ssh-transport.js';
import { createVmDriver } from '../../src/targets/vm/vm-driver.js';
import { blobFile, listStore, makeBlobBundle, textFile, writeBlobFile } from '../helpers/blob-bundles.js';
import { VM_DEPLOY_ROOT } from '../helpers/sshd-harness.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';

const vms = useSshHosts(1);
const MiB = 1024 * 1024;

let tmp: string;
let app: BlobSource;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ozg-ssh-blob-'));
  app = writeBlobFile(join(tmp, 'app.jar'), 8 * MiB, 7);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function open(procedure: string, options: { keepReleases?: number; sudo?: boolean } = {}) {
  const host = vms.hosts[0]!;
  const transport: SshTransport = vms.connect(host, { sudo: options.sudo ?? false });
  const driver = createVmDriver({ transport, root: VM_DEPLOY_ROOT, site: 'kiel', environment: 'test', keepReleases: options.keepReleases ?? 3, description: `kiel/test @ ${host.address}` });
  const deploy = async (version: string, files: BundleFile[], release: string) => {
    const bundle = makeBlobBundle(version, files, procedure);
    await driver.live(procedure, bundle);
    return driver.apply(bundle, release);
  };
  const local = (...parts: string[]) => join(host.root, ...parts);
  return { transport, driver, deploy, local, store: () => listStore(local('.ozg-store', 'sha256')) };
}

describe('VM blob store over ssh', () => {
  it('sends an 8 MiB blob once; a config-only upgrade sends under 64 KB; release files are hard links to the store', async () => {
    const { transport, deploy, local, store } = open('fachverfahren');
    await deploy('1.0.0', [blobFile('lib/app.jar', app), textFile('config/app.conf', 'title=Kiel\n')], 'r1');
    expect(transport.stats.bytesSent).toBeGreaterThan(app.size);
    const key = `${app.sha256}-644`;
    const released = local('fachverfahren', 'releases', 'r1', 'lib', 'app.jar');
    expect(readFileSync(released).equals(readFileSync(app.path))).toBe(true);
    expect(statSync(released).ino).toBe(store()[key]!.ino);

    const before = transport.stats.bytesSent;
    await deploy('1.0.1', [blobFile('lib/app.jar', app), textFile('config/app.conf', 'title=Kiel, Landeshauptstadt\n')], 'r2');
    expect(transport.stats.bytesSent - before).toBeLessThan(64 * 1024);
    expect(statSync(local('fachverfahren', 'releases', 'r2', 'lib', 'app.jar')).ino).toBe(store()[key]!.ino);
    expect(readFileSync(local('fachverfahren', 'releases', 'r2', 'config', 'app.conf'), 'utf8')).toBe('title=Kiel, Landeshauptstadt\n');
    expect(transport.stats.connects).toBe(1);
  }, 60_000);

  it('a no-op deploy of a bundle with blobs is one connection and one command', async () => {
    const files = [blobFile('lib/app.jar', app), textFile('VERSION', '1\n')];
    await open('noop-proc').deploy('1.0.0', files, 'r1');
    const { transport, deploy } = open('noop-proc');
    const result = await deploy('1.0.0', files, 'r2');
    expect(result.status).toBe('unchanged');
    expect({ connects: transport.stats.connects, execs: transport.stats.execs }).toEqual({ connects: 1, execs: 1 });
  }, 60_000);

  it('fails naming the file when a blob changes on this machine mid-deploy, and the target keeps its live release', async () => {
    const { deploy, local, store } = open('changed-proc');
    await deploy('1.0.0', [textFile('VERSION', '1\n')], 'r1');
    const changing = writeBlobFile(join(tmp, 'changing.jar'), 2 * MiB, 9);
    truncateSync(changing.path, MiB);
    const error = await deploy('2.0.0', [blobFile('lib/app.jar', changing)], 'r2').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InternalError);
    expect((error as Error).message).toContain(changing.path);
    expect(readdirSync(local('changed-proc', 'releases'))).toEqual(['r1']);
    expect(Object.keys(store())).not.toContain(`${changing.sha256}-644`);
  }, 60_000);

  it('removes blobs no kept release links to with the releases pruned, through sudo too', async () => {
    await open('keeper-proc').deploy('1.0.0', [blobFile('lib/app.jar', app)], 'r1');
    const { deploy, store, local } = open('gc-proc', { keepReleases: 1, sudo: true });
    const other = writeBlobFile(join(tmp, 'other.jar'), 512 * 1024, 8);
    await deploy('1.0.0', [blobFile('lib/app.jar', other)], 'r1');
    await deploy('2.0.0', [blobFile('lib/app.jar', other, 0o755)], 'r2');
    await deploy('2.0.1', [blobFile('lib/app.jar', other, 0o755), textFile('VERSION', '2.0.1\n')], 'r3');
    expect(readdirSync(local('gc-proc', 'releases')).sort()).toEqual(['r2', 'r3']);
    const names = Object.keys(store());
    // the 0644 blob left with r1; keeper-proc's blob stays while its release links it
    expect(names).toContain(`${other.sha256}-755`);
    expect(names).not.toContain(`${other.sha256}-644`);
    expect(names).toContain(`${app.sha256}-644`);
    expect(statSync(local('gc-proc', 'releases', 'r3', 'lib', 'app.jar')).mode & 0o777).toBe(0o755);
  }, 60_000);
});
