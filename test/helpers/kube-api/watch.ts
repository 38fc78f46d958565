import type { ServerResponse } from 'node:http';
import type { KubeObject } from './objects.js';
import { groupVersionOf, type ResourceType } from './resources.js';
import { gone } from './status.js';
import type { ObjectStore, StoreEvent } from './store.js';

/**
 * `?watch=true`: a chunked stream of `{"type":…,"object":…}` lines, like the real server.
 * Without a resourceVersion (or "0") it starts with an ADDED event per existing object; with
 * one it replays the changes after it (an ERROR event with a 410 Expired Status when that
 * is older than the store's history, which keeps the last 50 000 changes); with
 * sendInitialEvents=true it sends the existing objects and then the
 * `k8s.io/initial-events-end` bookmark. It ends after timeoutSeconds or when the server stops.
 * Limitation: an object modified out of a label selector is not turned into a DELETED event.
 */

export interface WatchOptions {
  type: ResourceType;
  namespace?: string;
  matches: (object: KubeObject) => boolean;
  resourceVersion?: string;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  timeoutSeconds?: number;
}

const DEFAULT_TIMEOUT_SECONDS = 1800;

export function serveWatch(response: ServerResponse, store: ObjectStore, options: WatchOptions, openWatches: Set<() => void>): void {
  const fromScratch = options.sendInitialEvents || !options.resourceVersion || options.resourceVersion === '0';
  const replay = fromScratch ? [] : store.eventsAfter(Number(options.resourceVersion));
  response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  response.flushHeaders();
  if (!replay) {
    // like the watch cache: the expiry comes as an ERROR event, not as an HTTP status
    const expired = gone(`too old resource version: ${options.resourceVersion} (${store.resourceVersion})`);
    response.end(JSON.stringify({ type: 'ERROR', object: expired.toStatus() }) + '\n');
    return;
  }
  const inScope = (object: KubeObject): boolean =>
    (!options.type.namespaced || options.namespace === undefined || object.metadata.namespace === options.namespace) && options.matches(object);
  const send = (type: StoreEvent['type'] | 'BOOKMARK', object: KubeObject): void => {
    response.write(JSON.stringify({ type, object }) + '\n');
  };
  const bookmark = (annotations?: Record<string, string>): void =>
    send('BOOKMARK', { kind: options.type.kind, apiVersion: groupVersionOf(options.type), metadata: { resourceVersion: String(store.resourceVersion), ...(annotations ? { annotations } : {}) } });

  if (fromScratch) {
    for (const object of store.list(options.type, options.namespace)) if (inScope(object)) send('ADDED', object);
    if (options.sendInitialEvents && options.allowBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    for (const event of replay) {
      if (event.resourceType === options.type && inScope(event.object)) send(event.type, event.object);
    }
  }

  const unsubscribe = store.subscribe((event) => {
    if (event.resourceType === options.type && inScope(event.object)) send(event.type, event.object);
  });
  const close = (): void => {
    clearTimeout(timer);
    unsubscribe();
    openWatches.delete(close);
    if (!response.writableEnded) response.end();
  };
  const timer = setTimeout(close, (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
  openWatches.add(close);
  response.on('close', close);
}
