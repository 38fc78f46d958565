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
interface RunTally {
  run: string;
  actor: string;
  started: string;
  finished: string;
  /** ids of its sites and targets (see `FleetLedgerCollector.ids`) */
  sites: Set<number>;
  targets: Set<number>;
  outcomes: Record<string, number>;
  /** its apply-failed and smoke-failed records, in file order */
  failed: LedgerRecord[];
}

/** The newest run as the report sums it up: its sites by name (for its waves), its targets counted. */
export interface RunAggregate extends Omit<RunTally, 'sites' | 'targets'> {
  sites: Set<string>;
  targets: number;
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
  private readonly runs = new Map<string, RunTally>();
  // Every run of the history keeps the sites and targets it touched, as small integers: a year
  // of weekly runs over 22,000 targets is ~1 M set entries, which as key strings would be
  // hundreds of MB. Records of one run may interleave with another's (merged ledgers), so
  // the sets stay exact rather than counting on a change of run.
  private readonly ids = new Map<string, number>();
  private lastRun?: RunTally;

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
    return { newest: this.newest, timelines, ...(this.lastRun ? { lastRun: this.aggregate(this.lastRun) } : {}) };
  }

  private idOf(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) this.ids.set(text, (id = this.ids.size));
    return id;
  }

  private aggregate(tally: RunTally): RunAggregate {
    const sites = new Set<string>();
    for (const [text, id] of this.ids) if (tally.sites.has(id) && this.sites.has(text)) sites.add(text);
    return { ...tally, sites, targets: tally.targets.size };
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
    run.sites.add(this.idOf(record.site));
    run.targets.add(this.idOf(key));
    run.outcomes[record.outcome] = (run.outcomes[record.outcome] ?? 0) + 1;
    if (FAILED.has(record.outcome)) run.failed.push(record);
    if (!this.lastRun || run.finished > this.lastRun.finished || run === this.lastRun) this.lastRun = run;
  }
}
