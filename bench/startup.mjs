#!/usr/bin/env node
// Start-up cost of everyday commands (issue 14): CPU seconds (user + system) of fresh
// processes, median of N, next to `node -e 0` measured in the same loop, so the ratio holds
// on a loaded machine where wall time does not. Not a test: prints numbers, asserts nothing
// except that each command succeeded.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin/ozg.js');
const runsAt = process.argv.indexOf('--startup-runs');
const runs = (runsAt > 0 && Number(process.argv[runsAt + 1])) || 7;
// --json-out FILE: the medians as JSON too, for bench/all.mjs's summary
const jsonAt = process.argv.indexOf('--json-out');
const jsonOut = jsonAt > 0 ? process.argv[jsonAt + 1] : undefined;

/**
 * CPU seconds of one run, user + system, from wait4's rusage as /usr/bin/time reports it
 * (10 ms resolution). Short commands run `repeat` times in one sample, divided back, so a
 * 60 ms process is not measured in steps of a sixth of itself.
 */
function cpuOf(args, cwd, repeat = 1) {
  const loop = 'i=0; while [ $i -lt "$0" ]; do "$@" >/dev/null || exit $?; i=$((i+1)); done';
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S', 'sh', '-c', loop, String(repeat), process.execPath, ...args], {
    cwd,
    env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    encoding: 'utf8',
  });
  if (run.error) throw new Error(`/usr/bin/time is missing: apt-get install -y time (${run.error.message})`);
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
  const [user, system] = run.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return (user + system) / repeat;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// the example, deployed once locally: 4 sites' procedures on test and prod = 8 ledger records
const dir = mkdtempSync(path.join(os.tmpdir(), 'ozg-bench-startup-'));
try {
  cpSync(path.join(root, 'sites.example.yaml'), path.join(dir, 'sites.yaml'));
  cpSync(path.join(root, 'templates'), path.join(dir, 'templates'), { recursive: true });
  cpSync(path.join(root, 'examples'), path.join(dir, 'examples'), { recursive: true });
  const deployed = spawnSync(process.execPath, [bin, 'deploy', '--json'], { cwd: dir, env: { ...process.env, CI: 'true' }, encoding: 'utf8' });
  if (deployed.status !== 0) throw new Error(`deploy of the example failed (${deployed.status}):\n${deployed.stderr}`);

  const rows = [
    { name: 'node -e 0', args: ['-e', '0'], repeat: 10 },
    { name: 'ozg --version', args: [bin, '--version'], repeat: 10, goal: (s, floor) => ({ text: '≤ 1.2× node -e 0', value: `${(s / floor).toFixed(2)}×`, met: s / floor <= 1.2 }) },
    { name: 'ozg history (8 records)', args: [bin, 'history'], goal: (s) => ({ text: '≤ 0.35 s', met: s <= 0.35 }) },
    { name: 'ozg status (no drift)', args: [bin, 'status'] },
    { name: 'ozg plan (no change)', args: [bin, 'plan'] },
    { name: 'ozg deploy (no-op)', args: [bin, 'deploy'], goal: (s) => ({ text: '≤ 0.6 s', met: s <= 0.6 }) },
  ];
  const samples = new Map(rows.map((row) => [row.name, []]));
  // interleaved, so a change in load hits every row alike
  for (let i = 0; i < runs; i++) for (const row of rows) samples.get(row.name).push(cpuOf(row.args, dir, row.repeat));

  const floor = median(samples.get('node -e 0'));
  console.log(`start-up, CPU seconds (user + system), median of ${runs}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.cpus().length} CPUs`);
  console.log('| command | CPU | vs node -e 0 | goal | met |');
  console.log('| --- | --- | --- | --- | --- |');
  const medians = Object.fromEntries(rows.map((row) => [row.name, median(samples.get(row.name))]));
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ runs, loadAverage: os.loadavg(), cpuSeconds: medians }, null, 2) + '\n');
  for (const row of rows) {
    const cpu = medians[row.name];
    const goal = row.goal?.(cpu, floor);
    console.log(`| ${row.name} | ${cpu.toFixed(3)} s | ${(cpu / floor).toFixed(2)}× | ${goal?.text ?? ''} | ${goal ? (goal.met ? 'yes' : 'NO') : ''} |`);
  }

  // what the remaining start-up is made of: module loading, measured in one fresh process
  const breakdown = spawnSync(process.execPath, [path.join(root, 'bench/startup-breakdown.mjs')], { encoding: 'utf8' });
  if (breakdown.status !== 0) throw new Error(`bench/startup-breakdown.mjs failed:\n${breakdown.stderr}`);
  console.log('\nmodule loading a no-op deploy pays (CPU added by each import, one fresh process):');
  for (const [name, seconds] of JSON.parse(breakdown.stdout)) console.log(`  ${(seconds * 1000).toFixed(0).padStart(4)} ms  ${name}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
