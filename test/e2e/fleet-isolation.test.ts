/**
 * Issue 13, "one site cannot block the others" and "selections and waves cannot silently
 * skip the canary", through the real CLI on local data centers:
 * - 50 sites, three with a problem of their own (a missing secret, a clone-procedure
 *   placeholder, a value the procedure's schema refuses), and a broken procedure version no
 *   site uses: status, history and render work for the others; deploy deploys the 47 and
 *   fails the three as themselves (file:line:col in the summary, --json and JUnit, exit 3);
 *   validate still lists every problem.
 * - a mistyped wave or selector is a usage error (exit 2) suggesting the label that exists,
 *   before anything is written; the interrupted rollout can still be resumed.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createMiniProject, localInventoryYaml, type LocalSiteSpec } from '../helpers/mini-project.js';
import { parseJsonLines, removeTemp, resultOf, runOzg } from '../helpers/run-ozg.js';

const TOKEN = 'fleet-token-0123456789';

const DEMO_FILES: Record<string, string> = {
  'procedure.yaml': [
    'name: demo',
    'version: 1.0.0',
    'description: a config file with a port and a token',
    'values: { type: object, properties: { port: { type: integer } }, required: [port] }',
    'secrets: [token]',
    'vm:',
    '  files: vm',
    'smoke:',
    '  - { name: config-present, command: "test -s config/app.conf" }',
    '',
  ].join('\n'),
  'vm/config/app.conf': 'port={{ values.port }}\ntoken={{ secrets.token }}\n',
};

const name = (i: number) => `site-${String(i).padStart(2, '0')}`;

/** 50 sites; site-01 is the canary. `broken` gives three of them a problem of their own. */
function fleetSites(count: number, broken: boolean): LocalSiteSpec[] {
  return Array.from({ length: count }, (_, index) => {
    const site = name(index + 1);
    let values = '{ port: 8080 }';
    let secret = '{ env: FLEET_TOKEN }';
    if (broken && site === 'site-10') secret = '{ env: SITE10_TOKEN }';
    if (broken && site === 'site-20') values = '{ port: "<fill in: port>" }';
    if (broken && site === 'site-30') values = '{ port: "eighty" }';
    return { name: site, labels: `{ ring: ${index === 0 ? 'canary' : 'main'} }`, procedures: { demo: { version: '1.0.0', values, secrets: { token: secret } } } };
  });
}

async function createFleet(count: number, broken: boolean): Promise<string> {
  const { dir } = await createMiniProject(DEMO_FILES, { sitesYaml: localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', concurrency: 8, sites: fleetSites(count, broken) }) });
  return dir;
}

/** the line:col where `needle` first appears in sites.yaml (1-based), to compare with reported positions */
async function positionOf(dir: string, needle: string, after: string): Promise<string> {
  const lines = (await readFile(path.join(dir, 'sites.yaml'), 'utf8')).split('\n');
  const start = lines.findIndex((line) => line.includes(after));
  const index = lines.findIndex((line, i) => i > start && line.includes(needle));
  return `${index + 1}:${lines[index]!.indexOf(needle) + 1}`;
}

/** every file and folder below `dir` with its bytes' hash and modification time: any write shows */
async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  const visit = async (folder: string): Promise<void> => {
    const info = await stat(folder);
    entries[path.relative(dir, folder) || '.'] = `dir ${info.mtimeMs}`;
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isSymbolicLink()) entries[path.relative(dir, full)] = `link ${(await lstat(full)).mtimeMs} ${await readlink(full)}`;
      else if (entry.isDirectory()) await visit(full);
      else {
        const file = await stat(full);
        entries[path.relative(dir, full)] = `${file.mtimeMs} ${createHash('sha256').update(await readFile(full)).digest('hex')}`;
      }
    }
  };
  await visit(dir);
  return entries;
}

const warnings = (stdout: string): string[] => parseJsonLines(stdout).filter((e) => e.type === 'warning').map((e) => e.message);

