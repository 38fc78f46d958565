import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { EnvironmentName, Inventory, ResolvedSetup, Site } from '../inventory/types.js';
import type { Bundle, Catalogue } from '../procedure/types.js';
import type { LedgerRecord } from '../ledger/types.js';
import type { TargetDriver } from '../targets/driver.js';
import type { CommandContext, SelectionFlags } from '../commands/context.js';
import { OzgError, RecordWriteError, UsageError } from '../errors.js';
import { loadProject } from '../inventory/load-project.js';
import { selectSites } from '../inventory/select.js';
import { listEnvironmentNames } from '../inventory/target-naming.js';
import { resolveSecret } from '../inventory/secrets.js';
import { createSecretRedactor, type SecretRedactor } from '../inventory/secret-redactor.js';
import { renderBundle } from '../procedure/render.js';
import { describeLedgerDamage, LIVE_OUTCOMES, openLedger, targetKey, type Ledger } from '../ledger/ledger.js';
import { formatLedgerLine } from '../ledger/ledger-line.js';
import { acquireLock, describeRecoveredLock } from '../ledger/lock.js';
import { checkBundleForTarget, createDriver, type CreateDriverOptions } from '../targets/create-driver.js';
import type { PipelineDeps, RecordInput } from './pipeline.js';
import { isInShard, parseShard } from './waves.js';
import type { TargetKey } from './target-key.js';

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
  pipelineDeps(): PipelineDeps;
  /** close a site's connections and drop its rendered bundles once its pipeline is done */
  releaseSite(site: string): Promise<void>;
  close(): Promise<void>;
}

export interface OpenWorkspaceOptions {
  /** take the ledger lock: every command that changes a target or the ledger does */
  lock: boolean;
  command: string;
  /** extra options for every driver opened (the benchmark's transport-stats hook) */
  driverOptions?: Pick<CreateDriverOptions, 'onSshTransport'>;
}

