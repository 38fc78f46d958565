/**
 * The VM driver over the local transport, against real directories: the same scripts a VM
 * gets over SSH run here through `sh -c`.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { RemoteCommandError, UnreachableError } from '../../src/errors.js';
import type { Bundle, BundleFile } from '../../src/procedure/types.js';
import type { TargetDriver } from '../../src/targets/driver.js';
import { createLocalTransport } from '../../src/targets/vm/local-transport.js';
import type { ShellTransport } from '../../src/targets/vm/transport.js';
import { createVmDriver } from '../../src/targets/vm/vm-driver.js';

const INSTALL_HOOK = `#!/bin/sh
set -e
# Record what ozg handed the hook, one file per variable, so values with newlines survive.
printf '%s' "$OZG_SITE" > env.OZG_SITE
printf '%s' "$OZG_ENVIRONMENT" > env.OZG_ENVIRONMENT
printf '%s' "$OZG_PROCEDURE" > env.OZG_PROCEDURE
printf '%s' "$OZG_VERSION" > env.OZG_VERSION
printf '%s' "$OZG_RELEASE" > env.OZG_RELEASE
printf '%s' "$OZG_RELEASE_DIR" > env.OZG_RELEASE_DIR
printf '%s' "$OZG_TARGET_DIR" > env.OZG_TARGET_DIR
pwd -P > env.PWD
`;
const ACTIVATE_HOOK = `#!/bin/sh
printf '%s %s\\n' "$OZG_RELEASE" "$OZG_VERSION" >> "$OZG_TARGET_DIR/activations.log"
`;
const FAILING_INSTALL = `#!/bin/sh\necho 'migrating schema' >&2\necho 'db migration failed' >&2\nexit 7\n`;
const FAILING_ACTIVATE = `#!/bin/sh\necho 'service did not start' >&2\nexit 9\n`;

function file(path: string, content: string | Buffer, mode = 0o644, sensitive = false): BundleFile {
  return { path, content: Buffer.isBuffer(content) ? content : Buffer.from(content), mode, sensitive };
}

interface BundleSpec {
  version: string;
  install?: string;
  activate?: string;
  extra?: BundleFile[];
  site?: string;
  hookDir?: string;
}

function makeBundle(spec: BundleSpec): Bundle {
  const hookDir = spec.hookDir ?? 'hooks';
  return {
    site: spec.site ?? 'kiel',
    environment: 'test',
    procedure: 'antrag-formular',
    version: spec.version,
    targetKind: 'vm',
    files: [
      file(`${hookDir}/install.sh`, spec.install ?? INSTALL_HOOK, 0o755),
      file(`${hookDir}/activate.sh`, spec.activate ?? ACTIVATE_HOOK, 0o755),
      file('VERSION', `${spec.version}\n`),
      file('config/app.conf', `title=Antrag ${spec.version}\n`),
      file('config/secret.env', 'SMTP_PASSWORD=hunter2\n', 0o644, true),
      ...(spec.extra ?? []),
    ],
    hooks: { install: `${hookDir}/install.sh`, activate: `${hookDir}/activate.sh` },
    smoke: [],
    hash: `hash-of-${spec.version}-${(spec.install ?? '').length}-${(spec.activate ?? '').length}`,
  };
}

/** Wraps a transport to count round trips. */
function countExecs(inner: ShellTransport): ShellTransport & { execs: number } {
  const counting = {
    execs: 0,
    where: inner.where,
    exec: (script: string, options?: Parameters<ShellTransport['exec']>[1]) => {
      counting.execs++;
      return inner.exec(script, options);
    },
    close: () => inner.close(),
  };
  return counting;
}

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

let tmp: string;
let root: string;
let transport: ShellTransport & { execs: number };
let driver: TargetDriver;

function makeDriver(options: { keepReleases?: number; site?: string; root?: string } = {}): TargetDriver {
  transport = countExecs(createLocalTransport({ where: options.root ?? root }));
  driver = createVmDriver({
    transport,
    root: options.root ?? root,
    site: options.site ?? 'kiel',
    environment: 'test',
    keepReleases: options.keepReleases ?? 3,
    description: 'kiel/test (local)',
    sleep: async () => {},
  });
  return driver;
}

