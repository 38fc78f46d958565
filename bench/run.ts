/**
 * `npm run bench`: deploy one procedure (~220 KB release, per-site config, install hook,
 * release switch, one smoke command) to N sites × test+prod real sshd hosts, then again as
 * a no-op, and compare with the floor measured on the same hosts in the same run (one
 * verified connection + one exec per host) and, when installed, with Ansible.
 *
 *   npm run bench -- --sites 50 --parallel 16 [--skip-ansible] [--cpu-prof DIR] [--keep]
 *   npm run bench -- --store-only --blob-mb 50     # only the artefact + blob store part
 *   node dist-bench/bench/run.js --sites 500 --skip-ansible --skip-store --json-out F   # 1,000 hosts, figures as JSON
 *
 * Then (store.ts) a 50 MB artefact to every host through the VM driver's blob store, against
 * its floor (the same bytes streamed by plain ssh + cat, same parallelism), and a config-only
 * upgrade: bytes sent per target and peak memory.
 *
 * --cpu-prof writes V8 CPU profiles of the floor and ozg runs; --keep keeps the work dir (project,
 * ledger, Ansible files and log) for a look afterwards.
 *
 * Needs root and openssh-server (see test/helpers/sshd-harness.ts). Prints, never asserts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ANSIBLE_INSTALL_STEP, findAnsiblePlaybook, prepareAnsible } from './ansible.js';
import { PROCEDURE, writeBenchProject, type BenchProject } from './fixture.js';
import type { FloorRequest, FloorResult } from './floor.js';
import type { OzgPhaseRequest, OzgPhaseResult } from './ozg-phase.js';
import { runStoreBench } from './store.js';
import { VM_DEPLOY_ROOT, startSshHosts, type SshHosts } from '../test/helpers/sshd-harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Row {
  name: string;
  wallMs: number;
  /** CPU of the client process (ozg, floor), not of sshd */
  cpuMs?: number;
  floorMs?: number;
  roundTrips?: string;
  connections?: string;
  rssKb?: number;
  note?: string;
}