describe('one site cannot block the others', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await createFleet(50, true);
    // a broken draft version in the catalogue that no site uses
    await mkdir(path.join(dir, 'catalogue/demo/2.0.0-draft'), { recursive: true });
    await writeFile(path.join(dir, 'catalogue/demo/2.0.0-draft/procedure.yaml'), 'name: demo\nversion: 2.0.0-draft\ndescription: unfinished\nvalues: { type: objekt }\n');
  });
  afterAll(() => removeTemp(dir));
  const env = { FLEET_TOKEN: TOKEN };

  it('deploys named sites whatever is wrong with others', async () => {
    const run = await runOzg(['deploy', 'site-01', 'site-02', '--json'], { cwd: dir, env });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    // the unused broken draft is worth a warning, not a stop
    expect(warnings(run.stdout)).toEqual([expect.stringMatching(/^not used by the selected sites.*catalogue\/demo\/2\.0\.0-draft\/procedure\.yaml:\d+:\d+/)]);
    expect(resultOf(run).sites.map((s: any) => [s.site, s.result])).toEqual([
      ['site-01', 'ok'],
      ['site-02', 'ok'],
    ]);
    expect(existsSync(path.join(dir, 'targets/prod/site-03'))).toBe(false);
  });

  it('deploys the 47 and fails the three as themselves, with file:line:col, in the summary, --json and JUnit (exit 3)', async () => {
    const run = await runOzg(['deploy', '--json', '--junit', 'smoke.xml'], { cwd: dir, env });
    expect({ code: run.code }).toEqual({ code: 3 });
    const events = parseJsonLines(run.stdout);
    const result = events.find((e) => e.type === 'result')!.result;
    const bySite = new Map<string, any>(result.sites.map((s: any) => [s.site, s]));
    expect(result.sites).toHaveLength(50);
    const invalid = ['site-10', 'site-20', 'site-30'];
    for (let i = 1; i <= 50; i++) {
      const site = name(i);
      if (invalid.includes(site)) continue;
      expect([site, bySite.get(site).result]).toEqual([site, i <= 2 ? 'unchanged' : 'ok']);
      expect(existsSync(path.join(dir, 'targets/prod', site, 'demo'))).toBe(true);
    }
    const secretAt = await positionOf(dir, 'SITE10_TOKEN', 'site-10:');
    const placeholderAt = await positionOf(dir, '"<fill in: port>"', 'site-20:');
    const valueAt = await positionOf(dir, '"eighty"', 'site-30:');
    const expected: Record<string, [string, RegExp]> = {
      'site-10': [`sites.yaml:${secretAt.split(':')[0]}:`, /SITE10_TOKEN/],
      'site-20': [`sites.yaml:${placeholderAt}`, /placeholder "<fill in: port>"/],
      'site-30': [`sites.yaml:${valueAt}`, /integer/],
    };
    for (const [site, [position, message]] of Object.entries(expected)) {
      const outcome = bySite.get(site);
      expect(outcome.result).toBe('failed');
      expect(outcome.items).toEqual([]);
      const problem = outcome.problems.find((p: any) => message.test(p.message));
      expect({ site, problem: `${problem?.file}:${problem?.line}:${problem?.col}` }).toEqual({ site, problem: expect.stringContaining(position) });
      expect(existsSync(path.join(dir, 'targets/test', site))).toBe(false);
      // the event stream says so as the site is refused
      const finished = events.find((e) => e.type === 'site-finished' && e.site === site)!;
      expect(finished.outcome).toBe('failed');
      expect(finished.error).toContain(position);
    }
    const junit = await readFile(path.join(dir, 'smoke.xml'), 'utf8');
    for (const [site, [position]] of Object.entries(expected)) {
      expect(junit).toMatch(new RegExp(`<testcase classname="${site}" name="inventory"[^>]*>\\s*<failure message="invalid input, not deployed: sites\\.yaml:\\d+:\\d+[^"]*" type="invalid-input">[^<]*${position.replace(/\./g, '\\.')}`));
    }
    // the secret value reached the 47 and appears nowhere in what ozg printed
    expect(await readFile(path.join(dir, 'targets/prod/site-05/demo/current/config/app.conf'), 'utf8')).toContain(TOKEN);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('prints the three with their problems in the human summary', async () => {
    const run = await runOzg(['deploy'], { cwd: dir, env });
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toMatch(/site-20 {2}failed: invalid input, not deployed\n {4}sites\.yaml:\d+:\d+ {2}sites\.site-20\.procedures\.demo\.values\.port/);
    expect(run.stdout + run.stderr).toMatch(/50 site\(s\): 47 unchanged, 3 invalid/);
  });

  it('status works for all without any secret value: 47 up to date, the missing secret shown with live and recorded, the two invalid named', async () => {
    const run = await runOzg(['status', '--json'], { cwd: dir });
    expect(run.code).toBe(3);
    const targets = resultOf(run).targets as any[];
    expect(targets).toHaveLength(48 * 2);
    // no secret is set at all here: every row still shows what is live and recorded
    for (const row of targets) {
      const deployed = row.site !== 'site-10';
      expect([row.site, row.live, row.recorded, row.inputError]).toEqual([row.site, deployed ? '1.0.0' : null, deployed ? '1.0.0' : null, true]);
    }
    const left = warnings(run.stdout).filter((w) => w.includes('left out'));
    expect(left).toEqual([
      expect.stringMatching(/^site site-20 left out: its setup is invalid \(1 problem\(s\)\):\n\s+sites\.yaml:\d+:\d+ .*placeholder/),
      expect.stringMatching(/^site site-30 left out: its setup is invalid \(1 problem\(s\)\):\n\s+sites\.yaml:\d+:\d+ /),
    ]);

    const human = await runOzg(['status'], { cwd: dir });
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(/site-05 +prod +demo +1\.0\.0 +1\.0\.0 +1\.0\.0 +desired release not comparable: .*FLEET_TOKEN/);

    const withSecret = await runOzg(['status', '--json', '-l', 'ring=main'], { cwd: dir, env });
    const rows = resultOf(withSecret).targets as any[];
    expect(rows.filter((r) => r.upToDate).length).toBe(46 * 2);
    expect(rows.filter((r) => r.site === 'site-10').map((r) => [r.live, r.recorded, r.inputError])).toEqual([
      [null, null, true],
      [null, null, true],
    ]);
  });

  it('history needs the ledger only', async () => {
    const run = await runOzg(['history', '--json'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const sites = new Set(resultOf(run).records.map((r: any) => r.site));
    expect(sites.size).toBe(47);
  });

  it('render writes every valid site with secrets redacted and names the two invalid ones (exit 3)', async () => {
    const run = await runOzg(['render', '-o', 'out', '--json'], { cwd: dir });
    expect(run.code).toBe(3);
    const written = await readdir(path.join(dir, 'out'));
    expect(written.sort()).toEqual(Array.from({ length: 50 }, (_, i) => name(i + 1)).filter((s) => s !== 'site-20' && s !== 'site-30'));
    // site-10's secret is not needed: the review copy shows it redacted
    expect(await readFile(path.join(dir, 'out/site-10/prod/demo/config/app.conf'), 'utf8')).toContain('«secret:token»');
    expect(warnings(run.stdout).filter((w) => w.includes('left out')).map((w) => w.split(' ')[1])).toEqual(['site-20', 'site-30']);
  });

  it('validate still lists every problem (exit 3)', async () => {
    const run = await runOzg(['validate'], { cwd: dir, env });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('SITE10_TOKEN');
    expect(run.stderr).toMatch(/sites\.site-20\.procedures\.demo\.values\.port .*placeholder/);
    expect(run.stderr).toMatch(/sites\.site-30\.procedures\.demo\.values\.port/);
    expect(run.stderr).toContain('catalogue/demo/2.0.0-draft/procedure.yaml');
  });
});

describe('a template that does not render for one site', () => {
  it('fails that site in deploy (template file:line:col) and shows it in its status rows; the others deploy', async () => {
    const files = { ...DEMO_FILES, 'vm/config/extra.conf': 'mode=plain\n{% if values.port == 1 %}{{ values.missing }}{% endif %}\n' };
    const sites = fleetSites(3, false);
    sites[1]!.procedures.demo!.values = '{ port: 1 }';
    const { dir } = await createMiniProject(files, { sitesYaml: localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites }) });
    try {
      const env = { FLEET_TOKEN: TOKEN };
      const deploy = await runOzg(['deploy', '--json'], { cwd: dir, env });
      expect(deploy.code).toBe(3);
      const result = resultOf(deploy);
      expect(result.sites.map((s: any) => `${s.site}: ${s.result}`)).toEqual(['site-01: ok', 'site-02: failed', 'site-03: ok']);
      // the same template problem in test and prod is one problem, naming both (issue 13)
      expect(result.sites[1].problems.map((p: any) => `${p.file}:${p.line}`)).toEqual(['demo/1.0.0/vm/config/extra.conf:2']);
      expect(result.sites[1].problems[0].message).toMatch(/^test, prod: /);

      const status = await runOzg(['status', '--json'], { cwd: dir, env });
      expect(status.code).toBe(3);
      const rows = resultOf(status).targets.map((t: any) => `${t.site}/${t.environment}: ${t.upToDate} ${t.inputError ?? false}`);
      expect(rows).toEqual(['site-01/test: true false', 'site-01/prod: true false', 'site-02/test: null true', 'site-02/prod: null true', 'site-03/test: true false', 'site-03/prod: true false']);
      expect(resultOf(status).targets[2].error).toMatch(/^desired release does not build: demo\/1\.0\.0\/vm\/config\/extra\.conf:2:/);
    } finally {
      await removeTemp(dir);
    }
  });
});