const procDir = () => join(root, 'antrag-formular');
const currentTarget = () => readlinkSync(join(procDir(), 'current'));
const releases = () => readdirSync(join(procDir(), 'releases')).sort();
const marker = () => JSON.parse(readFileSync(join(procDir(), 'release.json'), 'utf8'));
const activations = () => readFileSync(join(procDir(), 'activations.log'), 'utf8').trim().split('\n');

beforeAll(() => {
  for (const tool of ['tar', 'mv', 'ln', 'readlink', 'sed']) {
    if (!existsSync(`/usr/bin/${tool}`) && !existsSync(`/bin/${tool}`)) throw new Error(`this test needs ${tool}: apt-get install -y coreutils tar sed`);
  }
});

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ozg-vm-driver-'));
  root = join(tmp, 'test', 'kiel');
  makeDriver();
});

afterEach(async () => {
  await driver.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('apply', () => {
  it('installs a first release: files, modes, hooks with their environment, current link and marker', async () => {
    const big = randomBytes(1_500_000); // larger than a pipe buffer: stdin must stream
    const result = await driver.apply(makeBundle({ version: '1.0.0', extra: [file('static/big.bin', big)] }), 'r1');

    expect(result.status).toBe('applied');
    if (result.status !== 'applied') return;
    expect(result.previous).toBeUndefined();
    expect(result.live).toMatchObject({ procedure: 'antrag-formular', version: '1.0.0', release: 'r1' });
    expect(transport.execs).toBe(2); // read the marker, then one apply script

    expect(currentTarget()).toBe('releases/r1');
    expect(lstatSync(join(procDir(), 'current')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(procDir(), 'current.tmp'))).toBe(false);
    const rel = join(procDir(), 'releases', 'r1');
    expect(readFileSync(join(rel, 'VERSION'), 'utf8')).toBe('1.0.0\n');
    expect(readFileSync(join(rel, 'static/big.bin')).equals(big)).toBe(true);
    expect(statSync(join(rel, 'config/secret.env')).mode & 0o777).toBe(0o600);
    expect(statSync(join(rel, 'config/app.conf')).mode & 0o777).toBe(0o644);
    expect(statSync(join(rel, 'hooks/install.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(rel).mode & 0o777).toBe(0o755);

    const env = (name: string) => readFileSync(join(rel, `env.${name}`), 'utf8');
    expect(env('OZG_SITE')).toBe('kiel');
    expect(env('OZG_ENVIRONMENT')).toBe('test');
    expect(env('OZG_PROCEDURE')).toBe('antrag-formular');
    expect(env('OZG_VERSION')).toBe('1.0.0');
    expect(env('OZG_RELEASE')).toBe('r1');
    expect(env('OZG_RELEASE_DIR')).toBe(rel);
    expect(env('OZG_TARGET_DIR')).toBe(procDir());
    expect(env('PWD').trim()).toBe(rel); // install ran in the new release directory
    expect(activations()).toEqual(['r1 1.0.0']);

    expect(marker()).toEqual({
      procedure: 'antrag-formular',
      version: '1.0.0',
      hash: result.live.hash,
      release: 'r1',
      deployedAt: result.live.deployedAt,
      // sha256 of the release's file list (.ozg-files), for `ozg verify`
      files: createHash('sha256').update(readFileSync(join(rel, '.ozg-files'))).digest('hex'),
    });
    transport.execs = 0;
    expect(await driver.live('antrag-formular')).toEqual(result.live);
    expect(transport.execs).toBe(1);
  });

  it('reports nothing live in one round trip before the first apply', async () => {
    expect(await driver.live('antrag-formular')).toBeUndefined();
    expect(transport.execs).toBe(1);
  });

  it('is a one-round-trip no-op when the live hash equals the bundle hash', async () => {
    const bundle = makeBundle({ version: '1.0.0' });
    const first = await driver.apply(bundle, 'r1');
    transport.execs = 0;
    const again = await driver.apply(bundle, 'r2');
    expect(again).toEqual({ status: 'unchanged', live: first.live });
    expect(transport.execs).toBe(1);
    expect(releases()).toEqual(['r1']);
    expect(activations()).toEqual(['r1 1.0.0']);
  });

  it('applies in one round trip when live() just read the target, as the pipeline does', async () => {
    const v1 = await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    transport.execs = 0;
    expect(await driver.live('antrag-formular')).toEqual(v1.live);
    const v2 = await driver.apply(makeBundle({ version: '2.0.0' }), 'r2');
    expect(v2).toMatchObject({ status: 'applied', previous: v1.live });
    expect(transport.execs).toBe(2); // the read, then the apply script alone
    expect(marker().previous).toEqual({ version: '1.0.0', hash: v1.live.hash, release: 'r1' });
  });

  it('refuses, touching nothing, when the live release changed since live() read it', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    expect(await driver.live('antrag-formular')).toMatchObject({ release: 'r1' });
    // meanwhile another deploy (another checkout, another ledger) switches the target to r2
    const other = createVmDriver({ transport: createLocalTransport({ where: root }), root, site: 'kiel', environment: 'test', keepReleases: 3, description: 'other' });
    await other.apply(makeBundle({ version: '2.0.0' }), 'r2');
    await other.close();

    const error = await catchError(driver.apply(makeBundle({ version: '3.0.0' }), 'r3'));
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).message).toMatch(/live release changed since ozg read it/);
    expect(currentTarget()).toBe('releases/r2');
    expect(releases()).toEqual(['r1', 'r2']);
    // the read is used once: applying again reads afresh and goes through
    expect(await driver.apply(makeBundle({ version: '3.0.0' }), 'r3')).toMatchObject({ status: 'applied', previous: { release: 'r2' } });
  });

  it('upgrades, recording the previous release in the result and the marker', async () => {
    const v1 = await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const v2 = await driver.apply(makeBundle({ version: '2.0.0' }), 'r2');
    expect(v2.status).toBe('applied');
    if (v2.status !== 'applied') return;
    expect(v2.previous).toEqual(v1.live);
    expect(v2.live.previous).toEqual({ version: '1.0.0', hash: v1.live.hash, release: 'r1' });
    expect(marker().previous).toEqual({ version: '1.0.0', hash: v1.live.hash, release: 'r1' });
    expect(currentTarget()).toBe('releases/r2');
    expect(releases()).toEqual(['r1', 'r2']);
    expect(activations()).toEqual(['r1 1.0.0', 'r2 2.0.0']);
  });

  it('prunes releases beyond keepReleases, never the live or the previous one', async () => {
    makeDriver({ keepReleases: 2 });
    for (const n of [1, 2, 3, 4]) await driver.apply(makeBundle({ version: `${n}.0.0` }), `r${n}`);
    expect(releases()).toEqual(['r3', 'r4']);

    // After a rollback the previous release is the newer one; a new apply must keep the
    // live release (r3) as the new previous and drop r4.
    await driver.rollback('antrag-formular');
    expect(currentTarget()).toBe('releases/r3');
    await driver.apply(makeBundle({ version: '5.0.0' }), 'r5');
    expect(releases()).toEqual(['r3', 'r5']);
    expect(marker().previous.release).toBe('r3');

    // keepReleases 1 still keeps what a rollback needs.
    makeDriver({ keepReleases: 1 });
    await driver.apply(makeBundle({ version: '6.0.0' }), 'r6');
    expect(releases()).toEqual(['r5', 'r6']);
  });

  it('runs a hook that is not executable with sh', async () => {
    const bundle = makeBundle({ version: '1.0.0' });
    bundle.files = bundle.files.map((f) => (f.path === 'hooks/activate.sh' ? { ...f, mode: 0o644 } : f));
    await driver.apply(bundle, 'r1');
    expect(activations()).toEqual(['r1 1.0.0']);
  });

  it('leaves the live release untouched and removes the new release when install fails', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const before = readFileSync(join(procDir(), 'release.json'), 'utf8');
    const error = await catchError(driver.apply(makeBundle({ version: '2.0.0', install: FAILING_INSTALL }), 'r2'));

    expect(error).toBeInstanceOf(RemoteCommandError);
    const e = error as RemoteCommandError;
    expect(e.context).toEqual({ site: 'kiel', environment: 'test', where: root, step: 'install' });
    expect(e.commandExitCode).toBe(7);
    expect(e.stderrTail).toContain('db migration failed');
    expect(e.message).toMatch(/^kiel\/test: install failed on .* \(exit 7, \d+ ms\): hooks\/install\.sh in /);
    expect(e.hint).toMatch(/not touched/);
    expect(e.exitCode).toBe(4);

    expect(currentTarget()).toBe('releases/r1');
    expect(releases()).toEqual(['r1']);
    expect(readFileSync(join(procDir(), 'release.json'), 'utf8')).toBe(before);
    expect(activations()).toEqual(['r1 1.0.0']);
  });

  it('switches back to the previous release and re-activates it when activate fails', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const before = readFileSync(join(procDir(), 'release.json'), 'utf8');
    const error = await catchError(driver.apply(makeBundle({ version: '2.0.0', activate: FAILING_ACTIVATE }), 'r2'));

    expect(error).toBeInstanceOf(RemoteCommandError);
    const e = error as RemoteCommandError;
    expect(e.context.step).toBe('activate');
    expect(e.commandExitCode).toBe(9);
    expect(e.stderrTail).toContain('service did not start');
    expect(e.hint).toBe('current was switched back to release r1');

    expect(currentTarget()).toBe('releases/r1');
    expect(releases()).toEqual(['r1']);
    expect(readFileSync(join(procDir(), 'release.json'), 'utf8')).toBe(before);
    expect(activations()).toEqual(['r1 1.0.0', 'r1 1.0.0']);
  });

  it('leaves nothing live when the very first activate fails', async () => {
    const error = await catchError(driver.apply(makeBundle({ version: '1.0.0', activate: FAILING_ACTIVATE }), 'r1'));
    expect((error as RemoteCommandError).context.step).toBe('activate');
    expect((error as RemoteCommandError).hint).toMatch(/none is live now/);
    expect(existsSync(join(procDir(), 'current'))).toBe(false);
    expect(existsSync(join(procDir(), 'release.json'))).toBe(false);
    expect(releases()).toEqual([]);
    expect(await driver.live('antrag-formular')).toBeUndefined();
  });

  it('names the prepare step when the target directory cannot be created', async () => {
    mkdirSync(join(tmp, 'test'), { recursive: true });
    writeFileSync(root, 'a file where the site directory should be');
    const error = await catchError(driver.apply(makeBundle({ version: '1.0.0' }), 'r1'));
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as RemoteCommandError).context.step).toBe('prepare');
    expect((error as RemoteCommandError).stderrTail).toMatch(/mkdir/);
  });

  it('refuses to overwrite the live release directory with other content under the same id', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const error = await catchError(driver.apply(makeBundle({ version: '2.0.0' }), 'r1'));
    expect((error as RemoteCommandError).context.step).toBe('prepare');
    expect((error as RemoteCommandError).stderrTail).toMatch(/release r1 is live; refusing to overwrite it/);
    expect(readFileSync(join(procDir(), 'releases/r1/VERSION'), 'utf8')).toBe('1.0.0\n');
  });

  it('refuses bundles that would escape the release directory, before touching the target', async () => {
    const bundle = makeBundle({ version: '1.0.0', extra: [file('../outside', 'x')] });
    await expect(driver.apply(bundle, 'r1')).rejects.toThrow(/file path "\.\.\/outside" has an empty, `\.` or `\.\.` segment/);
    await expect(driver.apply(makeBundle({ version: '1.0.0' }), '../r1')).rejects.toThrow(/release id/);
    expect(transport.execs).toBe(0);
    expect(existsSync(join(tmp, 'outside'))).toBe(false);
  });
});