const children = new Set<ChildProcess>();
let vms: SshHosts | undefined;
let workDir: string | undefined;
let keepWorkDir = false;
const loadAverages: number[] = [];
let cleaning: Promise<void> | undefined;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sites: { type: 'string', default: '50' },
      parallel: { type: 'string', default: '16' },
      'skip-ansible': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'blob-mb': { type: 'string', default: '50' },
      'store-only': { type: 'boolean', default: false },
      'skip-store': { type: 'boolean', default: false },
      /** the figures as one JSON object (SshdBenchFigures), for bench/all.mjs */
      'json-out': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench -- [--sites N (default 50)] [--parallel N (default 16)] [--skip-ansible] [--cpu-prof DIR] [--keep] [--blob-mb N (default 50)] [--store-only] [--skip-store] [--json-out FILE]');
    return 0;
  }
  const sites = positiveInteger(values.sites, '--sites');
  const parallel = positiveInteger(values.parallel, '--parallel');
  const blobMb = positiveInteger(values['blob-mb'], '--blob-mb');
  await checkOpenFileLimit(sites * 2);
  keepWorkDir = values.keep;
  const cpuProfDir = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined;
  const repoRoot = path.resolve(here, '..', '..');
  if (!existsSync(path.join(repoRoot, 'bench', 'fixtures'))) throw new Error(`bench/fixtures not found under ${repoRoot}`);
  if (!existsSync(path.join(repoRoot, 'dist', 'workspace', 'workspace.js'))) throw new Error('dist/ is missing: run `npm run build` first (`npm run bench` does)');

  log(`ozg bench: ${sites} sites × test+prod = ${sites * 2} sshd hosts, parallelism ${parallel}, Node ${process.version}, ${os.cpus().length} CPUs`);
  warnIfBusy('before');
  let t = performance.now();
  vms = await startSshHosts(sites * 2, { logLevel: 'INFO' });
  log(`started ${vms.hosts.length} sshd hosts in ${seconds(performance.now() - t)}`);
  workDir = await mkdtemp(path.join(os.tmpdir(), 'ozg-bench-'));
  const profile = (name: string) => (cpuProfDir ? { dir: cpuProfDir, name: `${name}.cpuprofile` } : undefined);
  const store = () => runStoreBench({ vms: vms!, workDir: workDir!, parallel, blobMb, runChild: (script, request, name) => runChild(script, request, profile(name)), log, out });
  if (values['store-only']) {
    await store();
    return 0;
  }
  const project = await writeBenchProject({ repoRoot, dir: workDir, sites, concurrency: parallel, vms });
  log(`release: ${kb(project.archiveBytes)} tar (asset ${kb((await readFile(project.assetFile)).length)}), project in ${workDir}`);

  const floorRequest = (mode: FloorRequest['mode']): FloorRequest => ({
    mode,
    hosts: vms!.hosts.map((h) => ({ address: h.address, port: h.port })),
    user: vms!.user,
    identityFile: vms!.identityFile,
    knownHostsFile: vms!.knownHostsFile,
    archiveFile: project.archiveFile,
    dir: `${VM_DEPLOY_ROOT}/floor`,
    parallel,
  });
  // what is measured so far goes to --json-out after every run, so a later failure keeps it
  const figures: SshdBenchFigures = { hosts: vms.hosts.length, parallel, loadAverage: loadAverages, runs: {}, ansibleNote: '', failures: [] };
  const measured = async (key: string, wallMs: number, cpuMs: number, rssKb: number): Promise<void> => {
    figures.runs[key] = { wallMs, cpuMs, rssKb, perTargetMs: wallMs / vms!.hosts.length };
    if (values['json-out']) await writeFile(values['json-out'], JSON.stringify(figures, null, 2) + '\n');
  };
  const failed = async (error: Error): Promise<Error> => {
    figures.failures.push(error.message.split('\n').slice(0, 2).join(' '));
    if (values['json-out']) await writeFile(values['json-out'], JSON.stringify(figures, null, 2) + '\n');
    await printHostLogs(vms!, error.message);
    return error;
  };
  const floorDeploy = await runChild<FloorResult>('floor.js', floorRequest('deploy'), profile('floor-deploy'));
  checkFloor('deploy', floorDeploy);
  await measured('floorDeploy', floorDeploy.wallMs, floorDeploy.cpuMs, floorDeploy.maxRssKb);
  log(`floor deploy:   ${seconds(floorDeploy.wallMs)}`);
  const floorNoop = await runChild<FloorResult>('floor.js', floorRequest('noop'), profile('floor-noop'));
  checkFloor('no-op check', floorNoop);
  await measured('floorNoop', floorNoop.wallMs, floorNoop.cpuMs, floorNoop.maxRssKb);
  log(`floor no-op:    ${seconds(floorNoop.wallMs)}`);

  const ozgRequest: OzgPhaseRequest = { cwd: workDir, inventoryPath: project.inventoryPath, concurrency: parallel };
  const cold = await runChild<OzgPhaseResult>('ozg-phase.js', ozgRequest, profile('ozg-cold'));
  await checkOzg('cold deploy', cold, 'ok', sites).catch(async (error: Error) => Promise.reject(await failed(error)));
  await checkDeployed(vms, project);
  await measured('ozgCold', cold.wallMs, cold.cpuUserMs + cold.cpuSystemMs, cold.maxRssKb);
  log(`ozg cold:       ${seconds(cold.wallMs)}`);
  const noop = await runChild<OzgPhaseResult>('ozg-phase.js', ozgRequest, profile('ozg-noop'));
  await checkOzg('no-op', noop, 'unchanged', sites).catch(async (error: Error) => Promise.reject(await failed(error)));
  await measured('ozgNoop', noop.wallMs, noop.cpuUserMs + noop.cpuSystemMs, noop.maxRssKb);
  log(`ozg no-op:      ${seconds(noop.wallMs)}`);

  const rows: Row[] = [
    { name: 'floor: deploy (1 conn + 1 exec)', wallMs: floorDeploy.wallMs, cpuMs: floorDeploy.cpuMs, floorMs: floorDeploy.wallMs, roundTrips: '1', connections: '1', rssKb: floorDeploy.maxRssKb },
    { name: 'ozg deploy, cold', wallMs: cold.wallMs, cpuMs: cold.cpuUserMs + cold.cpuSystemMs, floorMs: floorDeploy.wallMs, roundTrips: describeExecs(cold), connections: describeSpread(cold.transports.map((s) => s.connects)), rssKb: cold.maxRssKb },
    { name: 'floor: no-op check (1 conn + 1 exec)', wallMs: floorNoop.wallMs, cpuMs: floorNoop.cpuMs, floorMs: floorNoop.wallMs, roundTrips: '1', connections: '1', rssKb: floorNoop.maxRssKb },
    { name: 'ozg deploy, no-op', wallMs: noop.wallMs, cpuMs: noop.cpuUserMs + noop.cpuSystemMs, floorMs: floorNoop.wallMs, roundTrips: describeExecs(noop), connections: describeSpread(noop.transports.map((s) => s.connects)), rssKb: noop.maxRssKb },
  ];

  let exitCode = 0;
  let ansibleNote: string;
  const playbook = values['skip-ansible'] ? undefined : await findAnsiblePlaybook();
  if (values['skip-ansible']) {
    ansibleNote = 'ansible: skipped (--skip-ansible)';
  } else if (!playbook) {
    ansibleNote = `ansible: not installed (no ansible-playbook on PATH), comparison skipped; to include it: ${ANSIBLE_INSTALL_STEP}`;
  } else {
    const ansible = await prepareAnsible({ dir: path.join(workDir, 'ansible'), vms, siteNames: project.siteNames, assetFile: project.assetFile, forks: parallel, children });
    ansibleNote = `ansible: ${playbook} (forks ${parallel}, pipelining, ControlPersist 60s, no fact gathering); playbook and log: ${path.join(workDir, 'ansible')} (with --keep)`;
    try {
      for (const [label, floorMs] of [
        ['cold', floorDeploy.wallMs],
        ['no-op', floorNoop.wallMs],
      ] as const) {
        log(`ansible ${label} run… (every task is a Python module run per host: minutes, not seconds; --skip-ansible leaves it out)`);
        const run = await ansible.run(label);
        if (!run.ok) {
          // ozg's numbers stand on their own: report the comparison's failure, exit non-zero
          ansibleNote = `ansible ${label} run FAILED, comparison incomplete:\n${run.summary}`;
          exitCode = 1;
          break;
        }
        log(`ansible ${label}: ${seconds(run.wallMs)}`);
        rows.push({ name: `ansible-playbook, ${label}`, wallMs: run.wallMs, floorMs, note: label === 'no-op' ? 'ControlPersist masters of the cold run reused' : undefined });
      }
    } finally {
      await ansible.closeMasters();
    }
  }

  warnIfBusy('after');
  printReport({ rows, cold, noop, parallel, hosts: vms.hosts.length, ansibleNote, project, floors: [floorDeploy, floorNoop] });
  if (values['json-out']) await writeFigures(values['json-out'], { rows, hosts: vms.hosts.length, parallel, ansibleNote, failures: figures.failures });
  if (!values['skip-store']) await store();
  printProjection({ rows, parallel, hosts: vms.hosts.length });
  return exitCode;
}

