/** Reading and writing a procedure's release record (release-record.ts) in its namespace. */
import { ClusterError } from '../../errors.js';
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
  const record = decodeRecord(configMap, procedure);
  if (typeof record === 'string') {
    throw new ClusterError(c.namespace, `the release record cannot be read: ${record}`, undefined, {
      hint: `inspect ConfigMap ${recordName(procedure)}; if it is damaged, delete it and deploy again (the procedure then counts as new)`,
    });
  }
  const resourceVersion = typeof configMap.metadata.resourceVersion === 'string' ? configMap.metadata.resourceVersion : undefined;
  return { record, resourceVersion };
}

/** Writes the record if it is still at `resourceVersion`; returns the new resourceVersion. */
export async function writeRecord(c: KubeClient, record: ReleaseRecord, resourceVersion: string | undefined): Promise<string | undefined> {
  let written: KubeObject;
  try {
    // the record is this procedure's by name: what the former shared manager held of it is taken over
    written = await c.apply(CONFIG_MAP, encodeRecord(record, c.namespace, resourceVersion), { fieldManager: fieldManagerFor(record.procedure), takeOverFrom: LEGACY_FIELD_MANAGER });
  } catch (error) {
    if (error instanceof ClusterError && error.status === 409) {
      throw new ClusterError(c.namespace, `the release record of ${record.procedure} changed while this run was working on it`, 409, {
        cause: error,
        hint: 'another ozg run is deploying this procedure to the same namespace: let it finish, then run again',
      });
    }
    throw error;
  }
  const rv = written.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : undefined;
}
