import { isPlainObject, type FieldsV1 } from './objects.js';

/**
 * Sets of field paths, the unit of server-side apply ownership, in the FieldsV1 vocabulary:
 * a path is a list of segments `f:<field>` (map field) or `k:{"name":"app"}` (an item of a
 * list keyed by merge keys). A path ending in a `k:` segment stands for the list item itself
 * (FieldsV1 writes it as `".": {}`).
 *
 * Granularity: maps are walked down to their leaves; lists whose items have merge keys
 * (containers, env, ports, volumes, … — see LIST_KEYS) are walked item by item; every other
 * list is atomic, a single leaf, as are scalars and empty maps.
 */
export type FieldPath = readonly string[];

/** Merge keys of the associative lists in the built-in types, by field name. */
const LIST_KEYS: Record<string, readonly string[]> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  env: ['name'],
  volumes: ['name'],
  imagePullSecrets: ['name'],
  resourceClaims: ['name'],
  volumeMounts: ['mountPath'],
  volumeDevices: ['devicePath'],
  hostAliases: ['ip'],
  conditions: ['type'],
  ownerReferences: ['uid'],
  topologySpreadConstraints: ['topologyKey', 'whenUnsatisfiable'],
};

const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

/** The merge key fields of a list field, or undefined when the list is atomic. */
export function listKeyFields(field: string, items: readonly unknown[]): readonly string[] | undefined {
  if (!items.every(isPlainObject)) return undefined;
  let keys: readonly string[] | undefined = LIST_KEYS[field];
  if (field === 'ports') {
    // container ports are keyed by containerPort+protocol, service ports by port+protocol
    keys = items.every((i) => 'containerPort' in i) ? ['containerPort', 'protocol'] : items.every((i) => 'port' in i) ? ['port', 'protocol'] : undefined;
  }
  if (!keys) return undefined;
  const required = keys.filter((k) => !(k in KEY_DEFAULTS));
  return items.every((i) => required.every((k) => (i as Record<string, unknown>)[k] !== undefined)) ? keys : undefined;
}

/** `k:{"containerPort":80,"protocol":"TCP"}` for one item of a keyed list. */
export function keySegment(keys: readonly string[], item: Record<string, unknown>): string {
  const key: Record<string, unknown> = {};
  for (const k of [...keys].sort()) key[k] = item[k] ?? KEY_DEFAULTS[k];
  return `k:${JSON.stringify(key)}`;
}

function itemMatches(segment: string, item: unknown): boolean {
  if (!isPlainObject(item)) return false;
  const key = JSON.parse(segment.slice(2)) as Record<string, unknown>;
  return Object.entries(key).every(([k, v]) => (item[k] ?? KEY_DEFAULTS[k]) === v);
}

export function isItemSegment(segment: string): boolean {
  return segment.startsWith('k:');
}

export class FieldSet implements Iterable<FieldPath> {
  private readonly paths = new Map<string, FieldPath>();

  constructor(paths: Iterable<FieldPath> = []) {
    for (const p of paths) this.add(p);
  }

