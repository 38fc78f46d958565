import { randomBytes } from 'node:crypto';
import { admitCreate, admitUpdate, PVC_PROTECTION, type AdmissionContext } from './admission.js';
import { trackUpdate } from './apply.js';
import { clone, deepEqual, formatTime, ownerReferenceTo, randomSuffix, stableHash, type KubeObject } from './objects.js';
import { pendingPodStatus, runningPodStatus, sidecarStillRunningPodStatus, terminatedPodStatus, waitingPodStatus, type WaitingReason } from './pod-status.js';
import type { PodLogs } from './pod-logs.js';
import { groupVersionOf, resolveResourceType, type ResourceType } from './resources.js';
import { hasRegularSidecar, SIDECAR_LOG, SIDECAR_NAME } from './sidecar-injection.js';
import { ApiError } from './status.js';
import type { ObjectStore, StoreEvent } from './store.js';

/**
 * The cluster's moving parts, simulated: the deployment, statefulset and job controllers,
 * the kubelet (pod statuses and logs), PVC binding and garbage collection of owned objects.
 *
 * - Deployment: on each new generation a ReplicaSet `<name>-<template hash>` and its pods are
 *   created at once (pending; older ReplicaSets scaled to 0 and their pods removed) and the
 *   status reports the rollout in progress; after the ready delay the pods run and the status
 *   is complete (readyReplicas = availableReplicas = updatedReplicas = replicas,
 *   observedGeneration = generation, Available and Progressing conditions). With
 *   `minReadySeconds` pods count as available only after being ready that long (in real
 *   seconds); until then availableReplicas is left out (0, omitempty), Available is False for
 *   want of availability (maxUnavailable as the real controller resolves it) and Progressing
 *   stays ReplicaSetUpdated.
 * - StatefulSet: the same with pods `<name>-0…n-1`, revisions and PVCs from volumeClaimTemplates.
 * - Job: a pod per completion starts running, and after the job delay it succeeds (status
 *   succeeded, condition Complete) or fails (backoffLimit+1 failed pods, at most 7, status
 *   failed, conditions FailureTarget and Failed/BackoffLimitExceeded).
 * A workload arrangement makes pods wait instead (ImagePullBackOff, CrashLoopBackOff, …); a job
 * arrangement picks the outcome and the log. The newest matching arrangement wins.
 */

export interface WorkloadArrangement {
  /** workload name; a string matches exactly */
  name?: string | RegExp;
  /** matches when any container image of the pod template contains this text */
  imageIncludes?: string;
  namespace?: string;
  /** default 'Ready'; the others leave the pods waiting with that reason, never ready */
  state?: 'Ready' | WaitingReason;
  /** waiting message; default the kubelet's usual text for the reason */
  message?: string;
  /** Deployment: report Progressing=False/ProgressDeadlineExceeded once the pods fail */
  progressDeadlineExceeded?: boolean;
  /** log text of every container of its pods */
  log?: string;
  /** override the server's ready delay for this workload */
  readyDelayMs?: number;
  /** Deployment: the pods become ready, then their containers crash this long after (CrashLoopBackOff) */
  crashesAfterMs?: number;
}

export interface JobArrangement {
  /** job name; a string matches exactly */
  name?: string | RegExp;
  /** matches when the joined command and args of any container contain this text */
  commandIncludes?: string;
  /** matches when the Job carries this annotation (with this value, if given) */
  annotation?: { key: string; value?: string };
  namespace?: string;
  /** default 'succeed'; 'hang' keeps the pod running forever */
  outcome?: 'succeed' | 'fail' | 'hang';
  /** log text of the job's container(s); default: the container's command and args, joined by spaces */
  log?: string | ((job: KubeObject) => string);
  /** exit code of failed pods, default 1 */
  exitCode?: number;
  /** how long the pod runs; default the server's job delay */
  durationMs?: number;
}

export interface ControllerOptions {
  readyDelayMs: number;
  jobDelayMs: number;
  /** each new namespace gets the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap with this CA */
  namespaceDefaults?: { caPem: string };
}

const MANAGER = 'kube-controller-manager';
const KUBELET = 'kubelet';
const OWNED_TYPES = ['replicasets', 'pods', 'jobs'];

function matchesName(pattern: string | RegExp | undefined, name: string | undefined): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === 'string' ? pattern === name : pattern.test(name ?? '');
}

function containersOf(podSpec: any): { name: string; image?: string; command?: string[]; args?: string[] }[] {
  return Array.isArray(podSpec?.containers) ? podSpec.containers : [];
}

/** The default job log: what the container was asked to run. */
function defaultJobLog(job: KubeObject, containerName?: string): string {
  const containers = containersOf(job.spec?.template?.spec);
  const container = containers.find((c) => c.name === containerName) ?? containers[0];
  const words = [...(container?.command ?? []), ...(container?.args ?? [])];
  return words.length > 0 ? `${words.join(' ')}\n` : '';
}

