/**
 * When a Deployment or StatefulSet has rolled out, and when it has not, why: the pods that are
 * not ready and what their containers wait for. Pure functions over API objects.
 */
import { isRecord } from './manifests.js';

export type RolloutState = { done: true } | { done: false; waiting: string; failed?: boolean };

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/**
 * Mirrors `kubectl rollout status` (kubernetes/kubectl pkg/polymorphichelpers/rollout_status.go,
 * DeploymentStatusViewer and StatefulSetStatusViewer): the controller saw the change and every
 * replica is updated and, for a Deployment, available. Counts the API left out are 0: the server
 * omits zero counts (`omitempty` in k8s.io/api apps/v1 types.go), so a Deployment whose pods
 * are not yet available — ready for less than minReadySeconds, or crashed — has no
 * availableReplicas at all.
 */
export function checkRollout(kind: 'deployment' | 'statefulset', object: unknown): RolloutState {
  const o = isRecord(object) ? object : {};
  const metadata = isRecord(o.metadata) ? o.metadata : {};
  const spec = isRecord(o.spec) ? o.spec : {};
  const status = isRecord(o.status) ? o.status : {};
  const generation = numberOr(metadata.generation, undefined);
  const observed = numberOr(status.observedGeneration, undefined);
  if (generation !== undefined && (observed === undefined || observed < generation)) {
    return { done: false, waiting: `the controller has not seen generation ${generation} yet` };
  }
  const replicas = numberOr(spec.replicas, 1)!;
  const updated = numberOr(status.updatedReplicas, 0)!;
  const ready = numberOr(status.readyReplicas, 0)!;
  const current = numberOr(status.replicas, 0)!;
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Condition[];

  if (kind === 'deployment') {
    const progressing = conditions.find((c) => c.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') {
      return { done: false, failed: true, waiting: `progress deadline exceeded${progressing.message ? ': ' + progressing.message : ''}` };
    }
    if (updated < replicas) return { done: false, waiting: `${updated} of ${replicas} replicas updated` };
    if (current > updated) return { done: false, waiting: `${current - updated} old replicas still terminating` };
    const available = numberOr(status.availableReplicas, 0)!;
    if (available < updated) {
      // kubectl waits on available < updated alone; ready tells the operator which of the two is missing
      if (ready < updated) return { done: false, waiting: `${ready} of ${replicas} replicas ready` };
      const minReady = numberOr(spec.minReadySeconds, 0)!;
      const window = minReady > 0 ? ` (ready, not yet for minReadySeconds ${minReady})` : '';
      return { done: false, waiting: `${available} of ${replicas} replicas available${window}` };
    }
    return { done: true };
  }

  const strategy = isRecord(spec.updateStrategy) ? spec.updateStrategy : {};
  if (ready < replicas) return { done: false, waiting: `${ready} of ${replicas} replicas ready` };
  if (strategy.type === 'OnDelete') return { done: true }; // pods change only when someone deletes them
  const partition = isRecord(strategy.rollingUpdate) ? numberOr(strategy.rollingUpdate.partition, 0)! : 0;
  if (updated < replicas - partition) return { done: false, waiting: `${updated} of ${replicas - partition} replicas updated` };
  if (partition === 0 && typeof status.updateRevision === 'string' && status.currentRevision !== status.updateRevision) {
    return { done: false, waiting: `revision ${status.updateRevision} not yet current` };
  }
  return { done: true };
}

/** Conditions a workload reports that explain missing pods (quota exceeded, forbidden by policy). */
export function describeWorkloadConditions(object: unknown): string[] {
  const status = isRecord(object) && isRecord(object.status) ? object.status : {};
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Condition[];
  return conditions
    .filter((c) => c.type === 'ReplicaFailure' && c.status === 'True')
    .map((c) => `${c.type}: ${c.reason ?? 'unknown'}${c.message ? ` (${clip(c.message)})` : ''}`);
}

/**
 * Why a controller could not create pods, from its Warning events: `FailedCreate: Error
 * creating: pods "x" is forbidden: violates PodSecurity …` (the job, replicaset and statefulset
 * controllers record the API's refusal so, k8s.io/kubernetes pkg/controller/controller_utils.go).
 * The newest distinct messages first.
 */