describe('programs an apply starts on the target', () => {
  /** A PATH of wrappers that log each program's name, then run the real one. */
  function loggingPath(): { bin: string; started: () => string[] } {
    const bin = join(tmp, 'bin-logging');
    const log = join(tmp, 'started.log');
    mkdirSync(bin, { recursive: true });
    writeFileSync(log, '');
    for (const tool of ['cat', 'cp', 'cut', 'find', 'grep', 'ln', 'ls', 'mkdir', 'mv', 'readlink', 'rm', 'sed', 'sha256sum', 'tar']) {
      const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((f) => existsSync(f));
      if (!found) throw new Error(`${tool} is missing: apt-get install -y coreutils findutils grep sed tar`);
      writeFileSync(join(bin, tool), `#!/bin/sh\necho ${tool} >>'${log}'\nexec ${found} "$@"\n`, { mode: 0o755 });
    }
    const sh = ['/usr/bin/sh', '/bin/sh'].find((f) => existsSync(f))!;
    symlinkSync(sh, join(bin, 'sh'));
    return { bin, started: () => readFileSync(log, 'utf8').split('\n').filter(Boolean).sort() };
  }

  // A process started on a VM costs more than the test that avoids it (the floor starts 4 per
  // host); these lists pin what is left, so a regression shows as a name, not as a time.
  it('a first install and an upgrade start only what they need: no rm, cat or readlink of things that are not there', async () => {
    const { bin, started } = loggingPath();
    const logged = createVmDriver({ transport: createLocalTransport({ where: root, env: { PATH: bin } }), root, site: 'kiel', environment: 'test', keepReleases: 3, description: 'x' });
    try {
      await logged.live('antrag-formular');
      writeFileSync(join(tmp, 'started.log'), '');
      await logged.apply(makeBundle({ version: '1.0.0' }), '20260301T120000Z-aaaaaaaa');
      expect(started()).toEqual(['cat', 'find', 'ln', 'ls', 'mkdir', 'mkdir', 'mv', 'mv', 'tar']);
      await logged.live('antrag-formular');
      writeFileSync(join(tmp, 'started.log'), '');
      await logged.apply(makeBundle({ version: '2.0.0' }), '20260301T120100Z-bbbbbbbb');
      expect(started()).toEqual(['cat', 'cat', 'find', 'ln', 'ls', 'mkdir', 'mv', 'mv', 'readlink', 'tar']);
    } finally {
      await logged.close();
    }
    expect(marker()).toMatchObject({ version: '2.0.0', previous: { version: '1.0.0' } });
  });
});

