/** The preview of a deploy to a namespace: server-side dry runs compared with what is there, and what prune would delete. */
import type { BundleDiff } from '../driver.js';
import { fieldManagerFor, LEGACY_FIELD_MANAGER } from './kube-client.js';
import { isBeingDeleted } from './await-deletions.js';
import { describeObject, isRecord, LABELS, manifestSource, type KubeObject, type ManifestObject } from './manifests.js';
import type { NamespaceScope } from './namespace-scope.js';
import { foreignObjectsError, listOwnedObjects, objectKey, readOwnership } from './owned-objects.js';

/** `kinds`: the release record's kinds (what a deploy would list to prune); `version` names manifests in schema errors. Sends dry runs only. */
export interface DiffObjectsOptions {
  /** dry runs take over fields other managers hold (verify: those are the drift) */
  forceConflicts?: boolean;
  /** filled with the differing field paths of each changed object */
  fields?: Map<string, string[]>;
}

export async function diffObjects(
  scope: NamespaceScope,
  procedure: string,
  objects: readonly ManifestObject[],
  kinds: readonly string[],
  version?: string,
  options: DiffObjectsOptions = {},
): Promise<BundleDiff> {
  const { client: c, site } = scope;
  const ownership = await readOwnership(c, procedure, objects);
  // a deploy would refuse this bundle: the preview says so instead of a change it would never make
  if (ownership.foreign.length > 0) throw foreignObjectsError(c.namespace, procedure, ownership.foreign);
  const diff: BundleDiff = { create: [], change: [], unchanged: [], prune: [] };
  for (const o of objects) {
    const before = ownership.live.get(objectKey(o));
    const ours = ownership.ours.has(objectKey(o));
    const after = await c.apply(o.info, o.object, {
      fieldManager: fieldManagerFor(procedure),
      dryRun: true,
      ...(version !== undefined ? { source: manifestSource(procedure, version, o) } : {}),
      ...(ours ? { takeOverFrom: LEGACY_FIELD_MANAGER } : {}),
      ...(options.forceConflicts ? { forceConflicts: true } : {}),
    });
    const name = describeObject(o.object);
    // one being deleted goes first: a deploy waits for that and creates it anew
    if (!before || isBeingDeleted(before)) diff.create.push(name);
    else if (comparable(before) !== comparable(after)) {
      diff.change.push(name);
      options.fields?.set(name, differingFields(JSON.parse(comparable(before)), JSON.parse(comparable(after)), ''));
    }
    else diff.unchanged.push(name);
  }
  // list items need not carry their kind: it is the one listed
  for await (const { info, object } of listOwnedObjects(c, { site, procedure, kinds, objects })) diff.prune.push(describeObject({ kind: info.kind, metadata: object.metadata }));
  return diff;
}

/** An object without what the server changes on every write, for comparing a dry run with the live object. */
function comparable(object: KubeObject): string {
  const { status: _status, ...rest } = object;
  const metadata = { ...(rest.metadata ?? {}) } as Record<string, unknown>;
  for (const key of ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink']) delete metadata[key];
  if (isRecord(metadata.labels)) {
    const { [LABELS.release]: _release, ...labels } = metadata.labels;
    metadata.labels = labels;
  }
  return stableStringify({ ...rest, metadata });
}

/** Paths of the leaves that differ, `spec.template.spec.containers[0].image` style. */
function differingFields(a: unknown, b: unknown, at: string): string[] {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [at];
    return a.flatMap((x, i) => differingFields(x, b[i], `${at}[${i}]`));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingFields(a[k], b[k], at === '' ? k : `${at}.${k}`));
  }
  return stableStringify(a) === stableStringify(b) ? [] : [at];
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
