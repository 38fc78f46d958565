/**
 * The fleet report's model (issue 16): what `ozg report` knows about every selected site,
 * built from the ledger and, unless `--offline`, the live markers. Plain data, already
 * redacted: a renderer (HTML page, JSON) only formats it and never sees a secret.
 */

/** One target's state, worst first where several apply (a failed smoke beats pending). */
export type ReportState =
  | 'failed' // the newest attempt on this target failed (apply or smoke) or was rolled back
  | 'unreachable' // the live marker could not be read (never with --offline)
  | 'drift' // the live release differs from what the ledger recorded
  | 'held' // a rollback holds the target off the desired bundle
  | 'pending' // a deploy would change it (desired differs from live/recorded)
  | 'up-to-date' // live (or, offline, recorded) is the desired bundle
  | 'not-deployed'; // nothing recorded and nothing live

export const reportStates: readonly ReportState[] = ['failed', 'unreachable', 'drift', 'held', 'pending', 'up-to-date', 'not-deployed'];

/** One environment of one site × procedure. */
export interface ReportTarget {
  state: ReportState;
  /** the version the inventory asks for */
  desired: string;
  /** the version found on the target; null when not read (offline, unreachable) or absent */
  live: string | null;
  /** the version the ledger last recorded as live */
  recorded: string | null;
  /** one line why, for failed / unreachable / held / drift (secret-free) */
  reason?: string;
}

/** One site × procedure: both environments; `state` is the worse of the two. */
export interface ReportCell {
  procedure: string;
  state: ReportState;
  test?: ReportTarget;
  prod?: ReportTarget;
}

/** One ledger record of a site, newest first, as the timeline shows it. */
export interface ReportEvent {
  time: string;
  run: string;
  environment: 'test' | 'prod';
  procedure: string;
  version: string;
  /** the ledger outcome: applied, smoke-failed, rolled-back, … */
  outcome: string;
  durationMs: number;
  error?: string;
  /** smoke checks; `output` only for failed ones (already trimmed by the ledger) */
  checks: { name: string; ok: boolean; output?: string }[];
}

export interface ReportSite {
  name: string;
  dataCenter: string;
  labels: Record<string, string>;
  /** the worst state of its cells */
  state: ReportState;
  cells: ReportCell[];
  /** newest first, at most `timelineLimit` entries */
  timeline: ReportEvent[];
}

/** The newest run in the ledger (by record time), summarised. */
export interface ReportRollout {
  run: string;
  actor: string;
  started: string;
  finished: string;
  durationMs: number;
  sites: number;
  targets: number;
  /** ledger outcome → count of records */
  outcomes: Record<string, number>;
  /** sites of the run with a failed record, and why (first error or failed check) */
  failures: { site: string; procedure: string; environment: 'test' | 'prod'; reason: string }[];
  /** the inventory's waves as the run's sites fell into them (name → site count); empty without waves */
  waves: { name: string; sites: number; failed: number }[];
}

/** Per procedure, how many sites run each version (prod, and test). */
export interface ReportVersions {
  procedure: string;
  prod: { version: string; sites: number }[];
  test: { version: string; sites: number }[];
}

export interface FleetReport {
  /** ISO time the report was made */
  generatedAt: string;
  /** the inventory file's name as given (no absolute path of the operator's machine) */
  inventory: string;
  /** true: live markers were read; false: ledger only (`--offline`) */
  live: boolean;
  procedures: string[];
  /** label keys present on any site, sorted (e.g. district, ring, state) */
  labelKeys: string[];
  /** state → number of sites whose worst state it is */
  counts: Record<ReportState, number>;
  sites: ReportSite[];
  lastRollout?: ReportRollout;
  versions: ReportVersions[];
}
