import path from 'node:path';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { parseJsonLines, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { probeInventory } from '../helpers/probe-inventory.js';
import { isInShard } from '../../src/rollout/waves.js';
import { readReadmePipeline, runJob, runPipeline, tempWorkDir, type JobRun, type Pipeline, type PipelineJob } from '../helpers/gitlab-pipeline.js';

const fixture = path.join(repoRoot, 'test/fixtures/e2e/gate');
const SITES = 12;
const CANARY = 'site-001'; // the first site of the fleet: the README's waves start with "1"

/**
 * A checkout (sites.yaml + templates) whose local data center lives outside it, in
 * `<work>/datacenter`: every job gets its own checkout and ledger, as on separate CI runners,
 * and all of them deploy to the same targets.
 */
async function writeCheckout(work: string, options: { versionFor?: (site: string) => string | undefined } = {}): Promise<{ checkout: string; datacenter: string }> {
  const checkout = path.join(work, 'checkout');
  const datacenter = path.join(work, 'datacenter');
  await cp(fixture, checkout, { recursive: true });
  const yaml = probeInventory({ version: '1.0.0', count: SITES, ...(options.versionFor ? { versionFor: options.versionFor } : {}) });
  await writeFile(path.join(checkout, 'sites.yaml'), yaml.replaceAll('./targets/', `${datacenter}/`));
  return { checkout, datacenter };
}

/** The jobs that deploy: the one running the canary and the parallel one running the shards. */
function deployJobs(pipeline: Pipeline): { canary: PipelineJob; shards: PipelineJob } {
  const deploying = pipeline.jobs.filter((j) => j.script.some((l) => / ozg deploy /.test(l)));
  const canary = deploying.filter((j) => j.script.some((l) => l.includes('--canary-only')));
  const shards = deploying.filter((j) => j.script.some((l) => l.includes('--after-canary')));
  // every deploy of the pipeline is one of the two: no other job may deploy past the canary
  expect({ canary: canary.length, shards: shards.length, deploying: deploying.length }).toEqual({ canary: 1, shards: 1, deploying: 2 });
  return { canary: canary[0]!, shards: shards[0]! };
}

/** The `--json` events a deploy line of a job wrote (`… --json … > file.jsonl`). */
async function deployEvents(run: JobRun, job: PipelineJob): Promise<Record<string, any>[]> {
  const line = job.script.find((l) => / ozg deploy /.test(l))!;
  const file = /--json\b.*>\s*(\S+)/.exec(line)?.[1];
  if (!file) throw new Error(`the README's deploy line writes no --json file: ${line}`);
  return parseJsonLines(await readFile(path.join(run.dir, file), 'utf8'));
}

const sitesStarted = (events: Record<string, any>[]) => events.filter((e) => e.type === 'site-started').map((e) => e.site as string);
const wavesStarted = (events: Record<string, any>[]) => events.filter((e) => e.type === 'wave-started').map((e) => ({ wave: e.wave, sites: e.sites }));
/** The records of a ledger file, in file order (each line is `{"v":1,"sum":…,"r":record}`). */
const ledgerLines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l).r);

