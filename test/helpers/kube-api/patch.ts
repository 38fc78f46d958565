import { keySegment, listKeyFields } from './field-set.js';
import { clone, deepEqual, isPlainObject } from './objects.js';
import { ApiError, badRequest } from './status.js';

/** RFC 7386 JSON merge patch: maps merge, `null` deletes, everything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/**
 * A strategic merge patch, approximated: like a merge patch, but lists with merge keys
 * (containers, env, ports, volumes, …) merge item by item, `$patch: delete` items are
 * removed, `$patch: replace` replaces, and the other `$`-directives are ignored.
 */
export function applyStrategicMergePatch(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch) && Array.isArray(target)) {
    const keys = listKeyFields(field, patch.filter((p) => !(isPlainObject(p) && p.$patch === 'replace')));
    if (!keys || !listKeyFields(field, target)) return clone(patch);
    const result = clone(target) as Record<string, unknown>[];
    for (const item of patch as Record<string, unknown>[]) {
      const segment = keySegment(keys, item);
      const index = result.findIndex((r) => keySegment(keys, r) === segment);
      if (item.$patch === 'delete') {
        if (index >= 0) result.splice(index, 1);
      } else if (index >= 0) {
        result[index] = applyStrategicMergePatch(result[index], item, field) as Record<string, unknown>;
      } else {
        result.push(stripDirectives(item) as Record<string, unknown>);
      }
    }
    return result;
  }
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const result: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else {
      const merged = applyStrategicMergePatch(result[key], value, key);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  return result;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('$')).map(([k, v]) => [k, stripDirectives(v)]));
}

interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`the server rejected our request due to an error in our request: invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function patchFailure(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

/** RFC 6902 JSON patch. */
export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let document = clone(target);
  const locate = (segments: string[]): { parent: unknown; key: string } => {
    let node: unknown = document;
    for (const segment of segments.slice(0, -1)) {
      if (Array.isArray(node)) node = node[Number(segment)];
      else if (isPlainObject(node)) node = node[segment];
      else node = undefined;
      if (node === undefined) throw patchFailure(`doc is missing path: "/${segments.join('/')}": missing value`);
    }
    return { parent: node, key: segments[segments.length - 1] };
  };
  const read = (pointer: string): unknown => {
    let node: unknown = document;
    for (const segment of parsePointer(pointer)) {
      node = Array.isArray(node) ? node[Number(segment)] : isPlainObject(node) ? node[segment] : undefined;
      if (node === undefined) throw patchFailure(`doc is missing path: "${pointer}": missing value`);
    }
    return clone(node);
  };
  const add = (pointer: string, value: unknown, replace: boolean): void => {
    const segments = parsePointer(pointer);
    if (segments.length === 0) {
      document = clone(value);
      return;
    }
    const { parent, key } = locate(segments);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(index) || index < 0 || index > parent.length || (replace && index >= parent.length)) {
        throw patchFailure(`unable to ${replace ? 'replace' : 'add'} at index ${key}: out of bounds`);
      }
      parent.splice(index, replace ? 1 : 0, clone(value));
    } else if (isPlainObject(parent)) {
      if (replace && !(key in parent)) throw patchFailure(`replace operation does not apply: doc is missing key: ${pointer}: missing value`);
      parent[key] = clone(value);
    } else {
      throw patchFailure(`doc is missing path: "${pointer}": missing value`);
    }
  };
  const remove = (pointer: string): void => {
    const { parent, key } = locate(parsePointer(pointer));
    if (Array.isArray(parent) && Number(key) < parent.length) parent.splice(Number(key), 1);
    else if (isPlainObject(parent) && key in parent) delete parent[key];
    else throw patchFailure(`remove operation does not apply: doc is missing path: "${pointer}": missing value`);
  };
  for (const raw of operations as JsonPatchOperation[]) {
    switch (raw.op) {
      case 'add':
        add(raw.path, raw.value, false);
        break;
      case 'replace':
        add(raw.path, raw.value, true);
        break;
      case 'remove':
        remove(raw.path);
        break;
      case 'move': {
        const value = read(raw.from ?? '');
        remove(raw.from ?? '');
        add(raw.path, value, false);
        break;
      }
      case 'copy':
        add(raw.path, read(raw.from ?? ''), false);
        break;
      case 'test':
        if (!deepEqual(read(raw.path), raw.value)) throw patchFailure(`testing value ${raw.path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String((raw as { op?: unknown }).op)}`);
    }
  }
  return document;
}
