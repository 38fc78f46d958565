/**
 * Builds the fleet report (issue 16) for the selected setups: desired bundles rendered as
 * `status` renders them, live markers read unless offline, and one streaming pass over the
 * ledger for failures, timelines and the newest run. Everything that can carry text from a
 * target or a person (errors, smoke output, reasons) is redacted here; names and labels are
 * site facts and pass as they are (a renderer escapes them).
 */
import type { EnvironmentName, ResolvedSetup, Site } from '../inventory/types.js';
import type { LedgerRecord } from '../ledger/types.js';
import { targetKey } from '../ledger/ledger.js';
import { inspectTargets, type InspectedTarget } from '../rollout/inspect.js';
import { readRolloutState, type RolloutState } from '../rollout/rollout-state.js';
import type { Workspace } from '../workspace/workspace.js';
import { readFleetLedger, type FleetLedger } from './ledger-pass.js';
import { summarizeRollout } from './rollout-summary.js';
import { decideTargetState, worstState, type TargetFacts } from './target-state.js';
import { reportStates, type FleetReport, type ReportCell, type ReportEvent, type ReportSite, type ReportState, type ReportTarget, type ReportVersions } from './types.js';

export interface BuildReportOptions {
  /** read no live marker: the ledger and the inventory only */
  offline: boolean;
  /** the inventory as the user named it (shown on the page; never an absolute path of this machine) */
  inventory: string;
  /** timeline records per site, newest first (default 20) */
  timelineLimit?: number;
  /** the ledger pass already made along with the workspace's (`ozg report`); absent, it is made here */
  fleet?: FleetLedger;
}

export const DEFAULT_TIMELINE_LIMIT = 20;

export async function buildReport(workspace: Workspace, items: ResolvedSetup[], options: BuildReportOptions): Promise<FleetReport> {
  const live = !options.offline;
  const rows = await inspectTargets(workspace, items, undefined, { offline: options.offline });
  const fleet = options.fleet ?? (await readFleetLedger(workspace.ledger, new Set(items.map((item) => item.site.name)), options.timelineLimit ?? DEFAULT_TIMELINE_LIMIT));
  const redact = (text: string) => workspace.redactor.redact(text);
  const sites = assembleSites(workspace, items, rows, fleet, { live, redact });
  const procedures = [...new Set(items.map((item) => item.procedure.name))].sort();
  const counts = Object.fromEntries(reportStates.map((state) => [state, 0])) as Record<ReportState, number>;
  for (const site of sites) counts[site.state] += 1;
  const rollout = fleet.lastRun ? await readRolloutStateQuietly(workspace.inventory.ledgerDir) : undefined;
  return {
    generatedAt: workspace.clock.now().toISOString(),
    inventory: options.inventory,
    live,
    procedures,
    labelKeys: [...new Set(sites.flatMap((site) => Object.keys(site.labels)))].sort(),
    counts,
    sites,
    ...(fleet.lastRun ? { lastRollout: summarizeRollout(fleet.lastRun, { redact, everySite: workspace.everySite, ...(rollout ? { rollout } : {}) }) } : {}),
    versions: countVersions(procedures, sites),
  };
}

interface AssembleOptions {
  live: boolean;
  redact(text: string): string;
}

/** Sites in inventory order, each with its cells (procedures in setup order) and timeline. */
function assembleSites(workspace: Workspace, items: ResolvedSetup[], rows: InspectedTarget[], fleet: FleetLedger, options: AssembleOptions): ReportSite[] {
  const sites = new Map<string, { site: Site; cells: Map<string, ReportCell> }>();
  for (const item of items) {
    let entry = sites.get(item.site.name);
    if (!entry) sites.set(item.site.name, (entry = { site: item.site, cells: new Map() }));
    entry.cells.set(item.procedure.name, { procedure: item.procedure.name, state: 'not-deployed' });
  }
  for (const row of rows) {
    const cell = sites.get(row.site)!.cells.get(row.procedure)!;
    cell[row.environment] = describeTarget(workspace, row, fleet, options);
  }
  return [...sites.values()].map(({ site, cells }) => {
    const list = [...cells.values()];
    for (const cell of list) cell.state = worstState(targetsOf(cell).map((target) => target.state));
    return {
      name: site.name,
      dataCenter: site.dataCenter,
      labels: site.labels,
      state: worstState(list.map((cell) => cell.state)),
      cells: list,
      timeline: (fleet.timelines.get(site.name) ?? []).map((record) => toEvent(record, options.redact)),
    };
  });
}

