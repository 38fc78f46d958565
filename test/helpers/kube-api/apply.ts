import { collectFieldSet, deleteAtPath, FieldSet, formatPath, getAtPath, isItemSegment, keySegment, listKeyFields, type FieldPath } from './field-set.js';
import { clone, deepEqual, isPlainObject, type KubeObject, type ManagedFieldsEntry } from './objects.js';
import { ApiError } from './status.js';

/**
 * Server-side apply and managedFields bookkeeping.
 *
 * Apply (PATCH application/apply-patch+yaml): the manager's Apply entry becomes exactly the
 * set of fields in the applied configuration. A field another manager owns with a different
 * live value is a conflict (409, reason Conflict) unless force=true, which takes the field
 * over. Fields the manager applied before and applies no longer are removed from the object
 * unless another manager still owns them. Everything else in the live object stays.
 *
 * Update (create, replace, merge/JSON patch): the manager's Update entry gains the fields the
 * request changed; other managers lose them (no conflicts, as in the real server).
 */

type EntryHeader = Omit<ManagedFieldsEntry, 'fieldsV1' | 'fieldsType'>;

interface Manager {
  entry: EntryHeader;
  set: FieldSet;
}

function identity(entry: Pick<ManagedFieldsEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify([entry.manager, entry.operation, entry.operation === 'Update' ? entry.apiVersion : '', entry.subresource ?? '']);
}

function readManagers(object: KubeObject | undefined): Manager[] {
  return (object?.metadata.managedFields ?? []).map(({ fieldsV1, fieldsType: _type, ...entry }) => ({ entry, set: FieldSet.fromFieldsV1(fieldsV1) }));
}

function writeManagers(object: KubeObject, managers: Manager[]): void {
  const entries = managers
    .filter((m) => m.set.size > 0)
    .map(
      (m): ManagedFieldsEntry => ({
        manager: m.entry.manager,
        operation: m.entry.operation,
        apiVersion: m.entry.apiVersion,
        ...(m.entry.time ? { time: m.entry.time } : {}),
        fieldsType: 'FieldsV1',
        fieldsV1: m.set.toFieldsV1(),
        ...(m.entry.subresource ? { subresource: m.entry.subresource } : {}),
      }),
    );
  if (entries.length > 0) object.metadata.managedFields = entries;
  else delete object.metadata.managedFields;
}

/** How conflict messages name a manager: `"kubectl"`, `"helm" using apps/v1 at 2024-…Z`. */
function describeManager(entry: EntryHeader): string {
  let text = JSON.stringify(entry.manager);
  if (entry.subresource) text += ` with subresource ${JSON.stringify(entry.subresource)}`;
  if (entry.operation === 'Update') text += entry.time ? ` using ${entry.apiVersion} at ${entry.time}` : ` using ${entry.apiVersion}`;
  return text;
}

