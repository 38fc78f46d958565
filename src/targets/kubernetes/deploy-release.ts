/**
 * The one path that changes a namespace (apply and rollback): mark the change as incomplete
 * in the record, apply, prune, wait for the rollout, then record the new live release.
 */
import { ClusterError, ConcurrentChangeError, InternalError } from '../../errors.js';
import type { LiveRelease } from '../driver.js';
import { awaitDeletions } from './await-deletions.js';
import { fieldManagerFor, LEGACY_FIELD_MANAGER } from './kube-client.js';
import { kindKey } from './kinds.js';
import { manifestSource, type ManifestObject } from './manifests.js';
import type { NamespaceScope, Polling } from './namespace-scope.js';
import { foreignObjectsError, listOwnedObjects, objectKey, readOwnership } from './owned-objects.js';
import { encodeArchive, nextRevision, selectKeptReleases, type KeptRelease, type ReleaseRecord } from './release-record.js';
import { SECRET, writeRecord, type StoredRecord } from './release-store.js';
import { firstLine, waitForRollout } from './wait-for-rollout.js';

export interface DeployReleaseOptions extends Polling {
  /** releases whose objects are kept for rollback */
  keepReleases: number;
  rolloutTimeoutMs: number;
  now: () => Date;
  /** this run's id, written into the unfinished change it claims */
  run?: string;
  /** ids of runs known to be dead (this run took over their ledger lock): their unfinished changes do not hold this one back */
  deadRuns?: readonly string[];
}

export interface DeployRequest {
  procedure: string;
  /** labelled, in apply order */
  objects: ManifestObject[];
  /** the release to make live; `revision` when it is a kept one (rollback), whose archive exists already */
  target: Omit<KeptRelease, 'revision' | 'archive'> & { revision?: number };
  action: 'apply' | 'rollback';
  /** the record as read before, and the resourceVersion it was read at */
  stored: StoredRecord;
  /** `deploy --reinstall`: fields changed by another manager are taken back (kube-client.ts) */
  forceConflicts?: boolean;
}

/**
 * How long after its start an unfinished change without a failure counts as still running:
 * its rollout wait plus this, for applying and pruning. After that it counts as a run that
 * was killed, and another run may go ahead.
 */
export const UNFINISHED_GRACE_MS = 5 * 60_000;