export class Controllers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly seenGeneration = new Map<string, number>();
  private readonly startedJobs = new Set<string>();
  private readonly workloadArrangements: WorkloadArrangement[] = [];
  private readonly jobArrangements: JobArrangement[] = [];
  private unsubscribe: (() => void) | undefined;
  private podIpCounter = 10;
  /** when each pod last became ready (epoch ms), for minReadySeconds */
  private readonly readySince = new Map<string, number>();
  /** errors thrown inside controller callbacks (a test can assert there are none) */
  readonly errors: Error[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly logs: PodLogs,
    private readonly admission: AdmissionContext,
    private readonly options: ControllerOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => this.onEvent(event));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  arrangeWorkload(arrangement: WorkloadArrangement): () => void {
    this.workloadArrangements.push(arrangement);
    return () => void this.workloadArrangements.splice(this.workloadArrangements.indexOf(arrangement) >>> 0, 1);
  }

  arrangeJob(arrangement: JobArrangement): () => void {
    this.jobArrangements.push(arrangement);
    return () => void this.jobArrangements.splice(this.jobArrangements.indexOf(arrangement) >>> 0, 1);
  }

  // ------------------------------------------------------------ plumbing

  private type(name: string): ResourceType {
    return resolveResourceType(name);
  }

  private schedule(key: string, delayMs: number, task: () => void): void {
    const previous = this.timers.get(key);
    if (previous) clearTimeout(previous);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      try {
        task();
      } catch (error) {
        this.errors.push(error as Error);
      }
    }, delayMs);
    this.timers.set(key, timer);
  }

  private onEvent(event: StoreEvent): void {
    const { resource } = event.resourceType;
    const object = event.object;
    const uid = object.metadata.uid ?? '';
    // pvc-protection: a claim being deleted, or a pod going, may free a claim
    if (resource === 'pods' || (resource === 'persistentvolumeclaims' && object.metadata.deletionTimestamp !== undefined)) {
      const namespace = object.metadata.namespace ?? '';
      this.schedule(`pvc-protection:${namespace}`, 0, () => this.releaseClaims(namespace));
    }
    if (event.type === 'DELETED') {
      this.seenGeneration.delete(uid);
      const timer = this.timers.get(uid);
      if (timer) clearTimeout(timer);
      this.timers.delete(uid);
      if (resource === 'pods') {
        this.logs.delete(object.metadata.namespace ?? '', object.metadata.name ?? '');
        this.readySince.delete(uid);
      }
      this.schedule(`gc:${uid}`, 0, () => this.collectDependents(uid, object.metadata.namespace));
      return;
    }
    if (resource === 'deployments' || resource === 'statefulsets') {
      const generation = object.metadata.generation ?? 1;
      if (this.seenGeneration.get(uid) === generation) return;
      this.seenGeneration.set(uid, generation);
      this.schedule(uid, 0, () => (resource === 'deployments' ? this.rolloutDeployment(object) : this.rolloutStatefulSet(object)));
    } else if (resource === 'jobs') {
      if (this.startedJobs.has(uid) || object.spec?.suspend === true) return;
      this.startedJobs.add(uid);
      this.schedule(uid, 0, () => this.startJob(object));
    } else if (resource === 'namespaces' && event.type === 'ADDED' && this.options.namespaceDefaults) {
      this.schedule(uid, 0, () => this.populateNamespace(object.metadata.name ?? '', this.options.namespaceDefaults!.caPem));
    } else if (resource === 'persistentvolumeclaims' && event.type === 'ADDED') {
      this.schedule(uid, 0, () => this.bindClaim(object));
    }
  }

  /**
   * The pvc-protection controller (kubernetes pkg/controller/volume/pvcprotection/
   * pvc_protection_controller.go, processPVC / isBeingUsed / podUsesPVC): a claim being deleted
   * loses its finalizer (and so goes) once no pod of its namespace names it in a
   * `persistentVolumeClaim` volume. podUsesPVC looks at scheduled pods (`spec.nodeName` set) and
   * does not ask whether they finished: a Succeeded or Failed pod still holds the claim until the
   * pod object is deleted (only generic ephemeral volumes are let go once the pod is shut down,
   * not modelled here). This server has no scheduler, so every pod counts as scheduled.
   */
  private releaseClaims(namespace: string): void {
    const claims = this.type('persistentvolumeclaims');
    const pods = this.store.list(this.type('pods'), namespace);
    for (const claim of this.store.list(claims, namespace)) {
      if (claim.metadata.deletionTimestamp === undefined || !(claim.metadata.finalizers ?? []).includes(PVC_PROTECTION)) continue;
      const used = pods.some((p) => (p.spec?.volumes ?? []).some((v: { persistentVolumeClaim?: { claimName?: string } }) => v.persistentVolumeClaim?.claimName === claim.metadata.name));
      if (used) continue;
      const finalizers = (claim.metadata.finalizers ?? []).filter((f) => f !== PVC_PROTECTION);
      if (finalizers.length === 0) this.store.remove(claims, namespace, claim.metadata.name ?? '');
      else this.store.replace(claims, { ...claim, metadata: { ...claim.metadata, finalizers } });
    }
  }

  private now(): string {
    return formatTime(Date.now());
  }

  private create(typeName: string, object: KubeObject, manager = MANAGER): KubeObject {
    const type = this.type(typeName);
    const admitted = admitCreate(type, object, this.admission);
    trackUpdate({ live: undefined, result: admitted, manager, apiVersion: groupVersionOf(type), now: this.now() });
    return this.store.insert(type, admitted);
  }

  private updateSpec(typeName: string, object: KubeObject, change: (o: KubeObject) => void): void {
    const type = this.type(typeName);
    const live = this.store.get(type, object.metadata.namespace, object.metadata.name ?? '');
    if (!live) return;
    const next = clone(live);
    change(next);
    if (deepEqual(next, live)) return;
    const admitted = admitUpdate(type, next, live, this.admission);
    trackUpdate({ live, result: admitted, manager: MANAGER, apiVersion: groupVersionOf(type), now: this.now() });
    this.store.replace(type, admitted);
  }

  private writeStatus(typeName: string, object: KubeObject, status: Record<string, unknown>, manager = MANAGER): void {
    const type = this.type(typeName);
    const live = this.store.get(type, object.metadata.namespace, object.metadata.name ?? '');
    if (!live || deepEqual(live.status, status)) return;
    const next = clone(live);
    next.status = status;
    trackUpdate({ live, result: next, manager, apiVersion: groupVersionOf(type), now: this.now(), subresource: 'status' });
    this.store.replace(type, next);
  }

  private remove(typeName: string, object: KubeObject): void {
    this.store.remove(this.type(typeName), object.metadata.namespace, object.metadata.name ?? '');
  }

  private ownedBy(typeName: string, owner: KubeObject): KubeObject[] {
    return this.store
      .list(this.type(typeName), owner.metadata.namespace)
      .filter((o) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid));
  }

  /** Background garbage collection: what an object owned goes when it goes. */
  private collectDependents(uid: string, namespace: string | undefined): void {
    for (const typeName of OWNED_TYPES) {
      for (const dependent of this.store.list(this.type(typeName), namespace)) {
        if ((dependent.metadata.ownerReferences ?? []).some((r) => r.uid === uid)) this.remove(typeName, dependent);
      }
    }
  }

  private nextPodIp(): string {
    const n = this.podIpCounter++;
    return `10.244.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
  }

  private podIpOf(pod: KubeObject): string {
    return (pod.status?.podIP as string | undefined) ?? this.nextPodIp();
  }

  private createPod(owner: KubeObject, name: string, template: any, extraLabels: Record<string, string>): KubeObject {
    const pod = this.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: owner.metadata.namespace,
        labels: { ...(template?.metadata?.labels ?? {}), ...extraLabels },
        ...(template?.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
        ownerReferences: [ownerReferenceTo(owner)],
      },
      spec: { ...clone(template?.spec ?? {}), nodeName: 'ozg-test-node' },
    });
    this.writeStatus('pods', pod, pendingPodStatus({ pod, now: Date.now(), podIp: this.nextPodIp() }), KUBELET);
    return this.store.get(this.type('pods'), pod.metadata.namespace, pod.metadata.name ?? '') ?? pod;
  }

  private recordWarning(pod: KubeObject, reason: string, message: string): void {
    const now = this.now();
    this.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: pod.metadata.namespace },
      involvedObject: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, apiVersion: 'v1', fieldPath: `spec.containers{${containersOf(pod.spec)[0]?.name ?? ''}}` },
      reason,
      message,
      source: { component: KUBELET, host: 'ozg-test-node' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: 'Warning',
      eventTime: null,
      reportingComponent: KUBELET,
      reportingInstance: 'ozg-test-node',
    });
  }

  private workloadArrangementFor(workload: KubeObject): WorkloadArrangement {
    const images = containersOf(workload.spec?.template?.spec).map((c) => c.image ?? '');
    const found = [...this.workloadArrangements]
      .reverse()
      .find(
        (a) =>
          matchesName(a.name, workload.metadata.name) &&
          (a.namespace === undefined || a.namespace === workload.metadata.namespace) &&
          (a.imageIncludes === undefined || images.some((i) => i.includes(a.imageIncludes!))),
      );
    return found ?? { state: 'Ready' };
  }

  /** Pods of a workload reach their arranged state; returns how many are ready. */
  private settlePods(pods: KubeObject[], arrangement: WorkloadArrangement): number {
    const state = arrangement.state ?? 'Ready';
    let ready = 0;
    for (const pod of pods) {
      const input = { pod, now: Date.now(), podIp: this.podIpOf(pod) };
      for (const c of containersOf(pod.spec)) if (arrangement.log !== undefined) this.logs.set(pod.metadata.namespace ?? '', pod.metadata.name ?? '', c.name, arrangement.log);
      if (state === 'Ready') {
        this.writeStatus('pods', pod, runningPodStatus(input), KUBELET);
        if (!this.readySince.has(pod.metadata.uid ?? '')) this.readySince.set(pod.metadata.uid ?? '', input.now);
        ready++;
      } else {
        this.readySince.delete(pod.metadata.uid ?? '');
        const status = waitingPodStatus(input, state, arrangement.message);
        const alreadyFailing = (pod.status?.containerStatuses ?? []).some((s: any) => s.state?.waiting?.reason === state);
        this.writeStatus('pods', pod, status, KUBELET);
        const message = (status.containerStatuses as any[])[0]?.state?.waiting?.message ?? '';
        if (!alreadyFailing) this.recordWarning(pod, state === 'CrashLoopBackOff' || state === 'ImagePullBackOff' ? 'BackOff' : 'Failed', state === 'CrashLoopBackOff' ? `Back-off restarting failed container ${containersOf(pod.spec)[0]?.name ?? ''} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` : message);
      }
    }
    return ready;
  }

  private isReady(pod: KubeObject): boolean {
    return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  }

  // ------------------------------------------------------------ deployments

  private rolloutDeployment(snapshot: KubeObject): void {
    const deployment = this.store.get(this.type('deployments'), snapshot.metadata.namespace, snapshot.metadata.name ?? '');
    if (!deployment) return;
    const generation = deployment.metadata.generation ?? 1;
    const replicas: number = deployment.spec?.replicas ?? 1;
    const hash = stableHash(deployment.spec?.template);
    const rsName = `${deployment.metadata.name}-${hash}`;
    const selector = { matchLabels: { ...(deployment.spec?.selector?.matchLabels ?? {}), 'pod-template-hash': hash }, ...(deployment.spec?.selector?.matchExpressions ? { matchExpressions: deployment.spec.selector.matchExpressions } : {}) };
    const owned = this.ownedBy('replicasets', deployment);
    const revision = String(Math.max(0, ...owned.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0))) + (owned.some((rs) => rs.metadata.name === rsName) ? 0 : 1));
    let replicaSet = owned.find((rs) => rs.metadata.name === rsName);
    if (!replicaSet) {
      const template = clone(deployment.spec?.template ?? {});
      template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash } };
      replicaSet = this.create('replicasets', {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: rsName,
          namespace: deployment.metadata.namespace,
          labels: { ...(deployment.spec?.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
          annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/max-replicas': String(replicas + 1), 'deployment.kubernetes.io/revision': revision },
          ownerReferences: [ownerReferenceTo(deployment)],
        },
        spec: { replicas, selector, template },
      });
    } else {
      this.updateSpec('replicasets', replicaSet, (rs) => {
        rs.spec.replicas = replicas;
        rs.metadata.annotations = { ...(rs.metadata.annotations ?? {}), 'deployment.kubernetes.io/desired-replicas': String(replicas) };
      });
    }
    // old ReplicaSets go to zero at once (a Recreate-like shortcut of the rolling update)
    for (const old of owned.filter((rs) => rs.metadata.name !== rsName)) {
      this.updateSpec('replicasets', old, (rs) => void (rs.spec.replicas = 0));
      this.writeStatus('replicasets', old, { replicas: 0, observedGeneration: old.metadata.generation ?? 1 });
      for (const pod of this.ownedBy('pods', old)) this.remove('pods', pod);
    }
    let pods = this.ownedBy('pods', replicaSet);
    for (const extra of pods.slice(replicas)) this.remove('pods', extra);
    pods = pods.slice(0, replicas);
    const template = this.store.get(this.type('replicasets'), replicaSet.metadata.namespace, rsName)?.spec?.template;
    try {
      while (pods.length < replicas) pods.push(this.createPod(replicaSet, `${rsName}-${randomSuffix()}`, template, {}));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.replicaSetFailedCreate(replicaSet, error);
    }

    this.syncDeploymentStatus(deployment, generation, rsName, 'progressing');
    const arrangement = this.workloadArrangementFor(deployment);
    const uid = deployment.metadata.uid ?? '';
    this.schedule(uid, arrangement.readyDelayMs ?? this.options.readyDelayMs, () => {
      const current = this.liveGeneration('deployments', deployment, generation);
      const rs = current && this.store.get(this.type('replicasets'), deployment.metadata.namespace, rsName);
      if (!current || !rs) return;
      this.settlePods(this.ownedBy('pods', rs), arrangement);
      const settled = this.syncDeploymentStatus(current, generation, rsName, arrangement.progressDeadlineExceeded ? 'deadline' : 'progressing');
      const minReadyMs = this.minReadyMs(current);
      // availability is a second look once the pods have been ready for minReadySeconds
      if (minReadyMs > 0 && settled.ready > 0) {
        this.schedule(`${uid}:available`, minReadyMs, () => {
          const later = this.liveGeneration('deployments', deployment, generation);
          if (later) this.syncDeploymentStatus(later, generation, rsName, arrangement.progressDeadlineExceeded ? 'deadline' : 'progressing');
        });
      }
      if (arrangement.crashesAfterMs !== undefined && settled.ready > 0) {
        this.schedule(`${uid}:crash`, arrangement.crashesAfterMs, () => {
          const later = this.liveGeneration('deployments', deployment, generation);
          const liveRs = later && this.store.get(this.type('replicasets'), deployment.metadata.namespace, rsName);
          if (!later || !liveRs) return;
          this.settlePods(this.ownedBy('pods', liveRs), { ...arrangement, state: 'CrashLoopBackOff' });
          this.syncDeploymentStatus(later, generation, rsName, arrangement.progressDeadlineExceeded ? 'deadline' : 'progressing');
        });
      }
    });
  }

  /**
   * A pod the API refused (Pod Security, quota): the replicaset controller records a
   * FailedCreate event and a ReplicaFailure condition with the server's message
   * (k8s.io/kubernetes pkg/controller/controller_utils.go CreatePods: "Error creating: %v";
   * pkg/controller/replicaset/replica_set_utils.go calculateStatus). It would retry with
   * backoff; this server does not.
   */
  private replicaSetFailedCreate(replicaSet: KubeObject, error: ApiError): void {
    const rs = this.store.get(this.type('replicasets'), replicaSet.metadata.namespace, replicaSet.metadata.name ?? '');
    if (!rs) return;
    this.recordEvent(rs, { kind: 'ReplicaSet', apiVersion: 'apps/v1', component: 'replicaset-controller' }, 'Warning', 'FailedCreate', `Error creating: ${error.message}`);
    const condition = { type: 'ReplicaFailure', status: 'True', lastTransitionTime: this.now(), reason: 'FailedCreate', message: error.message };
    this.writeStatus('replicasets', rs, { ...(rs.status ?? {}), replicas: rs.status?.replicas ?? 0, observedGeneration: rs.metadata.generation ?? 1, conditions: [condition] });
  }

  /** The object if it still exists at this generation (a newer one has its own rollout). */
  private liveGeneration(typeName: string, object: KubeObject, generation: number): KubeObject | undefined {
    const live = this.store.get(this.type(typeName), object.metadata.namespace, object.metadata.name ?? '');
    return live && (live.metadata.generation ?? 1) === generation ? live : undefined;
  }

  private minReadyMs(workload: KubeObject): number {
    const seconds = Number(workload.spec?.minReadySeconds ?? 0);
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
  }

  /**
   * A pod counts as available once it has been ready for minReadySeconds
   * (k8s.io/kubernetes pkg/api/v1/pod/util.go IsPodAvailable).
   */
  private isAvailable(pod: KubeObject, minReadyMs: number, now: number): boolean {
    if (!this.isReady(pod)) return false;
    if (minReadyMs === 0) return true;
    const since = this.readySince.get(pod.metadata.uid ?? '');
    return since !== undefined && since + minReadyMs <= now;
  }

  /**
   * ReplicaSet and Deployment status from the new ReplicaSet's pods, as the replicaset and
   * deployment controllers compute it (k8s.io/kubernetes pkg/controller/replicaset/replica_set_utils.go
   * calculateStatus; pkg/controller/deployment/sync.go calculateStatus and progress.go
   * syncRolloutStatus): availableReplicas counts pods ready for minReadySeconds; counts that
   * are 0 are left out of the JSON, as `omitempty` in k8s.io/api apps/v1 types.go does.
   */
  private syncDeploymentStatus(deployment: KubeObject, generation: number, rsName: string, stalled: 'progressing' | 'deadline'): { ready: number; available: number } {
    const replicas: number = deployment.spec?.replicas ?? 1;
    const rs = this.store.get(this.type('replicasets'), deployment.metadata.namespace, rsName);
    const pods = rs ? this.ownedBy('pods', rs) : [];
    const now = Date.now();
    const minReadyMs = this.minReadyMs(deployment);
    const ready = pods.filter((p) => this.isReady(p)).length;
    const available = pods.filter((p) => this.isAvailable(p, minReadyMs, now)).length;
    const replicaFailure = ((rs?.status?.conditions ?? []) as any[]).find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
    if (rs) {
      this.writeStatus('replicasets', rs, {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length || undefined,
        readyReplicas: ready || undefined,
        availableReplicas: available || undefined,
        observedGeneration: rs.metadata.generation ?? 1,
        ...(replicaFailure ? { conditions: [replicaFailure] } : {}),
      });
    }
    const outcome = available >= replicas ? 'complete' : ready < replicas ? stalled : 'progressing';
    this.writeDeploymentStatus(deployment, generation, replicas, { current: pods.length, ready, available }, rsName, outcome, replicaFailure);
    return { ready, available };
  }

  /**
   * How many pods may be unavailable while the Deployment still counts as Available
   * (k8s.io/kubernetes pkg/controller/deployment/util/deployment_util.go MaxUnavailable and
   * ResolveFenceposts: Recreate 0; RollingUpdate maxUnavailable rounded down, maxSurge up,
   * both 0 → 1, never more than replicas).
   */
  private maxUnavailable(deployment: KubeObject, replicas: number): number {
    const strategy = deployment.spec?.strategy ?? {};
    if (strategy.type !== 'RollingUpdate' || replicas === 0) return 0;
    const resolve = (value: unknown, fallback: string, roundUp: boolean): number => {
      const v = value ?? fallback;
      if (typeof v === 'number') return v;
      const percent = Number(String(v).replace(/%$/, '')) / 100;
      return roundUp ? Math.ceil(percent * replicas) : Math.floor(percent * replicas);
    };
    const surge = resolve(strategy.rollingUpdate?.maxSurge, '25%', true);
    let unavailable = resolve(strategy.rollingUpdate?.maxUnavailable, '25%', false);
    if (surge === 0 && unavailable === 0) unavailable = 1;
    return Math.min(unavailable, replicas);
  }

  private writeDeploymentStatus(
    deployment: KubeObject,
    generation: number,
    replicas: number,
    counts: { current: number; ready: number; available: number },
    rsName: string,
    outcome: 'progressing' | 'complete' | 'deadline',
    replicaFailure?: { reason?: string; message?: string },
  ): void {
    const { current, ready, available: availableReplicas } = counts;
    const now = this.now();
    const previous = (deployment.status?.conditions ?? []) as any[];
    const transition = (type: string, status: string): string => {
      const old = previous.find((c) => c.type === type);
      return old && old.status === status ? old.lastTransitionTime : now;
    };
    // pkg/controller/deployment/sync.go calculateStatus: Available once availableReplicas >= replicas - maxUnavailable
    const available = availableReplicas >= replicas - this.maxUnavailable(deployment, replicas);
    const progressing =
      outcome === 'complete'
        ? { status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` }
        : outcome === 'deadline'
          ? { status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` }
          : { status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` };
    const conditions = [
      available
        ? { type: 'Available', status: 'True', lastUpdateTime: now, lastTransitionTime: transition('Available', 'True'), reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
        : { type: 'Available', status: 'False', lastUpdateTime: now, lastTransitionTime: transition('Available', 'False'), reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
      { type: 'Progressing', lastUpdateTime: now, lastTransitionTime: transition('Progressing', progressing.status), ...progressing },
      // pkg/controller/deployment/sync.go calculateStatus: a ReplicaSet's ReplicaFailure is copied over
      ...(replicaFailure ? [{ type: 'ReplicaFailure', status: 'True', lastUpdateTime: now, lastTransitionTime: transition('ReplicaFailure', 'True'), reason: replicaFailure.reason, message: replicaFailure.message }] : []),
    ];
    // old ReplicaSets are scaled to 0 at once, so every pod there is is an updated one
    this.writeStatus('deployments', deployment, {
      observedGeneration: generation,
      ...(current > 0 ? { replicas: current, updatedReplicas: current } : {}),
      ...(ready > 0 ? { readyReplicas: ready } : {}),
      ...(availableReplicas > 0 ? { availableReplicas } : {}),
      ...(replicas - availableReplicas > 0 ? { unavailableReplicas: replicas - availableReplicas } : {}),
      conditions,
    });
  }

  // ------------------------------------------------------------ statefulsets

  private rolloutStatefulSet(snapshot: KubeObject): void {
    const sts = this.store.get(this.type('statefulsets'), snapshot.metadata.namespace, snapshot.metadata.name ?? '');
    if (!sts) return;
    const name = sts.metadata.name ?? '';
    const generation = sts.metadata.generation ?? 1;
    const replicas: number = sts.spec?.replicas ?? 1;
    const revision = `${name}-${stableHash(sts.spec?.template)}`;
    const previousRevision: string = sts.status?.currentRevision ?? revision;
    for (const template of sts.spec?.volumeClaimTemplates ?? []) {
      for (let i = 0; i < replicas; i++) {
        const claimName = `${template.metadata?.name}-${name}-${i}`;
        if (this.store.get(this.type('persistentvolumeclaims'), sts.metadata.namespace, claimName)) continue;
        this.create('persistentvolumeclaims', {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: claimName, namespace: sts.metadata.namespace, labels: { ...(sts.spec?.selector?.matchLabels ?? {}) } },
          spec: clone(template.spec ?? {}),
        });
      }
    }
    const pods = this.ownedBy('pods', sts);
    for (const pod of pods) {
      const ordinal = Number((pod.metadata.name ?? '').slice(name.length + 1));
      if (ordinal >= replicas || pod.metadata.labels?.['controller-revision-hash'] !== revision) this.remove('pods', pod);
    }
    const current = new Set(this.ownedBy('pods', sts).map((p) => p.metadata.name));
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${i}`;
      if (current.has(podName)) continue;
      const template = clone(sts.spec?.template ?? {});
      template.spec = template.spec ?? {};
      template.spec.hostname = podName;
      if (sts.spec?.serviceName) template.spec.subdomain = sts.spec.serviceName;
      for (const claim of sts.spec?.volumeClaimTemplates ?? []) {
        template.spec.volumes = [...(template.spec.volumes ?? []), { name: claim.metadata?.name, persistentVolumeClaim: { claimName: `${claim.metadata?.name}-${name}-${i}` } }];
      }
      try {
        this.createPod(sts, podName, template, { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(i) });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        // pkg/controller/statefulset/stateful_pod_control.go recordPodEvent; it stops at the first pod it cannot create
        this.recordEvent(sts, { kind: 'StatefulSet', apiVersion: 'apps/v1', component: 'statefulset-controller' }, 'Warning', 'FailedCreate', `create Pod ${podName} in StatefulSet ${name} failed error: ${error.message}`);
        break;
      }
    }
    const readyNow = this.ownedBy('pods', sts).filter((p) => this.isReady(p)).length;
    const writeStatus = (ready: number, currentRevision: string): void => {
      this.writeStatus('statefulsets', sts, {
        observedGeneration: generation,
        replicas,
        ...(ready > 0 ? { readyReplicas: ready, availableReplicas: ready } : { availableReplicas: 0 }),
        currentReplicas: currentRevision === revision ? replicas : 0,
        updatedReplicas: replicas,
        currentRevision,
        updateRevision: revision,
        collisionCount: 0,
      });
    };
    writeStatus(readyNow, previousRevision);
    const arrangement = this.workloadArrangementFor(sts);
    this.schedule(sts.metadata.uid ?? '', arrangement.readyDelayMs ?? this.options.readyDelayMs, () => {
      const live = this.store.get(this.type('statefulsets'), sts.metadata.namespace, name);
      if (!live || (live.metadata.generation ?? 1) !== generation) return;
      const ready = this.settlePods(this.ownedBy('pods', sts), arrangement);
      writeStatus(ready, ready >= replicas ? revision : previousRevision);
    });
  }

  // ------------------------------------------------------------ jobs

  private jobArrangementFor(job: KubeObject): JobArrangement {
    const commands = containersOf(job.spec?.template?.spec).map((c) => [...(c.command ?? []), ...(c.args ?? [])].join(' '));
    const annotations = job.metadata.annotations ?? {};
    const found = [...this.jobArrangements]
      .reverse()
      .find(
        (a) =>
          matchesName(a.name, job.metadata.name) &&
          (a.namespace === undefined || a.namespace === job.metadata.namespace) &&
          (a.commandIncludes === undefined || commands.some((c) => c.includes(a.commandIncludes!))) &&
          (a.annotation === undefined || (a.annotation.key in annotations && (a.annotation.value === undefined || annotations[a.annotation.key] === a.annotation.value))),
      );
    return found ?? { outcome: 'succeed' };
  }

  private jobPodLabels(job: KubeObject): Record<string, string> {
    return { 'batch.kubernetes.io/job-name': job.metadata.name ?? '', 'job-name': job.metadata.name ?? '' };
  }

  private startJob(snapshot: KubeObject): void {
    const job = this.store.get(this.type('jobs'), snapshot.metadata.namespace, snapshot.metadata.name ?? '');
    if (!job) return;
    const arrangement = this.jobArrangementFor(job);
    const completions: number = job.spec?.completions ?? 1;
    const startTime = this.now();
    const pods: KubeObject[] = [];
    for (let i = 0; i < Math.max(1, completions); i++) {
      let pod: KubeObject;
      try {
        pod = this.createPod(job, `${job.metadata.name}-${randomSuffix()}`, job.spec?.template, this.jobPodLabels(job));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        // pkg/controller/controller_utils.go CreatePods: the job controller records the refusal and retries later
        this.recordJobEvent(job, 'Warning', 'FailedCreate', `Error creating: ${error.message}`);
        this.writeStatus('jobs', job, { startTime, terminating: 0, uncountedTerminatedPods: {} });
        return;
      }
      this.writeStatus('pods', pod, runningPodStatus({ pod, now: Date.now(), podIp: this.podIpOf(pod) }), KUBELET);
      this.writeLogs(job, pod, arrangement);
      pods.push(pod);
    }
    this.writeStatus('jobs', job, { active: pods.length, ready: pods.length, startTime, terminating: 0, uncountedTerminatedPods: {} });
    if (arrangement.outcome === 'hang') return;
    this.schedule(job.metadata.uid ?? '', arrangement.durationMs ?? this.options.jobDelayMs, () => this.finishJob(job, pods, arrangement, startTime));
  }

  private writeLogs(job: KubeObject, pod: KubeObject, arrangement: JobArrangement): void {
    for (const c of containersOf(pod.spec)) {
      if (c.name === SIDECAR_NAME) {
        this.logs.set(pod.metadata.namespace ?? '', pod.metadata.name ?? '', c.name, SIDECAR_LOG);
        continue;
      }
      const text = typeof arrangement.log === 'function' ? arrangement.log(job) : arrangement.log ?? defaultJobLog(job, c.name);
      this.logs.set(pod.metadata.namespace ?? '', pod.metadata.name ?? '', c.name, text);
    }
  }

  private finishJob(job: KubeObject, pods: KubeObject[], arrangement: JobArrangement, startTime: string): void {
    const live = this.store.get(this.type('jobs'), job.metadata.namespace, job.metadata.name ?? '');
    if (!live) return;
    const now = this.now();
    const podType = this.type('pods');
    const finish = (pod: KubeObject, exitCode: number): void => {
      const current = this.store.get(podType, pod.metadata.namespace, pod.metadata.name ?? '');
      if (current) this.writeStatus('pods', current, terminatedPodStatus({ pod: current, now: Date.now(), podIp: this.podIpOf(current) }, exitCode), KUBELET);
    };
    const withSidecar = pods.filter((pod) => hasRegularSidecar(pod));
    if (withSidecar.length > 0) {
      // The job's container exited, the injected proxy did not: the pod stays Running and the
      // Job active (the job controller counts only Succeeded/Failed pods), until its deadline.
      const exitCode = arrangement.outcome === 'fail' ? (arrangement.exitCode ?? 1) : 0;
      for (const pod of withSidecar) {
        const current = this.store.get(podType, pod.metadata.namespace, pod.metadata.name ?? '');
        if (current) this.writeStatus('pods', current, sidecarStillRunningPodStatus({ pod: current, now: Date.now(), podIp: this.podIpOf(current) }, exitCode), KUBELET);
      }
      return;
    }
    if (arrangement.outcome === 'fail') {
      const exitCode = arrangement.exitCode ?? 1;
      const attempts = Math.min(live.spec?.backoffLimit ?? 6, 6) + 1;
      for (const pod of pods) finish(pod, exitCode);
      for (let i = pods.length; i < attempts; i++) {
        const retry = this.createPod(live, `${live.metadata.name}-${randomSuffix()}`, live.spec?.template, this.jobPodLabels(live));
        this.writeLogs(live, retry, arrangement);
        finish(retry, exitCode);
      }
      const failed = Math.max(attempts, pods.length);
      const reason = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      this.writeStatus('jobs', live, {
        failed,
        ready: 0,
        startTime,
        terminating: 0,
        uncountedTerminatedPods: {},
        conditions: [
          { type: 'FailureTarget', status: 'True', lastProbeTime: now, lastTransitionTime: now, ...reason },
          { type: 'Failed', status: 'True', lastProbeTime: now, lastTransitionTime: now, ...reason },
        ],
      });
      this.recordJobEvent(live, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      return;
    }
    for (const pod of pods) finish(pod, 0);
    this.writeStatus('jobs', live, {
      succeeded: pods.length,
      ready: 0,
      startTime,
      completionTime: now,
      terminating: 0,
      uncountedTerminatedPods: {},
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
        { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
      ],
    });
    this.recordJobEvent(live, 'Normal', 'Completed', 'Job completed');
  }

  private recordJobEvent(job: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.recordEvent(job, { kind: 'Job', apiVersion: 'batch/v1', component: 'job-controller' }, type, reason, message);
  }

  private recordEvent(object: KubeObject, about: { kind: string; apiVersion: string; component: string }, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const now = this.now();
    this.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${object.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: object.metadata.namespace },
      involvedObject: { kind: about.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid, apiVersion: about.apiVersion },
      reason,
      message,
      source: { component: about.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: about.component,
      reportingInstance: '',
    });
  }

  // ------------------------------------------------------------ namespaces and volumes

  /** What the service account and root-CA publisher controllers put into every namespace. */
  populateNamespace(namespace: string, caPem: string): void {
    if (!this.store.get(this.type('namespaces'), undefined, namespace)) return;
    if (!this.store.get(this.type('serviceaccounts'), namespace, 'default')) {
      this.create('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } });
    }
    if (!this.store.get(this.type('configmaps'), namespace, 'kube-root-ca.crt')) {
      this.create('configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-root-ca.crt', namespace, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } },
        data: { 'ca.crt': caPem },
      });
    }
  }

  private bindClaim(snapshot: KubeObject): void {
    const claim = this.store.get(this.type('persistentvolumeclaims'), snapshot.metadata.namespace, snapshot.metadata.name ?? '');
    if (!claim) return;
    const volumeName = `pvc-${claim.metadata.uid}`;
    this.updateSpec('persistentvolumeclaims', claim, (c) => {
      c.spec.volumeName ??= volumeName;
      c.spec.storageClassName ??= 'standard';
    });
    this.writeStatus('persistentvolumeclaims', claim, {
      phase: 'Bound',
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
    });
  }
}
