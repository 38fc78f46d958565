/**
 * The blob store of a VM target over the local transport (the same scripts a VM gets over
 * SSH): blobs are sent once, release files are hard links to them, a config-only upgrade sends
 * kilobytes, old blobs leave with old releases, and a blob gone missing never makes a half release.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError, RemoteCommandError } from '../../src/errors.js';
import type { BlobSource } from '../../src/procedure/types.js';
import type { TargetDriver } from '../../src/targets/driver.js';
import { createLocalTransport } from '../../src/targets/vm/local-transport.js';
import { STORE_THRESHOLD_BYTES } from '../../src/targets/vm/store-plan.js';
import { createVmDriver } from '../../src/targets/vm/vm-driver.js';
import { blobFile, countStdin, listStore, makeBlobBundle, textFile, writeBlobFile, type CountingTransport } from '../helpers/blob-bundles.js';

const MiB = 1024 * 1024;
const PROCEDURE = 'fachverfahren';

let tmp: string;
let root: string;
let transport: CountingTransport;
let driver: TargetDriver;
let app: BlobSource;

function makeDriver(keepReleases = 3): TargetDriver {
  transport = countStdin(createLocalTransport({ where: root }));
  driver = createVmDriver({ transport, root, site: 'kiel', environment: 'test', keepReleases, description: 'kiel/test (local)' });
  return driver;
}

/** live() with the bundle, then apply(), as the pipeline does */
async function deploy(version: string, files: Parameters<typeof makeBlobBundle>[1], release: string) {
  const bundle = makeBlobBundle(version, files);
  await driver.live(PROCEDURE, bundle);
  return driver.apply(bundle, release);
}

const storeDir = () => join(root, '.ozg-store', 'sha256');
const relDir = (release: string) => join(root, PROCEDURE, 'releases', release);
const ino = (path: string) => statSync(path).ino;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ozg-blob-store-'));
  app = writeBlobFile(join(tmp, 'app.jar'), 3 * MiB, 1);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeEach(() => {
  root = mkdtempSync(join(tmp, 'target-'));
  makeDriver();
});
afterEach(() => driver.close());

