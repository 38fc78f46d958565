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
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { localInventoryHead, repoRoot, runMeasured, writeExitHook } from './measure-ozg.mjs';

const templates = path.join(repoRoot, 'test', 'fixtures', 'e2e', 'gate', 'templates');

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    rollout: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
  },
});


async function main() {
  if (!existsSync(path.join(repoRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const work = await mkdtemp(path.join(os.tmpdir(), 'ozg-bench-plan-'));
  const hook = await writeExitHook(work);
  try {
    console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

    const sites = Number(args.sites);
    const planDir = await writeProject(path.join(work, 'plan'), sites);
    console.log(`\nozg plan, ${sites} sites × test+prod = ${sites * 2} targets, nothing deployed (expect exit 10)`);
    for (let run = 1; run <= Number(args.runs); run++) {
      report(`  run ${run}`, await runMeasured(['plan', '--json'], { cwd: planDir, hook, work }));
    }
    report('  validate', await runMeasured(['validate', '--json'], { cwd: planDir, hook, work }));

    const rolloutSites = Number(args.rollout);
    if (rolloutSites > 0) {
      const rolloutDir = await writeProject(path.join(work, 'rollout'), rolloutSites);
      console.log(`\nlocal rollout, ${rolloutSites} sites × test+prod (render, apply, smoke; expect exit 0)`);
      const deploy = await runMeasured(['deploy', '--json', '--yes'], { cwd: rolloutDir, hook, work });
      report('  deploy', deploy, summarizeDeploy(deploy.stdout));
      report('  plan afterwards (expect exit 0)', await runMeasured(['plan', '--json'], { cwd: rolloutDir, hook, work }));
      report('  deploy again (all unchanged)', await runMeasured(['deploy', '--json', '--yes'], { cwd: rolloutDir, hook, work }));
    }
    if (args.keep) console.log(`\nkept ${work}`);
  } finally {
    if (!args.keep) await rm(work, { recursive: true, force: true });
  }
}

/** A project like a fleet's: one local data center, every site on probe 1.0.0. */
async function writeProject(dir, sites) {
  await cp(templates, path.join(dir, 'templates'), { recursive: true });
  const lines = localInventoryHead();
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
