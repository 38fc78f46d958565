import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyToTemp, ozgBin, parseJsonLines, removeTemp } from '../helpers/run-ozg.js';
import { localInventoryYaml } from '../helpers/mini-project.js';
import { formatLedgerLine, parseLedgerLine } from '../../src/ledger/ledger-line.js';

/**
 * A disk that fills up in the middle of a rollout: the ledger folder is a small tmpfs of its
 * own (mounted in a private mount namespace around the spawned CLI), and the first site's
 * install hook fills it. ozg must stop starting sites, let the running one finish while it
 * still holds the lock, print every record it could not write, and exit 4, never crash.
 */

const SITES = ['site-001', 'site-002', 'site-003', 'site-004', 'site-005'];

function requireRootAndUnshare(): void {
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'this test mounts a small tmpfs in a private mount namespace: it needs root and util-linux `unshare` ' +
        '(apt-get install -y util-linux mount) ' +
        String(probe.error ?? probe.stderr),
    );
  }
}

/** `filler`: site-001's install fills the ledger's disk; site-002's waits for `go`, then notes whether the lock is still held. */
async function writeFixture(dir: string, ledgerDir: string, out: string): Promise<void> {
  const version = path.join(dir, 'templates/filler/1.0.0');
  await mkdir(path.join(version, 'vm/hooks'), { recursive: true });
  await writeFile(
    path.join(version, 'procedure.yaml'),
    [
      'name: filler',
      'version: 1.0.0',
      'description: fills the ledger disk from one site, waits on another',
      'values:',
      '  type: object',
      '  additionalProperties: false',
      '  properties:',
      '    fill: { type: boolean, default: false }',
      '    wait: { type: boolean, default: false }',
      'secrets: []',
      'vm:',
      '  files: vm',
      '  hooks:',
      '    install: hooks/install.sh',
      'smoke:',
      '  - name: installed',
      '    command: "test -f hooks/install.sh"',
      '',
    ].join('\n'),
  );
  const outDir = JSON.stringify(out);
  await writeFile(
    path.join(version, 'vm/hooks/install.sh'),
    [
      '#!/bin/sh',
      'set -u',
      `out=${outDir}`,
      'echo $$ > "$out/started-$OZG_SITE-$OZG_ENVIRONMENT"',
      // once: truncating the fill again (prod's install) would free the disk for a moment
      `{% if values.fill %}[ -e ${JSON.stringify(path.join(ledgerDir, 'fill'))} ] || cat /dev/zero > ${JSON.stringify(path.join(ledgerDir, 'fill'))} 2>/dev/null{% endif %}`,
      '{% if values.wait %}',
      // the test creates `go` once ozg said it could not write; bounded so a crashed ozg leaves nothing behind for long
      'i=0; while [ ! -f "$out/go" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done',
      `if [ -f ${JSON.stringify(path.join(ledgerDir, 'lock'))} ]; then echo held > "$out/lock-after-failure"; else echo free > "$out/lock-after-failure"; fi`,
      '{% endif %}',
      'exit 0',
      '',
    ].join('\n'),
  );
  const sites = SITES.map((name) => {
    const values = name === 'site-001' ? '{ fill: true }' : name === 'site-002' ? '{ wait: true }' : '{}';
    return { name, procedures: { filler: { version: '1.0.0', values } } };
  });
  await writeFile(path.join(dir, 'sites.yaml'), localInventoryYaml({ ledger: ledgerDir, concurrency: 2, sites }));
}

/** One ledger line of an earlier run (a `tested` record: it changes no plan), padded to `size` bytes when asked. */
function seedLine(size: number): string {
  const record = {
    id: 'seed-1',
    time: '2026-01-01T00:00:00.000Z',
    site: 'site-005',
    environment: 'test' as const,
    procedure: 'filler',
    version: '0.9.0',
    hash: 'seed',
    outcome: 'tested' as const,
    smoke: [],
    durationMs: 0,
    run: 'seed',
    actor: 'seed@test',
    error: '',
  };
  const bare = formatLedgerLine(record).length;
  return formatLedgerLine({ ...record, error: 'x'.repeat(Math.max(0, size - bare)) });
}

