import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { EnvironmentName, Inventory, ResolvedSetup, Site } from '../inventory/types.js';
import { listEnvironmentNames } from '../inventory/target-naming.js';
import { formatSuggestion } from '../input/suggest.js';
import type { Bundle, Catalogue } from '../procedure/types.js';
import type { LedgerRecord } from '../ledger/types.js';
import type { TargetDriver } from '../targets/driver.js';
import type { CreateDriverOptions } from '../targets/create-driver.js';
import type { Reporter } from '../events.js';
import { systemClock, type Clock } from '../clock.js';
import { formatProblem, InvalidInputError } from '../errors.js';
import type { LabelledSite } from '../inventory/select.js';
import { loadProjectBySite, type InvalidSite, type LoadScope } from '../inventory/load-by-site.js';
import { createSecretRedactor, type SecretRedactor } from '../inventory/secret-redactor.js';
import { describeLedgerDamage, openLedger, targetKey, type Ledger } from '../ledger/ledger.js';
import { updateHolds } from '../ledger/hold.js';
import type { PipelineDeps } from '../rollout/pipeline.js';
import { checkSelection, describeInvalidSite, selectWork, type SelectionFlags, type SiteSelection } from './selection.js';
import type { TargetKey } from '../rollout/target-key.js';
import { createArtifactCache, resolveCacheDir } from '../procedure/artifact-cache.js';
import { createCurlDownload } from '../procedure/curl-download.js';
import { collectGarbage } from './collect-garbage.js';
import { createBundleCache, type RenderBundleOptions } from './bundles.js';
import { createDriverPool } from './drivers.js';
import { createRecorder } from './record.js';
import { createStopNow, takeLedgerLock } from './workspace-lock.js';

export type { SelectionFlags, SiteSelection } from './selection.js';

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
  /**
   * The work items of the selected valid sites, in inventory order. Each selected site left
   * out for its own problems is a warning listing them, and is remembered in `invalidSelected`.
   */
  selectItems(flags: SelectionFlags): ResolvedSetup[];
  /** the selection with its invalid sites apart (a deploy reports them as failed sites) */
  select(flags: SelectionFlags): SiteSelection;
  /** the selected sites `selectItems` left out for their own problems */
  invalidSelected: InvalidSite[];
  /** like selectItems, for commands about one site (rollback, cloud-init): its problems stop them (exit 3) */
  selectValidItems(flags: SelectionFlags): ResolvedSetup[];
  /** every site's name and labels, valid or not */
  everySite: LabelledSite[];
  environmentsOf(site: Site, only?: EnvironmentName): EnvironmentName[];
  /**
   * The item's bundle for one environment, checked against its target (a bundle the target
   * could not take is invalid input, like a template error). Rendered once per run: a deploy
   * checks every bundle before it starts and the pipeline gets the same ones.
   */
  renderBundle(item: ResolvedSetup, environment: EnvironmentName, options?: RenderBundleOptions): Promise<Bundle>;
  /**
   * Fetches (or finds in the cache) the artefacts of these items' VM bundles, at most a few
   * at once, each distinct one once per run; rendering then waits for none. Failures are
   * left for renderBundle to report with the bundle they belong to.
   */
  prefetchArtifacts(items: ResolvedSetup[]): Promise<void>;
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
  /** `every-problem` (validate): any problem anywhere stops the command; default `by-site` (see load-by-site.ts) */
  scope?: LoadScope;
  /** check that the secrets of every site resolve (default true); status, plan, render, history never need their values */
  secrets?: boolean;
  /** checked before the lock is taken or anything is written: a typo refuses the command untouched */
  selection?: SelectionFlags & { waves?: string };
  /** check that the files data centers name (kubeconfig, SSH keys) can be read, at their field */
  checkFiles?: boolean;
  /** extra options for every driver opened (the benchmark's transport-stats hook) */
  driverOptions?: Pick<CreateDriverOptions, 'onSshTransport'>;
  /**
   * A second reader of the workspace's one pass over the ledger (the report's), so the file is
   * read and parsed once and both keep the same record objects: called with the valid sites
   * `selection` selects, once the project is loaded; what it returns gets every intact record
   * in file order.
   */
  ledgerObserver?(selectedSites: ReadonlySet<string>): (record: LedgerRecord) => void;
}

/** from here on the load's leftovers are worth a full collection (~20 ms for 11,000 sites) */
const LARGE_INVENTORY_SITES = 2000;

