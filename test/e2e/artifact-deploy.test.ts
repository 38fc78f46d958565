/**
 * Issue 12, must show 1: a procedure with binary artefacts from loopback HTTP and HTTPS
 * servers and a static folder, deployed through the real CLI over real sshd to 20 hosts.
 * Files arrive byte-identical with their mode; a second run downloads nothing; a wrong
 * sha256 is exit 3 before any target is contacted, with nothing recorded.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { createTestCa, startArtifactServer, type ArtifactServer, type TestCa } from '../helpers/artifact-server.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';
import type { SshHost } from '../helpers/sshd-harness.js';
import { countSessions, markLogs, readHostMarker, writeVmInventory, type VmSiteSpec } from '../helpers/vm-inventory.js';

const vms = useSshHosts(20);

// binary: every byte value, a NUL, Liquid markup; large enough to stream in several chunks
const appJar = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('{{ site.name }}'), Buffer.alloc(400_000, 0xa5)]);
const tool = Buffer.concat([Buffer.from('#!/bin/sh\necho tool\n'), Buffer.from([0, 0xff, 0xfe])]);
const logo = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x7b, 0x7b, 0xff]);
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let ca: TestCa;
let plain: ArtifactServer;
let secure: ArtifactServer;
let cwd: string;
let env: Record<string, string>;

function procedureYaml(version: string, jarSha: string, jarPath = '/app.jar'): string {
  return [
    'name: shop',
    `version: ${version}`,
    'values: { type: object, properties: { greeting: { type: string, default: hello } } }',
    'vm:',
    '  files: vm',
    '  static: static',
    'artifacts:',
    `  - { name: app.jar, url: "${plain.origin.replace('//', '//deploy:pw-${version}@')}${jarPath}", sha256: ${jarSha} }`,
    `  - { name: tool, url: "${secure.origin}/tool", sha256: ${sha(tool)}, dest: bin/tool, mode: "0755" }`,
    '',
  ].join('\n');
}

async function writeVersion(version: string, jarSha: string, jarPath?: string): Promise<void> {
  const dir = path.join(cwd, 'catalogue', 'shop', version);
  await mkdir(path.join(dir, 'vm'), { recursive: true });
  await mkdir(path.join(dir, 'static', 'img'), { recursive: true });
  await writeFile(path.join(dir, 'procedure.yaml'), procedureYaml(version, jarSha, jarPath));
  await writeFile(path.join(dir, 'vm', 'config.txt'), 'site={{ site.name }} greeting={{ values.greeting }}\n');
  await writeFile(path.join(dir, 'static', 'img', 'logo.png'), logo);
  await writeFile(path.join(dir, 'static', 'run.sh'), '#!/bin/sh\nexec java -jar artifacts/app.jar "{{ not liquid }}"\n', { mode: 0o755 });
}

function sites(version: string, greeting?: string): VmSiteSpec[] {
  const hosts = vms.hosts;
  return Array.from({ length: 10 }, (_, i) => ({
    name: `site${String(i).padStart(2, '0')}`,
    dataCenter: 'vm-dc',
    test: hosts[2 * i]!,
    prod: hosts[2 * i + 1]!,
    procedures: { shop: { version, ...(greeting ? { values: { greeting } } : {}) } },
  }));
}

async function writeInventory(version: string, greeting?: string): Promise<void> {
  await writeVmInventory(cwd, vms, { catalogues: ['catalogue'], dataCenters: [{ name: 'vm-dc', knownHosts: vms.knownHostsFile }], sites: sites(version, greeting), concurrency: 10 });
}

function deploy(...flags: string[]): Promise<OzgRun> {
  return runOzg(['deploy', ...flags], { cwd, env });
}

/** Every path, kind, mode, size and mtime below a host's root: any change a run made shows. */
async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of (await readdir(root, { recursive: true })).map(String).sort()) {
    const info = await lstat(path.join(root, entry));
    lines.push(`${entry} ${info.mode.toString(8)} ${info.size} ${info.mtimeMs}`);
  }
  return lines;
}

async function releaseDir(host: SshHost, site: string): Promise<string> {
  const marker = await readHostMarker(host, site, 'shop');
  if (!marker) throw new Error(`no release of shop on ${host.address} for ${site}`);
  return path.join(host.root, site, 'shop', 'releases', marker.release);
}