export async function deployRelease(scope: NamespaceScope, request: DeployRequest, options: DeployReleaseOptions): Promise<LiveRelease> {
  const { client: c, site, environment } = scope;
  const { procedure, objects, target, action } = request;
  const record = request.stored.record;
  refuseWhileUnfinished(c.namespace, record, options);
  const ownership = await readOwnership(c, procedure, objects);
  if (ownership.foreign.length > 0) throw foreignObjectsError(c.namespace, procedure, ownership.foreign);
  // Before the claim on the record: a wait that fails has written nothing.
  await awaitDeletions(c, objects, ownership.live, objectKey, { ...options, timeoutMs: options.rolloutTimeoutMs });
  const kinds = [...new Set([...(record?.kinds ?? []), ...objects.map((o) => kindKey(o.info.apiVersion, o.info.kind))])].sort();
  const working: ReleaseRecord = {
    procedure,
    site,
    environment,
    ...(record?.live ? { live: record.live } : {}),
    incomplete: { action, release: target.release, version: target.version, hash: target.hash, startedAt: options.now().toISOString(), ...(options.run ? { run: options.run } : {}) },
    kept: record?.kept ?? [],
    kinds,
  };
  // Written first, so a run that dies half-way leaves a record saying so; and as the run's
  // claim: if another run changed the record since it was read, this fails before anything is applied.
  const rv = await writeRecord(c, working, request.stored.resourceVersion, { claim: true });
  try {
    for (const o of objects) {
      const applyOptions = {
        fieldManager: fieldManagerFor(procedure),
        source: manifestSource(procedure, target.version, o),
        ...(ownership.ours.has(objectKey(o)) ? { takeOverFrom: LEGACY_FIELD_MANAGER } : {}),
        ...(request.forceConflicts ? { forceConflicts: true } : {}),
      };
      await c.apply(o.info, o.object, applyOptions).catch(async (error: unknown) => {
        // A Job's template cannot change, and a Job may be run anew: delete it (its pods go
        // with it) and apply it again. Claims and everything else stay an error.
        if (!(error instanceof ClusterError && error.status === 422 && o.info.kind === 'Job' && /cannot change on a live object/.test(error.message))) throw error;
        await c.delete(o.info, o.object.metadata.name);
        await c.apply(o.info, o.object, applyOptions);
      });
    }
    for await (const { info, object } of listOwnedObjects(c, { site, procedure, kinds, objects })) await c.delete(info, object.metadata.name);
    await waitForRollout(c, objects, { ...options, timeoutMs: options.rolloutTimeoutMs, live: record?.live });
  } catch (error) {
    working.incomplete = { ...working.incomplete!, failed: firstLine(error) };
    await writeRecord(c, working, rv).catch(() => undefined); // the original failure is the one to report
    throw error;
  }

  let kept = working.kept;
  let revision = target.revision;
  if (revision === undefined) {
    revision = nextRevision(record);
    const entry = { revision, release: target.release, version: target.version, hash: target.hash };
    const archive = encodeArchive(objects.map((o) => o.object), entry, { site, environment, procedure }, c.namespace);
    if (typeof archive === 'string') throw new InternalError(archive); // checked before anything was applied
    await c.apply(SECRET, archive, { fieldManager: fieldManagerFor(procedure), takeOverFrom: LEGACY_FIELD_MANAGER });
    kept = [{ ...entry, archive: archive.metadata.name }, ...kept.filter((k) => k.revision !== revision)];
  }
  const previous = action === 'rollback' && record?.live?.release === target.release ? record.live.previous : record?.live ? identity(record.live) : undefined;
  const nextLive = { procedure, version: target.version, hash: target.hash, release: target.release, deployedAt: options.now().toISOString(), revision, ...(previous ? { previous } : {}) };
  const selection = selectKeptReleases(kept, options.keepReleases, [nextLive.release, ...(previous ? [previous.release] : [])]);
  await writeRecord(c, { procedure, site, environment, live: nextLive, kept: selection.kept, kinds }, rv);
  // Housekeeping: an archive that cannot be deleted now is tried again by the next release.
  for (const old of selection.drop) await c.delete(SECRET, old.archive).catch(() => false);
  return stripRevision(nextLive);
}

/** A change another run started and has not finished or failed: that run is most likely still at work. */
function refuseWhileUnfinished(namespace: string, record: ReleaseRecord | undefined, options: DeployReleaseOptions): void {
  const unfinished = record?.incomplete;
  if (!unfinished || unfinished.failed !== undefined) return;
  // Its run was killed: this run took over that run's ledger lock, so nothing works on it any more.
  if (unfinished.run !== undefined && options.deadRuns?.includes(unfinished.run)) return;
  const until = Date.parse(unfinished.startedAt) + options.rolloutTimeoutMs + UNFINISHED_GRACE_MS;
  if (!Number.isFinite(until) || options.now().getTime() >= until) return;
  const what = unfinished.action === 'rollback' ? 'a rollback to' : 'deploying';
  throw new ConcurrentChangeError(namespace, `another ozg run started ${what} release ${unfinished.release} (${unfinished.version}) of ${record!.procedure} at ${unfinished.startedAt} and has not finished; this run applied nothing`, {
    applied: false,
    hint:
      `let that run finish, then run again; if it was killed, run again after ${new Date(until).toISOString()}, ` +
      'or at once from the checkout it ran in while its stale ledger lock is still there (the run that takes the lock over knows it died)',
  });
}

function identity(live: LiveRelease): { version: string; hash: string; release: string } {
  return { version: live.version, hash: live.hash, release: live.release };
}

export function stripRevision(live: LiveRelease & { revision?: number }): LiveRelease {
  const { revision: _revision, ...rest } = live;
  return rest;
}
