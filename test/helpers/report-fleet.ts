/**
 * A generated fleet for `ozg report` (issue 16): a project in a temp folder with one local
 * data center, N sites labelled state/district/ring, 1–3 procedures (copies of the gate
 * fixture's `probe`, the first one holding a secret from the environment), and a ledger in
 * ozg's own line format plus the local targets' live markers, so that every site ends up in one
 * known state: up-to-date, pending, failed (smoke output in the ledger), drift (a marker that
 * differs from the ledger), held (rolled back with a hold) or not-deployed. With `unreachable`,
 * one more site lives in a vm data center on 127.0.0.1 port 1, which refuses every connection.
 *
 * The desired bundle hashes come from the real `ozg plan --json` (dist/ must be built), so an
 * up-to-date target really is up to date. Deterministic: the same options give the same fleet.
 * With `hostile`, failed smoke output and errors carry markup, terminal escapes and bidi
 * overrides; they always carry the secret value, which no report may show.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLedgerLine } from '../../src/ledger/ledger-line.js';
import type { LedgerRecord } from '../../src/ledger/types.js';
import type { ReportState } from '../../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const probeFixture = path.join(repoRoot, 'test/fixtures/e2e/gate/templates/probe/1.0.0');

export type FleetSiteKind = 'up-to-date' | 'pending' | 'failed' | 'drift' | 'held' | 'not-deployed';
export const fleetSiteKinds: readonly FleetSiteKind[] = ['up-to-date', 'pending', 'failed', 'drift', 'held', 'not-deployed'];

export interface ReportFleetOptions {
  sites: number;
  /** procedures in the catalogue, 1–3 (default 3); each site has 1 up to this many */
  procedures?: number;
  seed?: number;
  /** failed smoke output and errors with `<script>`, `</script>`, `<!--`, terminal escapes and bidi overrides */
  hostile?: boolean;
  /** one more site in a vm data center nobody answers for (state `unreachable` when read live) */
  unreachable?: boolean;
  /** the CLI to ask for desired hashes (default: this repository's bin/ozg.js) */
  ozgBin?: string;
}

export interface ReportFleet {
  dir: string;
  /** the environment every ozg run on this fleet needs (the secret) */
  env: Record<string, string>;
  /** the secret value: it must never appear in any report */
  secret: string;
  /** each generated site and the state it was made to be in */
  sites: { name: string; kind: FleetSiteKind | 'unreachable'; procedures: string[] }[];
  /** sites per worst state, as `ozg report --json` must count them (offline: drift reads as up-to-date, unreachable as not-deployed) */
  expected: { offline: Record<ReportState, number>; live: Record<ReportState, number> };
  /** the smoke output put into every failed record */
  smokeOutput: string;
}

export const FLEET_SECRET_ENV = 'REPORT_FLEET_TOKEN';
const SECRET = 'Rf7#fleet-secret-never-shown';

/** The environment ozg needs on any generated fleet (the same secret every time): to reuse a kept fleet. */
export function reportFleetEnv(): Record<string, string> {
  return { [FLEET_SECRET_ENV]: SECRET };
}

const HOSTILE = '<script>alert("pwned")</script> </script><!-- \u001b[31mred\u001b[0m \u0007bell \u202eevil\u202c <img src=x onerror=alert(1)>';
const PROCEDURES = ['probe', 'notice', 'antrag'];
const STATES = ['SH', 'HH', 'NI', 'HB', 'NW', 'HE', 'RP', 'BW', 'BY', 'SL', 'BE', 'BB', 'MV', 'SN', 'ST', 'TH'];
const OLD_VERSION = '0.9.0';
const BASE_TIME = Date.parse('2026-11-02T08:00:00.000Z');

export async function generateReportFleet(options: ReportFleetOptions): Promise<ReportFleet> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-report-fleet-'));
  const random = seededRandom(options.seed ?? 16);
  const procedureCount = Math.min(3, Math.max(1, options.procedures ?? 3));
  await writeCatalogue(dir, PROCEDURES.slice(0, procedureCount));
  const sites = planSites(options.sites, procedureCount, random);
  const lines = [
    'catalogues: [./templates]',
    'concurrency: 16',
    'dataCenters:',
    '  local-dc:',
    '    kind: local',
    '    environments:',
    '      test: { root: ./targets/test }',
    '      prod: { root: ./targets/prod }',
  ];
  if (options.unreachable) lines.push(...(await unreachableDataCenter(dir)));
  lines.push('sites:');
  for (const site of sites) lines.push(...siteYaml(site));
  if (options.unreachable) {
    sites.push({ name: 'zz-unreachable', kind: 'unreachable', procedures: ['probe'], desired: { probe: '1.1.0' }, labels: { state: 'SH', district: 'd-00', ring: 'main' } });
    lines.push(...siteYaml(sites.at(-1)!, 'vm-dc'));
  }
  await writeFile(path.join(dir, 'sites.yaml'), lines.join('\n') + '\n');
  const env = reportFleetEnv();
  const hashes = await desiredHashes(dir, env, options.ozgBin ?? path.join(repoRoot, 'bin/ozg.js'));
  const smokeOutput = `${options.hostile ? HOSTILE : 'expected 200, got 503'} token=${SECRET}`;
  await writeHistory(dir, sites, hashes, smokeOutput);
  return {
    dir,
    env,
    secret: SECRET,
    sites: sites.map(({ name, kind, procedures }) => ({ name, kind, procedures })),
    expected: expectedCounts(sites),
    smokeOutput,
  };
}