interface NamespacedRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `ozg <args>` with `ledgerDir` a 64 KiB tmpfs; `seed` is copied in first. After ozg exits
 * the wrapper copies the ledger out and lists the folder, since the tmpfs goes with the
 * namespace. `failed` is how ozg says a write failed: seeing it, the test lets site-002 go on.
 */
function runInSmallDisk(dir: string, ledgerDir: string, out: string, args: string[], failed: RegExp, seed?: string): Promise<NamespacedRun> {
  const script = [
    'set -u',
    'mount -t tmpfs -o size=64k tmpfs "$LEDGER" || exit 90',
    '[ -z "$SEED" ] || cp "$SEED" "$LEDGER/ledger.jsonl"',
    // strict: any unhandled rejection is a crash with a stack, never swallowed
    'node --unhandled-rejections=strict "$OZG" "$@"; code=$?',
    'ls -a "$LEDGER" > "$OUT/ledger-listing"',
    'cp "$LEDGER/ledger.jsonl" "$OUT/ledger.jsonl" 2>/dev/null',
    'exit $code',
  ].join('\n');
  const env: Record<string, string | undefined> = { ...process.env, CI: 'true', NO_COLOR: '1', LEDGER: ledgerDir, OUT: out, OZG: ozgBin, SEED: seed ?? '' };
  delete env.OZG_INVENTORY;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watch = () => {
    if (failed.test(stdout + stderr) && !existsSync(path.join(out, 'go'))) void writeFile(path.join(out, 'go'), '');
  };
  child.stdout.on('data', (d) => {
    stdout += d;
    watch();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    watch();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectNoCrash(run: NamespacedRun): void {
  expect(run.stderr).not.toMatch(/Unhandled|unhandled/);
  expect(run.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(run.stderr + run.stdout).not.toContain('this is a bug in ozg');
}

async function readOut(out: string): Promise<{ started: string[]; lockAfterFailure: string; listing: string[]; ledger: string }> {
  const files = await readdir(out);
  return {
    started: files.filter((f) => f.startsWith('started-')).map((f) => f.slice('started-'.length)).sort(),
    lockAfterFailure: (await readFile(path.join(out, 'lock-after-failure'), 'utf8').catch(() => 'never checked')).trim(),
    listing: (await readFile(path.join(out, 'ledger-listing'), 'utf8')).split('\n').filter(Boolean),
    ledger: await readFile(path.join(out, 'ledger.jsonl'), 'utf8').catch(() => ''),
  };
}

/** Kills a hook a crashed ozg left behind (by its own pid, from its pid file). */
async function stopLeftoverHooks(out: string): Promise<void> {
  for (const file of (await readdir(out)).filter((f) => f.startsWith('started-'))) {
    const pid = Number((await readFile(path.join(out, file), 'utf8')).trim());
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // finished, as it should have
    }
  }
}

describe('a disk that fills up during a deploy', () => {
  let dir: string;
  let ledgerDir: string;
  let out: string;
  beforeAll(() => requireRootAndUnshare());
  beforeEach(async () => {
    dir = await copyToTemp([]);
    ledgerDir = path.join(dir, 'ledger-disk');
    out = path.join(dir, 'out');
    await mkdir(ledgerDir);
    await mkdir(out);
    await writeFixture(dir, ledgerDir, out);
  });
  afterEach(async () => {
    await stopLeftoverHooks(out);
    await removeTemp(dir);
  });

  it('a failed ledger append stops new sites, keeps the lock while site-002 runs, prints every unwritten record and exits 4', async () => {
    // the ledger's last page has room for a few bytes only: the disk takes part of the next record
    const seed = path.join(dir, 'seed.jsonl');
    await writeFile(seed, seedLine(4096 - 40));
    const run = await runInSmallDisk(dir, ledgerDir, out, ['deploy'], /could not write/, seed);
    const seen = await readOut(out);

    expectNoCrash(run);
    expect(run.code).toBe(4);
    // the running site finished its install while ozg still held the lock
    expect(seen.lockAfterFailure).toBe('held');
    // nothing started after the failure: only the two running sites' test installs ran
    expect(seen.started).toEqual(['site-001-test', 'site-002-test']);
    // the lock went with the last site, and nothing half-written is left
    expect(seen.listing).not.toContain('lock');
    expect(seen.listing.filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // every record not written is printed as a whole ledger line, ready for `ozg ledger merge`
    const printed = [...run.stderr.matchAll(/not recorded: (\{.*\})$/gm)].map((m) => parseLedgerLine(m[1]!));
    expect(printed.every(Boolean)).toBe(true);
    const written = seen.ledger.split('\n').filter(Boolean).map((line) => parseLedgerLine(line));
    expect(written.every(Boolean)).toBe(true);
    const recorded = [...printed, ...written].map((r) => `${r!.site}/${r!.environment}:${r!.outcome}`).sort();
    // and the ledger is as it was: no torn line left by the part of a record the disk took
    expect(recorded).toEqual(['site-001/test:applied', 'site-002/test:applied', 'site-005/test:tested']);
    expect(seen.ledger).toBe(await readFile(seed, 'utf8'));
    expect(run.stderr).toMatch(/^error: could not write .*ledger\.jsonl.*no space left on device/im);
    expect(run.stderr).toMatch(/^hint: .*ozg ledger merge/m);
  }, 120_000);

  it('a failed rollout state write stops the rollout the same way, also with --json', async () => {
    // a ledger that already has a record keeps room on its page: here the state write fails first
    const seed = path.join(dir, 'seed.jsonl');
    await writeFile(seed, seedLine(0));
    // the state is written off the site's slot: a second wave makes "started after the failure" exact
    const run = await runInSmallDisk(dir, ledgerDir, out, ['--json', 'deploy', '--waves', '2,100%'], /"type":"write-failed"/, seed);
    const seen = await readOut(out);

    expectNoCrash(run);
    expect(run.code).toBe(4);
    expect(seen.lockAfterFailure).toBe('held');
    expect(seen.started).toEqual(['site-001-prod', 'site-001-test', 'site-002-test']);
    expect(seen.listing).not.toContain('lock');
    expect(seen.listing.filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const events = parseJsonLines(run.stdout);
    const failures = events.filter((e) => e.type === 'write-failed');
    expect(failures.map((e) => path.basename(e.file))).toContain('rollout.json');
    expect(failures.every((e) => /no space left on device/i.test(e.error))).toBe(true);
    // every record: written to the ledger, or emitted as an event with its ledger line
    const unwritten = failures.flatMap((e) => e.lines as string[]).map((line) => parseLedgerLine(line.trim()));
    const written = seen.ledger.split('\n').filter(Boolean).map((line) => parseLedgerLine(line));
    const all = [...unwritten, ...written].map((r) => `${r!.site}/${r!.environment}:${r!.outcome}`).sort();
    expect(all).toEqual(['site-001/prod:applied', 'site-001/test:applied', 'site-002/test:applied', 'site-005/test:tested']);
    const skipped = events.filter((e) => e.type === 'site-finished' && e.outcome === 'skipped').map((e) => e.site).sort();
    expect(skipped).toEqual(['site-002', 'site-003', 'site-004', 'site-005']);
    const error = events.find((e) => e.type === 'error');
    expect(error).toMatchObject({ error: 'RecordWriteError', exitCode: 4 });
  }, 120_000);

  it('any other write to a full disk is the disk\'s problem (exit 4), not "a bug in ozg"', async () => {
    // a seed bigger than the disk fills it before ozg starts
    const seed = path.join(dir, 'big');
    await writeFile(seed, Buffer.alloc(128 * 1024));
    const run = await runInSmallDisk(dir, ledgerDir, out, ['render', '-o', path.join(ledgerDir, 'rendered')], /$^/, seed);

    expectNoCrash(run);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^error: could not write .*no space left on device/im);
  }, 120_000);
});
