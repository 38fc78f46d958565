/** Reading and writing a procedure's release record (release-record.ts) in its namespace. */
import { ClusterError, ConcurrentChangeError } from '../../errors.js';
import { fieldManagerFor, LEGACY_FIELD_MANAGER, type KubeClient } from './kube-client.js';
import { findKind, type KindInfo } from './kinds.js';
import type { KubeObject } from './manifests.js';
import { decodeRecord, encodeRecord, recordName, type ReleaseRecord } from './release-record.js';

export const CONFIG_MAP: KindInfo = findKind('v1', 'ConfigMap')!;
export const SECRET: KindInfo = findKind('v1', 'Secret')!;

/** The record and the resourceVersion it was read at; neither when the procedure is new here. */
export interface StoredRecord {
  record?: ReleaseRecord;
  resourceVersion?: string;
}

export async function readRecord(c: KubeClient, procedure: string): Promise<StoredRecord> {
  const configMap = await c.get<KubeObject>(CONFIG_MAP, recordName(procedure));
  if (!configMap) return {};
  const resourceVersion = typeof configMap.metadata.resourceVersion === 'string' ? configMap.metadata.resourceVersion : undefined;
  // claimed by a run that stopped before it wrote anything: the procedure is new here, the claim is taken over
  if (configMap.data === undefined) return { resourceVersion };
  const record = decodeRecord(configMap, procedure);
  if (typeof record === 'string') {
    throw new ClusterError(c.namespace, `the release record cannot be read: ${record}`, undefined, {
      hint: `inspect ConfigMap ${recordName(procedure)}; if it is damaged, delete it and deploy again (the procedure then counts as new)`,
    });
  }
  return { record, resourceVersion };
}

/**
 * Writes the record if it is still at `resourceVersion`, or creates it when there was none;
 * returns the new resourceVersion. The first write of a run is its claim on the namespace:
 * of two runs that read the same record, the second one's claim fails here, before it
 * applied anything. A new record is first created (409 AlreadyExists for the second run)
 * rather than applied, because apply would create it over the claim another run made
 * meanwhile: the server ignores a resourceVersion when apply creates.
 */
export async function writeRecord(c: KubeClient, record: ReleaseRecord, resourceVersion: string | undefined, options: { claim?: boolean } = {}): Promise<string | undefined> {
  const fieldManager = fieldManagerFor(record.procedure);
  const object = encodeRecord(record, c.namespace);
  let written: KubeObject;
  try {
    let rv = resourceVersion;
    if (rv === undefined) {
      // Only name and labels: the data stays the apply's alone, so later applies never conflict with this create.
      const claim = await c.create(CONFIG_MAP, { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: c.namespace, labels: object.metadata.labels } }, { fieldManager });
      rv = typeof claim.metadata?.resourceVersion === 'string' ? claim.metadata.resourceVersion : undefined;
    }
    // the record is this procedure's by name: what the former shared manager held of it is taken over
    written = await c.apply(CONFIG_MAP, encodeRecord(record, c.namespace, rv), { fieldManager, takeOverFrom: LEGACY_FIELD_MANAGER });
  } catch (error) {
    if (error instanceof ClusterError && error.status === 409) throw await describeRecordConflict(c, record.procedure, error, options.claim === true);
    throw error;
  }
  const rv = written.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : undefined;
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string;
}

/** Who changed the record since this run read it: another ozg run, or someone by hand. */
async function describeRecordConflict(c: KubeClient, procedure: string, conflict: ClusterError, claim: boolean): Promise<ConcurrentChangeError> {
  const name = recordName(procedure);
  const changed = `the release record of ${procedure} changed while this run was working on it (ConfigMap ${name}${claim ? ', before this run applied anything' : ''})`;
  const now = await c.get<KubeObject>(CONFIG_MAP, name).catch(() => undefined);
  if (!now) {
    return new ConcurrentChangeError(c.namespace, `${changed}: it was deleted`, { applied: !claim, cause: conflict, hint: 'someone deleted the release record: find out who, then run again (the procedure then counts as new)' });
  }
  const entries = (Array.isArray(now.metadata.managedFields) ? now.metadata.managedFields : []) as ManagedFieldsEntry[];
  const isOzg = (e: ManagedFieldsEntry) => e.manager === fieldManagerFor(procedure) || e.manager === LEGACY_FIELD_MANAGER;
  // the newest entry made the change; on a tie (times have whole seconds) a hand edit is the one worth naming
  const latest = [...entries].sort((a, b) => (b.time ?? '').localeCompare(a.time ?? '') || Number(isOzg(a)) - Number(isOzg(b)))[0];
  const record = decodeRecord(now, procedure);
  if (latest && !isOzg(latest)) {
    return new ConcurrentChangeError(c.namespace, `${changed}: field manager "${latest.manager}" changed it${latest.time ? ` at ${latest.time}` : ''}, not ozg`, {
      applied: !claim,
      cause: conflict,
      hint: `someone edited the release record by hand: look at it (kubectl -n ${c.namespace} get configmap ${name} -o yaml), undo the edit if it was not meant, then run again`,
    });
  }
  const other = typeof record === 'string' ? undefined : record.incomplete;
  const what =
    other && !other.failed
      ? `another ozg run started ${other.action === 'rollback' ? 'a rollback to' : 'deploying'} release ${other.release} (${other.version}) at ${other.startedAt}`
      : 'another ozg run changed it';
  return new ConcurrentChangeError(c.namespace, `${changed}: ${what}`, {
    applied: !claim,
    cause: conflict,
    hint: 'another ozg run is deploying this procedure to the same namespace: let it finish, then run again',
  });
}
