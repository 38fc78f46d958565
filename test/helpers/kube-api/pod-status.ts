import { formatTime, type KubeObject } from './objects.js';
import { SIDECAR_NAME } from './sidecar-injection.js';

/**
 * Pod statuses as a kubelet reports them, for the states the simulated controllers put pods
 * in. Containers are listed in spec order.
 */

export type WaitingReason = 'ImagePullBackOff' | 'ErrImagePull' | 'CrashLoopBackOff' | 'CreateContainerConfigError';

export interface PodStatusInput {
  pod: KubeObject;
  now: number;
  podIp: string;
}

interface ContainerSpec {
  name: string;
  image?: string;
}

function containersOf(pod: KubeObject): ContainerSpec[] {
  return (pod.spec?.containers ?? []) as ContainerSpec[];
}

function condition(type: string, status: 'True' | 'False', now: string, reason?: string, message?: string): Record<string, unknown> {
  return { type, status, lastProbeTime: null, lastTransitionTime: now, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

function base(input: PodStatusInput, phase: string, ready: boolean, unreadyReason?: string): Record<string, unknown> {
  const now = formatTime(input.now);
  const names = containersOf(input.pod).map((c) => c.name);
  const notReady = `containers with unready status: [${names.join(' ')}]`;
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', 'True', now),
      condition('Initialized', 'True', now),
      ready ? condition('Ready', 'True', now) : condition('Ready', 'False', now, unreadyReason ?? 'ContainersNotReady', unreadyReason === 'PodCompleted' ? undefined : notReady),
      ready ? condition('ContainersReady', 'True', now) : condition('ContainersReady', 'False', now, unreadyReason ?? 'ContainersNotReady', unreadyReason === 'PodCompleted' ? undefined : notReady),
      condition('PodScheduled', 'True', now),
    ],
    hostIP: '10.0.0.10',
    hostIPs: [{ ip: '10.0.0.10' }],
    podIP: input.podIp,
    podIPs: [{ ip: input.podIp }],
    startTime: (input.pod.status?.startTime as string | undefined) ?? now,
    qosClass: 'BestEffort',
  };
}

function containerStatus(c: ContainerSpec, state: Record<string, unknown>, ready: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: c.name,
    image: c.image ?? '',
    imageID: state.running || state.terminated ? `${c.image ?? ''}@sha256:${'0'.repeat(64)}` : '',
    ready,
    restartCount: 0,
    started: Boolean(state.running),
    state,
    ...(state.running || state.terminated ? { containerID: `containerd://${Buffer.from(c.name).toString('hex').padEnd(64, '0')}` } : {}),
    ...extra,
  };
}

/** Scheduled, containers being created. */
export function pendingPodStatus(input: PodStatusInput): Record<string, unknown> {
  return {
    ...base(input, 'Pending', false),
    containerStatuses: containersOf(input.pod).map((c) => containerStatus(c, { waiting: { reason: 'ContainerCreating' } }, false)),
  };
}

export function runningPodStatus(input: PodStatusInput, ready = true): Record<string, unknown> {
  const now = formatTime(input.now);
  return {
    ...base(input, 'Running', ready),
    containerStatuses: containersOf(input.pod).map((c) => containerStatus(c, { running: { startedAt: now } }, ready)),
  };
}

function defaultWaitingMessage(reason: WaitingReason, pod: KubeObject, container: ContainerSpec): string {
  switch (reason) {
    case 'ImagePullBackOff':
      return `Back-off pulling image "${container.image ?? ''}"`;
    case 'ErrImagePull':
      return `rpc error: code = NotFound desc = failed to pull and unpack image "${container.image ?? ''}": not found`;
    case 'CrashLoopBackOff':
      return `back-off 40s restarting failed container=${container.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
    case 'CreateContainerConfigError':
      return 'configmap or secret referenced by the container not found';
  }
}

/** Every container stuck waiting with `reason`; CrashLoopBackOff pods run and restart. */
export function waitingPodStatus(input: PodStatusInput, reason: WaitingReason, message: string | undefined): Record<string, unknown> {
  const now = formatTime(input.now);
  const crashing = reason === 'CrashLoopBackOff';
  return {
    ...base(input, crashing ? 'Running' : 'Pending', false),
    containerStatuses: containersOf(input.pod).map((c) =>
      containerStatus(
        c,
        { waiting: { reason, message: message ?? defaultWaitingMessage(reason, input.pod, c) } },
        false,
        crashing
          ? {
              restartCount: 3,
              lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now, containerID: `containerd://${'1'.repeat(64)}` } },
            }
          : {},
      ),
    ),
  };
}

/** All containers exited: exit code 0 makes the pod Succeeded, anything else Failed. */
export function terminatedPodStatus(input: PodStatusInput, exitCode: number): Record<string, unknown> {
  const now = formatTime(input.now);
  const succeeded = exitCode === 0;
  return {
    ...base(input, succeeded ? 'Succeeded' : 'Failed', false, succeeded ? 'PodCompleted' : 'PodFailed'),
    containerStatuses: containersOf(input.pod).map((c) =>
      containerStatus(c, { terminated: { exitCode, reason: succeeded ? 'Completed' : 'Error', startedAt: (input.pod.status?.startTime as string | undefined) ?? now, finishedAt: now } }, false),
    ),
  };
}

/**
 * The workload containers exited but a regular sidecar (a mesh proxy) still runs: the kubelet
 * keeps such a pod Running (pkg/kubelet/kubelet_pods.go getPhase: a pod is Running while any
 * container runs), so its Job neither completes nor fails.
 */
export function sidecarStillRunningPodStatus(input: PodStatusInput, exitCode: number): Record<string, unknown> {
  const now = formatTime(input.now);
  const startedAt = (input.pod.status?.startTime as string | undefined) ?? now;
  return {
    ...base(input, 'Running', false),
    containerStatuses: containersOf(input.pod).map((c) =>
      c.name === SIDECAR_NAME
        ? containerStatus(c, { running: { startedAt } }, true)
        : containerStatus(c, { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt: now } }, false),
    ),
  };
}