describe('selections and waves cannot silently skip the canary', () => {
  it('refuses a mistyped wave or selector with exit 2 before anything is written; --resume still works', async () => {
    const dir = await createFleet(6, false);
    try {
      const first = await runOzg(['deploy', '--waves', 'ring=canary,100%'], { cwd: dir, env: { FLEET_TOKEN: TOKEN } });
      expect(first.code).toBe(0);
      // a new version of the values, and site-04's secret not yet available: the rollout
      // deploys the other five and stays unfinished, to be resumed once the secret is there
      const sites = fleetSites(6, false);
      sites[3]!.procedures.demo!.secrets = { token: '{ env: LATE_TOKEN }' };
      await writeFile(path.join(dir, 'sites.yaml'), localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites: sites.map((s) => ({ ...s, procedures: { demo: { ...s.procedures.demo!, values: '{ port: 9090 }' } } })) }));
      const interrupted = await runOzg(['deploy', '--waves', 'ring=canary,100%'], { cwd: dir, env: { FLEET_TOKEN: TOKEN } });
      expect(interrupted.code).toBe(3);
      const state = JSON.parse(await readFile(path.join(dir, '.ozg/rollout.json'), 'utf8'));
      expect({ finishedAt: state.finishedAt, done: state.done.length }).toEqual({ finishedAt: undefined, done: 5 });

      const before = await snapshotTree(dir);
      const refusals: [string[], RegExp][] = [
        [['deploy', '--waves', 'ring=canry,100%'], /--waves entry "ring=canry": no site has ring=canry; did you mean ring=canary\?/],
        [['deploy', '--waves', 'rnig=canary'], /--waves entry "rnig=canary": no site has a label "rnig"; did you mean ring=canary\?/],
        [['deploy', '-l', 'ring=canry'], /--selector "ring=canry": no site has ring=canry; did you mean ring=canary\?/],
        [['deploy', '-l', 'ring!=canry', '--waves', '1,100%'], /did you mean ring!=canary\?/],
        [['plan', '-l', 'rnig=main'], /did you mean ring=main\?/],
        [['status', '-l', 'ring=mian'], /did you mean ring=main\?/],
        [['render', '-o', 'out', '-l', 'ring=canry'], /did you mean ring=canary\?/],
        [['test', '-l', 'ring=canry'], /did you mean ring=canary\?/],
        [['deploy', '-l', 'ring=canary', '--waves', 'ring=main,100%'], /--waves entry "ring=main" matches none of the 1 selected site\(s\)/],
      ];
      for (const [args, message] of refusals) {
        const run = await runOzg(args, { cwd: dir, env: { FLEET_TOKEN: TOKEN, LATE_TOKEN: TOKEN } });
        expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
        if (/did you mean/.test(message.source)) expect(run.stderr).toContain('labels in the inventory: ring=canary|main');
      }
      expect(await snapshotTree(dir)).toEqual(before);

      const resumed = await runOzg(['deploy', '--resume', '--json'], { cwd: dir, env: { FLEET_TOKEN: TOKEN, LATE_TOKEN: TOKEN } });
      expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: '' });
      expect(parseJsonLines(resumed.stdout).find((e) => e.type === 'run-started')!.sites).toBe(1);
      expect(await readFile(path.join(dir, 'targets/prod/site-04/demo/current/config/app.conf'), 'utf8')).toContain('port=9090');
    } finally {
      await removeTemp(dir);
    }
  });

  it('holds later waves back when every site of a wave is invalid: the canary never vanishes', async () => {
    const dir = await createFleet(4, false);
    try {
      const sites = fleetSites(4, false);
      sites[0]!.procedures.demo!.secrets = { token: '{ env: CANARY_TOKEN }' };
      await writeFile(path.join(dir, 'sites.yaml'), localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites }));
      const run = await runOzg(['deploy', '--waves', 'ring=canary,100%', '--json'], { cwd: dir, env: { FLEET_TOKEN: TOKEN } });
      expect(run.code).toBe(3);
      const result = resultOf(run);
      expect(result.sites.map((s: any) => [s.site, s.result])).toEqual([
        ['site-01', 'failed'],
        ['site-02', 'skipped'],
        ['site-03', 'skipped'],
        ['site-04', 'skipped'],
      ]);
      expect(result.sites[1].reason).toMatch(/held back: every site of wave "ring=canary" has invalid input/);
      expect(existsSync(path.join(dir, 'targets'))).toBe(false);

      // counted waves count the sites that deploy: the first valid site is the canary
      const counted = await runOzg(['deploy', '--waves', '1,100%', '--json'], { cwd: dir, env: { FLEET_TOKEN: TOKEN } });
      expect(counted.code).toBe(3);
      const waves = parseJsonLines(counted.stdout).filter((e) => e.type === 'wave-started').map((e) => e.sites);
      expect(waves).toEqual([['site-02'], ['site-03', 'site-04']]);
    } finally {
      await removeTemp(dir);
    }
  });
});
