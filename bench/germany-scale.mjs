#!/usr/bin/env node
/**
 * Benchmark (not a test: it asserts nothing about time): `ozg validate` and `ozg plan` over a
 * generated Germany-scale inventory, 11,000 sites in one local data center, every site with
 * procedure `probe`, every third also with `notice` (1–2 procedures: 14,666 setups × test+prod
 * = 29,332 bundles), nothing deployed yet. Prints wall time, CPU and peak RSS of each command
 * (a fresh `node bin/ozg.js` process, as in CI) with the goals of issue 14 beside them.
 *
 *   npm run build && node bench/germany-scale.mjs [--sites 11000] [--runs 1] [--cpu-prof DIR] [--keep] [--json-out FILE]
 *
 * `--cpu-prof DIR` writes a V8 CPU profile of each command into DIR (open it in Chrome DevTools).
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { localInventoryHead, repoRoot, runMeasured, writeExitHook } from './measure-ozg.mjs';

const probe = path.join(repoRoot, 'test', 'fixtures', 'e2e', 'gate', 'templates', 'probe', '1.0.0');

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '11000' },
    runs: { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    // each command's figures as JSON too (one object; bench/all.mjs reads it)
    'json-out': { type: 'string' },
  },
});

/** issue 14's goals for the full 11,000 sites */
const GOALS = { validate: { wallS: 5, rssMB: 300 }, plan: { wallS: 6, rssMB: 300 } };


async function main() {
  if (!existsSync(path.join(repoRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const work = await mkdtemp(path.join(os.tmpdir(), 'ozg-bench-germany-'));
  const hook = await writeExitHook(work);
  try {
    const sites = Number(args.sites);
    const dir = await writeProject(path.join(work, 'project'), sites);
    const setups = sites + Math.floor(sites / 3);
    console.log(`\nGermany scale (issue 14), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`${sites} sites × 1–2 procedures = ${setups} setups × test+prod = ${setups * 2} bundles, local data center, nothing deployed`);
    const figures = { sites, bundles: setups * 2, loadAverage: os.loadavg(), runs: [] };
    for (let run = 1; run <= Number(args.runs); run++) {
      for (const command of ['validate', 'plan']) {
        const profile = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(args['cpu-prof']), '--cpu-prof-name', `${command}-${run}.cpuprofile`] : [];
        const result = await runMeasured([command, '--json'], { cwd: dir, hook, work, nodeArgs: profile, countStdout: true });
        report(`  ${command}${Number(args.runs) > 1 ? ` run ${run}` : ''}`, result, sites === 11000 ? GOALS[command] : undefined, command === 'plan' ? 10 : 0);
        figures.runs.push({ command, exitCode: result.exitCode, ok: result.exitCode === (command === 'plan' ? 10 : 0), wallMs: result.wallMs, cpuMs: result.stats.cpuMs, maxRssMB: result.stats.maxRssMB });
      }
    }
    if (args['json-out']) await writeFile(args['json-out'], JSON.stringify(figures, null, 2) + '\n');
    if (args.keep) console.log(`\nkept ${work}`);
  } finally {
    if (!args.keep) await rm(work, { recursive: true, force: true });
  }
}

/** One local data center, every site on probe 1.0.0, every third also on notice 1.0.0. */
async function writeProject(dir, sites) {
  await cp(probe, path.join(dir, 'templates', 'probe', '1.0.0'), { recursive: true });
  const notice = path.join(dir, 'templates', 'notice', '1.0.0');
  await cp(probe, notice, { recursive: true });
  const yaml = await readFile(path.join(notice, 'procedure.yaml'), 'utf8');
  await writeFile(path.join(notice, 'procedure.yaml'), yaml.replace(/^name: probe$/m, 'name: notice'));
  const states = ['SH', 'HH', 'NI', 'HB', 'NW', 'HE', 'RP', 'BW', 'BY', 'SL', 'BE', 'BB', 'MV', 'SN', 'ST', 'TH'];
  const lines = localInventoryHead();
  for (let i = 1; i <= sites; i++) {
    lines.push(
      `  gemeinde-${String(i).padStart(5, '0')}:`,
      '    dataCenter: local-dc',
      `    labels: { state: ${states[i % states.length]}, ring: ${i <= 50 ? 'canary' : 'main'} }`,
      '    procedures:',
      '      probe:',
      '        version: "1.0.0"',
      // a few distinct messages: many sites share their values, as real fleets do
      `        values: { message: "hello ${i % 10}" }`,
    );
    if (i % 3 === 0) lines.push('      notice:', '        version: "1.0.0"', `        values: { message: "notice for site ${i}" }`);
  }
  await writeFile(path.join(dir, 'sites.yaml'), `${lines.join('\n')}\n`);
  return dir;
}

function report(label, { exitCode, wallMs, stats, stderr }, goal, expectedExit) {
  const wall = `wall ${(wallMs / 1000).toFixed(2)} s${goal ? ` (goal ≤ ${goal.wallS} s)` : ''}`;
  const rss = `peak RSS ${stats.maxRssMB ?? '?'} MB${goal ? ` (goal ≤ ${goal.rssMB} MB)` : ''}`;
  const cpu = `CPU ${((stats.cpuMs ?? NaN) / 1000).toFixed(2)} s`;
  console.log(`${label.padEnd(12)} exit ${exitCode} | ${wall} | ${cpu} | ${rss}`);
  if (exitCode !== expectedExit) console.log(stderr.split('\n').slice(-10).join('\n'));
}

await main();