describe('rollback', () => {
  it('switches back in one round trip, runs the activate hook and rewrites the marker', async () => {
    const v1 = await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const v2 = await driver.apply(makeBundle({ version: '2.0.0' }), 'r2');
    transport.execs = 0;
    const result = await driver.rollback('antrag-formular');

    expect(transport.execs).toBe(1);
    expect(result.status).toBe('rolled-back');
    if (result.status !== 'rolled-back') return;
    expect(result.live).toMatchObject({ procedure: 'antrag-formular', version: '1.0.0', hash: v1.live.hash, release: 'r1' });
    expect(result.live.previous).toEqual({ version: '2.0.0', hash: v2.live.hash, release: 'r2' });
    expect(currentTarget()).toBe('releases/r1');
    expect(marker()).toEqual(result.live);
    expect(await driver.live('antrag-formular')).toEqual(result.live);
    expect(activations()).toEqual(['r1 1.0.0', 'r2 2.0.0', 'r1 1.0.0']);

    // Rolling back again returns to the release we left.
    const again = await driver.rollback('antrag-formular');
    expect(again.status === 'rolled-back' && again.live.release).toBe('r2');
    // And applying the hash that is live again is a no-op.
    expect((await driver.apply(makeBundle({ version: '2.0.0' }), 'r9')).status).toBe('unchanged');
  });

  it('switches to a named release that is still kept', async () => {
    for (const n of [1, 2, 3]) await driver.apply(makeBundle({ version: `${n}.0.0` }), `r${n}`);
    const result = await driver.rollback('antrag-formular', 'r1');
    expect(result.status === 'rolled-back' && result.live).toMatchObject({ release: 'r1', version: '1.0.0', previous: { release: 'r3' } });
    expect(currentTarget()).toBe('releases/r1');
  });

  it('reports nothing to roll back, without changing anything', async () => {
    expect(await driver.rollback('antrag-formular')).toEqual({ status: 'nothing-to-roll-back', reason: 'no release is live' });
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    expect(await driver.rollback('antrag-formular')).toEqual({
      status: 'nothing-to-roll-back',
      reason: 'the live release records no previous release',
    });
    expect(await driver.rollback('antrag-formular', 'r0')).toEqual({
      status: 'nothing-to-roll-back',
      reason: 'release r0 is no longer kept on the target',
    });
    expect(await driver.rollback('antrag-formular', 'r1')).toEqual({ status: 'nothing-to-roll-back', reason: 'release r1 is already live' });
    expect(currentTarget()).toBe('releases/r1');
  });

  it('reports a previous release that was pruned as gone', async () => {
    makeDriver({ keepReleases: 2 });
    for (const n of [1, 2]) await driver.apply(makeBundle({ version: `${n}.0.0` }), `r${n}`);
    rmSync(join(procDir(), 'releases', 'r1'), { recursive: true });
    expect(await driver.rollback('antrag-formular')).toEqual({
      status: 'nothing-to-roll-back',
      reason: 'release r1 is no longer kept on the target',
    });
  });

  it('switches forward again when the activate hook of the older release fails', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    await driver.apply(makeBundle({ version: '2.0.0' }), 'r2');
    writeFileSync(join(procDir(), 'releases/r1/hooks/activate.sh'), FAILING_ACTIVATE);
    const error = await catchError(driver.rollback('antrag-formular'));
    expect((error as RemoteCommandError).context.step).toBe('activate');
    expect((error as RemoteCommandError).hint).toBe('current was switched back to release r2');
    expect(currentTarget()).toBe('releases/r2');
    expect(marker().release).toBe('r2');
  });
});