function targetsOf(cell: ReportCell): ReportTarget[] {
  return [cell.test, cell.prod].filter((target): target is ReportTarget => target !== undefined);
}

/** One inspected row → the facts the state rules read → the report's target. */
function describeTarget(workspace: Workspace, row: InspectedTarget, fleet: FleetLedger, options: AssembleOptions): ReportTarget {
  const recorded = workspace.recorded(row);
  const hold = workspace.holding(row);
  const newest = fleet.newest.get(targetKey(row));
  const facts: TargetFacts = {
    desired: row.desired,
    ...desiredHashOf(row),
    ...(recorded ? { recorded: { version: recorded.version, hash: recorded.hash } } : {}),
    ...(newest ? { newest } : {}),
    ...(hold ? { hold } : {}),
  };
  if (row.inputError) facts.inputError = row.error;
  if (row.error && (!row.inputError || row.unreachable)) facts.unreachable = row.error;
  else if (options.live) facts.live = liveOf(row);
  const verdict = decideTargetState(facts, options.live);
  return {
    state: verdict.state,
    desired: row.desired,
    live: facts.live?.version ?? null,
    recorded: recorded?.version ?? null,
    ...(verdict.reason ? { reason: options.redact(verdict.reason) } : {}),
  };
}

function desiredHashOf(row: InspectedTarget): { desiredHash?: string } {
  const hash = row.plan?.desired.hash ?? row.desiredHash;
  return hash ? { desiredHash: hash } : {};
}

/** What the marker said: null for no release on the target. */
function liveOf(row: InspectedTarget): TargetFacts['live'] {
  if (row.plan) {
    const { live, desired, action } = row.plan;
    if (!live) return null;
    // same hash yet a deploy would act: a change that never finished (the marker says so)
    return { version: live.version, hash: live.hash, ...(action !== 'unchanged' && live.hash === desired.hash ? { incomplete: true } : {}) };
  }
  // the desired bundle did not build: the version is known, the hash is not compared
  return row.live ? { version: row.live.version } : null;
}

function toEvent(record: LedgerRecord, redact: (text: string) => string): ReportEvent {
  return {
    time: record.time,
    run: record.run,
    environment: record.environment,
    procedure: record.procedure,
    version: record.version,
    outcome: record.outcome,
    durationMs: record.durationMs,
    ...(record.error ? { error: redact(record.error) } : {}),
    checks: record.smoke
      .filter((check) => !check.skipped)
      .map((check) => (check.passed ? { name: check.name, ok: true } : { name: check.name, ok: false, output: redact([check.detail, check.output].filter(Boolean).join('\n')) })),
  };
}

/** Per procedure and environment: sites per version, live where read, else recorded; most used first. */
function countVersions(procedures: string[], sites: ReportSite[]): ReportVersions[] {
  const counts = new Map(procedures.map((procedure) => [procedure, { test: new Map<string, number>(), prod: new Map<string, number>() }]));
  for (const site of sites) {
    for (const cell of site.cells) {
      for (const environment of ['test', 'prod'] as EnvironmentName[]) {
        const target = cell[environment];
        const version = target?.live ?? target?.recorded;
        if (!version) continue;
        const map = counts.get(cell.procedure)![environment];
        map.set(version, (map.get(version) ?? 0) + 1);
      }
    }
  }
  const list = (map: Map<string, number>) => [...map].map(([version, count]) => ({ version, sites: count })).sort((a, b) => b.sites - a.sites || a.version.localeCompare(b.version));
  return procedures.map((procedure) => ({ procedure, prod: list(counts.get(procedure)!.prod), test: list(counts.get(procedure)!.test) }));
}

/** The rollout state, or none when it is missing or unreadable: it only names waves here. */
async function readRolloutStateQuietly(ledgerDir: string): Promise<RolloutState | undefined> {
  return readRolloutState(ledgerDir).catch(() => undefined);
}
