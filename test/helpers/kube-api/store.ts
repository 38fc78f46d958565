import { randomUUID } from 'node:crypto';
import { clone, deepEqual, formatTime, type KubeObject } from './objects.js';
import { groupVersionOf, type ResourceType } from './resources.js';

/** One change, as a watch stream reports it. */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resourceType: ResourceType;
  object: KubeObject;
  resourceVersion: number;
}

/** Every stored object and the resourceVersion counter: what another server starts from. */
export interface StoreSnapshot {
  objects: Array<[string, KubeObject]>;
  resourceVersion: number;
}

/** Changes kept for watches resuming from a resourceVersion (etcd compacts too). */
const HISTORY_LIMIT = 50_000;

function keyOf(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.group}/${type.resource}/${type.namespaced ? namespace ?? '' : ''}/${name}`;
}

function specOf(object: KubeObject): Record<string, unknown> {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return rest;
}

/**
 * The server's etcd: objects by type, namespace and name, one global resourceVersion counter
 * bumped by every write, and the recent history of changes for watches that resume from a
 * resourceVersion. Everything going in or out is a copy.
 */
export class ObjectStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private revision = 1000;
  private dropped = false;

  get resourceVersion(): number {
    return this.revision;
  }

  snapshot(): StoreSnapshot {
    return { objects: [...this.objects].map(([key, object]) => [key, clone(object)]), resourceVersion: this.revision };
  }

  /** Fills an empty store from a snapshot, as etcd restored from a backup: no watch sees it happen. */
  load(snapshot: StoreSnapshot): void {
    if (this.objects.size > 0) throw new Error('store: load needs an empty store');
    for (const [key, object] of snapshot.objects) this.objects.set(key, clone(object));
    this.revision = snapshot.resourceVersion;
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return clone(this.objects.get(keyOf(type, namespace, name)));
  }

  /** Objects of a type, in one namespace or (undefined) all of them, sorted by namespace and name. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    const prefix = `${type.group}/${type.resource}/`;
    const found: KubeObject[] = [];
    for (const [key, object] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      if (type.namespaced && namespace !== undefined && object.metadata.namespace !== namespace) continue;
      found.push(clone(object));
    }
    return found.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
  }

  /** Store a new object: uid, creationTimestamp, resourceVersion and generation are set here. */
  insert(type: ResourceType, input: KubeObject): KubeObject {
    const object = clone(input);
    const name = object.metadata.name ?? '';
    const key = keyOf(type, object.metadata.namespace, name);
    if (this.objects.has(key)) throw new Error(`store: ${key} exists`);
    object.apiVersion = groupVersionOf(type);
    object.kind = type.kind;
    if (!type.namespaced) delete object.metadata.namespace;
    // admission assigns the uid before defaulting (Job labels carry it); keep that one
    object.metadata.uid ??= randomUUID();
    object.metadata.creationTimestamp = formatTime(Date.now());
    if (type.generation) object.metadata.generation = 1;
    else delete object.metadata.generation;
    object.metadata.resourceVersion = String(++this.revision);
    this.objects.set(key, object);
    this.emit({ type: 'ADDED', resourceType: type, object: clone(object), resourceVersion: this.revision });
    return clone(object);
  }

  /** Replace a stored object; bumps generation when anything outside metadata and status changed. */
  replace(type: ResourceType, input: KubeObject): KubeObject {
    const object = clone(input);
    const key = keyOf(type, object.metadata.namespace, object.metadata.name ?? '');
    const old = this.objects.get(key);
    if (!old) throw new Error(`store: ${key} does not exist`);
    object.apiVersion = groupVersionOf(type);
    object.kind = type.kind;
    object.metadata.uid = old.metadata.uid;
    object.metadata.creationTimestamp = old.metadata.creationTimestamp;
    if (type.generation) {
      const changed = !deepEqual(specOf(old), specOf(object)) || (object.metadata.deletionTimestamp !== undefined && old.metadata.deletionTimestamp === undefined);
      object.metadata.generation = (old.metadata.generation ?? 1) + (changed ? 1 : 0);
    } else {
      delete object.metadata.generation;
    }
    object.metadata.resourceVersion = String(++this.revision);
    this.objects.set(key, object);
    this.emit({ type: 'MODIFIED', resourceType: type, object: clone(object), resourceVersion: this.revision });
    return clone(object);
  }

  remove(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = keyOf(type, namespace, name);
    const old = this.objects.get(key);
    if (!old) return undefined;
    this.objects.delete(key);
    old.metadata.resourceVersion = String(++this.revision);
    this.emit({ type: 'DELETED', resourceType: type, object: clone(old), resourceVersion: this.revision });
    return clone(old);
  }

  /** Changes after a resourceVersion, oldest first; undefined when that is older than the kept history. */
  eventsAfter(resourceVersion: number): StoreEvent[] | undefined {
    const oldest = this.history[0]?.resourceVersion ?? this.revision + 1;
    if (resourceVersion < oldest - 1 && this.dropped) return undefined;
    return this.history.filter((e) => e.resourceVersion > resourceVersion).map((e) => ({ ...e, object: clone(e.object) }));
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) {
      this.history.splice(0, this.history.length - HISTORY_LIMIT);
      this.dropped = true;
    }
    for (const listener of [...this.listeners]) listener({ ...event, object: clone(event.object) });
  }
}