describe('shell quoting', () => {
  it('delivers hostile values literally and never runs them', async () => {
    const canary = join(tmp, 'pwned');
    const evil = `$(touch ${canary}); \`touch ${canary}\` 'x" \\n\nnext line $HOME *`;
    root = join(tmp, `root ${evil}`, 'kiel');
    makeDriver({ site: evil });
    const bundle = makeBundle({
      version: evil,
      site: evil,
      hookDir: `hooks ${evil}`,
      extra: [file(`data/${evil.replace(/\//g, '_')}.txt`, 'literal')],
    });
    const result = await driver.apply(bundle, 'r1');

    expect(existsSync(canary)).toBe(false);
    const rel = join(procDir(), 'releases', 'r1');
    expect(readFileSync(join(rel, 'env.OZG_VERSION'), 'utf8')).toBe(evil);
    expect(readFileSync(join(rel, 'env.OZG_SITE'), 'utf8')).toBe(evil);
    expect(readFileSync(join(rel, 'env.OZG_TARGET_DIR'), 'utf8')).toBe(procDir());
    expect(readFileSync(join(rel, `data/${evil.replace(/\//g, '_')}.txt`), 'utf8')).toBe('literal');
    expect(marker().version).toBe(evil);
    expect(await driver.live('antrag-formular')).toEqual(result.live);

    await driver.apply(makeBundle({ version: '2.0.0', site: evil }), 'r2');
    const back = await driver.rollback('antrag-formular');
    expect(back.status === 'rolled-back' && back.live.version).toBe(evil);
    expect(back.status === 'rolled-back' && back.live.previous?.version).toBe('2.0.0');
    const smoke = await driver.smoke('antrag-formular', [{ name: 'sees-version', command: 'cat env.OZG_VERSION' }]);
    expect(smoke[0].passed).toBe(true);
    expect(smoke[0].output).toBe(evil.split('\n').slice(-20).join('\n'));
    expect(existsSync(canary)).toBe(false);
  });
});