interface PlannedSite {
  name: string;
  kind: FleetSiteKind | 'unreachable';
  procedures: string[];
  desired: Record<string, string>;
  labels: Record<string, string>;
}

function planSites(count: number, procedureCount: number, random: () => number): PlannedSite[] {
  const sites: PlannedSite[] = [];
  for (let i = 1; i <= count; i++) {
    // every kind at least once when there are enough sites, then at random
    const kind = i <= fleetSiteKinds.length ? fleetSiteKinds[i - 1]! : fleetSiteKinds[Math.floor(random() * fleetSiteKinds.length)]!;
    const procedures = PROCEDURES.slice(0, 1 + Math.floor(random() * procedureCount));
    const desired = Object.fromEntries(procedures.map((p) => [p, random() < 0.7 ? '1.1.0' : '1.0.0']));
    const labels = { state: STATES[i % STATES.length]!, district: `d-${String(i % 40).padStart(2, '0')}`, ring: i <= Math.max(1, Math.ceil(count / 20)) ? 'canary' : 'main' };
    sites.push({ name: `gemeinde-${String(i).padStart(5, '0')}`, kind, procedures, desired, labels });
  }
  return sites;
}

function siteYaml(site: PlannedSite, dataCenter = 'local-dc'): string[] {
  const labels = Object.entries(site.labels).map(([k, v]) => `${k}: ${v}`).join(', ');
  const lines = [`  ${site.name}:`, `    dataCenter: ${dataCenter}`, `    labels: { ${labels} }`];
  if (dataCenter === 'vm-dc') lines.push('    hosts: { test: { host: 127.0.0.1, port: 1 }, prod: { host: 127.0.0.1, port: 1 } }');
  lines.push('    procedures:');
  for (const procedure of site.procedures) {
    lines.push(`      ${procedure}:`, `        version: "${site.desired[procedure]}"`, `        values: { message: "hello ${site.name}" }`);
    if (procedure === 'probe') lines.push('        secrets:', `          token: { env: ${FLEET_SECRET_ENV} }`);
  }
  return lines;
}

/** probe (with a secret in a config file), notice and antrag, each in 1.0.0 and 1.1.0: the gate fixture's probe. */
async function writeCatalogue(dir: string, procedures: string[]): Promise<void> {
  const yaml = await readFile(path.join(probeFixture, 'procedure.yaml'), 'utf8');
  for (const name of procedures) {
    for (const version of ['1.0.0', '1.1.0']) {
      const to = path.join(dir, 'templates', name, version);
      await cp(probeFixture, to, { recursive: true });
      let text = yaml.replace(/^name: probe$/m, `name: ${name}`).replace(/^version: 1\.0\.0$/m, `version: ${version}`);
      if (name === 'probe') {
        text = text.replace(/^secrets: \[\]$/m, 'secrets: [token]');
        await writeFile(path.join(to, 'vm/config/token.txt'), '{{ secrets.token }}\n');
      }
      await writeFile(path.join(to, 'procedure.yaml'), text);
    }
  }
}

/** A vm data center whose only host, 127.0.0.1 port 1, refuses connections (an operator key and empty known_hosts beside it). */
async function unreachableDataCenter(dir: string): Promise<string[]> {
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator@test', '-f', path.join(dir, 'operator')]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('ssh-keygen is missing: apt-get install -y openssh-client');
    throw error;
  }
  await writeFile(path.join(dir, 'known_hosts'), '');
  return [
    '  vm-dc:',
    '    kind: vm',
    '    environments:',
    '      test: { deployRoot: /opt/ozg, ssh: { user: ozg, identityFile: ./operator, knownHosts: ./known_hosts } }',
    '      prod: { deployRoot: /opt/ozg, ssh: { user: ozg, identityFile: ./operator, knownHosts: ./known_hosts } }',
  ];
}

