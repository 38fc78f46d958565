import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { EnvironmentName, Inventory, ResolvedSetup, Site } from '../inventory/types.js';
import { listEnvironmentNames } from '../inventory/target-naming.js';
import type { Bundle, Catalogue } from '../procedure/types.js';
import type { LedgerRecord } from '../ledger/types.js';
import type { TargetDriver } from '../targets/driver.js';
import type { CreateDriverOptions } from '../targets/create-driver.js';
import type { Reporter } from '../events.js';
import { systemClock, type Clock } from '../clock.js';
import { UsageError } from '../errors.js';
import { loadProject, type LoadProjectResult } from '../inventory/load-project.js';
import { selectSites } from '../inventory/select.js';
import { createSecretRedactor, type SecretRedactor } from '../inventory/secret-redactor.js';
import { describeLedgerDamage, openLedger, targetKey, type Ledger } from '../ledger/ledger.js';
import { updateHolds } from '../ledger/hold.js';
import type { PipelineDeps } from '../rollout/pipeline.js';
import { isInShard, parseShard } from '../rollout/waves.js';
import type { TargetKey } from '../rollout/target-key.js';
import { createBundleCache } from './bundles.js';
import { createDriverPool } from './drivers.js';
import { createRecorder } from './record.js';
import { createStopNow, takeLedgerLock } from './workspace-lock.js';

/** Which sites and procedures a command acts on. */
export interface SelectionFlags {
  sites?: string[];
  selector?: string;
  procedure?: string[];
  /** `i/n`: this runner's share of the selected sites */
  shard?: string;
}

/**
 * The loaded, validated project a command works on: inventory, catalogue, ledger and the
 * drivers it opened. Commands open one, do one thing, and close it.
 */
export interface Workspace {
  inventory: Inventory;
  catalogue: Catalogue;
  ledger: Ledger;
  /** knows every secret value resolved so far: what is recorded or written passes through it */
  redactor: SecretRedactor;
  run: string;
  actor: string;
  /** the run's one clock: timestamps and durations */
  clock: Clock;
  reporter: Reporter;
  /** aborted on Ctrl-C: the steps under way finish, no new one starts */
  signal: AbortSignal;
  /** the work items of the selected sites, in inventory order */
  selectItems(flags: SelectionFlags): ResolvedSetup[];
  environmentsOf(site: Site, only?: EnvironmentName): EnvironmentName[];
  /**
   * The item's bundle for one environment, checked against its target (a bundle the target
   * could not take is invalid input, like a template error). Rendered once per run: a deploy
   * checks every bundle before it starts and the pipeline gets the same ones.
   */
  renderBundle(item: ResolvedSetup, environment: EnvironmentName, options?: { redactSecrets?: boolean }): Promise<Bundle>;
  /**
   * Teaches the redactor the item's secret values without rendering: before running scripts
   * of a release already on the target (a rollback's activate hook), which can print them.
   */
  learnSecrets(item: ResolvedSetup): Promise<void>;
  driver(site: Site, environment: EnvironmentName): Promise<TargetDriver>;
  /** the last release the ledger holds for a target (applied or rolled back) */
  recorded(key: TargetKey): LedgerRecord | undefined;
  /** the rollback record holding a target (ledger/hold.ts), while its hold is active */
  holding(key: TargetKey): LedgerRecord | undefined;
  pipelineDeps(): PipelineDeps;
  /** close a site's connections and drop its rendered bundles once its pipeline is done */
  releaseSite(site: string): Promise<void>;
  close(): Promise<void>;
}

/** What a workspace needs from whoever opens it: nothing is read from the process here. */
export interface WorkspaceOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** the inventory as the user named it, relative to cwd */
  inventoryPath: string;
  reporter: Reporter;
  signal: AbortSignal;
  /** vm: record unknown SSH host keys instead of refusing them */
  acceptNewHostKeys: boolean;
  /** learns every secret value resolved; absent, the workspace keeps its own */
  redactor?: SecretRedactor;
  /** registers what a second Ctrl-C must do before ozg leaves; returns the unregister function */
  onStopNow?(stop: () => Promise<void>): () => void;
  /** absent: the machine's clock */
  clock?: Clock;
}

