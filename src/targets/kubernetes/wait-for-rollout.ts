import { ClusterError } from '../../errors.js';
import type { LiveRelease } from '../driver.js';
import type { KubeClient } from './kube-client.js';
import { describeObject, isRecord, type ManifestObject } from './manifests.js';
import type { Polling } from './namespace-scope.js';
import { checkRollout, describeFailedCreates, describeUnreadyPods, describeWorkloadConditions, selectorOf } from './rollout-status.js';

export const PODS = { apiVersion: 'v1', plural: 'pods' };
export const EVENTS = { apiVersion: 'v1', plural: 'events' };

type Waiting = Map<string, { reason: string; object: unknown }>;

export interface WaitForRolloutOptions extends Polling {
  /** how long Deployments and StatefulSets may take to become ready */
  timeoutMs: number;
  /** the release live before this change, for the hint of a failure */
  live: LiveRelease | undefined;
}

/** Waits until every Deployment and StatefulSet of `objects` rolled out; a failed or late one is a ClusterError naming its pods. */
export async function waitForRollout(c: KubeClient, objects: readonly ManifestObject[], options: WaitForRolloutOptions): Promise<void> {
  const pending = new Map(objects.filter((o) => o.info.workload).map((o) => [describeObject(o.object), o]));
  const deadline = options.clock() + options.timeoutMs;
  const waiting: Waiting = new Map();
  while (pending.size > 0) {
    waiting.clear();
    for (const [key, o] of pending) {
      const object = await c.get(o.info, o.object.metadata.name);
      const state = checkRollout(o.info.workload!, object);
      if (state.done) {
        pending.delete(key);
        continue;
      }
      waiting.set(key, { reason: state.waiting, object });
      if (state.failed) throw await rolloutError(c, new Map([[key, waiting.get(key)!]]), options.live, 'failed');
    }
    if (pending.size === 0) return;
    if (options.clock() >= deadline) throw await rolloutError(c, waiting, options.live, `not ready after ${formatSeconds(options.timeoutMs)}`);
    await options.sleep(options.pollIntervalMs);
  }
}

async function rolloutError(c: KubeClient, waiting: Waiting, live: LiveRelease | undefined, verdict: string): Promise<ClusterError> {
  const lines: string[] = [];
  for (const [key, { reason, object }] of waiting) {
    lines.push(`${key} ${verdict} (${reason})`);
    for (const condition of describeWorkloadConditions(object)) lines.push(`  ${condition}`);
    const selector = selectorOf(object);
    if (!selector) continue;
    try {
      const pods = await c.list(PODS, selector);
      const described = describeUnreadyPods(pods);
      if (described.length > 0) lines.push(...described.map((l) => `  ${l}`));
      else if (pods.length === 0) lines.push(...(await whyNoPods(c, object)).map((l) => `  ${l}`));
    } catch (error) {
      lines.push(`  (its pods could not be listed: ${firstLine(error)})`);
    }
  }
  const message = lines.join('\n');
  const hint = live
    ? `release ${live.release} (${live.version}) is still recorded as live: \`ozg rollback\` restores it, a fixed deploy replaces this one`
    : 'nothing was live before: fix the procedure (image, probes, resources) and deploy again';
  return new ClusterError(c.namespace, message, undefined, { hint });
}

/**
 * A workload without pods: a StatefulSet's controller says why in FailedCreate events on the
 * StatefulSet itself (a Deployment's ReplicaFailure condition is listed already).
 */
async function whyNoPods(c: KubeClient, object: unknown): Promise<string[]> {
  const kind = isRecord(object) && typeof object.kind === 'string' ? object.kind : undefined;
  const name = isRecord(object) && isRecord(object.metadata) && typeof object.metadata.name === 'string' ? object.metadata.name : undefined;
  if (kind !== 'StatefulSet' || !name) return ['no pods'];
  const events = await c.list(EVENTS, undefined, `involvedObject.kind=${kind},involvedObject.name=${name}`).catch(() => []);
  const lines = describeFailedCreates(events);
  return lines.length > 0 ? lines : ['no pods'];
}

/** The first line of a failure, short enough for a record or a list. */
export function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!.slice(0, 500);
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
