/**
 * `ozg report` end to end (issue 16): a generated 30-site fleet with every state, reported
 * offline and live, as JSON and as the HTML page, to a file and to stdout. The counts per state
 * must be those the generator made, the secret the generator put into smoke output and errors
 * must never show, hostile smoke output never appears as markup, and the exit codes are the
 * documented ones.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateReportFleet, type ReportFleet } from '../helpers/report-fleet.js';
import { resultOf, runOzg } from '../helpers/run-ozg.js';

let fleet: ReportFleet;

beforeAll(async () => {
  fleet = await generateReportFleet({ sites: 30, procedures: 3, seed: 7, hostile: true, unreachable: true });
}, 120_000);

afterAll(async () => {
  if (fleet) await rm(fleet.dir, { recursive: true, force: true });
});

const report = (args: string[], env: Record<string, string> = {}) => runOzg(['report', ...args], { cwd: fleet.dir, env: { ...fleet.env, ...env } });

function expectNoSecret(...texts: string[]): void {
  for (const text of texts) {
    expect(text).not.toContain(fleet.secret);
    expect(text).not.toContain('Rf7#fleet');
  }
}

describe('ozg report', () => {
  it('--json --offline counts every site in the state the generator made, drift unseen without the markers', async () => {
    const run = await report(['--offline', '--json']);
    expect(run.code).toBe(0);
    const model = resultOf(run);
    expect(model.live).toBe(false);
    expect(model.counts).toEqual(fleet.expected.offline);
    expect(model.sites).toHaveLength(31);
    expect(model.procedures).toEqual(['antrag', 'notice', 'probe']);
    expect(model.labelKeys).toEqual(['district', 'ring', 'state']);
    expectNoSecret(run.stdout, run.stderr);
    expect(run.stdout).toContain('«secret:token»');
  });

  it('--json live reads the markers: drift and the unreachable vm site show, and it still exits 0', async () => {
    const run = await report(['--json']);
    expect(run.code).toBe(0);
    const model = resultOf(run);
    expect(model.live).toBe(true);
    expect(model.counts).toEqual(fleet.expected.live);
    expect(model.counts.unreachable).toBe(1);
    expect(model.counts.drift).toBeGreaterThan(0);
    expectNoSecret(run.stdout, run.stderr);
  });

  it('a failed site carries its reason and timeline with the failing check output, redacted; the last rollout names its failures', async () => {
    const run = await report(['--offline', '--json']);
    const model = resultOf(run);
    const failedName = fleet.sites.find((site) => site.kind === 'failed')!.name;
    const failed = model.sites.find((site: { name: string }) => site.name === failedName);
    expect(failed.state).toBe('failed');
    const cell = failed.cells[0];
    expect(cell.test.state).toBe('failed');
    expect(cell.test.reason).toContain('«secret:token»');
    const event = failed.timeline.find((e: { outcome: string }) => e.outcome === 'smoke-failed');
    expect(event.checks).toEqual([{ name: 'probe-check', ok: false, output: expect.stringContaining('<script>alert') }]);
    expect(failed.timeline[0].time >= failed.timeline.at(-1).time).toBe(true);
    const held = model.sites.find((site: { name: string }) => site.name === fleet.sites.find((s) => s.kind === 'held')!.name);
    expect(held.cells[0].prod).toMatchObject({ state: 'held', reason: expect.stringContaining('prod smoke failed') });
    expect(model.lastRollout.run).toBe('run-0002');
    const failedSites = fleet.sites.filter((site) => site.kind === 'failed' || site.kind === 'held').length;
    expect(model.lastRollout.failures.length).toBe(failedSites);
    expect(model.lastRollout.outcomes['smoke-failed']).toBe(failedSites);
    expectNoSecret(JSON.stringify(model));
  });

  it('--html -o replaces the page atomically: hostile smoke output stays text, no secret, nothing else left in the folder', async () => {
    const out = path.join(fleet.dir, 'public', 'index.html');
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, 'the page of last week\n');
    const run = await report(['--html', '--offline', '-o', out, '--lang', 'de']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`wrote ${out}`);
    const html = await readFile(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('lang="de"');
    expect(html).toContain('gemeinde-00001');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expectNoSecret(html, run.stdout, run.stderr);
    expect(await readdir(path.dirname(out))).toEqual(['index.html']);
  });

  it('--html without -o (or -o -) prints the page on stdout, its language from the environment', async () => {
    for (const args of [['--html', '--offline'], ['--html', '--offline', '-o', '-']]) {
      const run = await report(args, { LC_ALL: '', LC_MESSAGES: 'de_DE.UTF-8', LANG: 'en_US.UTF-8' });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^<!doctype html>/i);
      expect(run.stdout).toContain('lang="de"');
      expect(run.stdout).not.toContain('<script>alert');
      expectNoSecret(run.stdout, run.stderr);
    }
    const english = await report(['--html', '--offline'], { LC_ALL: 'C', LANG: 'de_DE.UTF-8' });
    expect(english.stdout).toContain('lang="en"');
  });

  it('a --lang other than de or en is a usage error (exit 2) naming the allowed values', async () => {
    const run = await report(['--html', '--offline', '--lang', 'fr']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("argument 'fr' is invalid");
    expect(run.stderr).toMatch(/de, en/);
    expect(run.stdout).toBe('');
  });

  it('-o into a folder that cannot be made exits 4 naming the file, and leaves nothing behind', async () => {
    const blocker = path.join(fleet.dir, 'not-a-folder');
    await writeFile(blocker, 'a file where the folder should be\n');
    const run = await report(['--html', '--offline', '-o', path.join(blocker, 'index.html')]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`could not write the report ${path.join(blocker, 'index.html')}`);
    expect(await readFile(blocker, 'utf8')).toBe('a file where the folder should be\n');
  });

  it('-o naming a folder exits 4, the folder as it was and no temporary file beside it', async () => {
    // root may write anywhere: a folder where the page should go is what makes the rename fail
    const parent = path.join(fleet.dir, 'taken');
    await mkdir(path.join(parent, 'index.html'), { recursive: true });
    const run = await report(['--html', '--offline', '-o', path.join(parent, 'index.html')]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('could not write the report');
    expect(await readdir(parent)).toEqual(['index.html']);
    expect(await readdir(path.join(parent, 'index.html'))).toEqual([]);
  });

  it('-o without --html is a usage error', async () => {
    const run = await report(['-o', 'x.html']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('needs --html');
  });

  it('an invalid inventory exits 3', async () => {
    const broken = path.join(fleet.dir, 'broken.yaml');
    await writeFile(broken, 'sites: [not, a, map]\n');
    const run = await runOzg(['-i', broken, 'report', '--offline', '--json'], { cwd: fleet.dir, env: fleet.env });
    expect(run.code).toBe(3);
  });
});