describe('smoke', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  });

  it('runs command checks in the live release directory and compares exit codes', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const results = await driver.smoke('antrag-formular', [
      { name: 'version', command: 'cat VERSION && test -f config/app.conf' },
      { name: 'cwd', command: 'pwd' },
      { name: 'fails', command: 'echo broken >&2; exit 4', retries: 2 },
      { name: 'refuses', command: 'exit 4', expectExitCode: 4 },
    ]);
    expect(results[0]).toMatchObject({ name: 'version', passed: true, attempts: 1, detail: 'exit 0', output: '1.0.0' });
    expect(results[1].output).toBe(join(procDir(), 'current'));
    expect(results[2]).toMatchObject({ passed: false, attempts: 3, detail: 'exit 4 (expected 0)', output: 'broken' });
    expect(results[3]).toMatchObject({ passed: true, detail: 'exit 4' });
  });

  it('kills a command check at its timeout, including what it started', async () => {
    await driver.apply(makeBundle({ version: '1.0.0' }), 'r1');
    const started = Date.now();
    const [result] = await driver.smoke('antrag-formular', [{ name: 'hangs', command: 'sleep 30 & sleep 30', timeoutSeconds: 0.3 }]);
    expect(result).toMatchObject({ passed: false, detail: 'timed out after 0.3 s' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails a command check when nothing is live', async () => {
    const [result] = await driver.smoke('antrag-formular', [{ name: 'x', command: 'true' }]);
    expect(result).toMatchObject({ passed: false, detail: 'exit 125 (expected 0)' });
    expect(result.output).toMatch(/no live release/);
  });

  it("checks HTTP status and body of the target's own service (a loopback URL runs on the target)", async () => {
    server = createServer((req, res) => {
      if (req.url === '/health') res.writeHead(200).end('status: ok');
      else res.writeHead(404).end('no such page');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const results = await driver.smoke('antrag-formular', [
      { name: 'health', http: { url: `${base}/health`, contains: 'ok' } },
      { name: 'wrong-body', http: { url: `${base}/health`, contains: 'ready' } },
      { name: 'missing', http: { url: `${base}/nope` } },
      { name: 'expected-404', http: { url: `${base}/nope`, status: 404 } },
    ]);
    expect(results.map((r) => [r.name, r.passed, r.detail])).toEqual([
      ['health', true, 'status 200, body contains "ok"'],
      ['wrong-body', false, 'status 200, body does not contain "ready"'],
      ['missing', false, 'status 404 (expected 200)'],
      ['expected-404', true, 'status 404'],
    ]);

    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const [refused] = await driver.smoke('antrag-formular', [{ name: 'down', http: { url: `http://127.0.0.1:${port}/health` }, retries: 1 }]);
    expect(refused).toMatchObject({ passed: false, attempts: 2 });
    expect(refused!.detail).toMatch(/request failed: GET http:\/\/127\.0\.0\.1:\d+\/health on .* failed: curl: \(7\)/);
  });

  it('falls back to wget on a target without curl', async () => {
    server = createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 503).end(req.url === '/health' ? 'status: ok' : 'down'));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const bin = join(tmp, 'bin-without-curl');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['sh', 'wget', 'awk', 'cat', 'mktemp', 'rm', 'grep']) {
      const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((f) => existsSync(f));
      if (!found) throw new Error(`${tool} is missing: apt-get install -y wget gawk coreutils dash`);
      if (!existsSync(join(bin, tool))) symlinkSync(found, join(bin, tool));
    }
    const noCurl = createVmDriver({ transport: createLocalTransport({ where: root, env: { PATH: bin } }), root, site: 'kiel', environment: 'test', keepReleases: 3, description: 'x' });
    const results = await noCurl.smoke('antrag-formular', [
      { name: 'health', http: { url: `${base}/health`, contains: 'ok' } },
      { name: 'down', http: { url: `${base}/other` } },
    ]);
    expect(results.map((r) => [r.name, r.passed, r.detail])).toEqual([
      ['health', true, 'status 200, body contains "ok"'],
      ['down', false, 'status 503 (expected 200)'],
    ]);
  });

  it('fetches any other URL from the machine running ozg', async () => {
    const asked: string[] = [];
    const here = createVmDriver({
      transport: createLocalTransport({ where: root }),
      root,
      site: 'kiel',
      environment: 'test',
      keepReleases: 3,
      description: 'x',
      runHttp: async (url) => {
        asked.push(url);
        return { status: 200, body: 'portal up' };
      },
    });
    const [result] = await here.smoke('antrag-formular', [{ name: 'portal', http: { url: 'https://antraege.kiel.example/health', contains: 'up' } }]);
    expect(result).toMatchObject({ passed: true });
    expect(asked).toEqual(['https://antraege.kiel.example/health']);
  });
});

describe('transport faults', () => {
  it('turns a transport that cannot start sh into UnreachableError', async () => {
    const broken = createLocalTransport({ where: root, env: { PATH: join(tmp, 'no-bin') } });
    const d = createVmDriver({ transport: broken, root, site: 'kiel', environment: 'test', keepReleases: 3, description: 'x' });
    // rollback always runs a script (live() reads the marker without a shell locally)
    const error = await catchError(d.rollback('antrag-formular'));
    expect(error).toBeInstanceOf(UnreachableError);
    expect((error as UnreachableError).exitCode).toBe(6);
  });

  it('wraps a raw transport error into UnreachableError', async () => {
    const raw: ShellTransport = {
      where: 'vm-1.example',
      exec: async () => {
        throw new Error('socket hang up');
      },
      close: async () => {},
    };
    const d = createVmDriver({ transport: raw, root: '/opt/ozg/kiel', site: 'kiel', environment: 'test', keepReleases: 3, description: 'x' });
    const error = await catchError(d.apply(makeBundle({ version: '1.0.0' }), 'r1'));
    expect(error).toBeInstanceOf(UnreachableError);
    expect((error as Error).message).toBe('vm-1.example: cannot run a command: socket hang up');
  });
});