beforeAll(async () => {
  ca = createTestCa();
  plain = await startArtifactServer({ files: new Map([['/app.jar', appJar]]) });
  secure = await startArtifactServer({ files: new Map([['/tool', tool]]), tls: { key: ca.key, cert: ca.cert } });
  cwd = path.join(vms.dir, 'project');
  // the test CA is trusted through the environment of this test's ozg only; real use trusts the system store
  env = { OZG_CACHE_DIR: path.join(vms.dir, 'cache'), CURL_CA_BUNDLE: ca.caFile, SSL_CERT_FILE: ca.caFile, https_proxy: '', http_proxy: '', HTTPS_PROXY: '', no_proxy: '' };
  await writeVersion('1.0.0', sha(appJar));
  // in the catalogue, used by no site: its artefact is never fetched
  const unused = path.join(cwd, 'catalogue', 'unused', '1.0.0');
  await mkdir(path.join(unused, 'vm'), { recursive: true });
  await writeFile(path.join(unused, 'vm', 'a.txt'), 'a\n');
  await writeFile(path.join(unused, 'procedure.yaml'), `name: unused\nversion: 1.0.0\nvm:\n  files: vm\nartifacts:\n  - { name: u.jar, url: "${plain.origin}/unused.jar", sha256: ${sha(tool)} }\n`);
  await writeInventory('1.0.0');
});
afterAll(async () => {
  await plain?.close();
  await secure?.close();
  ca?.remove();
});