export function describeFailedCreates(events: readonly unknown[], limit = 2): string[] {
  const failed = events
    .filter(isRecord)
    .filter((e) => e.reason === 'FailedCreate' && typeof e.message === 'string')
    .sort((a, b) => String(b.lastTimestamp ?? b.eventTime ?? '').localeCompare(String(a.lastTimestamp ?? a.eventTime ?? '')));
  const messages = [...new Set(failed.map((e) => clip(e.message as string, 600)))];
  return messages.slice(0, limit).map((m) => `FailedCreate: ${m}`);
}

/** `matchLabels` of a workload's selector as a label selector string, or undefined if it has none. */
export function selectorOf(object: unknown): string | undefined {
  const spec = isRecord(object) && isRecord(object.spec) ? object.spec : {};
  const selector = isRecord(spec.selector) ? spec.selector : {};
  const labels = isRecord(selector.matchLabels) ? selector.matchLabels : {};
  const parts = Object.entries(labels)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}=${v as string}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { reason?: string; message?: string; exitCode?: number };
  };
  lastState?: { terminated?: { reason?: string; exitCode?: number } };
}

/**
 * One line per pod that is not ready, saying why:
 * `pod web-abc: container app waiting: ImagePullBackOff (Back-off pulling image "x")`.
 */
export function describeUnreadyPods(pods: readonly unknown[], limit = 5): string[] {
  const lines: string[] = [];
  let unready = 0;
  for (const pod of pods) {
    if (!isRecord(pod) || isPodReady(pod)) continue;
    unready++;
    if (lines.length < limit) lines.push(describePod(pod));
  }
  if (unready > limit) lines.push(`… and ${unready - limit} more pods not ready`);
  return lines;
}

export function isPodReady(pod: Record<string, unknown>): boolean {
  const status = isRecord(pod.status) ? pod.status : {};
  if (status.phase === 'Succeeded') return true;
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Condition[];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

export function describePod(pod: Record<string, unknown>): string {
  const metadata = isRecord(pod.metadata) ? pod.metadata : {};
  const status = isRecord(pod.status) ? pod.status : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '?';
  const reasons = [
    ...describeContainers(status.initContainerStatuses, 'init container'),
    ...describeContainers(status.containerStatuses, 'container'),
  ];
  if (reasons.length === 0) {
    const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Condition[];
    const unscheduled = conditions.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (unscheduled) reasons.push(`not scheduled: ${unscheduled.reason ?? 'unknown'}${unscheduled.message ? ` (${clip(unscheduled.message)})` : ''}`);
    else if (typeof status.reason === 'string') reasons.push(`${status.reason}${typeof status.message === 'string' ? ` (${clip(status.message)})` : ''}`);
    else reasons.push(`${typeof status.phase === 'string' ? status.phase : 'Pending'}, not ready`);
  }
  return `pod ${name}: ${reasons.join('; ')}`;
}

function describeContainers(value: unknown, label: string): string[] {
  const statuses = (Array.isArray(value) ? value : []) as ContainerStatus[];
  const lines: string[] = [];
  for (const c of statuses) {
    if (c.ready) continue;
    const state = c.state ?? {};
    const restarts = c.restartCount ? `, ${c.restartCount} restarts` : '';
    if (state.waiting) {
      const last = c.lastState?.terminated;
      const lastExit = last ? `, last exit ${last.exitCode ?? '?'}${last.reason ? ' ' + last.reason : ''}` : '';
      lines.push(`${label} ${c.name ?? '?'} waiting: ${state.waiting.reason ?? 'unknown'}${state.waiting.message ? ` (${clip(state.waiting.message)})` : ''}${lastExit}${restarts}`);
    } else if (state.terminated) {
      const t = state.terminated;
      if (label === 'init container' && t.exitCode === 0) continue;
      lines.push(`${label} ${c.name ?? '?'} terminated: ${t.reason ?? 'unknown'} (exit ${t.exitCode ?? '?'})${t.message ? ` ${clip(t.message)}` : ''}${restarts}`);
    } else if (state.running) {
      lines.push(`${label} ${c.name ?? '?'} running but not ready (readiness probe failing?)${restarts}`);
    }
  }
  return lines;
}

function numberOr(value: unknown, fallback: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function clip(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? oneLine.slice(0, max - 1) + '…' : oneLine;
}