export interface OpenWorkspaceOptions {
  /** take the ledger lock: every command that changes a target or the ledger does */
  lock: boolean;
  command: string;
  /** extra options for every driver opened (the benchmark's transport-stats hook) */
  driverOptions?: Pick<CreateDriverOptions, 'onSshTransport'>;
}

export async function openWorkspace(options: WorkspaceOptions, open: OpenWorkspaceOptions): Promise<Workspace> {
  const project = await loadProject({ inventoryPath: options.inventoryPath, env: options.env, cwd: options.cwd });
  const { inventory, catalogue } = project;
  const { reporter } = options;
  const clock = options.clock ?? systemClock;
  const actor = describeActor();
  const run = randomUUID();
  const lock = open.lock ? await takeLedgerLock({ ledgerDir: inventory.ledgerDir, command: open.command, actor, clock, reporter }) : undefined;
  const drivers = createDriverPool(inventory, { env: options.env, acceptNewHostKeys: options.acceptNewHostKeys, reporter, clock, driverOptions: open.driverOptions });
  const stopNow = createStopNow(() => drivers.closeAll(), lock);
  const unregisterStopNow = lock ? options.onStopNow?.(() => stopNow.stop()) : undefined;
  try {
    const ledger = await openLedger(inventory.ledgerDir);
    // one streaming pass: a ledger of any size, ordered causally (seq, file order), never by clocks
    const { latest, holds, damage } = await ledger.index();
    for (const message of describeLedgerDamage(ledger.file, damage)) reporter.emit({ type: 'warning', message });
    const redactor = options.redactor ?? createSecretRedactor();
    const bundles = createBundleCache(inventory, options.env, redactor);
    const record = createRecorder({ ledger, redactor, clock, reporter, run, actor, stopNow, onLive: (written) => latest.set(targetKey(written), written), onWritten: (written) => updateHolds(holds, targetKey(written), written) });

    const workspace: Workspace = {
      inventory,
      catalogue,
      ledger,
      redactor,
      run,
      actor,
      clock,
      reporter,
      signal: options.signal,
      selectItems: (flags) => selectItems(project, flags),
      environmentsOf: (site, only) => environmentsOf(inventory, site, only),
      renderBundle: (item, environment, renderOptions) => bundles.render(item, environment, renderOptions),
      learnSecrets: (item) => bundles.learnSecrets(item),
      driver: (site, environment) => drivers.driver(site, environment),
      recorded: (key) => latest.get(targetKey(key)),
      holding: (key) => holds.get(targetKey(key)),
      pipelineDeps: () => ({
        renderBundle: (item, environment) => workspace.renderBundle(item, environment),
        driver: (site, environment) => workspace.driver(site, environment),
        recorded: (key) => workspace.recorded(key),
        holding: (key) => workspace.holding(key),
        record,
        reporter,
        clock,
        signal: options.signal,
      }),
      async releaseSite(site) {
        // rendered bundles and connections would otherwise live until the end of the run (~0.3 MB per target)
        bundles.dropSite(site);
        await drivers.closeSite(site);
      },
      async close() {
        unregisterStopNow?.();
        await drivers.closeAll();
        await lock?.release();
      },
    };
    return workspace;
  } catch (error) {
    unregisterStopNow?.();
    await lock?.release();
    throw error;
  }
}

function selectItems(project: LoadProjectResult, flags: SelectionFlags): ResolvedSetup[] {
  const { inventory, catalogue } = project;
  const shard = flags.shard ? parseShard(flags.shard) : undefined;
  const sites = selectSites(inventory, { sites: flags.sites, selector: flags.selector }).filter((s) => !shard || isInShard(s.name, shard));
  const wanted = flags.procedure?.length ? new Set(flags.procedure) : undefined;
  if (wanted) {
    for (const name of wanted) if (!catalogue.names().includes(name)) throw new UsageError(`unknown procedure "${name}"`, { hint: `known: ${catalogue.names().join(', ')}` });
  }
  const chosen = new Set(sites.map((s) => s.name));
  return project.items.filter((item) => chosen.has(item.site.name) && (!wanted || wanted.has(item.procedure.name)));
}

function environmentsOf(inventory: Inventory, site: Site, only?: EnvironmentName): EnvironmentName[] {
  const dc = inventory.dataCenters.get(site.dataCenter)!;
  const all = listEnvironmentNames(dc);
  return only ? all.filter((e) => e === only) : all;
}

function describeActor(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return `${user}@${os.hostname()}`;
}
