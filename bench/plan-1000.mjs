#!/usr/bin/env node
/**
 * Benchmark (not a test: it asserts nothing about time): how long `ozg plan` takes over a
 * generated inventory of 1,000 local sites with one small procedure each (test + prod =
 * 2,000 targets, nothing deployed yet), and how long a local rollout of 200 sites takes
 * (render, apply, smoke in test, then prod), each with its peak memory.
 *
 *   npm run build && node bench/plan-1000.mjs [--sites 1000] [--runs 3] [--rollout 200] [--keep]
 *
 * `--rollout 0` skips the rollout. Every command runs as a fresh `node bin/ozg.js` process,
 * the way a CI job would; peak RSS and CPU come from a small exit hook loaded with --import.
 * The target for the plan: within 2 s wall time on a 2-core machine, under 250 MB.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ozgBin = path.join(repoRoot, 'bin', 'ozg.js');
const templates = path.join(repoRoot, 'test', 'fixtures', 'e2e', 'gate', 'templates');

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    rollout: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
  },
});

// Written into the temp directory: reports the child's own peak RSS and CPU time at exit.
// Main-thread CPU (from /proc, Linux only) is what bounds the wall time on an idle machine;
// process CPU adds V8's background compiler and GC threads and the libuv pool.
const EXIT_HOOK = `
import { appendFileSync, readFileSync } from 'node:fs';
process.on('exit', (code) => {
  const usage = process.resourceUsage();
  let mainThreadMs;
  try {
    const fields = readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8').split(') ')[1].split(' ');
    mainThreadMs = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {}
  const line = { code, maxRssMB: Math.round(usage.maxRSS / 1024), cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000), mainThreadMs };
  appendFileSync(process.env.OZG_BENCH_STATS, JSON.stringify(line) + '\\n');
});
`;

async function main() {
  if (!existsSync(path.join(repoRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const work = await mkdtemp(path.join(os.tmpdir(), 'ozg-bench-plan-'));
  const hook = path.join(work, 'exit-hook.mjs');
  await writeFile(hook, EXIT_HOOK);
  try {
    console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

    const sites = Number(args.sites);
    const planDir = await writeProject(path.join(work, 'plan'), sites);
    console.log(`\nozg plan, ${sites} sites × test+prod = ${sites * 2} targets, nothing deployed (expect exit 10)`);
    for (let run = 1; run <= Number(args.runs); run++) {
      report(`  run ${run}`, await runOzg(['plan', '--json'], planDir, hook, work));
    }
    report('  validate', await runOzg(['validate', '--json'], planDir, hook, work));

    const rolloutSites = Number(args.rollout);
    if (rolloutSites > 0) {
      const rolloutDir = await writeProject(path.join(work, 'rollout'), rolloutSites);
      console.log(`\nlocal rollout, ${rolloutSites} sites × test+prod (render, apply, smoke; expect exit 0)`);
      const deploy = await runOzg(['deploy', '--json', '--yes'], rolloutDir, hook, work);
      report('  deploy', deploy, summarizeDeploy(deploy.stdout));
      report('  plan afterwards (expect exit 0)', await runOzg(['plan', '--json'], rolloutDir, hook, work));
      report('  deploy again (all unchanged)', await runOzg(['deploy', '--json', '--yes'], rolloutDir, hook, work));
    }
    if (args.keep) console.log(`\nkept ${work}`);
  } finally {
    if (!args.keep) await rm(work, { recursive: true, force: true });
  }
}

/** A project like a fleet's: one local data center, every site on probe 1.0.0. */
async function writeProject(dir, sites) {
  await cp(templates, path.join(dir, 'templates'), { recursive: true });
  const lines = [
    'catalogues: [./templates]',
    'concurrency: 16',
    'dataCenters:',
    '  local-dc:',
    '    kind: local',
    '    environments:',
    '      test: { root: ./targets/test }',
    '      prod: { root: ./targets/prod }',
    'sites:',
  ];
  for (let i = 1; i <= sites; i++) {
    lines.push(
      `  site-${String(i).padStart(4, '0')}:`,
      '    dataCenter: local-dc',
      `    labels: { state: ${i % 2 === 0 ? 'SH' : 'HH'}, ring: ${i <= 10 ? 'canary' : 'main'} }`,
      '    procedures:',
      '      probe:',
      '        version: "1.0.0"',
      `        values: { message: "hello from site ${i}" }`,
    );
  }
  await writeFile(path.join(dir, 'sites.yaml'), `${lines.join('\n')}\n`);
  return dir;
}

async function runOzg(ozgArgs, cwd, hook, work) {
  const statsFile = path.join(work, `stats-${process.hrtime.bigint()}.jsonl`);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', hook, ozgBin, ...ozgArgs], {
    cwd,
    env: { ...process.env, CI: 'true', OZG_BENCH_STATS: statsFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exitCode = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const wallMs = performance.now() - started;
  const stats = existsSync(statsFile) ? JSON.parse((await readFile(statsFile, 'utf8')).trim().split('\n').pop()) : {};
  return { exitCode, wallMs, stats, stdout, stderr };
}

function summarizeDeploy(stdout) {
  const result = stdout.trim().split('\n').map((line) => JSON.parse(line)).find((event) => event.type === 'result')?.result;
  if (!result?.sites) return 'no result';
  const counts = {};
  for (const site of result.sites) counts[site.result] = (counts[site.result] ?? 0) + 1;
  return Object.entries(counts).map(([outcome, n]) => `${n} sites ${outcome}`).join(', ');
}

function report(label, { exitCode, wallMs, stats, stderr }, extra) {
  const parts = [
    `exit ${exitCode}`,
    `wall ${(wallMs / 1000).toFixed(2)} s`,
    `peak RSS ${stats.maxRssMB ?? '?'} MB`,
    `CPU ${stats.cpuMs ?? '?'} ms`,
    stats.mainThreadMs === undefined ? undefined : `main thread ${stats.mainThreadMs} ms`,
    extra,
  ];
  console.log(`${label.padEnd(34)} ${parts.filter(Boolean).join(' | ')}`);
  if (exitCode !== 0 && exitCode !== 10) console.log(stderr.split('\n').slice(-10).join('\n'));
}

await main();
