#!/usr/bin/env node
/**
 * `npm run bench`: every part of the benchmark in one run, each part printing its own tables as
 * it goes, then ONE summary, "Issue 14": every row of the issue's table with the measured value,
 * the goal and ✔/✘, the Germany-scale projection from the measured per-target costs (floor, ozg,
 * Ansible, each labelled with the run it comes from), and the load average at the start and end.
 * Not a test: it asserts nothing about time; it exits 1 when a part failed (its rows then say so).
 *
 *   npm run bench                                   # everything, including 1,000 sshd hosts (~20–30 min)
 *   npm run bench -- --quick                        # scaled down: 110 sites, 20 sshd hosts, no 1,000-host part
 *   npm run bench -- --skip sshd-1000,ansible       # leave parts out (names below)
 *   npm run bench -- --sites 25 --parallel 16 --blob-mb 10 --cpu-prof DIR --keep   # passed to the sshd part
 *
 * Parts: startup (bench/startup.mjs), germany (bench/germany-scale.mjs), plan-1000
 * (bench/plan-1000.mjs), local-rollout (bench/local-rollout.mjs), report (bench/report.mjs: issue 16's
 * 11,000-site fleet report, the command and the page in chromium), sshd-100 (bench/run.ts at 50 sites,
 * with `ansible` and the artefact `store` part), sshd-1000 (bench/run.ts at 500 sites, floor and
 * ozg only). Needs `npm run build && tsc -p bench/tsconfig.json` first (`npm run bench` does both).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PARTS = ['startup', 'germany', 'plan-1000', 'local-rollout', 'report', 'sshd-100', 'ansible', 'store', 'sshd-1000'];
/** ~11,000 German municipalities, each with a test and a prod target */
const GERMANY_TARGETS = 22_000;
const SHARDS = [1, 4, 16];
/** "flat" per-target cost from 100 to 1,000 hosts: at most this much growth */
const FLAT_TOLERANCE = 1.1;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    skip: { type: 'string', multiple: true, default: [] },
    'skip-ansible': { type: 'boolean', default: false },
    sites: { type: 'string' },
    parallel: { type: 'string' },
    'blob-mb': { type: 'string' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--skip ${PARTS.join(',')}] [--skip-ansible] [--sites N] [--parallel N] [--blob-mb N] [--cpu-prof DIR] [--keep]`);
  process.exit(0);
}

const skip = new Set(args.skip.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
for (const name of skip) if (!PARTS.includes(name)) throw new Error(`--skip ${name}: unknown part; parts are ${PARTS.join(', ')}`);
if (args['skip-ansible']) skip.add('ansible');
if (args.quick) skip.add('sshd-1000');

const quick = args.quick;
const sites100 = args.sites ?? (quick ? '10' : '50');
const children = new Set();

/** Runs `node <args>` with stdout and stderr passed through (each part prints its own tables). */
function runPart(name, nodeArgs) {
  process.stderr.write(`\nbench: ── ${name}: node ${nodeArgs.map((a) => (a.startsWith(`${root}/`) ? path.relative(root, a) : a)).join(' ')}\n`);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: root, stdio: 'inherit' });
    children.add(child);
    child.once('error', (error) => {
      children.delete(child);
      resolve({ ok: false, why: error.message, wallMs: performance.now() - started });
    });
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ ok: code === 0, why: code === 0 ? undefined : `exit ${signal ?? code}`, wallMs: performance.now() - started });
    });
  });
}

async function readJson(file) {
  return JSON.parse(await readFile(file, 'utf8'));
}

async function main() {
  if (!existsSync(path.join(root, 'dist', 'cli.js')) || !existsSync(path.join(root, 'dist-bench', 'bench', 'run.js'))) {
    throw new Error('dist/ or dist-bench/ is missing: run `npm run build && npx tsc -p bench/tsconfig.json` first (`npm run bench` does)');
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'ozg-bench-all-'));
  const loadStart = os.loadavg();
  const startedAt = new Date();
  const results = {};
  const failures = [];
  const part = async (name, nodeArgs, jsonFile) => {
    if (skip.has(name)) return;
    const run = await runPart(name, nodeArgs);
    if (!run.ok) failures.push(`${name} (${run.why})`);
    results[name] = { ...run, figures: jsonFile && existsSync(jsonFile) ? await readJson(jsonFile) : undefined };
  };
  const json = (name) => path.join(work, `${name}.json`);
  const sshdArgs = (sites, extra) => [
    path.join(root, 'dist-bench', 'bench', 'run.js'),
    '--sites',
    sites,
    ...(args.parallel ? ['--parallel', args.parallel] : []),
    ...(args['cpu-prof'] ? ['--cpu-prof', args['cpu-prof']] : []),
    ...(args.keep ? ['--keep'] : []),
    ...extra,
  ];
  try {
    await part('startup', [path.join(root, 'bench', 'startup.mjs'), '--json-out', json('startup'), ...(quick ? ['--startup-runs', '3'] : [])], json('startup'));
    await part('germany', [path.join(root, 'bench', 'germany-scale.mjs'), '--json-out', json('germany'), ...(quick ? ['--sites', '110'] : [])], json('germany'));
    await part('plan-1000', [path.join(root, 'bench', 'plan-1000.mjs'), ...(quick ? ['--sites', '100', '--runs', '1', '--rollout', '20'] : [])]);
    await part('local-rollout', [path.join(root, 'bench', 'local-rollout.mjs'), ...(quick ? ['--sites', '20'] : [])]);
    await part('report', [path.join(root, 'bench', 'report.mjs'), '--json-out', json('report'), ...(quick ? ['--sites', '500', '--runs', '1'] : [])], json('report'));
    await part(
      'sshd-100',
      sshdArgs(sites100, [
        '--json-out',
        json('sshd-100'),
        ...(skip.has('ansible') ? ['--skip-ansible'] : []),
        ...(skip.has('store') ? ['--skip-store'] : []),
        ...(args['blob-mb'] || quick ? ['--blob-mb', args['blob-mb'] || '5'] : []),
      ]),
      json('sshd-100'),
    );
    await part('sshd-1000', sshdArgs('500', ['--skip-ansible', '--skip-store', '--json-out', json('sshd-1000')]), json('sshd-1000'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  printSummary({ results, loadStart, loadEnd: os.loadavg(), startedAt, failures });
  return failures.length === 0 ? 0 : 1;
}

// ---------------------------------------------------------------- summary

const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (x) => `${x.toFixed(2)}×`;
const tick = (met) => (met === undefined ? '–' : met ? '✔' : '✘');
const load = (l) => l.map((v) => v.toFixed(1)).join(' / ');

function duration(ms) {
  const minutes = ms / 60_000;
  if (minutes >= 90) return `${(minutes / 60).toFixed(1)} h`;
  return minutes >= 1 ? `${minutes.toFixed(1)} min` : `${(ms / 1000).toFixed(0)} s`;
}

/** "skipped" or "FAILED (exit 1)" for a part without figures */
function missing(results, name) {
  const r = results[name];
  if (!r) return skip.has(name) ? 'skipped' : 'not run';
  return r.ok ? 'no figures' : `FAILED (${r.why})`;
}

function startupRows(results) {
  const f = results.startup?.figures;
  if (!f) {
    const why = missing(results, 'startup');
    return [
      ['`ozg --version`, CPU vs `node -e 0`', why, '≤ 1.2×', '–'],
      ['`ozg history` on the example (8 records), CPU', why, '≤ 0.35 s', '–'],
      ['no-op `ozg deploy` of the example, CPU', why, '≤ 0.6 s', '–'],
    ];
  }
  const c = f.cpuSeconds;
  const version = c['ozg --version'] / c['node -e 0'];
  const history = c['ozg history (8 records)'];
  const deploy = c['ozg deploy (no-op)'];
  return [
    [`\`ozg --version\`, CPU vs \`node -e 0\` (median of ${f.runs})`, `${ratio(version)} (${c['ozg --version'].toFixed(3)} s vs ${c['node -e 0'].toFixed(3)} s)`, '≤ 1.2×', tick(version <= 1.2)],
    ['`ozg history` on the example (8 records), CPU', `${history.toFixed(2)} s`, '≤ 0.35 s', tick(history <= 0.35)],
    ['no-op `ozg deploy` of the example, CPU', `${deploy.toFixed(2)} s`, '≤ 0.6 s', tick(deploy <= 0.6)],
  ];
}

