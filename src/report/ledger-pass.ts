/**
 * What the fleet report needs from the ledger beyond the workspace's index (latest live
 * release, active holds), gathered in one streaming pass with maps: the newest record of
 * every target, each site's newest records for its timeline, and a running summary of every
 * run, so that the newest run can be summarised without a second pass. Only records of the
 * selected sites count.
 */
import { targetKey, type Ledger } from '../ledger/ledger.js';
import type { LedgerRecord } from '../ledger/types.js';

/** One run, summed up while streaming. */
export interface RunAggregate {
  run: string;
  actor: string;
  started: string;
  finished: string;
  sites: Set<string>;
  targets: Set<string>;
  outcomes: Record<string, number>;
  /** its apply-failed and smoke-failed records, in file order */
  failed: LedgerRecord[];
}

export interface FleetLedger {
  /** per target key: the newest record of any outcome (causal order: seq, then file order) */
  newest: Map<string, LedgerRecord>;
  /** per site: its newest records, newest first, at most the limit */
  timelines: Map<string, LedgerRecord[]>;
  /** the run with the newest record time, if any record was read */
  lastRun?: RunAggregate;
}

const FAILED = new Set<LedgerRecord['outcome']>(['apply-failed', 'smoke-failed']);

export async function readFleetLedger(ledger: Pick<Ledger, 'scan'>, sites: ReadonlySet<string>, timelineLimit: number): Promise<FleetLedger> {
  const collector = new FleetLedgerCollector(sites, timelineLimit);
  await ledger.scan((record) => collector.add(record));
  return collector.finish();
}

/** The pass itself, apart from the file so tests can feed it records. */
export class FleetLedgerCollector {
  private readonly newest = new Map<string, LedgerRecord>();
  private readonly newestSeq = new Map<string, number>();
  private readonly timelines = new Map<string, LedgerRecord[]>();
  private readonly runs = new Map<string, RunAggregate>();
  private lastRun?: RunAggregate;

  constructor(
    private readonly sites: ReadonlySet<string>,
    private readonly timelineLimit: number,
  ) {}

  add(record: LedgerRecord): void {
    if (!this.sites.has(record.site)) return;
    const key = targetKey(record);
    // as LatestTracker: a record without seq (older ozg) ranks by its place in the file
    const best = this.newestSeq.get(key);
    const seq = record.seq ?? best ?? 0;
    if (best === undefined || seq >= best) {
      this.newest.set(key, record);
      this.newestSeq.set(key, seq);
    }
    this.addToTimeline(record);
    this.addToRun(record, key);
  }

  finish(): FleetLedger {
    const timelines = new Map<string, LedgerRecord[]>();
    for (const [site, records] of this.timelines) timelines.set(site, records.slice(-this.timelineLimit).reverse());
    return { newest: this.newest, timelines, ...(this.lastRun ? { lastRun: this.lastRun } : {}) };
  }

  private addToTimeline(record: LedgerRecord): void {
    if (this.timelineLimit <= 0) return;
    let records = this.timelines.get(record.site);
    if (!records) this.timelines.set(record.site, (records = []));
    records.push(record);
    // trimmed in batches: amortised constant time per record
    if (records.length >= this.timelineLimit * 2 + 16) records.splice(0, records.length - this.timelineLimit);
  }

  private addToRun(record: LedgerRecord, key: string): void {
    let run = this.runs.get(record.run);
    if (!run) {
      run = { run: record.run, actor: record.actor, started: record.time, finished: record.time, sites: new Set(), targets: new Set(), outcomes: {}, failed: [] };
      this.runs.set(record.run, run);
    }
    if (record.time < run.started) run.started = record.time;
    if (record.time > run.finished) run.finished = record.time;
    run.sites.add(record.site);
    run.targets.add(key);
    run.outcomes[record.outcome] = (run.outcomes[record.outcome] ?? 0) + 1;
    if (FAILED.has(record.outcome)) run.failed.push(record);
    if (!this.lastRun || run.finished > this.lastRun.finished || run === this.lastRun) this.lastRun = run;
  }
}