  get size(): number {
    return this.paths.size;
  }
  add(path: FieldPath): void {
    this.paths.set(JSON.stringify(path), path);
  }
  has(path: FieldPath): boolean {
    return this.paths.has(JSON.stringify(path));
  }
  delete(path: FieldPath): void {
    this.paths.delete(JSON.stringify(path));
  }
  [Symbol.iterator](): Iterator<FieldPath> {
    return this.paths.values();
  }
  toFieldsV1(): FieldsV1 {
    const root: FieldsV1 = {};
    const leaves = new Set<FieldsV1>();
    const sorted = [...this.paths.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    for (const path of sorted) {
      let node = root;
      path.forEach((segment, index) => {
        const last = index === path.length - 1;
        if (leaves.has(node)) {
          // a leaf that now has children too: mark the node itself with "."
          node['.'] = {};
          leaves.delete(node);
        }
        node[segment] ??= {};
        node = node[segment];
        if (last) {
          if (isItemSegment(segment) || Object.keys(node).length > 0) node['.'] = {};
          else leaves.add(node);
        }
      });
    }
    return root;
  }

  static fromFieldsV1(fields: FieldsV1 | undefined): FieldSet {
    const set = new FieldSet();
    const walk = (node: FieldsV1, prefix: string[]): void => {
      for (const [segment, child] of Object.entries(node)) {
        if (segment === '.') set.add(prefix);
        else if (!isPlainObject(child) || Object.keys(child).length === 0) set.add([...prefix, segment]);
        else walk(child, [...prefix, segment]);
      }
    };
    if (isPlainObject(fields)) walk(fields, []);
    return set;
  }
}

/** Identity and server-owned fields that never take part in ownership. */
function isIgnored(path: readonly string[]): boolean {
  if (path.length === 1) return path[0] === 'f:apiVersion' || path[0] === 'f:kind' || path[0] === 'f:status';
  if (path.length === 2 && path[0] === 'f:metadata') {
    return ['f:name', 'f:namespace', 'f:uid', 'f:resourceVersion', 'f:generation', 'f:creationTimestamp', 'f:deletionTimestamp', 'f:deletionGracePeriodSeconds', 'f:managedFields', 'f:selfLink', 'f:generateName'].includes(path[1]);
  }
  return false;
}

export interface CollectOptions {
  /** collect only under this top-level field (e.g. `status` for the status subresource) */
  only?: string;
}

/** The set of fields an object sets, at the granularity described above. */
export function collectFieldSet(object: Record<string, unknown>, options: CollectOptions = {}): FieldSet {
  const set = new FieldSet();
  const walkMap = (map: Record<string, unknown>, prefix: string[]): void => {
    for (const [field, value] of Object.entries(map)) {
      if (value === undefined) continue;
      const path = [...prefix, `f:${field}`];
      if (prefix.length === 0 && options.only !== undefined ? field !== options.only : isIgnored(path)) continue;
      walkValue(field, value, path);
    }
  };
  const walkValue = (field: string, value: unknown, path: string[]): void => {
    if (isPlainObject(value) && Object.keys(value).length > 0) {
      walkMap(value, path);
      return;
    }
    const keys = Array.isArray(value) && value.length > 0 ? listKeyFields(field, value) : undefined;
    if (Array.isArray(value) && keys) {
      for (const item of value as Record<string, unknown>[]) {
        const itemPath = [...path, keySegment(keys, item)];
        set.add(itemPath);
        walkMap(item, itemPath);
      }
      return;
    }
    set.add(path);
  };
  walkMap(object, []);
  return set;
}

/** The value at a path, if the object has it. */
export function getAtPath(object: unknown, path: FieldPath): { found: boolean; value?: unknown } {
  let node: unknown = object;
  for (const segment of path) {
    if (segment.startsWith('f:')) {
      if (!isPlainObject(node) || !(segment.slice(2) in node)) return { found: false };
      node = node[segment.slice(2)];
    } else if (isItemSegment(segment)) {
      if (!Array.isArray(node)) return { found: false };
      node = node.find((item) => itemMatches(segment, item));
      if (node === undefined) return { found: false };
    } else {
      return { found: false };
    }
  }
  return { found: true, value: node };
}

function isEmptyContainer(value: unknown): boolean {
  return (Array.isArray(value) && value.length === 0) || (isPlainObject(value) && Object.keys(value).length === 0);
}

/**
 * Remove the field or list item at a path, then the maps and lists that removal left empty
 * (unless `keep` says someone owns them as they are).
 */
export function deleteAtPath(object: Record<string, unknown>, path: FieldPath, keep: (path: FieldPath) => boolean = () => false): void {
  if (path.length === 0) return;
  const parentPath = path.slice(0, -1);
  const parent = getAtPath(object, parentPath);
  if (!parent.found) return;
  const segment = path[path.length - 1];
  if (segment.startsWith('f:') && isPlainObject(parent.value)) {
    delete parent.value[segment.slice(2)];
  } else if (isItemSegment(segment) && Array.isArray(parent.value)) {
    const index = parent.value.findIndex((item) => itemMatches(segment, item));
    if (index >= 0) parent.value.splice(index, 1);
  } else {
    return;
  }
  if (parentPath.length > 0 && isEmptyContainer(parent.value) && !keep(parentPath)) deleteAtPath(object, parentPath, keep);
}

/** `.spec.template.spec.containers[name="app"].image`, as conflict messages print paths. */
export function formatPath(path: FieldPath): string {
  return path
    .map((segment) => {
      if (segment.startsWith('f:')) return `.${segment.slice(2)}`;
      if (isItemSegment(segment)) {
        const key = JSON.parse(segment.slice(2)) as Record<string, unknown>;
        return `[${Object.entries(key)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}]`;
      }
      return `[${segment}]`;
    })
    .join('');
}