function sshdRows(results) {
  const small = results['sshd-100']?.figures;
  const large = results['sshd-1000']?.figures;
  /** ozg's wall over the floor's, or why it is missing (a failed run keeps the runs before it) */
  const vsFloor = (f, run, floor) => {
    if (f?.runs[run] && f.runs[floor]) return { ratio: f.runs[run].wallMs / f.runs[floor].wallMs, text: `${sec(f.runs[run].wallMs)} vs ${sec(f.runs[floor].wallMs)}` };
    return { text: f?.failures?.length ? `FAILED: ${f.failures.join('; ')}` : 'not measured' };
  };
  const hostsLabel = (f) => `${f.hosts.toLocaleString('en')} real sshd hosts (${(f.hosts / 2).toLocaleString('en')} sites × test+prod)`;
  const shown = (v) => (v.ratio === undefined ? v.text : `${ratio(v.ratio)} (${v.text})`);
  const met = (v, goal) => (v.ratio === undefined ? '–' : tick(v.ratio <= goal));
  const rows = [];
  if (small) {
    const cold = vsFloor(small, 'ozgCold', 'floorDeploy');
    const noop = vsFloor(small, 'ozgNoop', 'floorNoop');
    rows.push([`${hostsLabel(small)}, cold, vs floor`, shown(cold), '≤ 1.4×', met(cold, 1.4)]);
    rows.push(['same, no-op rerun, vs floor', shown(noop), '≤ 1.25×', met(noop, 1.25)]);
  } else {
    rows.push(['100 real sshd hosts (50 sites × test+prod), cold, vs floor', missing(results, 'sshd-100'), '≤ 1.4×', '–']);
    rows.push(['same, no-op rerun, vs floor', missing(results, 'sshd-100'), '≤ 1.25×', '–']);
  }
  if (large) {
    const cold = vsFloor(large, 'ozgCold', 'floorDeploy');
    const noop = vsFloor(large, 'ozgNoop', 'floorNoop');
    rows.push([`${hostsLabel(large)}, cold / no-op vs floor`, `${shown(cold)} / ${shown(noop)}`, '≤ 1.4× / ≤ 1.15×', `${met(cold, 1.4)} / ${met(noop, 1.15)}`]);
  } else {
    rows.push(['1,000 real sshd hosts (500 sites × test+prod), cold / no-op vs floor', missing(results, 'sshd-1000'), '≤ 1.4× / ≤ 1.15×', '–']);
  }
  const cost = (f, run) => f?.runs[run]?.perTargetMs;
  if (cost(small, 'ozgCold') !== undefined && cost(large, 'ozgCold') !== undefined) {
    const growth = cost(large, 'ozgCold') / cost(small, 'ozgCold');
    const floor = cost(small, 'floorDeploy') !== undefined && cost(large, 'floorDeploy') !== undefined ? `; floor ${cost(small, 'floorDeploy').toFixed(0)} → ${cost(large, 'floorDeploy').toFixed(0)} ms` : '';
    const noop =
      cost(small, 'ozgNoop') !== undefined && cost(large, 'ozgNoop') !== undefined ? `; no-op ${cost(small, 'ozgNoop').toFixed(0)} → ${cost(large, 'ozgNoop').toFixed(0)} ms` : '';
    rows.push([
      `per-target cost, ${small.hosts} → ${large.hosts.toLocaleString('en')} hosts (ozg cold; no-op and floor deploy beside it)`,
      `${cost(small, 'ozgCold').toFixed(0)} → ${cost(large, 'ozgCold').toFixed(0)} ms (${ratio(growth)})${noop}${floor}`,
      `flat (≤ ${ratio(FLAT_TOLERANCE)})`,
      tick(growth <= FLAT_TOLERANCE),
    ]);
  } else {
    rows.push(['per-target cost, 100 → 1,000 hosts', `needs ozg cold on both (100: ${small ? 'ok' : missing(results, 'sshd-100')}; 1,000: ${large ? 'ok' : missing(results, 'sshd-1000')})`, 'flat', '–']);
  }
  return rows;
}

