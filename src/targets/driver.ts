import type { Bundle } from '../procedure/types.js';
import type { SmokeCheck, SmokeResult } from '../smoke/types.js';

/** What a target says is deployed there now, read from the marker the driver keeps on it. */
export interface LiveRelease {
  procedure: string;
  version: string;
  hash: string;
  release: string;
  deployedAt: string;
  /**
   * VM markers: sha256 of the release's file list (`.ozg-files`: each file's sha256), so
   * `ozg verify` can tell an edited file; absent in markers older than verify and after a rollback
   */
  files?: string;
  /** the release before this one, if the target still keeps it */
  previous?: { version: string; hash: string; release: string };
  /**
   * an apply or rollback that started after this release and did not finish (failed, or ozg
   * was stopped): the target may hold parts of it, so it is drift even when the hashes match.
   * Kubernetes targets report it; a rollback (or a successful apply) clears it.
   */
  incomplete?: { version: string; hash: string; release: string; failed?: string };
}

export type ApplyResult =
  | { status: 'unchanged'; live: LiveRelease }
  | { status: 'applied'; live: LiveRelease; previous?: LiveRelease };

/** A release a target keeps and can be rolled back to. */
export interface KeptRelease {
  release: string;
  version: string;
  hash: string;
}

export interface ApplyOptions {
  /** apply even when the live release is this bundle: repairs files or objects changed by hand */
  reinstall?: boolean;
}

/** What `verify` found on one target for one procedure; paths (VM) or `kind/name` (Kubernetes). */
export type VerifyResult =
  | { status: 'clean'; release: string; checked: number }
  | {
      status: 'drifted';
      release: string;
      checked: number;
      changed: string[];
      missing: string[];
      extra: string[];
      /** Kubernetes: the fields that differ, per changed object (`spec.template.spec.containers[0].image`) */
      fields?: { object: string; paths: string[] }[];
    }
  /** nothing to compare with: no release live, or a marker without checksums (`reason` says which) */
  | { status: 'unverifiable'; release?: string; reason: string };

export type RollbackResult =
  | { status: 'rolled-back'; live: LiveRelease }
  | { status: 'nothing-to-roll-back'; reason: string };

/** The one seam between the pipeline and a place procedures land (VM host, directory, namespace). */
export interface TargetDriver {
  /** human name of the target: `kiel/test @ 127.0.0.2`, a directory or a namespace */
  readonly description: string;
  /**
   * the live release of a procedure, or undefined when none is deployed. `bundle`, when given,
   * is what the next apply will bring: a VM driver learns in the same read which of its blobs
   * the target's store lacks.
   */
  live(procedure: string, bundle?: Bundle): Promise<LiveRelease | undefined>;
  /** idempotent: unchanged when the live hash equals bundle.hash, unless `reinstall` asks to apply it again */
  apply(bundle: Bundle, releaseId: string, options?: ApplyOptions): Promise<ApplyResult>;
  /**
   * compares what is on the target with what the live release put there (changed, missing and
   * extra files or objects); `bundle` is the desired one, which Kubernetes compares with
   */
  verify?(procedure: string, bundle: Bundle): Promise<VerifyResult>;
  /** run the checks on (or against) the target's live release */
  smoke(procedure: string, checks: SmokeCheck[]): Promise<SmokeResult[]>;
  /** switch back to the previous release (or to `toRelease` when given) */
  rollback(procedure: string, toRelease?: string): Promise<RollbackResult>;
  /** the releases kept on the target for rollback, newest first (for `rollback --to` answers) */
  keptReleases?(procedure: string): Promise<KeptRelease[]>;
  close(): Promise<void>;
}

/** What a server-side dry run says a bundle would do, by object name (`kind/name`). */
export interface BundleDiff {
  create: string[];
  change: string[];
  unchanged: string[];
  prune: string[];
}

/** A driver that can preview a bundle without changing the target (Kubernetes: server-side dry run). */
export interface DiffingDriver extends TargetDriver {
  diffBundle(bundle: Bundle): Promise<BundleDiff>;
}

export function canDiff(driver: TargetDriver): driver is DiffingDriver {
  return typeof (driver as Partial<DiffingDriver>).diffBundle === 'function';
}