describe('VM blob store (local transport)', () => {
  it('sends a blob once: the first deploy streams it, a config-only upgrade sends only kilobytes, release files are hard links to the store', async () => {
    await deploy('1.0.0', [blobFile('lib/app.jar', app), textFile('config/app.conf', 'title=Kiel\n')], 'r1');
    expect(transport.stdinBytes).toBeGreaterThan(app.size);
    const key = `${app.sha256}-644`;
    const store = listStore(storeDir());
    expect(Object.keys(store)).toEqual([key]);
    const released = join(relDir('r1'), 'lib', 'app.jar');
    expect(readFileSync(released).equals(readFileSync(app.path))).toBe(true);
    expect(ino(released)).toBe(store[key]!.ino);
    expect(statSync(released).mode & 0o777).toBe(0o644);
    // the incoming folder and its links list do not stay in the release
    expect(readdirSync(relDir('r1')).sort()).toEqual(['.ozg-files', '.ozg-present', '.ozg-release', 'config', 'lib']);

    transport.reset();
    const result = await deploy('1.0.1', [blobFile('lib/app.jar', app), textFile('config/app.conf', 'title=Kiel, Landeshauptstadt\n')], 'r2');
    expect(result.status).toBe('applied');
    // live read + apply; the apply's archive: metadata, config, links list, headers
    expect(transport.execs).toBe(2);
    expect(transport.stdinBytes).toBeLessThan(64 * 1024);
    expect(ino(join(relDir('r2'), 'lib', 'app.jar'))).toBe(store[key]!.ino);
    expect(readFileSync(join(relDir('r2'), 'config', 'app.conf'), 'utf8')).toBe('title=Kiel, Landeshauptstadt\n');
    expect(readlinkSync(join(root, PROCEDURE, 'current'))).toBe('releases/r2');
    expect(listStore(storeDir())[key]!.nlink).toBe(3);
  });

  it('is still one exec for a no-op deploy of a bundle with blobs', async () => {
    const files = [blobFile('lib/app.jar', app)];
    await deploy('1.0.0', files, 'r1');
    transport.reset();
    const result = await deploy('1.0.0', files, 'r2');
    expect(result.status).toBe('unchanged');
    expect(transport.execs).toBe(1);
    expect(transport.stdinBytes).toBeLessThan(200);
  });

  it('collects blobs no kept release links to when old releases are pruned, in the same apply', async () => {
    makeDriver(1); // keeps the live and the previous release
    const v2 = writeBlobFile(join(tmp, 'app-2.jar'), 256 * 1024, 2);
    await deploy('1.0.0', [blobFile('lib/app.jar', app)], 'r1');
    await deploy('2.0.0', [blobFile('lib/app.jar', v2)], 'r2');
    expect(Object.keys(listStore(storeDir())).sort()).toEqual([`${app.sha256}-644`, `${v2.sha256}-644`].sort());
    await deploy('2.0.1', [blobFile('lib/app.jar', v2), textFile('VERSION', '2.0.1\n')], 'r3');
    expect(readdirSync(join(root, PROCEDURE, 'releases')).sort()).toEqual(['r2', 'r3']);
    // r1 held the last link to the 1.0.0 jar
    expect(Object.keys(listStore(storeDir()))).toEqual([`${v2.sha256}-644`]);
    expect(listStore(storeDir())[`${v2.sha256}-644`]!.nlink).toBe(3);
  });

  it('stores one blob once per mode: hard links share a mode, files with one content may differ in theirs', async () => {
    await deploy('1.0.0', [blobFile('bin/tool', app, 0o755), blobFile('share/tool.copy', app, 0o644)], 'r1');
    expect(Object.keys(listStore(storeDir())).sort()).toEqual([`${app.sha256}-644`, `${app.sha256}-755`]);
    expect(statSync(join(relDir('r1'), 'bin', 'tool')).mode & 0o777).toBe(0o755);
    expect(statSync(join(relDir('r1'), 'share', 'tool.copy')).mode & 0o777).toBe(0o644);
    expect(listStore(storeDir())[`${app.sha256}-755`]!.mode).toBe(0o755);
  });

  it('puts large rendered files through the store, but never a file holding secrets', async () => {
    const big = Buffer.alloc(STORE_THRESHOLD_BYTES, 'x');
    const secret = Buffer.alloc(STORE_THRESHOLD_BYTES * 2, 's');
    await deploy('1.0.0', [textFile('public/app.js', big), textFile('config/secrets.env', secret, 0o600, true), textFile('small.txt', 'small\n')], 'r1');
    const store = listStore(storeDir());
    expect(Object.keys(store)).toHaveLength(1);
    expect(ino(join(relDir('r1'), 'public', 'app.js'))).toBe(Object.values(store)[0]!.ino);
    expect(statSync(join(relDir('r1'), 'config', 'secrets.env')).nlink).toBe(1);
    expect(statSync(join(relDir('r1'), 'config', 'secrets.env')).mode & 0o777).toBe(0o600);
    expect(statSync(join(relDir('r1'), 'small.txt')).nlink).toBe(1);
    expect(readFileSync(join(relDir('r1'), 'config', 'secrets.env')).equals(secret)).toBe(true);
  });

  it('sends a blob again when it left the store between the read and the apply', async () => {
    const files = [blobFile('lib/app.jar', app)];
    await deploy('1.0.0', files, 'r1');
    const bundle = makeBlobBundle('1.0.1', [...files, textFile('VERSION', '1.0.1\n')]);
    await driver.live(PROCEDURE, bundle);
    // the release links keep the bytes; the store entry is what the read saw
    unlinkSync(join(storeDir(), `${app.sha256}-644`));
    transport.reset();
    const result = await driver.apply(bundle, 'r2');
    expect(result.status).toBe('applied');
    // the first apply stopped at the link step, a fresh read named the blob, the second sent it
    expect(transport.execs).toBe(3);
    expect(transport.stdinBytes).toBeGreaterThan(app.size);
    expect(readFileSync(join(relDir('r2'), 'lib', 'app.jar')).equals(readFileSync(app.path))).toBe(true);
    expect(ino(join(relDir('r2'), 'lib', 'app.jar'))).toBe(ino(join(storeDir(), `${app.sha256}-644`)));
  });

  it('fails clearly, without a half release, when a blob keeps leaving the store before the link step', async () => {
    const files = [blobFile('lib/app.jar', app)];
    await deploy('1.0.0', files, 'r1');
    const key = `${app.sha256}-644`;
    transport.reset();
    // every read finds the blob (a stand-in put back), every apply script finds it gone ("by hand")
    transport.beforeExec = (script) => {
      // unlink first: writing into the store file would write into r1's hard link too
      if (script.includes('ozg-store-missing')) {
        rmSync(join(storeDir(), key), { force: true });
        writeFileSync(join(storeDir(), key), 'stand-in');
      }
      else if (script.includes('ozg_step link') && existsSync(join(storeDir(), key))) unlinkSync(join(storeDir(), key));
    };
    const error = await driver.apply(makeBlobBundle('1.0.1', [...files, textFile('VERSION', '1.0.1\n')]), 'r2').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).message).toContain('link');
    expect((error as RemoteCommandError).message).toContain(`blob ${key} is not in the store`);
    expect((error as RemoteCommandError).hint).toContain('the live release was not touched');
    // one retry: read, apply, read, apply
    expect(transport.execs).toBe(4);
    expect(readdirSync(join(root, PROCEDURE, 'releases'))).toEqual(['r1']);
    expect(readlinkSync(join(root, PROCEDURE, 'current'))).toBe('releases/r1');
    expect(JSON.parse(readFileSync(join(root, PROCEDURE, 'release.json'), 'utf8')).release).toBe('r1');
    expect(readFileSync(join(relDir('r1'), 'lib', 'app.jar')).equals(readFileSync(app.path))).toBe(true);
  });

  it('refuses a blob whose file on this machine changed after it was verified, and leaves the target as it was', async () => {
    await deploy('1.0.0', [textFile('VERSION', '1.0.0\n')], 'r1');
    const changing = writeBlobFile(join(tmp, 'changing.bin'), 300 * 1024, 3);
    writeFileSync(changing.path, 'shorter now');
    const error = await deploy('2.0.0', [blobFile('lib/changing.bin', changing)], 'r2').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InternalError);
    expect((error as InternalError).message).toContain(changing.path);
    expect((error as InternalError).hint).toContain('was not touched');
    expect(readdirSync(join(root, PROCEDURE, 'releases'))).toEqual(['r1']);
    expect(readlinkSync(join(root, PROCEDURE, 'current'))).toBe('releases/r1');
    expect(listStore(storeDir())).toEqual({});
  });

  it('copies instead of linking when the procedure folder is on another filesystem than the store', async () => {
    // /dev/shm is a tmpfs on Linux; the store stays on the temp dir's filesystem
    if (statSync('/dev/shm').dev === statSync(tmp).dev) throw new Error('this test needs /dev/shm on another filesystem than the temp dir (Linux tmpfs)');
    const elsewhere = mkdtempSync('/dev/shm/ozg-blob-store-');
    try {
      symlinkSync(elsewhere, join(root, PROCEDURE));
      const result = await deploy('1.0.0', [blobFile('lib/app.jar', app), textFile('VERSION', '1\n')], 'r1');
      expect(result.status).toBe('applied');
      const released = join(relDir('r1'), 'lib', 'app.jar');
      expect(readFileSync(released).equals(readFileSync(app.path))).toBe(true);
      expect(statSync(released).nlink).toBe(1);
      expect(statSync(released).mode & 0o777).toBe(0o644);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses a blob that arrives with other bytes than its sha256 names', async () => {
    const liar: BlobSource = { ...writeBlobFile(join(tmp, 'liar.bin'), 100 * 1024, 4), sha256: 'a'.repeat(64) };
    const error = await deploy('1.0.0', [blobFile('lib/liar.bin', liar)], 'r1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).message).toContain('store');
    expect((error as RemoteCommandError).message).toContain(`blob ${'a'.repeat(64)}-644 arrived with sha256`);
    expect(existsSync(join(root, PROCEDURE, 'current'))).toBe(false);
    expect(readdirSync(join(root, PROCEDURE, 'releases'))).toEqual([]);
    expect(listStore(storeDir())).toEqual({});
  });
});