function conflictError(conflicts: { manager: Manager; path: FieldPath }[]): ApiError {
  const lines = conflicts.map((c) => `conflict with ${describeManager(c.manager.entry)}: ${formatPath(c.path)}`);
  const message =
    conflicts.length === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  return new ApiError(409, 'Conflict', message, {
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${describeManager(c.manager.entry)}`, field: formatPath(c.path) })),
  });
}

/** Merge an applied configuration into the live object: maps field by field, keyed lists item by item. */
function mergeValue(field: string, current: unknown, applied: unknown): unknown {
  if (isPlainObject(applied) && isPlainObject(current)) {
    for (const [k, v] of Object.entries(applied)) {
      if (v !== undefined) current[k] = mergeValue(k, current[k], v);
    }
    return current;
  }
  if (Array.isArray(applied) && Array.isArray(current)) {
    const keys = listKeyFields(field, applied);
    if (keys && listKeyFields(field, current)) {
      for (const item of applied as Record<string, unknown>[]) {
        const segment = keySegment(keys, item);
        const index = current.findIndex((c) => keySegment(keys, c as Record<string, unknown>) === segment);
        if (index >= 0) current[index] = mergeValue(field, current[index], item);
        else current.push(clone(item));
      }
      return current;
    }
  }
  return clone(applied);
}

/** The parts of metadata a client may set; the rest is the server's. */
function stripServerMetadata(object: KubeObject): KubeObject {
  const copy = clone(object);
  for (const field of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']) {
    delete copy.metadata[field];
  }
  return copy;
}

export interface ApplyOptions {
  live: KubeObject | undefined;
  applied: KubeObject;
  manager: string;
  force: boolean;
  /** the group/version the request came in as */
  apiVersion: string;
  now: string;
  /** `status` for PATCH …/status */
  subresource?: string;
  /** drop the applied status (main resource of a type with a status subresource) */
  ignoreStatus: boolean;
}

/** The object after applying (not stored yet); throws the 409 conflict error. */
export function applyConfiguration(options: ApplyOptions): KubeObject {
  const applied = stripServerMetadata(options.applied);
  if (options.subresource === 'status') {
    for (const key of Object.keys(applied)) if (!['apiVersion', 'kind', 'metadata', 'status'].includes(key)) delete applied[key];
    applied.metadata = { name: applied.metadata.name, namespace: applied.metadata.namespace };
  } else if (options.ignoreStatus) {
    delete applied.status;
  }
  const appliedSet = collectFieldSet(applied, options.subresource === 'status' ? { only: 'status' } : {});
  const managers = readManagers(options.live);
  const selfEntry = { manager: options.manager, operation: 'Apply' as const, apiVersion: options.apiVersion, subresource: options.subresource };
  const self = managers.find((m) => identity(m.entry) === identity(selfEntry));
  const others = managers.filter((m) => m !== self);

  const conflicts: { manager: Manager; path: FieldPath }[] = [];
  for (const path of appliedSet) {
    if (isItemSegment(path[path.length - 1])) continue;
    for (const other of others) {
      if (!other.set.has(path)) continue;
      if (!deepEqual(getAtPath(applied, path).value, getAtPath(options.live, path).value)) conflicts.push({ manager: other, path });
    }
  }
  if (conflicts.length > 0 && !options.force) throw conflictError(conflicts);
  for (const c of conflicts) c.manager.set.delete(c.path);

  const result: KubeObject = clone(options.live) ?? { apiVersion: applied.apiVersion, kind: applied.kind, metadata: {} };
  const ownedByOthers = (path: FieldPath): boolean => others.some((m) => m.set.has(path));
  const ownedByOthersAtOrBelow = (path: FieldPath): boolean => others.some((m) => [...m.set].some((q) => startsWith(q, path)));
  const keep = (path: FieldPath): boolean => appliedSet.has(path) || ownedByOthers(path);
  // Shallowest first: a list item goes as a whole before its fields are looked at. The key
  // fields of an item that stays (someone else owns part of it) are never removed.
  const released = [...(self?.set ?? [])].filter((p) => !appliedSet.has(p) && !ownedByOthersAtOrBelow(p)).sort((a, b) => a.length - b.length);
  for (const path of released) {
    if (!isKeyFieldOfItem(path)) deleteAtPath(result, path, keep);
  }
  mergeValue('', result, applied);

  const entry: EntryHeader = { manager: options.manager, operation: 'Apply', apiVersion: options.apiVersion, time: options.now, subresource: options.subresource };
  if (self) {
    self.entry = entry;
    self.set = appliedSet;
  } else {
    managers.push({ entry, set: appliedSet });
  }
  dropVanishedPaths(managers, result);
  writeManagers(result, managers);
  return result;
}

function startsWith(path: FieldPath, prefix: FieldPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

/** `…k:{"name":"a"}.f:name`: a merge key field of its own list item. */
function isKeyFieldOfItem(path: FieldPath): boolean {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (!last?.startsWith('f:') || !parent || !isItemSegment(parent)) return false;
  return last.slice(2) in (JSON.parse(parent.slice(2)) as Record<string, unknown>);
}

function dropVanishedPaths(managers: Manager[], object: KubeObject): void {
  for (const m of managers) for (const path of [...m.set]) if (!getAtPath(object, path).found) m.set.delete(path);
}

export interface TrackUpdateOptions {
  live: KubeObject | undefined;
  /** the object about to be stored; its managedFields are rewritten */
  result: KubeObject;
  manager: string;
  apiVersion: string;
  now: string;
  subresource?: string;
}

/** Record an Update by `manager`: it owns what it changed; others lose those fields. */
export function trackUpdate(options: TrackUpdateOptions): void {
  const managers = readManagers(options.live);
  const newSet = collectFieldSet(options.result, options.subresource === 'status' ? { only: 'status' } : {});
  const changed = new FieldSet();
  for (const path of newSet) {
    const before = getAtPath(options.live, path);
    if (!before.found || (!isItemSegment(path[path.length - 1]) && !deepEqual(before.value, getAtPath(options.result, path).value))) changed.add(path);
  }
  const selfEntry = { manager: options.manager, operation: 'Update' as const, apiVersion: options.apiVersion, subresource: options.subresource };
  const self = managers.find((m) => identity(m.entry) === identity(selfEntry));
  for (const m of managers) if (m !== self) for (const path of changed) m.set.delete(path);
  if (changed.size > 0) {
    const entry: EntryHeader = { ...selfEntry, time: options.now };
    if (self) {
      self.entry = entry;
      for (const path of changed) self.set.add(path);
    } else {
      managers.push({ entry, set: changed });
    }
  }
  dropVanishedPaths(managers, options.result);
  writeManagers(options.result, managers);
}