/** What bench/all.mjs reads from `--json-out`: this run's wall times, CPU and memory. */
export interface SshdBenchFigures {
  hosts: number;
  parallel: number;
  /** 1-minute load average before and after the floor, ozg and Ansible runs */
  loadAverage: number[];
  /** keyed floorDeploy, floorNoop, ozgCold, ozgNoop, ansibleCold, ansibleNoop (those measured) */
  runs: Record<string, { wallMs: number; cpuMs?: number; rssKb?: number; perTargetMs: number }>;
  ansibleNote: string;
  /** why a run is missing: its check failed (first lines of the error) */
  failures: string[];
}

const FIGURE_KEYS: Record<string, string> = {
  'floor: deploy (1 conn + 1 exec)': 'floorDeploy',
  'floor: no-op check (1 conn + 1 exec)': 'floorNoop',
  'ozg deploy, cold': 'ozgCold',
  'ozg deploy, no-op': 'ozgNoop',
  'ansible-playbook, cold': 'ansibleCold',
  'ansible-playbook, no-op': 'ansibleNoop',
};

async function writeFigures(file: string, report: { rows: Row[]; hosts: number; parallel: number; ansibleNote: string; failures: string[] }): Promise<void> {
  const runs: SshdBenchFigures['runs'] = {};
  for (const row of report.rows) {
    const key = FIGURE_KEYS[row.name];
    if (key) runs[key] = { wallMs: row.wallMs, cpuMs: row.cpuMs, rssKb: row.rssKb, perTargetMs: row.wallMs / report.hosts };
  }
  const figures: SshdBenchFigures = { hosts: report.hosts, parallel: report.parallel, loadAverage: [...loadAverages], runs, ansibleNote: report.ansibleNote, failures: report.failures };
  await writeFile(file, JSON.stringify(figures, null, 2) + '\n');
}