function germanyRows(results) {
  const f = results.germany?.figures;
  const goals = { validate: { wallS: 5, rssMB: 300 }, plan: { wallS: 6, rssMB: 300 } };
  const full = f?.sites === 11000;
  return ['validate', 'plan'].map((command) => {
    const label =
      command === 'validate'
        ? `\`validate\` ${f ? f.sites.toLocaleString('en') : '11,000'} sites × 1–2 procedures (${f ? f.bundles.toLocaleString('en') : '29,332'} bundles), local DC`
        : '`plan` same inventory';
    const goal = `≤ ${goals[command].wallS} s, ≤ ${goals[command].rssMB} MB`;
    const run = f?.runs.find((r) => r.command === command);
    if (!run) return [label, missing(results, 'germany'), goal, '–'];
    if (!run.ok) return [label, `FAILED (exit ${run.exitCode})`, goal, '✘'];
    const value = `${sec(run.wallMs)}, ${run.maxRssMB} MB (CPU ${sec(run.cpuMs)})`;
    const met = run.wallMs / 1000 <= goals[command].wallS && run.maxRssMB <= goals[command].rssMB;
    return [label, value, goal, full ? tick(met) : '– (scaled down)'];
  });
}

/** the per-target cost of each run, from the largest run that measured it */
function projectionRows(results) {
  const small = results['sshd-100']?.figures;
  const large = results['sshd-1000']?.figures;
  const runs = [
    ['floor: deploy (1 conn + 1 exec)', 'floorDeploy'],
    ['floor: no-op check', 'floorNoop'],
    ['ozg deploy, cold', 'ozgCold'],
    ['ozg deploy, no-op', 'ozgNoop'],
    ['ansible-playbook, cold', 'ansibleCold'],
    ['ansible-playbook, no-op', 'ansibleNoop'],
  ];
  return runs.map(([label, key]) => {
    const source = [large, small].find((f) => f?.runs[key]);
    if (!source) {
      const why = key.startsWith('ansible') ? (small?.ansibleNote?.split('\n')[0] ?? missing(results, 'sshd-100')) : missing(results, 'sshd-100');
      return [label, 'not measured', why, ...SHARDS.map(() => '–')];
    }
    const perTarget = source.runs[key].perTargetMs;
    return [label, `${perTarget.toFixed(0)} ms`, `${source.hosts.toLocaleString('en')} hosts, parallelism ${source.parallel}`, ...SHARDS.map((n) => duration((perTarget * GERMANY_TARGETS) / n))];
  });
}

