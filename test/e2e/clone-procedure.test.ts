import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import type { OzgRun } from '../helpers/run-ozg.js';

const fixture = path.join(repoRoot, 'test/fixtures/e2e/clone');

/** What the source site holds that no other site may get: its site-specific values and its secret. */
const KIEL_SECRET = 'KIEL-SECRET-SENTINEL-4711';
const KIEL_ONLY = ['Nur-Kiel-Titel', 'nur-kiel', '01002000', 'kiel-smtp', KIEL_SECRET];

async function setUp(): Promise<string> {
  const dir = await copyToTemp([{ from: fixture }, { from: path.join(repoRoot, 'templates'), to: 'templates' }]);
  await mkdir(path.join(dir, 'secrets'));
  await writeFile(path.join(dir, 'secrets/kiel-smtp.txt'), `${KIEL_SECRET}\n`);
  return dir;
}

const readInventory = (dir: string) => readFile(path.join(dir, 'sites.yaml'), 'utf8');
const setupOf = (text: string, site: string) => (parse(text, { merge: true }) as any).sites[site].procedures['antrag-formular'];
const outputOf = (run: OzgRun) => run.stdout + run.stderr;

describe('ozg clone-procedure', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await setUp();
  });
  afterEach(() => removeTemp(dir));

  it('shows the diff first, and --write rewrites only the target setup, byte for byte everywhere else', async () => {
    const before = await readInventory(dir);
    const dry = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum'], { cwd: dir });
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
    expect(dry.stdout.startsWith('--- a/sites.yaml\n+++ b/sites.yaml\n@@ ')).toBe(true);
    expect(dry.stdout).toContain('-    procedures: {}   # none yet\n+    procedures:\n+      antrag-formular:\n+        version: 1.1.0\n');
    expect(dry.stdout).toContain('not written (dry run)');
    expect(dry.stdout).toContain('next: ozg clone-procedure antrag-formular --from kiel --to husum -i sites.yaml --write');
    expect(await readInventory(dir)).toBe(before);

    const written = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum', '--write', '--json'], { cwd: dir });
    expect(written.code).toBe(0);
    const result = resultOf(written);
    expect(result).toMatchObject({ from: 'kiel', to: 'husum', written: true, changed: true, deploy: null, nextCommand: 'ozg deploy -i sites.yaml husum' });
    expect(result.procedures).toEqual([{ procedure: 'antrag-formular', version: '1.1.0', replaced: false }]);
    expect(dry.stdout.startsWith(result.diff)).toBe(true);

    const after = await readInventory(dir);
    const changed = '    procedures: {}   # none yet';
    const start = before.indexOf(changed);
    const end = start + changed.length;
    expect(after.slice(0, start)).toBe(before.slice(0, start));
    expect(after.slice(after.length - (before.length - end))).toBe(before.slice(end));

    const kiel = setupOf(before, 'kiel');
    const husum = setupOf(after, 'husum');
    expect(husum).toEqual({
      version: '1.1.0',
      values: {
        title: '<fill in: title>',
        municipalityKey: '01054056',
        domain: '<fill in: domain>',
        contactEmail: '<fill in: contactEmail>',
        formIds: kiel.values.formIds,
        maxUploadMb: 42,
      },
      secrets: { smtpPassword: { env: 'HUSUM_SMTP_PASSWORD' } },
      userConnection: kiel.userConnection,
      processTransfers: kiel.processTransfers,
    });
  });

  it('never copies or prints the source site-specific values or its secret', async () => {
    const runs = [
      await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum'], { cwd: dir }),
      await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum', '--json'], { cwd: dir }),
      await runOzg(['clone-procedure', '--all', '--from', 'kiel', '--to', 'husum', '--write'], { cwd: dir }),
    ];
    expect(runs.map((run) => run.code)).toEqual([0, 0, 0]);
    const husum = JSON.stringify(setupOf(await readInventory(dir), 'husum'));
    for (const value of KIEL_ONLY) {
      expect(husum).not.toContain(value);
      for (const run of runs) expect(outputOf(run)).not.toContain(value);
    }

    const result = resultOf(runs[1]);
    expect(result.placeholders.map((p: any) => `${p.file}:${p.line}:${p.col} ${p.path} ${p.placeholder}`)).toEqual([
      expect.stringMatching(/^sites\.yaml:\d+:\d+ sites\.husum\.procedures\.antrag-formular\.values\.title <fill in: title>$/),
      expect.stringMatching(/^sites\.yaml:\d+:\d+ sites\.husum\.procedures\.antrag-formular\.values\.domain <fill in: domain>$/),
      expect.stringMatching(/^sites\.yaml:\d+:\d+ sites\.husum\.procedures\.antrag-formular\.values\.contactEmail <fill in: contactEmail>$/),
    ]);
    expect(result.siteValues).toContainEqual({ procedure: 'antrag-formular', field: 'municipalityKey', source: 'fact', fact: 'municipalityKey' });
    expect(result.secretsToProvide).toEqual([
      { procedure: 'antrag-formular', secret: 'smtpPassword', ref: { env: 'HUSUM_SMTP_PASSWORD' }, path: 'sites.husum.procedures.antrag-formular.secrets.smtpPassword', provided: false },
    ]);
    expect(runs[0].stdout).toMatch(/left to do \(positions as after --write\):\n {2}sites\.yaml:\d+:\d+ {2}sites\.husum\.procedures\.antrag-formular\.values\.title {2}fill in husum's own "title"/);
    expect(runs[0].stdout).toContain('secret smtpPassword (antrag-formular): provide environment variable HUSUM_SMTP_PASSWORD');
  });

  it('a clone from a VM data center to a local one is reported by validate until filled in, then deploys through the test gate', async () => {
    expect((await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum', '--write'], { cwd: dir })).code).toBe(0);

    const invalid = await runOzg(['validate'], { cwd: dir });
    expect(invalid.code).toBe(3);
    for (const field of ['title', 'domain', 'contactEmail']) {
      expect(invalid.stderr).toMatch(new RegExp(`sites\\.yaml:\\d+:\\d+  sites\\.husum\\.procedures\\.antrag-formular\\.values\\.${field}  "${field}" still holds the placeholder "<fill in: ${field}>" left by clone-procedure`));
    }
    expect(invalid.stderr).toMatch(/sites\.husum\.procedures\.antrag-formular\.secrets\.smtpPassword\.env {2}secret "smtpPassword": environment variable HUSUM_SMTP_PASSWORD is not set/);

    const filled = (await readInventory(dir))
      .replace('"<fill in: title>"', 'Amt Husum')
      .replace('"<fill in: domain>"', 'antraege.husum.example')
      .replace('"<fill in: contactEmail>"', 'amt@husum.example');
    await writeFile(path.join(dir, 'sites.yaml'), filled);
    const env = { HUSUM_SMTP_PASSWORD: 'husum-smtp-password', LUEBECK_SMTP: 'luebeck-smtp-password' };
    expect((await runOzg(['validate'], { cwd: dir, env })).code).toBe(0);

    const deploy = await runOzg(['deploy', 'husum'], { cwd: dir, env });
    expect({ code: deploy.code, stdout: deploy.stdout }).toEqual({ code: 0, stdout: expect.stringMatching(/husum\s+antrag-formular 1\.1\.0\s+test: applied .*prod: applied/) });
    const marker = JSON.parse(await readFile(path.join(dir, 'targets/prod/husum/antrag-formular/release.json'), 'utf8'));
    expect(marker).toMatchObject({ procedure: 'antrag-formular', version: '1.1.0' });
  });

  it('--deploy writes and deploys at once when the target has every fact and secret', async () => {
    const before = await readInventory(dir);
    const env = { SYLT_SMTP_PASSWORD: 'sylt-smtp-password', LUEBECK_SMTP: 'luebeck-smtp-password' };
    const run = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'sylt', '--deploy', '--json'], { cwd: dir, env });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const result = resultOf(run);
    expect(result).toMatchObject({ written: true, placeholders: [], nextCommand: null });
    expect(result.secretsToProvide).toEqual([expect.objectContaining({ ref: { env: 'SYLT_SMTP_PASSWORD' }, provided: true })]);
    expect(result.deploy.ok).toBe(true);
    expect(result.deploy.sites.map((site: any) => `${site.site}:${site.result}`)).toEqual(['sylt:ok']);

    const after = await readInventory(dir);
    const line = before.split('\n').find((l) => l.startsWith('  sylt: '))!;
    const at = before.indexOf(line) + line.length - ' }'.length; // the new entry goes before the closing brace
    expect(after.slice(0, at)).toBe(before.slice(0, at));
    expect(after.slice(after.length - (before.length - at))).toBe(before.slice(at));
    expect(setupOf(after, 'sylt').values).toMatchObject({ title: 'Amt Sylt', municipalityKey: '01054168', domain: 'antraege.sylt.example', contactEmail: 'amt@sylt.example' });

    const history = resultOf(await runOzg(['history', '--json', '--site', 'sylt'], { cwd: dir, env }));
    expect(history.records.map((r: any) => `${r.environment}:${r.outcome}:${r.version}`)).toEqual(['test:applied:1.1.0', 'prod:applied:1.1.0']);
    expect(JSON.stringify(history)).not.toContain('sylt-smtp-password');
  });

  it('--deploy into a data center with confirm: true refuses without a terminal and without --yes (exit 2), like deploy', async () => {
    const inventory = await readInventory(dir);
    const asking = inventory.replace("prod: {root: './targets/prod'}   # prod", "prod: {root: './targets/prod', confirm: true}   # prod");
    expect(asking).not.toBe(inventory);
    await writeFile(path.join(dir, 'sites.yaml'), asking);
    const env = { SYLT_SMTP_PASSWORD: 'sylt-smtp-password', LUEBECK_SMTP: 'luebeck-smtp-password' };
    const refused = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'sylt', '--deploy'], { cwd: dir, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('data centers that ask for confirmation (local-dc)? There is no terminal to ask on.');
    expect(refused.stderr).toContain('hint: sites.yaml is written; to deploy it: ozg deploy -i sites.yaml sylt -p antrag-formular (pass --yes to confirm in a pipeline)');
    // refused before any target was contacted: neither environment got anything
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);
    expect(setupOf(await readInventory(dir), 'sylt')).toBeDefined();

    // sylt has the setup now: --force clones the same setup again (no change), --yes confirms the deploy
    const confirmed = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'sylt', '--deploy', '--force', '--yes', '--json'], { cwd: dir, env });
    expect({ code: confirmed.code, stderr: confirmed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(resultOf(confirmed).deploy.sites.map((site: any) => `${site.site}:${site.result}`)).toEqual(['sylt:ok']);
  });

  it('--deploy renders every bundle before the first target is contacted: an error in prod only stops it whole (exit 3)', async () => {
    // test renders, prod does not: deployed one environment at a time, test would be applied first
    const app = path.join(dir, 'templates/antrag-formular/1.1.0/vm/config/app.json');
    await writeFile(app, '{% if environment == "prod" %}{{ values.noSuchValue }}{% endif %}' + (await readFile(app, 'utf8')));
    const env = { SYLT_SMTP_PASSWORD: 'sylt-smtp-password', LUEBECK_SMTP: 'luebeck-smtp-password' };
    const run = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'sylt', '--deploy'], { cwd: dir, env });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('noSuchValue');
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);
  });

  it('--deploy writes but does not deploy while something is left to fill in (exit 3)', async () => {
    const run = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum', '--deploy'], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('written to sites.yaml');
    expect(run.stdout).toMatch(/not deployed: 4 value\(s\) and secret reference\(s\) are left to fill in/);
    expect(setupOf(await readInventory(dir), 'husum')).toBeDefined();
    await expect(readFile(path.join(dir, 'targets/test/husum/antrag-formular/release.json'))).rejects.toThrow();
  });

  it('refuses to overwrite an existing setup unless --force; cloning twice with --force changes nothing', async () => {
    const before = await readInventory(dir);
    const refused = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'luebeck', '--write'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe("error: site luebeck already has a setup of antrag-formular\nhint: pass --force to replace it with kiel's (luebeck's own site-specific values and secret references are kept)\n");
    expect(refused.stdout).toBe('');
    expect(await readInventory(dir)).toBe(before);

    const forced = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'luebeck', '--write', '--force', '--json'], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(resultOf(forced)).toMatchObject({ changed: true, written: true, procedures: [{ procedure: 'antrag-formular', version: '1.1.0', replaced: true }] });
    const once = await readInventory(dir);
    expect(setupOf(once, 'luebeck')).toEqual({
      version: '1.1.0',
      values: { title: 'Lübeck', municipalityKey: '01003000', domain: 'antraege.luebeck.de', contactEmail: 'a@luebeck.example', formIds: ['gewerbeanmeldung', 'hundesteuer'], maxUploadMb: 42 },
      secrets: { smtpPassword: { env: 'LUEBECK_SMTP' } },
      userConnection: setupOf(before, 'kiel').userConnection,
      processTransfers: setupOf(before, 'kiel').processTransfers,
    });

    const again = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'luebeck', '--write', '--force'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no changes: luebeck already has this setup');
    expect(again.stdout).not.toContain('--- a/sites.yaml');
    expect(await readInventory(dir)).toBe(once);
  });

  it('takes the ledger lock to write, so it never races a deploy (exit 7, nothing written)', async () => {
    const before = await readInventory(dir);
    await mkdir(path.join(dir, '.ozg'), { recursive: true });
    const holder = { pid: process.pid, host: os.hostname(), user: 'someone', command: 'deploy', startedAt: new Date().toISOString(), token: 'held-by-test' };
    await writeFile(path.join(dir, '.ozg/lock'), JSON.stringify(holder) + '\n');
    const run = await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum', '--write'], { cwd: dir });
    expect(run.code).toBe(7);
    expect(await readInventory(dir)).toBe(before);
    // a dry run needs no lock
    expect((await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husum'], { cwd: dir })).code).toBe(0);
  });

  it('explains wrong use with exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'husun'], /unknown site "husun"; did you mean "husum"\?/],
      [['clone-procedure', 'dms-connector', '--from', 'kiel', '--to', 'husum'], /site kiel has no setup of "dms-connector" \(it has: antrag-formular\)/],
      [['clone-procedure', '--from', 'kiel', '--to', 'husum'], /missing procedure: name one, or pass --all/],
      [['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'kiel'], /--from and --to both name kiel/],
      [['clone-procedure', 'antrag-formular', '--from', 'kiel'], /required option '--to <site>' not specified/],
    ];
    for (const [args, message] of cases) {
      const run = await runOzg(args, { cwd: dir });
      expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
    }
  });
});