export async function openWorkspace(context: CommandContext, options: OpenWorkspaceOptions): Promise<Workspace> {
  const project = await loadProject({ inventoryPath: context.inventoryPath, env: context.env, cwd: context.cwd });
  const { inventory, catalogue } = project;
  const actor = describeActor();
  const run = randomUUID();
  const lock = options.lock
    ? await acquireLock(inventory.ledgerDir, {
        command: options.command,
        user: actor.split('@')[0]!,
        hostname: os.hostname(),
        pid: process.pid,
        now: () => new Date(),
        onHeartbeatError: (error) => context.reporter.emit({ type: 'warning', message: error.message }),
      }).catch((error: unknown) => {
        // a lock that cannot be written (full disk, read-only folder) is the user's to fix, not a bug
        if (error instanceof OzgError) throw error;
        throw new RecordWriteError(path.join(inventory.ledgerDir, 'lock'), describeWriteFailure(error), {
          cause: error,
          what: `the ledger lock in ${inventory.ledgerDir}`,
          hint: `free space on (or repair) the disk holding ${inventory.ledgerDir}, or make it writable; nothing was deployed`,
        });
      })
    : undefined;
  // the run that left it stopped mid-deploy: its last steps may be live but unrecorded
  if (lock?.recovered) context.reporter.emit({ type: 'warning', message: describeRecoveredLock(lock.path, lock.recovered) });
  const drivers = new Map<string, Promise<TargetDriver>>();
  // ledger appends under way, and whether a second Ctrl-C has ended the run (the lock is going)
  const appending = new Set<Promise<unknown>>();
  let stoppedNow = false;
  const closeDrivers = async () => {
    const opened = await Promise.allSettled(drivers.values());
    await Promise.allSettled(opened.map((d) => (d.status === 'fulfilled' ? d.value.close() : undefined)));
  };
  // A second Ctrl-C (from here on, also while a large ledger is read): closing the drivers ends
  // running scripts (SIGTERM, then SIGKILL) and connections; records being appended finish;
  // then the lock goes, and nothing is written after.
  const stopNow = async () => {
    await Promise.race([closeDrivers(), new Promise((resolve) => setTimeout(resolve, STOP_NOW_LIMIT_MS).unref())]);
    await Promise.allSettled(appending);
    stoppedNow = true;
    await lock?.release();
  };
  const unregisterStopNow = lock ? context.onStopNow?.(stopNow) : undefined;
  try {
    const ledger = await openLedger(inventory.ledgerDir);
    // one streaming pass: a ledger of any size, ordered causally (seq, file order), never by clocks
    const { latest, damage } = await ledger.index();
    for (const message of describeLedgerDamage(ledger.file, damage)) context.reporter.emit({ type: 'warning', message });
    const secretCache = new Map<string, Promise<string>>();
    const bundles = new Map<string, Promise<Bundle>>();
    const redactor = context.redactor ?? createSecretRedactor();

    const resolveItemSecrets = async (item: ResolvedSetup): Promise<Record<string, string>> => {
      const secrets: Record<string, string> = {};
      for (const [name, ref] of Object.entries(item.setup.secrets)) {
        const key = JSON.stringify(ref);
        let value = secretCache.get(key);
        if (!value) secretCache.set(key, (value = resolveSecret(ref, { env: context.env, readFile: (p) => readFile(p, 'utf8'), baseDir: inventory.dir })));
        secrets[name] = await value;
        redactor.add(name, secrets[name]);
      }
      return secrets;
    };

    const renderChecked = async (item: ResolvedSetup, environment: EnvironmentName, redactSecrets: boolean): Promise<Bundle> => {
      const dc = inventory.dataCenters.get(item.site.dataCenter)!;
      const secrets = redactSecrets ? {} : await resolveItemSecrets(item);
      const bundle = await renderBundle({
        procedure: item.procedure,
        site: item.site,
        setup: item.setup,
        environment,
        targetKind: dc.kind === 'kubernetes' ? 'kubernetes' : 'vm',
        values: item.values,
        secrets,
        redactSecrets,
      });
      const spec = dc.environments[environment];
      const filesDir = item.procedure.vm?.files ?? '';
      // named as render errors name template files: <procedure>/<version>/<vm.files>/<path>
      const describeFile = (file: string): string => posix.join(item.procedure.name, item.procedure.version, filesDir, file);
      if (spec) await checkBundleForTarget(dc, spec, item.site, bundle, { describeFile });
      return bundle;
    };

    const workspace: Workspace = {
      inventory,
      catalogue,
      ledger,
      redactor,
      run,
      actor,
      selectItems(flags) {
        const shard = flags.shard ? parseShard(flags.shard) : undefined;
        const sites = selectSites(inventory, { sites: flags.sites, selector: flags.selector }).filter((s) => !shard || isInShard(s.name, shard));
        const wanted = flags.procedure?.length ? new Set(flags.procedure) : undefined;
        if (wanted) {
          for (const name of wanted) if (!catalogue.names().includes(name)) throw new UsageError(`unknown procedure "${name}"`, { hint: `known: ${catalogue.names().join(', ')}` });
        }
        const chosen = new Set(sites.map((s) => s.name));
        return project.items.filter((item) => chosen.has(item.site.name) && (!wanted || wanted.has(item.procedure.name)));
      },
      environmentsOf(site, only) {
        const dc = inventory.dataCenters.get(site.dataCenter)!;
        const all = listEnvironmentNames(dc);
        return only ? all.filter((e) => e === only) : all;
      },
      renderBundle(item, environment, renderOptions = {}) {
        const key = [item.site.name, item.procedure.name, item.procedure.version, environment, Boolean(renderOptions.redactSecrets)].join('\0');
        let bundle = bundles.get(key);
        if (!bundle) {
          bundle = renderChecked(item, environment, Boolean(renderOptions.redactSecrets));
          bundles.set(key, bundle);
          // a failed render is not kept: the caller reports it, and a retry renders afresh
          bundle.catch(() => bundles.delete(key));
        }
        return bundle;
      },
      async learnSecrets(item) {
        await resolveItemSecrets(item);
      },
      driver(site, environment) {
        const key = `${site.name}\0${environment}`;
        let driver = drivers.get(key);
        if (!driver) {
          const dc = inventory.dataCenters.get(site.dataCenter)!;
          const spec = dc.environments[environment];
          if (!spec) throw new UsageError(`data center ${dc.name} has no ${environment} environment`);
          driver = createDriver(dc, spec, site, {
            ...options.driverOptions,
            keepReleases: dc.keepReleases,
            env: context.env,
            acceptNewHostKeys: context.acceptNewHostKeys,
            onHostKeyRecorded: (recorded) => context.reporter.emit({ type: 'host-key-recorded', site: site.name, environment, ...recorded }),
            homeDir: context.env.HOME,
          });
          drivers.set(key, driver);
        }
        return driver;
      },
      recorded(key) {
        return latest.get(latestKey(key));
      },
      pipelineDeps() {
        return {
          renderBundle: (item, environment) => workspace.renderBundle(item, environment),
          driver: (site, environment) => workspace.driver(site, environment),
          recorded: (key) => workspace.recorded(key),
          record: async (input: RecordInput) => {
            // stamped here, not by the ledger, so a record the disk refuses can still be shown whole;
            // hook and smoke output and error messages come from scripts that can read the secrets
            const record: LedgerRecord = redactor.redactDeep({ id: randomUUID(), time: new Date().toISOString(), ...input, run, actor });
            if (stoppedNow) {
              throw new RecordWriteError(ledger.file, 'ozg was stopped by a second interrupt and no longer holds the lock', { lines: [formatLedgerLine(record)] });
            }
            const appended = ledger.append([record]);
            appending.add(appended);
            let written: LedgerRecord;
            try {
              [written] = (await appended) as [LedgerRecord];
            } catch (error) {
              throw new RecordWriteError(ledger.file, describeWriteFailure(error), { cause: error, lines: [formatLedgerLine(record)] });
            } finally {
              appending.delete(appended);
            }
            if (LIVE_OUTCOMES.includes(input.outcome)) latest.set(latestKey(input), written);
            context.reporter.emit({ type: 'recorded', record: written });
          },
          reporter: context.reporter,
          now: () => new Date(),
          signal: context.signal,
        };
      },
      async releaseSite(site) {
        // hundreds of open SSH connections and rendered bundles would otherwise live until
        // the end of the run (~0.3 MB per target)
        for (const key of [...bundles.keys()]) if (key.startsWith(`${site}\0`)) bundles.delete(key);
        const closing: Promise<TargetDriver>[] = [];
        for (const [key, driver] of drivers) {
          if (!key.startsWith(`${site}\0`)) continue;
          drivers.delete(key);
          closing.push(driver);
        }
        const opened = await Promise.allSettled(closing);
        await Promise.allSettled(opened.map((d) => (d.status === 'fulfilled' ? d.value.close() : undefined)));
      },
      async close() {
        unregisterStopNow?.();
        await closeDrivers();
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

/** A second Ctrl-C waits at most this long for scripts and connections to end before it releases the lock. */
const STOP_NOW_LIMIT_MS = 10_000;

function latestKey(key: TargetKey): string {
  return targetKey(key);
}

/** `ENOSPC: no space left on device, write`: the system's words, which say what to fix. */
export function describeWriteFailure(error: unknown): string {
  if (error instanceof OzgError) return error.message;
  return error instanceof Error ? error.message : String(error);
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