/**
 * Node cannot raise its own file-descriptor limit (no setrlimit): every sshd's pipe and
 * namespace handle, and every connection ozg holds, count against it. Fail before starting
 * hosts rather than with EMFILE halfway through.
 */
async function checkOpenFileLimit(hosts: number): Promise<void> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  const needed = hosts * 4 + 256;
  if (Number.isFinite(soft) && soft < needed) {
    throw new Error(`${hosts} hosts need about ${needed} open files, the limit is ${soft}: raise it first (\`ulimit -n ${needed}\` in the shell; \`npm run bench\` does)`);
  }
}

/** Everything here competes for the same CPUs: other work on the machine skews every number. */
function warnIfBusy(when: string): void {
  const [one] = os.loadavg();
  loadAverages.push(one!);
  if (one! > os.cpus().length) log(`warning: load average ${one!.toFixed(1)} on ${os.cpus().length} CPUs ${when} the runs: other work competes with sshd and ozg, so wall times are inflated`);
}

function printReport(report: { rows: Row[]; cold: OzgPhaseResult; noop: OzgPhaseResult; parallel: number; hosts: number; ansibleNote: string; project: BenchProject; floors?: [FloorResult, FloorResult] }): void {
  const { rows, cold, noop } = report;
  const table = [
    ['run', 'wall', 'vs floor', 'client CPU', 'round trips/target', 'conns/target', 'peak RSS'],
    ...rows.map((r) => [
      r.name,
      seconds(r.wallMs),
      r.floorMs ? `${(r.wallMs / r.floorMs).toFixed(2)}×` : '',
      r.cpuMs ? seconds(r.cpuMs) : '',
      r.roundTrips ?? '',
      r.connections ?? '',
      r.rssKb ? `${(r.rssKb / 1024).toFixed(0)} MB` : '',
      ...(r.note ? [`(${r.note})`] : []),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => row.map((cell, i) => (i === 0 || i > 6 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  out('');
  out(
    `${report.hosts} hosts (${report.hosts / 2} sites × test+prod), parallelism ${report.parallel}, release ${kb(report.project.archiveBytes)}, ` +
      `${os.cpus().length} CPUs, load average ${loadAverages.map((l) => l.toFixed(1)).join(' → ')}`,
  );
  out(line(table[0]!));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.slice(1)) out(line(row));
  out('');
  // where ozg's time went; call times are summed over concurrent calls, so compare means
  const phase = (r: OzgPhaseResult): string[] => [
    ms(r.openMs),
    ms(r.rolloutMs),
    ms(r.closeMs),
    ms(r.cpuUserMs + r.cpuSystemMs),
    describeCalls(r.calls.render),
    describeCalls(r.calls['connect+live']),
    describeCalls(r.calls.apply),
    describeCalls(r.calls.smoke),
    describeCalls(r.calls.record),
    `p50 ${r.eventLoopDelayMs.p50.toFixed(0)} ms, p99 ${r.eventLoopDelayMs.p99.toFixed(0)} ms`,
  ];
  const labels = [
    'open (imports, inventory, catalogue, lock)',
    'rollout',
    'close (SSH connections)',
    'client CPU',
    'render (incl. cached lookups)',
    'connect + marker read',
    'apply (one script)',
    'smoke',
    'ledger append',
    'event loop delay',
  ];
  const [coldCells, noopCells] = [phase(cold), phase(noop)];
  const breakdown = [['ozg breakdown', 'cold', 'no-op'], ...labels.map((label, i) => [label, coldCells[i]!, noopCells[i]!])];
  const bw = breakdown[0]!.map((_, i) => Math.max(...breakdown.map((row) => row[i]!.length)));
  for (const row of breakdown) out(row.map((cell, i) => cell.padEnd(bw[i]!)).join('  ').trimEnd());
  if (report.floors) out(describeCpuPerTarget(report.floors, cold, noop, report.hosts));
  out('');
  out(`ozg round trips per target: cold ${describeExecs(cold)} (of them smoke: ${(cold.calls.smoke.calls / cold.transports.length).toFixed(0)}), no-op ${describeExecs(noop)} (the marker read)`);
  const ratioCold = cold.wallMs / rows[0]!.wallMs;
  const ratioNoop = noop.wallMs / rows[2]!.wallMs;
  const peak = Math.max(cold.maxRssKb, noop.maxRssKb) / 1024;
  out(
    `targets (issue): ozg within 2× of the floor (~6 s cold, ~3.5 s no-op for 100 hosts): cold ${ratioCold.toFixed(2)}× ${ratioCold <= 2 ? 'met' : 'NOT met'}, ` +
      `no-op ${ratioNoop.toFixed(2)}× ${ratioNoop <= 2 ? 'met' : 'NOT met'}; peak memory under 200 MB: ${peak.toFixed(0)} MB ${peak < 200 ? 'met' : 'NOT met'}`,
  );
  out(report.ansibleNote);
}

/** ~11,000 German municipalities, each with a test and a prod target */
const GERMANY_TARGETS = 22_000;
const SHARDS = [1, 4, 16];

/**
 * Pure arithmetic, not a measurement: this run's wall time per target (at its parallelism)
 * scaled to every municipality, with the targets split evenly over CI shards, each shard
 * assumed to be a machine like this one running the same parallelism.
 */
function printProjection(report: { rows: Row[]; parallel: number; hosts: number }): void {
  const find = (name: string): Row | undefined => report.rows.find((r) => r.name === name);
  const entries: [string, Row | undefined][] = [
    ['floor: deploy', find('floor: deploy (1 conn + 1 exec)')],
    ['floor: no-op check', find('floor: no-op check (1 conn + 1 exec)')],
    ['ozg deploy, cold', find('ozg deploy, cold')],
    ['ozg deploy, no-op', find('ozg deploy, no-op')],
    ['ansible-playbook, cold', find('ansible-playbook, cold')],
    ['ansible-playbook, no-op', find('ansible-playbook, no-op')],
  ];
  const duration = (msValue: number): string => {
    const minutes = msValue / 60_000;
    return minutes >= 90 ? `${(minutes / 60).toFixed(1)} h` : minutes >= 1 ? `${minutes.toFixed(1)} min` : seconds(msValue);
  };
  const table = [
    ['run', 'per-target cost', ...SHARDS.map((n) => `${n} shard${n === 1 ? '' : 's'}`)],
    ...entries.map(([name, row]) => {
      if (!row) return [name, 'not measured', ...SHARDS.map(() => '–')];
      const perTargetMs = row.wallMs / report.hosts;
      return [name, `${perTargetMs.toFixed(0)} ms`, ...SHARDS.map((shards) => duration((perTargetMs * GERMANY_TARGETS) / shards))];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  out('');
  out(`PROJECTION (arithmetic, not measured): ~11,000 municipalities × test+prod = ${GERMANY_TARGETS.toLocaleString('en')} targets`);
  out(
    `  per-target cost = wall / targets of this run (${report.hosts} hosts, parallelism ${report.parallel}); ` +
      `projected wall = per-target cost × ${GERMANY_TARGETS.toLocaleString('en')} / shards ` +
      `(= per-target lane time × targets / parallelism / shards), each shard a machine like this one at parallelism ${report.parallel}`,
  );
  if (report.hosts < report.parallel * 4) out(`  (only ${report.hosts} hosts for parallelism ${report.parallel}: start-up and idle lanes weigh in, so this overstates; the issue's runs are 100 and 1,000 hosts)`);
  for (const row of table) out(`  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`);
}

/** Client CPU per target (issue 14): the floor's whole run, ozg's rollout without its open (start-up). */
function describeCpuPerTarget([floorDeploy, floorNoop]: [FloorResult, FloorResult], cold: OzgPhaseResult, noop: OzgPhaseResult, hosts: number): string {
  const perTarget = (ms: number): string => `${(ms / hosts).toFixed(1)} ms`;
  const floor = (r: FloorResult): string => `${perTarget(r.cpuMs)} (user ${perTarget(r.cpuUserMs)}, system ${perTarget(r.cpuSystemMs)})`;
  const ozg = (r: OzgPhaseResult): string => `${perTarget(r.cpuUserMs + r.cpuSystemMs - r.openCpuMs)} + open ${ms(r.openCpuMs)} (whole run: user ${perTarget(r.cpuUserMs)}, system ${perTarget(r.cpuSystemMs)})`;
  return `client CPU per target: floor deploy ${floor(floorDeploy)}, ozg cold ${ozg(cold)}; floor no-op ${floor(floorNoop)}, ozg no-op ${ozg(noop)}`;
}

async function runChild<T>(script: string, request: unknown, cpuProf?: { dir: string; name: string }): Promise<T> {
  const args = [...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf.dir}`, `--cpu-prof-name=${cpuProf.name}`] : []), path.join(here, script), JSON.stringify(request)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => children.delete(child));
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (code !== 0) throw new Error(`${script} exited with ${code}${text ? `: ${text}` : ''}`);
  return JSON.parse(text.split('\n').pop()!) as T;
}

function checkFloor(label: string, result: FloorResult): void {
  if (result.failures.length > 0) throw new Error(`floor ${label} failed on ${result.failures.length} host(s):\n  ${result.failures.slice(0, 5).join('\n  ')}`);
}

async function checkOzg(label: string, result: OzgPhaseResult, expected: string, sites: number): Promise<void> {
  if (!result.ok || result.sites[expected] !== sites) {
    throw new Error(`ozg ${label}: expected ${sites} sites ${expected}, got ${JSON.stringify(result.sites)} (exit ${result.exitCode})\n  ${result.errors.join('\n  ')}`);
  }
}

/** The end of the sshd log of every host an error names (address:port), to see why it failed. */
async function printHostLogs(harness: SshHosts, message: string): Promise<void> {
  const named = harness.hosts.filter((h) => message.includes(`${h.address}:${h.port}`)).slice(0, 3);
  for (const host of named) {
    const tail = (await host.readLog()).trim().split('\n').slice(-8).join('\n  ');
    log(`sshd log of ${host.address}:${host.port} (last lines):\n  ${tail || '(empty)'}`);
  }
}

/** Every host carries the procedure's marker: the release is live there. */
async function checkDeployed(harness: SshHosts, project: BenchProject): Promise<void> {
  const missing: string[] = [];
  await Promise.all(
    harness.hosts.map(async (host, i) => {
      const site = project.siteNames[Math.floor(i / 2)]!;
      const file = path.join(host.root, site, PROCEDURE, 'release.json');
      const marker = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as { procedure?: string };
      if (marker.procedure !== PROCEDURE) missing.push(`${host.address}:${host.port} (${file})`);
    }),
  );
  if (missing.length > 0) throw new Error(`ozg reported success, but ${missing.length} host(s) carry no marker: ${missing.slice(0, 3).join(', ')}`);
}

function describeExecs(result: OzgPhaseResult): string {
  return describeSpread(result.transports.map((s) => s.execs));
}

/** "3" when every target had the same count, else "min–max (mean)". */
function describeSpread(values: number[]): string {
  if (values.length === 0) return '0';
  const min = Math.min(...values);
  const max = Math.max(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return min === max ? String(min) : `${min}–${max} (mean ${mean.toFixed(1)})`;
}

function describeCalls(t: { calls: number; totalMs: number; maxMs: number }): string {
  return t.calls === 0 ? '–' : `${t.calls}×, mean ${(t.totalMs / t.calls).toFixed(1)} ms, max ${t.maxMs.toFixed(0)} ms`;
}

async function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) if (child.pid !== undefined) safeKill(child.pid);
    await vms?.stop();
    if (workDir && keepWorkDir) log(`kept ${workDir} (--keep)`);
    else if (workDir) await rm(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

function safeKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function positiveInteger(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

const seconds = (msValue: number): string => `${(msValue / 1000).toFixed(2)} s`;
const ms = (msValue: number): string => (msValue >= 999.5 ? seconds(msValue) : `${msValue.toFixed(0)} ms`);
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;
const out = (text: string): void => void process.stdout.write(text + '\n');
const log = (text: string): void => void process.stderr.write(`bench: ${text}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every sshd and child process`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main()
  .then(
    (code) => code,
    (error: unknown) => {
      log(`failed: ${(error as Error)?.stack ?? String(error)}`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanUp().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
    process.exitCode = code;
  });
