/**
 * What a namespace remembers about a procedure, like Helm's release objects:
 *
 * - the release record, ConfigMap `ozg-release-<procedure>`: the live release, the one before
 *   it, an apply or rollback that started but did not finish, the releases kept for rollback
 *   and every kind ozg ever applied for the procedure (what pruning lists). Readable with
 *   ConfigMap rights alone and free of secrets, so `status` from any machine can show it.
 * - one archive per kept release, Secret `ozg-release-<procedure>.v<revision>` of type
 *   `ozg.example/release-archive`: the applied objects as gzipped JSON. A Secret and not a
 *   ConfigMap because a bundle's Secrets are in it; with them in the archive, a rollback
 *   restores exactly what was live (secret values included), and the record's hash never
 *   claims content the namespace does not hold.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { LiveRelease } from '../driver.js';
import { decodeLiveRelease } from '../live-release.js';
import { isRecord, LABELS, LABEL_PREFIX, MANAGED_BY, type KubeObject } from './manifests.js';

export const RECORD_KEY = 'release.json';
export const ARCHIVE_KEY = 'objects.json.gz';
export const ARCHIVE_TYPE = `${LABEL_PREFIX}/release-archive`;
const RECORD_FORMAT = 1;
/** A Secret holds at most 1 MiB; leave room for metadata. */
export const ARCHIVE_LIMIT_BYTES = 1_000_000;

/** A release whose objects are kept in an archive. */
export interface KeptRelease {
  revision: number;
  release: string;
  version: string;
  hash: string;
  /** name of the archive Secret */
  archive: string;
}

/** An apply or rollback that started after the live release and did not finish. */
export interface IncompleteChange {
  action: 'apply' | 'rollback';
  release: string;
  version: string;
  hash: string;
  startedAt: string;
  /** the id of the ozg run that started it (its ledger lock token): a later run that took over that run's lock knows it is dead */
  run?: string;
  /** why it failed, when ozg saw it fail (absent: ozg was stopped, or it is still running) */
  failed?: string;
}

export interface ReleaseRecord {
  procedure: string;
  site: string;
  environment: string;
  live?: LiveRelease & { revision: number };
  incomplete?: IncompleteChange;
  /** newest first */
  kept: KeptRelease[];
  /** `apiVersion/kind` of everything ozg applied for this procedure, ever: what prune lists */
  kinds: string[];
}

export function recordName(procedure: string): string {
  return `ozg-release-${procedure}`;
}

/** The dot cannot occur in a procedure name, so no archive name equals another procedure's record. */
export function archiveName(procedure: string, revision: number): string {
  return `ozg-release-${procedure}.v${revision}`;
}

export function nextRevision(record: ReleaseRecord | undefined): number {
  const revisions = [record?.live?.revision ?? 0, ...(record?.kept ?? []).map((k) => k.revision)];
  return Math.max(...revisions) + 1;
}

interface RecordLabels {
  site: string;
  environment: string;
  procedure: string;
}

function recordLabels(labels: RecordLabels, role: 'release' | 'archive'): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.site]: labels.site,
    [LABELS.environment]: labels.environment,
    [LABELS.procedure]: labels.procedure,
    [LABELS.record]: role,
  };
}

/** The record as a ConfigMap; `resourceVersion` makes the write fail if another run changed it meanwhile. */
export function encodeRecord(record: ReleaseRecord, namespace: string, resourceVersion?: string): KubeObject {
  const { procedure, site, environment, live, incomplete, kept, kinds } = record;
  const body = { format: RECORD_FORMAT, procedure, site, environment, ...(live ? { live } : {}), ...(incomplete ? { incomplete } : {}), kept, kinds };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: recordName(procedure),
      namespace,
      labels: recordLabels(record, 'release'),
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: { [RECORD_KEY]: JSON.stringify(body, null, 2) + '\n' },
  };
}