export async function openWorkspace(options: WorkspaceOptions, open: OpenWorkspaceOptions): Promise<Workspace> {
  const project = await loadProjectBySite(
    { inventoryPath: options.inventoryPath, env: options.env, cwd: options.cwd, checkSecrets: open.secrets !== false, ...(open.checkFiles ? { checkFiles: true } : {}) },
    open.scope ?? 'by-site',
  );
  if (open.selection) checkSelection(project, open.selection);
  const { inventory, catalogue } = project;
  // a large inventory's syntax tree is garbage now: freed before rendering adds its own (collect-garbage.ts)
  if (inventory.sites.length >= LARGE_INVENTORY_SITES) collectGarbage();
  const { reporter } = options;
  const clock = options.clock ?? systemClock;
  const actor = describeActor();
  const run = randomUUID();
  const lock = open.lock ? await takeLedgerLock({ ledgerDir: inventory.ledgerDir, command: open.command, run, actor, clock, reporter }) : undefined;
  // the run whose lock this one took over is dead: a change it left unfinished on a target need not be waited for
  const deadRun = lock?.recovered?.holder?.token;
  const drivers = createDriverPool(inventory, {
    env: options.env,
    acceptNewHostKeys: options.acceptNewHostKeys,
    reporter,
    clock,
    signal: options.signal,
    driverOptions: open.driverOptions,
    ...(lock ? { run } : {}),
    ...(deadRun ? { deadRuns: [deadRun] } : {}),
  });
  const stopNow = createStopNow(() => drivers.closeAll(), lock);
  const unregisterStopNow = lock ? options.onStopNow?.(() => stopNow.stop()) : undefined;
  try {
    const ledger = await openLedger(inventory.ledgerDir);
    // one streaming pass: a ledger of any size, ordered causally (seq, file order), never by clocks
    const observe = open.ledgerObserver?.(new Set(selectWork(project, open.selection ?? {}).items.map((item) => item.site.name)));
    const { latest, holds, damage } = await ledger.index(observe);
    for (const message of describeLedgerDamage(ledger.file, damage)) reporter.emit({ type: 'warning', message });
    const redactor = options.redactor ?? createSecretRedactor();
    const artifacts = createArtifactCache({
      dir: resolveCacheDir(options.env),
      download: createCurlDownload({ env: options.env, signal: options.signal }),
      onWarning: (message) => reporter.emit({ type: 'warning', message }),
      signal: options.signal,
    });
    const bundles = createBundleCache(inventory, options.env, redactor, artifacts);
    const invalidSelected: InvalidSite[] = [];
    const warnUnusedVersions = createUnusedVersionWarner(reporter);
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
      invalidSelected,
      everySite: project.everySite,
      selectValidItems(flags) {
        const selection = workspace.select(flags);
        if (selection.invalid.length > 0) throw new InvalidInputError(selection.invalid.flatMap((site) => site.problems));
        return selection.items;
      },
      select: (flags) => warnUnusedVersions(selectWork(project, flags)),
      selectItems(flags) {
        const selection = workspace.select(flags);
        for (const site of selection.invalid) {
          if (invalidSelected.some((known) => known.name === site.name)) continue;
          invalidSelected.push(site);
          reporter.emit({ type: 'warning', message: describeInvalidSite(site) });
        }
        return selection.items;
      },
      environmentsOf: (site, only) => environmentsOf(inventory, site, only),
      renderBundle: (item, environment, renderOptions) => bundles.render(item, environment, renderOptions),
      learnSecrets: (item) => bundles.learnSecrets(item),
      async prefetchArtifacts(items) {
        const wanted = new Set(items.filter((item) => inventory.dataCenters.get(item.site.dataCenter)?.kind !== 'kubernetes' && (item.procedure.artifacts ?? []).length > 0).map((item) => item.procedure));
        await Promise.allSettled([...wanted].map((procedure) => artifacts.resolve(procedure)));
      },
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

/** A broken version no selected site uses is worth knowing about, once, but stops nothing. */
function createUnusedVersionWarner(reporter: Reporter): (selection: SiteSelection) => SiteSelection {
  const warned = new Set<string>();
  return (selection) => {
    for (const problem of selection.unusedVersionProblems) {
      const text = formatProblem(problem);
      if (warned.has(text)) continue;
      warned.add(text);
      reporter.emit({ type: 'warning', message: `not used by the selected sites, so not a stop here (\`ozg validate\` lists it): ${text}` });
    }
    return selection;
  };
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
