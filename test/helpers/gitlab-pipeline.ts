import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ozgBin, repoRoot } from './run-ozg.js';

/** One job of a `.gitlab-ci.yml`, as far as the README's pipeline uses keys. */
export interface PipelineJob {
  name: string;
  stage: string;
  script: string[];
  after_script?: string[];
  parallel?: number;
  when?: 'on_success' | 'always' | 'manual';
  allow_failure?: boolean;
  artifacts?: { when?: 'on_success' | 'always'; paths?: string[]; reports?: unknown };
}

export interface Pipeline {
  stages: string[];
  variables: Record<string, string>;
  beforeScript: string[];
  jobs: PipelineJob[];
}

const JOB_KEYS = new Set(['stage', 'script', 'after_script', 'parallel', 'when', 'allow_failure', 'artifacts']);

/**
 * The README's `.gitlab-ci.yml` block, parsed: the test runs exactly what the README shows, so
 * the README cannot drift from what ozg does. A key this runner does not understand fails
 * loudly instead of being ignored.
 */
export async function readReadmePipeline(): Promise<Pipeline> {
  const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
  const block = /```yaml\n(# \.gitlab-ci\.yml\n[\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```yaml block starting with "# .gitlab-ci.yml"');
  const doc = parse(block[1]!) as Record<string, any>;
  const jobs: PipelineJob[] = [];
  for (const [name, job] of Object.entries(doc)) {
    if (['stages', 'variables', 'default'].includes(name)) continue;
    for (const key of Object.keys(job)) if (!JOB_KEYS.has(key)) throw new Error(`README pipeline job ${name}: key "${key}" is not simulated by test/helpers/gitlab-pipeline.ts`);
    jobs.push({ name, ...job });
  }
  const variables = Object.fromEntries(Object.entries(doc.variables ?? {}).map(([k, v]) => [k, String(v)]));
  return { stages: doc.stages, variables, beforeScript: doc.default?.before_script ?? [], jobs };
}

export interface JobRun {
  job: string;
  /** CI_NODE_INDEX of a parallel job */
  node?: number;
  dir: string;
  /** the script line that ended the job (the failing one), or undefined when all passed */
  failedLine?: string;
  code: number;
  /** stdout and stderr of each script line, in order */
  lines: { line: string; code: number; stdout: string; stderr: string }[];
}

export interface RunPipelineOptions {
  /** files every job's checkout has (sites.yaml, templates/), copied from here */
  checkout: string;
  /** extra variables (as the CI/CD settings would add) */
  env?: Record<string, string>;
  /** where job folders are made */
  workDir: string;
}

/**
 * Runs a pipeline as GitLab would, one job at a time, stage after stage: each job in a fresh
 * checkout with the artifacts of earlier stages' jobs, `parallel: n` as n jobs with
 * CI_NODE_INDEX/CI_NODE_TOTAL, a script stopping at its first failing line, after_script
 * always, artifacts uploaded on success (or always, when asked). A job of a later stage
 * starts only when every earlier job passed or was allowed to fail (`when: always`
 * regardless); `manual` jobs are played at once, as an operator would, and (as in GitLab) may
 * fail unless `allow_failure: false`. `npx ozg` runs this repository's bin/ozg.js; the
 * `npm ci` before_script is not run (node_modules is this repository's).
 */
export async function runPipeline(pipeline: Pipeline, options: RunPipelineOptions): Promise<{ runs: JobRun[]; notStarted: string[] }> {
  const runs: JobRun[] = [];
  const notStarted: string[] = [];
  const artifacts: JobRun[] = [];
  let failed = false;
  for (const stage of pipeline.stages) {
    const stageRuns: JobRun[] = [];
    for (const job of pipeline.jobs.filter((j) => j.stage === stage)) {
      const nodes = job.parallel ? Array.from({ length: job.parallel }, (_, i) => i + 1) : [undefined];
      for (const node of nodes) {
        const label = node === undefined ? job.name : `${job.name} ${node}/${job.parallel}`;
        if (failed && job.when !== 'always') {
          notStarted.push(label);
          continue;
        }
        const run = await runJob(pipeline, job, { ...options, node, artifacts });
        stageRuns.push(run);
        // GitLab: a manual job may fail unless it says otherwise, and then the pipeline goes on
        if (run.code !== 0 && !(job.allow_failure ?? job.when === 'manual')) failed = true;
      }
    }
    for (const run of stageRuns) {
      const job = pipeline.jobs.find((j) => j.name === run.job)!;
      if (run.code === 0 || job.artifacts?.when === 'always') artifacts.push(run);
    }
    runs.push(...stageRuns);
  }
  return { runs, notStarted };
}

/** One job (one node of a parallel job) in a fresh checkout with the given jobs' artifacts. */
export async function runJob(
  pipeline: Pipeline,
  job: PipelineJob,
  options: RunPipelineOptions & { node?: number; artifacts: JobRun[] },
): Promise<JobRun> {
  const dir = await mkdtemp(path.join(options.workDir, `${job.name}-${options.node ?? 0}-`));
  await cp(options.checkout, dir, { recursive: true });
  for (const from of options.artifacts) await copyArtifacts(pipeline, from, dir);
  const env: Record<string, string | undefined> = { ...process.env, CI: 'true', NO_COLOR: '1', ...pipeline.variables, ...options.env };
  delete env.CI_NODE_INDEX;
  delete env.CI_NODE_TOTAL;
  if (options.node !== undefined) Object.assign(env, { CI_NODE_INDEX: String(options.node), CI_NODE_TOTAL: String(job.parallel) });
  const run: JobRun = { job: job.name, ...(options.node !== undefined ? { node: options.node } : {}), dir, code: 0, lines: [] };
  for (const line of job.script) {
    const result = await runLine(line, dir, env);
    run.lines.push(result);
    if (result.code !== 0) {
      run.code = result.code;
      run.failedLine = line;
      break;
    }
  }
  for (const line of job.after_script ?? []) run.lines.push(await runLine(line, dir, env));
  return run;
}

/** An earlier job's artifact paths (files or folders, relative to its checkout) into this checkout. */
async function copyArtifacts(pipeline: Pipeline, from: JobRun, to: string): Promise<void> {
  const job = pipeline.jobs.find((j) => j.name === from.job)!;
  for (const artifact of job.artifacts?.paths ?? []) {
    const source = path.join(from.dir, artifact);
    if (existsSync(source)) await cp(source, path.join(to, artifact), { recursive: true, force: true });
  }
}

function runLine(line: string, cwd: string, env: Record<string, string | undefined>): Promise<{ line: string; code: number; stdout: string; stderr: string }> {
  if (!/^npx ozg |^mkdir /.test(line)) throw new Error(`README pipeline line not simulated: ${line}`);
  const command = line.replace(/\bnpx ozg\b/g, `${JSON.stringify(process.execPath)} ${JSON.stringify(ozgBin)}`);
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ line, code: code ?? 1, stdout, stderr }));
  });
}

/** Every `ledger.jsonl` below a folder (a job's `shards/`). */
export async function listLedgers(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('ledger.jsonl')).map((e) => path.join(dir, e)).sort();
}

export function tempWorkDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'ozg-pipeline-'));
}