describe("the README's sharded GitLab pipeline, stage commands run in order", () => {
  let work: string;
  beforeEach(async () => {
    work = await tempWorkDir();
  });
  afterEach(() => removeTemp(work));

  it('runs exactly one canary wave before any shard, the shards never re-run it, and the merged ledger equals an unsharded run', async () => {
    const pipeline = await readReadmePipeline();
    expect(pipeline.beforeScript).toEqual(['npm ci']); // the one line not run here
    const jobs = deployJobs(pipeline);
    expect(jobs.canary.parallel).toBeUndefined();
    expect(jobs.shards.parallel).toBeGreaterThan(1);
    expect(pipeline.stages.indexOf(jobs.canary.stage)).toBeLessThan(pipeline.stages.indexOf(jobs.shards.stage));

    const { checkout } = await writeCheckout(work);
    const { runs, notStarted } = await runPipeline(pipeline, { checkout, workDir: work });
    expect(notStarted).toEqual([]);
    for (const run of runs) expect({ job: run.job, node: run.node, code: run.code, failed: run.failedLine, stderr: run.lines.map((l) => l.stderr).join('') }).toMatchObject({ code: 0 });
    const canaryRuns = runs.filter((r) => r.job === jobs.canary.name);
    const shardRuns = runs.filter((r) => r.job === jobs.shards.name);
    expect(canaryRuns).toHaveLength(1);
    expect(shardRuns).toHaveLength(jobs.shards.parallel!);
    // in pipeline order: the canary job ran before the first shard job
    expect(runs.indexOf(canaryRuns[0]!)).toBeLessThan(runs.indexOf(shardRuns[0]!));

    const canaryEvents = await deployEvents(canaryRuns[0]!, jobs.canary);
    expect(wavesStarted(canaryEvents)).toEqual([{ wave: 1, sites: [CANARY] }]);
    expect(sitesStarted(canaryEvents)).toEqual([CANARY]);

    const perShard: string[][] = [];
    const budgetShares: number[] = [];
    for (const run of shardRuns) {
      const events = await deployEvents(run, jobs.shards);
      const sites = sitesStarted(events);
      expect(sites).not.toContain(CANARY);
      expect(wavesStarted(events).map((w) => w.wave)).not.toContain(1);
      expect(sites.length).toBeGreaterThan(0);
      perShard.push(sites);
      const note = events.find((e) => e.type === 'info' && /failure budget/.test(e.message));
      expect(note?.message).toMatch(new RegExp(`^failure budget: \\d+ of the fleet's 2 for shard ${run.node}/${jobs.shards.parallel}`));
      budgetShares.push(Number(/^failure budget: (\d+)/.exec(note!.message)![1]));
    }
    // the shards split the sites after the canary: each once, none twice; and the budget: 2 in all
    const all = Array.from({ length: SITES }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
    expect(perShard.flat().sort()).toEqual(all.filter((s) => s !== CANARY));
    expect(budgetShares.reduce((a, b) => a + b, 0)).toBe(2);

    // each shard merged the canary's ledger before it deployed: the canary's records come first
    const canaryRun = canaryEvents.find((e) => e.type === 'run-started')!.run;
    for (const run of shardRuns) {
      const lines = await ledgerLines(path.join(run.dir, '.ozg/ledger.jsonl'));
      const firstOwn = lines.findIndex((r) => r.run !== canaryRun);
      expect(lines.slice(0, firstOwn).map((r) => r.site)).toEqual([CANARY, CANARY]);
      expect(lines.slice(firstOwn).every((r) => r.run !== canaryRun && r.site !== CANARY)).toBe(true);
    }

    // record: one ledger with every record once; the canary deployed by the canary job only
    const record = runs.find((r) => r.lines.some((l) => / ozg ledger merge shards\/\*/.test(l.line)))!;
    const merged = await ledgerLines(path.join(record.dir, '.ozg/ledger.jsonl'));
    expect(merged).toHaveLength(SITES * 2);
    expect(new Set(merged.map((r) => r.id)).size).toBe(SITES * 2);
    expect(merged.filter((r) => r.site === CANARY).map((r) => r.run)).toEqual([canaryRun, canaryRun]);
    expect(new Set(merged.map((r) => r.run)).size).toBe(1 + jobs.shards.parallel!);

    // pages: the report of the merged ledger, every site of the fleet on it (issue 16)
    const pages = runs.find((r) => r.lines.some((l) => / ozg report --html/.test(l.line)))!;
    const page = await readFile(path.join(pages.dir, 'public/index.html'), 'utf8');
    expect(page).toMatch(/^<!doctype html>/i);
    for (const line of merged) expect(page).toContain(line.site);

    // the same rollout unsharded, on a data center of its own
    const whole = path.join(work, 'unsharded');
    await cp(fixture, whole, { recursive: true });
    await writeFile(path.join(whole, 'sites.yaml'), probeInventory({ version: '1.0.0', count: SITES }));
    const unsharded = await runOzg(['deploy', '--yes', '--waves', pipeline.variables.WAVES!, '--max-failures', pipeline.variables.MAX_FAILURES!], { cwd: whole });
    expect(unsharded.code).toBe(0);
    const comparable = (targets: any[]) => targets.map(({ liveRelease, error, ...rest }: any) => rest);
    const mergedStatus = resultOf(await runOzg(['status', '--json'], { cwd: record.dir }));
    const unshardedStatus = resultOf(await runOzg(['status', '--json'], { cwd: whole }));
    expect(comparable(mergedStatus.targets)).toEqual(comparable(unshardedStatus.targets));
    expect(mergedStatus.targets.every((t: any) => t.recorded === '1.0.0' && t.upToDate && !t.drift)).toBe(true);
  });

  it('a failing canary stops the pipeline before any shard, and a shard run anyway exits 12 and starts no site', async () => {
    const pipeline = await readReadmePipeline();
    const jobs = deployJobs(pipeline);
    // 2.0.0 fails its smoke check in test: the canary's test gate closes
    const { checkout, datacenter } = await writeCheckout(work, { versionFor: (site) => (site === CANARY ? '2.0.0' : undefined) });
    const { runs, notStarted } = await runPipeline(pipeline, { checkout, workDir: work });

    const canaryRun = runs.find((r) => r.job === jobs.canary.name)!;
    expect(canaryRun.code).toBe(5);
    expect(notStarted).toEqual(Array.from({ length: jobs.shards.parallel! }, (_, i) => `${jobs.shards.name} ${i + 1}/${jobs.shards.parallel}`));
    expect(await readdir(path.join(datacenter, 'test'))).toEqual([CANARY]);
    expect(existsSync(path.join(datacenter, 'prod'))).toBe(false);

    // retried by hand (or with the canary's failure allowed): every shard refuses
    for (let node = 1; node <= jobs.shards.parallel!; node += 1) {
      const shard = await runJob(pipeline, jobs.shards, { checkout, workDir: work, node, artifacts: [canaryRun] });
      expect({ node, code: shard.code, failedLine: shard.failedLine }).toEqual({ node, code: 12, failedLine: jobs.shards.script.find((l) => / ozg deploy /.test(l)) });
      const error = parseJsonLines(await readFile(path.join(shard.dir, 'deploy.jsonl'), 'utf8')).find((e) => e.type === 'error')!;
      expect(error).toMatchObject({ exitCode: 12, message: expect.stringContaining(`the canary wave (${CANARY}) has not passed; no site of this shard was started`) });
      expect(error.message).toContain(`${CANARY}/test/probe: no release recorded in the ledger (desired 2.0.0)`);
      expect(error.hint).toContain('--canary-only');
      expect(existsSync(path.join(shard.dir, '.ozg/rollout.json'))).toBe(false);
    }
    expect(await readdir(path.join(datacenter, 'test'))).toEqual([CANARY]);
    expect(existsSync(path.join(datacenter, 'prod'))).toBe(false);
  });
});

describe('deploy --after-canary', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempWorkDir();
    await cp(fixture, dir, { recursive: true });
  });
  afterEach(() => removeTemp(dir));

  it('refuses a canary of other bundles: the canary must have passed with what this run would deploy', async () => {
    await writeFile(path.join(dir, 'sites.yaml'), probeInventory({ version: '1.0.0', count: 6 }));
    expect((await runOzg(['deploy', '--waves', '1,100%', '--canary-only'], { cwd: dir })).code).toBe(0);
    await writeFile(path.join(dir, 'sites.yaml'), probeInventory({ version: '1.1.0', count: 6 }));
    const shard = await runOzg(['deploy', '--waves', '1,100%', '--after-canary', '--shard', '1/2'], { cwd: dir });
    expect(shard.code).toBe(12);
    expect(shard.stderr).toMatch(/site-001\/test\/probe: the ledger's last release is 1\.0\.0 \(applied, bundle [0-9a-f]{8}\), not the desired 1\.1\.0/);
    expect(existsSync(path.join(dir, 'targets/test/site-002'))).toBe(false);
  });

  it('--resume continues the shard with its stage, shard and budget share, never touching the canary or the other shard', async () => {
    const first = (version: string) => probeInventory({ version: '1.0.0', count: 12, versionFor: (site) => (site === failing ? version : undefined) });
    // the first site of shard 1/2 after the canary fails its gate; with a budget of 0 and one site at a time, the rest of the shard is skipped
    const shard1 = Array.from({ length: 11 }, (_, i) => `site-${String(i + 2).padStart(3, '0')}`).filter((s) => isInShard(s, { index: 1, count: 2 }));
    const failing = shard1[0]!;
    expect(shard1.length).toBeGreaterThan(1);
    await writeFile(path.join(dir, 'sites.yaml'), first('2.0.0'));
    expect((await runOzg(['deploy', '--waves', '1,100%', '--canary-only'], { cwd: dir })).code).toBe(0);

    const stopped = await runOzg(['deploy', '--waves', '1,100%', '--max-failures', '0', '--after-canary', '--shard', '1/2', '-c', '1', '--json'], { cwd: dir });
    expect(stopped.code).toBe(5);
    const result = resultOf(stopped);
    expect(result.stopped).toMatch(/failure budget exceeded: 1 site\(s\) failed, --max-failures 0/);
    expect(result.sites.map((s: any) => s.site)).toEqual(shard1);
    expect(result.sites.slice(1).every((s: any) => s.result === 'skipped')).toBe(true);

    const refused = await runOzg(['deploy', '--resume', '--after-canary'], { cwd: dir });
    expect(refused.code).toBe(2);

    await writeFile(path.join(dir, 'sites.yaml'), first('1.0.0'));
    const resumed = await runOzg(['deploy', '--resume', '--json'], { cwd: dir });
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: '' });
    const events = parseJsonLines(resumed.stdout);
    expect(sitesStarted(events).sort()).toEqual([...shard1].sort());
    expect(events.find((e) => e.type === 'info' && /failure budget/.test(e.message))?.message).toMatch(/^failure budget: 0 of the fleet's 0 for shard 1\/2/);
    expect(existsSync(path.join(dir, 'targets/prod', shard1.at(-1)!))).toBe(true);
    const other = Array.from({ length: 11 }, (_, i) => `site-${String(i + 2).padStart(3, '0')}`).filter((s) => !shard1.includes(s));
    for (const site of other) expect(existsSync(path.join(dir, 'targets/test', site))).toBe(false);
  });

  it('--waves with --shard but no --after-canary, or a stage without --waves, is a usage error before anything is written', async () => {
    await writeFile(path.join(dir, 'sites.yaml'), probeInventory({ version: '1.0.0', count: 4 }));
    for (const args of [
      ['--waves', '1,100%', '--shard', '1/2'],
      ['--canary-only'],
      ['--after-canary', '--shard', '1/2'],
      ['--waves', '1,100%', '--canary-only', '--shard', '1/2'],
      ['--waves', '1,100%', '--canary-only', '--after-canary'],
    ]) {
      const run = await runOzg(['deploy', ...args], { cwd: dir });
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(existsSync(path.join(dir, '.ozg/rollout.json'))).toBe(false);
      expect(existsSync(path.join(dir, 'targets'))).toBe(false);
    }
    const perShard = await runOzg(['deploy', '--waves', '1,100%', '--shard', '1/2'], { cwd: dir });
    expect(perShard.stderr).toContain('--waves with --shard would run a canary in every shard');
  });
});