/** `ozg plan --json` on the fresh project: the desired bundle hash of every target, keyed site/env/procedure. */
async function desiredHashes(dir: string, env: Record<string, string>, ozgBin: string): Promise<Map<string, string>> {
  const child = spawn(process.execPath, [ozgBin, 'plan', '--json'], { cwd: dir, env: { ...process.env, ...env, CI: 'true', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const result = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type: string; result?: { targets: { site: string; environment: string; procedure: string; plan?: { desired: { hash: string } } }[] } })
    .find((line) => line.type === 'result')?.result;
  if (!result) throw new Error(`ozg plan --json gave no result (exit ${code}; is dist/ built? npm run build):\n${stderr}`);
  const hashes = new Map<string, string>();
  for (const target of result.targets) if (target.plan) hashes.set(`${target.site}/${target.environment}/${target.procedure}`, target.plan.desired.hash);
  return hashes;
}

/** The ledger (two runs: an older one that installed 0.9.0 everywhere, the newest one bringing the desired versions) and the markers. */
async function writeHistory(dir: string, sites: PlannedSite[], hashes: Map<string, string>, smokeOutput: string): Promise<void> {
  const writer = new HistoryWriter(dir, smokeOutput);
  for (const site of sites) {
    if (site.kind === 'not-deployed' || site.kind === 'unreachable') continue;
    for (const procedure of site.procedures) {
      for (const environment of ['test', 'prod'] as const) {
        const special = procedure === site.procedures[0] && environment === (site.kind === 'failed' ? 'test' : 'prod') ? site.kind : 'up-to-date';
        const desired = { version: site.desired[procedure]!, hash: hashes.get(`${site.name}/${environment}/${procedure}`)! };
        if (!desired.hash) throw new Error(`no desired hash for ${site.name}/${environment}/${procedure}`);
        await writer.target({ site: site.name, environment, procedure }, special, desired);
      }
    }
  }
  await mkdir(path.join(dir, '.ozg'), { recursive: true });
  await writeFile(path.join(dir, '.ozg', 'ledger.jsonl'), writer.older.concat(writer.newer).join(''));
}

type TargetId = Pick<LedgerRecord, 'site' | 'environment' | 'procedure'>;

class HistoryWriter {
  readonly older: string[] = [];
  readonly newer: string[] = [];
  private count = 0;

  constructor(
    private readonly dir: string,
    private readonly smokeOutput: string,
  ) {}

  async target(id: TargetId, kind: FleetSiteKind, desired: { version: string; hash: string }): Promise<void> {
    const old = { version: OLD_VERSION, hash: fakeHash(`old/${id.site}/${id.environment}/${id.procedure}`) };
    this.older.push(this.line(id, 'run-0001', 1, { ...old, outcome: 'applied' }));
    let live = desired;
    if (kind === 'up-to-date' || kind === 'drift') this.newer.push(this.line(id, 'run-0002', 2, { ...desired, outcome: 'applied' }));
    if (kind === 'drift') live = { version: '0.0.1-hotfix', hash: fakeHash(`drift/${id.site}`) };
    if (kind === 'pending') live = old;
    if (kind === 'failed') {
      this.newer.push(this.line(id, 'run-0002', 2, { ...desired, outcome: 'smoke-failed', smoke: [this.failedCheck()], error: `smoke checks failed: ${this.smokeOutput}` }));
      live = old;
    }
    if (kind === 'held') {
      this.newer.push(this.line(id, 'run-0002', 2, { ...desired, outcome: 'smoke-failed', smoke: [this.failedCheck()] }));
      this.newer.push(this.line(id, 'run-0002', 3, { ...old, outcome: 'rolled-back', hold: { ...desired, reason: `prod smoke failed: ${this.smokeOutput}` } }));
      live = old;
    }
    const marker = { procedure: id.procedure, version: live.version, hash: live.hash, release: `20261102T080000-${live.version}`, deployedAt: '2026-11-02T08:00:00.000Z' };
    const file = path.join(this.dir, 'targets', id.environment, id.site, id.procedure, 'release.json');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(marker) + '\n');
  }

  private failedCheck(): LedgerRecord['smoke'][number] {
    return { name: 'probe-check', passed: false, attempts: 1, durationMs: 40, detail: 'exit 1 (expected 0)', output: this.smokeOutput };
  }

  private line(id: TargetId, run: string, seq: number, fields: Pick<LedgerRecord, 'version' | 'hash' | 'outcome'> & Partial<LedgerRecord>): string {
    this.count += 1;
    const time = new Date(BASE_TIME + (run === 'run-0001' ? 0 : 86_400_000) + this.count * 1000).toISOString();
    const record: LedgerRecord = {
      id: `rec-${this.count}`,
      time,
      seq,
      actor: run === 'run-0001' ? 'ci@runner-1' : 'ci@runner-2',
      run,
      ...id,
      release: `20261102T080000-${fields.version}`,
      smoke: [{ name: 'probe-check', passed: true, attempts: 1, durationMs: 30, detail: 'exit 0' }],
      durationMs: 1500,
      ...fields,
    };
    return formatLedgerLine(record);
  }
}

function expectedCounts(sites: PlannedSite[]): ReportFleet['expected'] {
  const zero = (): Record<ReportState, number> => ({ failed: 0, unreachable: 0, drift: 0, held: 0, pending: 0, 'up-to-date': 0, 'not-deployed': 0 });
  const offline = zero();
  const live = zero();
  for (const site of sites) {
    live[site.kind] += 1;
    offline[site.kind === 'drift' ? 'up-to-date' : site.kind === 'unreachable' ? 'not-deployed' : site.kind] += 1;
  }
  return { offline, live };
}

function fakeHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** mulberry32: a small seeded generator, so a fleet is the same every time. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