function markdown(header, rows) {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function printSummary({ results, loadStart, loadEnd, startedAt, failures }) {
  const out = (text = '') => process.stdout.write(`${text}\n`);
  out('');
  out('='.repeat(100));
  out(`Issue 14: one run of \`npm run bench\`${quick ? ' --quick (SCALED DOWN: the goals are for the full sizes)' : ''}, ${startedAt.toISOString().slice(0, 16)}Z`);
  out(`${os.cpus().length} CPUs, Node ${process.version}; load average (1 / 5 / 15 min): ${load(loadStart)} at the start, ${load(loadEnd)} at the end`);
  out('');
  out(markdown(['work', 'measured', 'goal', 'met'], [...startupRows(results), ...sshdRows(results), ...germanyRows(results)]));
  const rss = ['sshd-100', 'sshd-1000']
    .map((name) => results[name]?.figures)
    .filter(Boolean)
    .map((f) => {
      const peak = (...keys) => Math.round(Math.max(...keys.map((k) => f.runs[k]?.rssKb ?? 0)) / 1024);
      return `${f.hosts} hosts ${peak('ozgCold', 'ozgNoop')} MB (floor ${peak('floorDeploy', 'floorNoop')} MB)`;
    });
  if (rss.length > 0) out(`\nozg's peak RSS (deploy process, cold or no-op): ${rss.join('; ')}`);
  out('');
  out(`Germany scale, PROJECTED (arithmetic, not measured): ~11,000 municipalities × test+prod = ${GERMANY_TARGETS.toLocaleString('en')} targets`);
  out(`per-target cost = wall / targets of the run named; projected wall = per-target cost × ${GERMANY_TARGETS.toLocaleString('en')} / shards, each shard a machine like this one at the same parallelism`);
  out('');
  out(markdown(['run', 'per-target cost', 'measured on', ...SHARDS.map((n) => `${n} shard${n === 1 ? '' : 's'}`)], projectionRows(results)));
  const ansible = results['sshd-100']?.figures;
  if (ansible?.runs.ansibleCold) {
    const thousand = (ansible.runs.ansibleCold.perTargetMs + (ansible.runs.ansibleNoop?.perTargetMs ?? 0)) * 1000;
    out(`\nAnsible is measured at ${ansible.hosts} hosts only: at its measured per-target cost, cold + no-op on 1,000 hosts would take ~${duration(thousand)} more; its projection assumes that cost stays flat.`);
  }
  printReportTables(results, out);
  if (failures.length > 0) out(`\nFAILED parts: ${failures.join(', ')}`);
}

/** Issue 16's must-show 3: the 11,000-site report's size and render time, as bench/report.mjs measured them. */
function printReportTables(results, out) {
  const f = results.report?.figures;
  out('');
  out('Issue 16: the fleet report at scale (bench/report.mjs)');
  if (!f) return out(missing(results, 'report'));
  for (const table of f.tables) {
    out('');
    out(table.title);
    out('');
    out(markdown(['work', 'measured', 'goal'], table.rows.map(([what, value, goal]) => [what.trim(), value, goal || ''])));
  }
}

// Ctrl-C reaches every part through the terminal's process group; a SIGTERM sent to this
// process alone is passed on, once, to the running part, which stops its own sshd hosts.
process.once('SIGINT', () => (process.exitCode = 130));
process.once('SIGTERM', () => {
  for (const child of children) if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
  process.exitCode = 143;
});

main().then(
  (code) => (process.exitCode ??= code),
  (error) => {
    process.stderr.write(`bench: failed: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