describe('a procedure with artefacts and static files over SSH', () => {
  it('reaches 20 hosts byte-identical with its modes, fetching each artefact once', async () => {
    const run = await deploy('--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const applied = resultOf(run).sites.flatMap((s: any) => s.items.flatMap((i: any) => i.environments.map((e: any) => e.status)));
    expect(applied).toEqual(Array(20).fill('applied'));
    expect(plain.requests.get('/app.jar')).toBe(1);
    expect(secure.requests.get('/tool')).toBe(1);
    expect(plain.requests.has('/unused.jar')).toBe(false);

    for (const [i, host] of vms.hosts.entries()) {
      const site = `site${String(Math.floor(i / 2)).padStart(2, '0')}`;
      const release = await releaseDir(host, site);
      const expectations: [string, Buffer, number][] = [
        ['artifacts/app.jar', appJar, 0o644],
        ['bin/tool', tool, 0o755],
        ['img/logo.png', logo, 0o644],
      ];
      for (const [file, bytes, mode] of expectations) {
        expect({ host: host.address, file, same: (await readFile(path.join(release, file))).equals(bytes), mode: (await stat(path.join(release, file))).mode & 0o777 }).toEqual({ host: host.address, file, same: true, mode });
      }
      expect((await stat(path.join(release, 'run.sh'))).mode & 0o777).toBe(0o755);
      expect(await readFile(path.join(release, 'run.sh'), 'utf8')).toContain('"{{ not liquid }}"');
      expect(await readFile(path.join(release, 'config.txt'), 'utf8')).toBe(`site=${site} greeting=hello\n`);
    }
    // the cache holds the verified blobs under their sha256
    const blobs = (await readdir(path.join(env.OZG_CACHE_DIR!, 'blobs', 'sha256'))).sort();
    expect(blobs).toEqual([sha(appJar), sha(tool)].sort());
  }, 180_000);

  it('a second run (a changed value: every target upgrades) downloads nothing', async () => {
    const before = plain.total() + secure.total();
    await writeInventory('1.0.0', 'moin');
    const run = await deploy('--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(plain.total() + secure.total()).toBe(before);
    const release = await releaseDir(vms.hosts[5]!, 'site02');
    expect(await readFile(path.join(release, 'config.txt'), 'utf8')).toBe('site=site02 greeting=moin\n');
    expect((await readFile(path.join(release, 'artifacts/app.jar'))).equals(appJar)).toBe(true);
  }, 180_000);

  it('a wrong sha256 is exit 3 naming procedure.yaml line:col and the artefact, before any host is contacted; nothing recorded', async () => {
    const wrong = sha(Buffer.from('not the jar'));
    await writeVersion('1.1.0', wrong);
    await writeInventory('1.1.0', 'moin');
    const trees = await Promise.all(vms.hosts.map((h) => describeTree(h.root)));
    const ledgerBefore = await readFile(path.join(cwd, '.ozg', 'ledger.jsonl'), 'utf8');
    const logs = await markLogs(vms.hosts);

    const run = await deploy();
    // every site using the version fails as that site (invalid input), before any host is contacted
    expect(run.code).toBe(3);
    const output = run.stdout + run.stderr;
    expect(output).toContain(`catalogue/shop/1.1.0/procedure.yaml:8:`);
    expect(output).toContain(`artifacts[0].sha256  artifact app.jar: expected sha256 ${wrong}, but ${plain.origin.replace('//', '//***@')}/app.jar has ${sha(appJar)}`);
    expect(output).not.toContain('pw-1.1.0');
    expect(await Promise.all(vms.hosts.map((h) => describeTree(h.root)))).toEqual(trees);
    expect(await readFile(path.join(cwd, '.ozg', 'ledger.jsonl'), 'utf8')).toBe(ledgerBefore);
    for (const log of await logs()) expect(countSessions(log).connections).toBe(0);
    expect(run.stderr).not.toContain('pw-1.1.0');
  }, 180_000);

  it('an artefact URL that answers 404 is exit 6 naming the URL without its password, before any host is contacted', async () => {
    // a sha256 the cache lacks: a cached one would be used without asking the server at all
    await writeVersion('1.2.0', sha(Buffer.from('a jar nobody has')), '/missing.jar');
    await writeInventory('1.2.0', 'moin');
    const trees = await Promise.all(vms.hosts.map((h) => describeTree(h.root)));
    const logs = await markLogs(vms.hosts);
    const run = await deploy();
    expect(run.code).toBe(6);
    expect(run.stderr).toContain(`artifact app.jar (catalogue/shop/1.2.0/procedure.yaml:8): ${plain.origin.replace('//', '//***@')}/missing.jar: the server answered with an error`);
    expect(run.stderr).toContain('404');
    expect(run.stderr).not.toContain('pw-1.2.0');
    expect(await Promise.all(vms.hosts.map((h) => describeTree(h.root)))).toEqual(trees);
    for (const log of await logs()) expect(countSessions(log).connections).toBe(0);
  }, 180_000);
});

describe('a procedure with a path artefact and static files on a local target', () => {
  it('lands in the local release byte-identical with its modes, and plan then shows nothing pending', async () => {
    const project = path.join(vms.dir, 'local-project');
    const version = path.join(project, 'catalogue', 'forms', '1.0.0');
    await mkdir(path.join(version, 'vm'), { recursive: true });
    await mkdir(path.join(version, 'static', 'bin'), { recursive: true });
    await mkdir(path.join(version, 'assets'), { recursive: true });
    await writeFile(path.join(version, 'vm', 'config.txt'), 'site={{ site.name }}\n');
    await writeFile(path.join(version, 'static', 'bin', 'run'), tool, { mode: 0o755 });
    await writeFile(path.join(version, 'assets', 'form.pdf'), appJar);
    await writeFile(
      path.join(version, 'procedure.yaml'),
      `name: forms\nversion: 1.0.0\nvm:\n  files: vm\n  static: static\nartifacts:\n  - { name: form.pdf, path: assets/form.pdf, sha256: ${sha(appJar)}, dest: public/form.pdf }\n`,
    );
    await writeFile(
      path.join(project, 'sites.yaml'),
      'catalogues: [catalogue]\ndataCenters:\n  here:\n    kind: local\n    environments:\n      test: { root: ./targets/test }\nsites:\n  kiel:\n    dataCenter: here\n    procedures:\n      forms: { version: 1.0.0 }\n',
    );
    const run = await runOzg(['deploy'], { cwd: project, env: { OZG_CACHE_DIR: path.join(vms.dir, 'local-cache') } });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('kiel test forms record: applied 1.0.0') });
    const current = path.join(project, 'targets', 'test', 'kiel', 'forms', 'current');
    expect((await readFile(path.join(current, 'public', 'form.pdf'))).equals(appJar)).toBe(true);
    expect((await readFile(path.join(current, 'bin', 'run'))).equals(tool)).toBe(true);
    expect((await stat(path.join(current, 'bin', 'run'))).mode & 0o777).toBe(0o755);
    const plan = await runOzg(['plan'], { cwd: project, env: { OZG_CACHE_DIR: path.join(vms.dir, 'local-cache') } });
    expect(plan.code).toBe(0);
  }, 60_000);
});
