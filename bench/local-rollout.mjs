#!/usr/bin/env node
/**
 * Benchmark (not a test: it asserts nothing about time): a local-data-center rollout of N sites
 * × test+prod with `bench/fixtures/local-catalogue/local-app`, whose install hook and smoke check
 * are plain shell. The example procedures spawn `node` in their smoke checks, which dominates a
 * large local rollout; here each hook and check costs a `sh`, so what is measured is ozg's own
 * pipeline (inventory, render, apply, switch, smoke, ledger). First cold, then again as a no-op.
 *
 *   npm run build && node bench/local-rollout.mjs [--sites 200] [--large] [--keep]
 *
 * `--large` is 1,000 sites (2,000 targets). Each deploy runs as a fresh `node bin/ozg.js`
 * under /usr/bin/time (apt-get install -y time): wall time, CPU of ozg's own process (exit hook),
 * CPU including the hooks and checks it waited for (GNU time: rusage of the process and its
 * waited-for children), peak RSS of ozg, and the per-target cost (wall / targets, CPU / targets).
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { localInventoryHead, repoRoot, runMeasured, writeExitHook } from './measure-ozg.mjs';

const catalogue = path.join(repoRoot, 'bench', 'fixtures', 'local-catalogue');
const PROCEDURE = 'local-app';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '200' },
    large: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '16' },
    keep: { type: 'boolean', default: false },
  },
});


async function main() {
  if (!existsSync(path.join(repoRoot, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing: apt-get install -y time');
  const sites = args.large ? 1000 : positiveInteger(args.sites, '--sites');
  const concurrency = positiveInteger(args.concurrency, '--concurrency');
  const targets = sites * 2;
  const work = await mkdtemp(path.join(os.tmpdir(), 'ozg-bench-local-'));
  const hook = await writeExitHook(work);
  let failed = false;
  try {
    const dir = await writeProject(path.join(work, 'project'), sites, concurrency);
    console.log(`\nlocal rollout (issue 14), ${sites} sites × test+prod = ${targets} local targets, procedure ${PROCEDURE} (shell hook and smoke check), concurrency ${concurrency}`);
    console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${loadavg()} before`);
    const runs = [
      ['deploy, cold', 'ok'],
      ['deploy, no-op', 'unchanged'],
    ];
    for (const [label, expected] of runs) {
      const result = await runMeasured(['deploy', '--json', '--yes'], { cwd: dir, hook, work, timeCpu: true });
      const counts = summarizeDeploy(result.stdout);
      report(`  ${label}`, result, targets, counts);
      if (result.exitCode !== 0 || counts[expected] !== sites) {
        console.log(`  expected exit 0 and ${sites} sites ${expected}; stderr tail:\n${result.stderr.split('\n').slice(-10).join('\n')}`);
        failed = true;
        break;
      }
      if (expected === 'ok') {
        const missing = await missingMarkers(dir, sites);
        if (missing.length > 0) {
          console.log(`  ozg reported success, but ${missing.length} target(s) carry no ${PROCEDURE} marker, e.g. ${missing.slice(0, 3).join(', ')}`);
          failed = true;
          break;
        }
      }
    }
    console.log(`  load average ${loadavg()} after`);
    if (args.keep) console.log(`\nkept ${work}`);
  } finally {
    if (!args.keep) await rm(work, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

/** One local data center, every site on local-app 1.0.0; the titles repeat, as real fleets' values do. */
async function writeProject(dir, sites, concurrency) {
  await cp(catalogue, path.join(dir, 'templates'), { recursive: true });
  const lines = localInventoryHead(concurrency);
  for (let i = 1; i <= sites; i++) {
    lines.push(
      `  ${siteName(i)}:`,
      '    dataCenter: local-dc',
      `    labels: { ring: ${i <= 10 ? 'canary' : 'main'} }`,
      '    procedures:',
      `      ${PROCEDURE}:`,
      '        version: "1.0.0"',
      `        values: { title: "Bürgerservice ${i % 10}", municipalityKey: "${String(1000000 + i).padStart(8, '0')}" }`,
    );
  }
  await writeFile(path.join(dir, 'sites.yaml'), `${lines.join('\n')}\n`);
  return dir;
}

const siteName = (i) => `gemeinde-${String(i).padStart(4, '0')}`;

/** Every target holds the procedure's marker after the cold deploy (the release is live). */
async function missingMarkers(dir, sites) {
  const missing = [];
  for (let i = 1; i <= sites; i++) {
    for (const env of ['test', 'prod']) {
      const file = path.join(dir, 'targets', env, siteName(i), PROCEDURE, 'release.json');
      const marker = JSON.parse(await readFile(file, 'utf8').catch(() => '{}'));
      if (marker.procedure !== PROCEDURE) missing.push(file);
    }
  }
  return missing;
}

function summarizeDeploy(stdout) {
  const counts = {};
  let result;
  for (const line of stdout.trim().split('\n')) {
    try {
      const event = JSON.parse(line);
      if (event.type === 'result') result = event.result;
    } catch {
      // not a JSON line: ignored, the exit code and the counts tell
    }
  }
  for (const site of result?.sites ?? []) counts[site.result] = (counts[site.result] ?? 0) + 1;
  return counts;
}

function report(label, { exitCode, wallMs, stats, totalCpuMs }, targets, counts) {
  const perTarget = (msValue) => (msValue === undefined ? '?' : `${(msValue / targets).toFixed(1)} ms`);
  const parts = [
    `exit ${exitCode}`,
    `wall ${(wallMs / 1000).toFixed(2)} s`,
    `CPU ozg ${seconds(stats.cpuMs)}, with hooks/checks ${seconds(totalCpuMs)}`,
    `peak RSS ${stats.maxRssMB ?? '?'} MB`,
    `per target: wall ${perTarget(wallMs)}, CPU ${perTarget(totalCpuMs)}`,
    Object.entries(counts).map(([outcome, n]) => `${n} sites ${outcome}`).join(', ') || 'no result',
  ];
  console.log(`${label.padEnd(16)} ${parts.join(' | ')}`);
}

function positiveInteger(text, flag) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

const seconds = (msValue) => (msValue === undefined ? '?' : `${(msValue / 1000).toFixed(2)} s`);
const loadavg = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

await main();
