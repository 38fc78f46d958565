/**
 * One `ozg deploy` of every site, run in-process (ozg's dist/ build) in a fresh Node process
 * of its own, so its peak memory is ozg's and each run starts cold as the CLI does. The
 * request comes as JSON in argv[2]; the result goes to stdout as one JSON object.
 *
 * What src/commands/deploy.ts does, minus the CLI: open the workspace, deployRollout, close.
 * Renders, target calls and ledger appends are timed by wrappers around the workspace's
 * renderBundle and pipeline deps, and the SSH transports are collected
 * (openWorkspace's driverOptions.onSshTransport) for their stats.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Workspace } from '../src/workspace/workspace.js';
import type { TargetDriver } from '../src/targets/driver.js';
import type { SshTransport, SshTransportStats } from '../src/targets/ssh/ssh-transport.js';

export interface OzgPhaseRequest {
  cwd: string;
  inventoryPath: string;
  concurrency: number;
}

/** Time spent inside one kind of call, summed over all calls (calls overlap, so not wall time). */
export interface CallTimes {
  calls: number;
  totalMs: number;
  maxMs: number;
}

export interface OzgPhaseResult {
  ok: boolean;
  exitCode: number;
  wallMs: number;
  /** import of ozg's modules, inventory + catalogue load, ledger read, lock */
  openMs: number;
  rolloutMs: number;
  closeMs: number;
  /** site results, e.g. { ok: 50 } or { unchanged: 50 } */
  sites: Record<string, number>;
  errors: string[];
  transports: Array<{ where: string } & SshTransportStats>;
  calls: Record<'render' | 'connect+live' | 'live' | 'apply' | 'smoke' | 'record', CallTimes>;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** client CPU of the open phase alone (start-up): the rest is the rollout's, per target */
  openCpuMs: number;
  maxRssKb: number;
  /** how late the event loop ran callbacks during the rollout: every await waits about this long */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '') as OzgPhaseRequest;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  // ozg as built (dist/, `npm run build`), typed from its sources.
  const dist = new URL('../../dist/', import.meta.url);
  const load = <T>(file: string): Promise<T> => import(new URL(file, dist).href) as Promise<T>;
  const [{ openWorkspace }, { deployRollout }, { exitCodeForRollout }, { silentReporter }] = await Promise.all([
    load<typeof import('../src/workspace/workspace.js')>('workspace/workspace.js'),
    load<typeof import('../src/rollout/deploy-rollout.js')>('rollout/deploy-rollout.js'),
    load<typeof import('../src/rollout/rollout.js')>('rollout/rollout.js'),
    load<typeof import('../src/events.js')>('events.js'),
  ]);

  const transports: SshTransport[] = [];
  const calls: OzgPhaseResult['calls'] = {
    render: newTimes(),
    'connect+live': newTimes(),
    live: newTimes(),
    apply: newTimes(),
    smoke: newTimes(),
    record: newTimes(),
  };
  const timed: Timed = async (kind, work) => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      const ms = performance.now() - t;
      calls[kind].calls++;
      calls[kind].totalMs += ms;
      calls[kind].maxMs = Math.max(calls[kind].maxMs, ms);
    }
  };

  const controller = new AbortController();
  const context = {
    cwd: request.cwd,
    env: process.env,
    reporter: silentReporter,
    signal: controller.signal,
    inventoryPath: request.inventoryPath,
    interactive: false,
    acceptNewHostKeys: false,
  };
  const workspace = await openWorkspace(context, { lock: true, command: 'deploy', driverOptions: { onSshTransport: (t) => transports.push(t) } });
  const opened = performance.now();
  const openCpu = process.cpuUsage(cpuStart);
  let rolledOut = opened;
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  let result: Awaited<ReturnType<typeof deployRollout>>['result'];
  try {
    instrument(workspace, timed);
    ({ result } = await deployRollout(workspace, { sites: [], concurrency: request.concurrency }));
    rolledOut = performance.now();
    loopDelay.disable();
  } finally {
    await workspace.close();
  }
  const closed = performance.now();
  const cpu = process.cpuUsage(cpuStart);

  const sites: Record<string, number> = {};
  for (const s of result.sites) sites[s.result] = (sites[s.result] ?? 0) + 1;
  const errors = result.sites.flatMap((s) => s.items.flatMap((i) => i.environments.flatMap((e) => (e.error ? [`${s.site}/${e.environment}: ${e.error}`] : []))));
  const output: OzgPhaseResult = {
    ok: result.ok,
    exitCode: exitCodeForRollout(result),
    wallMs: closed - started,
    openMs: opened - started,
    rolloutMs: rolledOut - opened,
    closeMs: closed - rolledOut,
    sites,
    errors: errors.slice(0, 10),
    transports: transports.map((t) => ({ where: t.where, ...t.stats })),
    calls,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    openCpuMs: (openCpu.user + openCpu.system) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
    eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  };
  process.stdout.write(JSON.stringify(output) + '\n');
}

type CallKind = keyof OzgPhaseResult['calls'];
type Timed = <T>(kind: CallKind, work: () => Promise<T>) => Promise<T>;

/**
 * Times renders (also deploy's up-front render of every bundle), target calls and ledger
 * appends by wrapping the workspace's renderBundle and the deps it hands the pipeline.
 */
function instrument(workspace: Workspace, timed: Timed): void {
  const renderBundle = workspace.renderBundle.bind(workspace);
  workspace.renderBundle = (item, environment, options) => timed('render', () => renderBundle(item, environment, options));
  const pipelineDeps = workspace.pipelineDeps.bind(workspace);
  const wrapped = new WeakMap<TargetDriver, TargetDriver>();
  const wrap = (driver: TargetDriver): TargetDriver => {
    let w = wrapped.get(driver);
    if (!w) {
      let first = true;
      w = {
        description: driver.description,
        live: (procedure, bundle) => {
          // the first call on a target opens its SSH connection
          const kind = first ? 'connect+live' : 'live';
          first = false;
          return timed(kind, () => driver.live(procedure, bundle));
        },
        apply: (bundle, release) => {
          first = false;
          return timed('apply', () => driver.apply(bundle, release));
        },
        smoke: (procedure, checks) => timed('smoke', () => driver.smoke(procedure, checks)),
        rollback: (procedure, to) => driver.rollback(procedure, to),
        close: () => driver.close(),
      };
      wrapped.set(driver, w);
    }
    return w;
  };
  workspace.pipelineDeps = () => {
    const deps = pipelineDeps();
    return {
      ...deps,
      driver: async (site, environment) => wrap(await deps.driver(site, environment)),
      record: (input) => timed('record', () => deps.record(input)),
    };
  };
}

function newTimes(): CallTimes {
  return { calls: 0, totalMs: 0, maxMs: 0 };
}

main().catch((error: unknown) => {
  process.stderr.write(`ozg-phase: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