/** A record read back, or a message saying what is wrong with it. */
export function decodeRecord(configMap: unknown, procedure: string): ReleaseRecord | string {
  const data = isRecord(configMap) && isRecord(configMap.data) ? configMap.data : undefined;
  const text = data?.[RECORD_KEY];
  if (typeof text !== 'string') return `ConfigMap ${recordName(procedure)} has no ${RECORD_KEY}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `${RECORD_KEY} of ConfigMap ${recordName(procedure)} is not JSON: ${(error as Error).message}`;
  }
  if (!isRecord(value) || value.format !== RECORD_FORMAT) return `ConfigMap ${recordName(procedure)} is not an ozg release record of format ${RECORD_FORMAT}`;
  if (value.procedure !== procedure) return `ConfigMap ${recordName(procedure)} is the record of ${String(value.procedure)}, not ${procedure}`;
  const record: ReleaseRecord = {
    procedure,
    site: asString(value.site),
    environment: asString(value.environment),
    kept: Array.isArray(value.kept) ? value.kept.filter(isKeptRelease) : [],
    kinds: Array.isArray(value.kinds) ? value.kinds.filter((k): k is string => typeof k === 'string') : [],
  };
  const live = decodeLive(value.live, procedure);
  if (live) record.live = live;
  if (isRecord(value.incomplete) && ['release', 'version', 'hash', 'startedAt'].every((k) => isText((value.incomplete as Record<string, unknown>)[k]))) {
    const i = value.incomplete;
    record.incomplete = {
      action: i.action === 'rollback' ? 'rollback' : 'apply',
      release: i.release as string,
      version: i.version as string,
      hash: i.hash as string,
      startedAt: i.startedAt as string,
      ...(isText(i.run) ? { run: i.run } : {}),
      ...(isText(i.failed) ? { failed: i.failed } : {}),
    };
  }
  return record;
}

/** What `live()` reports: the live release, and an unfinished change on top of it if there is one. */
export function liveReleaseOf(record: ReleaseRecord): LiveRelease | undefined {
  if (!record.live) return undefined;
  const { revision: _revision, ...live } = record.live;
  const incomplete = record.incomplete;
  return incomplete
    ? { ...live, incomplete: { version: incomplete.version, hash: incomplete.hash, release: incomplete.release, ...(incomplete.failed ? { failed: incomplete.failed } : {}) } }
    : live;
}

/** The record's live release; one that cannot be read counts as none (the next deploy rewrites it). */
function decodeLive(value: unknown, procedure: string): (LiveRelease & { revision: number }) | undefined {
  if (!isRecord(value)) return undefined;
  // the record as a whole is this procedure's (checked by decodeRecord): its live part need not say so again
  const live = decodeLiveRelease({ ...value, procedure }, procedure, 'the live release');
  if (typeof live === 'string') return undefined;
  const { previous, ...identity } = live;
  return { ...identity, revision: typeof value.revision === 'number' ? value.revision : 0, ...(previous ? { previous } : {}) };
}

function isKeptRelease(value: unknown): value is KeptRelease {
  return isRecord(value) && typeof value.revision === 'number' && ['release', 'version', 'hash', 'archive'].every((k) => isText(value[k]));
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * The releases to keep after `next` went live: the newest `keep` (never fewer than the live
 * and the previous one), and the ones to delete.
 */
export function selectKeptReleases(kept: readonly KeptRelease[], keep: number, mustKeep: readonly string[]): { kept: KeptRelease[]; drop: KeptRelease[] } {
  const sorted = [...kept].sort((a, b) => b.revision - a.revision);
  const limit = Math.max(2, Math.floor(keep));
  const result: KeptRelease[] = [];
  const drop: KeptRelease[] = [];
  for (const entry of sorted) {
    if (result.length < limit || mustKeep.includes(entry.release)) result.push(entry);
    else drop.push(entry);
  }
  return { kept: result, drop };
}

/** The archive Secret of one release, or a message when the objects do not fit into one. */
export function encodeArchive(
  objects: readonly KubeObject[],
  entry: Omit<KeptRelease, 'archive'>,
  labels: RecordLabels,
  namespace: string,
): KubeObject | string {
  const compressed = gzipSync(Buffer.from(JSON.stringify(objects), 'utf8'), { level: 9 });
  if (compressed.length > ARCHIVE_LIMIT_BYTES) {
    return `the objects of release ${entry.release} take ${compressed.length} bytes compressed; a release archive holds at most ${ARCHIVE_LIMIT_BYTES}`;
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: archiveName(labels.procedure, entry.revision),
      namespace,
      labels: recordLabels(labels, 'archive'),
      annotations: {
        [`${LABEL_PREFIX}/release`]: entry.release,
        [`${LABEL_PREFIX}/version`]: entry.version,
        [`${LABEL_PREFIX}/hash`]: entry.hash,
      },
    },
    type: ARCHIVE_TYPE,
    data: { [ARCHIVE_KEY]: compressed.toString('base64') },
  };
}

export function decodeArchive(secret: unknown): KubeObject[] | string {
  const data = isRecord(secret) && isRecord(secret.data) ? secret.data : undefined;
  const encoded = data?.[ARCHIVE_KEY];
  if (typeof encoded !== 'string') return `the archive has no ${ARCHIVE_KEY}`;
  try {
    const value = JSON.parse(gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8')) as unknown;
    if (!Array.isArray(value) || !value.every((o) => isRecord(o) && typeof o.kind === 'string' && isRecord(o.metadata))) return 'the archive does not hold a list of objects';
    return value as KubeObject[];
  } catch (error) {
    return `the archive cannot be read: ${(error as Error).message}`;
  }
}
