import { checkRollout, describeFailedCreates, describeUnreadyPods, describeWorkloadConditions, selectorOf } from '../../../../src/targets/kubernetes/rollout-status.js';

const deployment = (status: Record<string, unknown>, spec: Record<string, unknown> = { replicas: 2 }, generation = 3) => ({
  metadata: { name: 'web', generation },
  spec,
  status,
});

describe('checkRollout', () => {
  it('waits until the controller saw the change and every replica is updated, ready and available', () => {
    expect(checkRollout('deployment', deployment({ observedGeneration: 2 }))).toEqual({ done: false, waiting: 'the controller has not seen generation 3 yet' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 1, replicas: 2 }))).toMatchObject({ waiting: '1 of 2 replicas updated' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 3 }))).toMatchObject({ waiting: '1 old replicas still terminating' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, readyReplicas: 1 }))).toMatchObject({ waiting: '1 of 2 replicas ready' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, readyReplicas: 2, availableReplicas: 1 }))).toMatchObject({ waiting: '1 of 2 replicas available' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, readyReplicas: 2, availableReplicas: 2 }))).toEqual({ done: true });
  });

  it('reads a missing availableReplicas as 0, as kubectl rollout status does (the server omits zero counts)', () => {
    // a first install with minReadySeconds: pods ready, none available yet, Available=False
    const firstInstall = deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, readyReplicas: 2, unavailableReplicas: 2 }, { replicas: 2, minReadySeconds: 30 });
    expect(checkRollout('deployment', firstInstall)).toEqual({ done: false, waiting: '0 of 2 replicas available (ready, not yet for minReadySeconds 30)' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 1, replicas: 1 }, { replicas: 1 }))).toEqual({ done: false, waiting: '0 of 1 replicas ready' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, readyReplicas: 2, availableReplicas: 2 }, { replicas: 2, minReadySeconds: 30 }))).toEqual({ done: true });
  });

  it('defaults to one replica and takes zero replicas as rolled out', () => {
    expect(checkRollout('deployment', deployment({ observedGeneration: 3 }, {}))).toMatchObject({ done: false, waiting: '0 of 1 replicas updated' });
    expect(checkRollout('deployment', deployment({ observedGeneration: 3 }, { replicas: 0 }))).toEqual({ done: true });
  });

  it('fails at once when the deployment exceeded its progress deadline', () => {
    const state = checkRollout('deployment', deployment({ observedGeneration: 3, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] }));
    expect(state).toEqual({ done: false, failed: true, waiting: 'progress deadline exceeded: ReplicaSet "web-1" has timed out progressing.' });
  });

  it('checks StatefulSets by ready replicas, updated replicas and revision', () => {
    const sts = (status: Record<string, unknown>, spec: Record<string, unknown> = { replicas: 2 }) => ({ metadata: { generation: 1 }, spec, status: { observedGeneration: 1, ...status } });
    expect(checkRollout('statefulset', sts({ readyReplicas: 1 }))).toMatchObject({ waiting: '1 of 2 replicas ready' });
    expect(checkRollout('statefulset', sts({ readyReplicas: 2, updatedReplicas: 1 }))).toMatchObject({ waiting: '1 of 2 replicas updated' });
    expect(checkRollout('statefulset', sts({ readyReplicas: 2, updatedReplicas: 2, currentRevision: 'a', updateRevision: 'b' }))).toMatchObject({ waiting: 'revision b not yet current' });
    expect(checkRollout('statefulset', sts({ readyReplicas: 2, updatedReplicas: 2, currentRevision: 'b', updateRevision: 'b' }))).toEqual({ done: true });
    expect(checkRollout('statefulset', sts({ readyReplicas: 2, updatedReplicas: 1 }, { replicas: 2, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }))).toEqual({ done: true });
  });
});

describe('describeUnreadyPods', () => {
  const pod = (name: string, status: Record<string, unknown>) => ({ metadata: { name }, status });

  it('says what each container of a pod that is not ready waits for', () => {
    const lines = describeUnreadyPods([
      pod('web-abc', {
        phase: 'Pending',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [{ name: 'app', ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example/web:9"' } } }],
      }),
      pod('web-def', {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [
          { name: 'app', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } },
          { name: 'sidecar', ready: true, state: { running: {} } },
        ],
      }),
      pod('web-ghi', { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'app', ready: false, state: { running: { startedAt: 'x' } } }] }),
      pod('web-ok', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', ready: true, state: { running: {} } }] }),
      pod('web-jkl', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }] }),
      pod('web-mno', { phase: 'Pending', initContainerStatuses: [{ name: 'migrate', ready: false, state: { terminated: { reason: 'Error', exitCode: 2 } } }] }),
    ]);
    expect(lines).toEqual([
      'pod web-abc: container app waiting: ImagePullBackOff (Back-off pulling image "registry.example/web:9")',
      'pod web-def: container app waiting: CrashLoopBackOff (back-off 40s restarting failed container), last exit 1 Error, 4 restarts',
      'pod web-ghi: container app running but not ready (readiness probe failing?)',
      'pod web-jkl: not scheduled: Unschedulable (0/3 nodes are available: 3 Insufficient memory.)',
      'pod web-mno: init container migrate terminated: Error (exit 2)',
    ]);
  });

  it('lists at most a few pods and counts the rest', () => {
    const pods = Array.from({ length: 8 }, (_, i) => pod(`p${i}`, { phase: 'Pending' }));
    const lines = describeUnreadyPods(pods, 3);
    expect(lines).toEqual(['pod p0: Pending, not ready', 'pod p1: Pending, not ready', 'pod p2: Pending, not ready', '… and 5 more pods not ready']);
  });

  it('reads a workload’s selector and the conditions that explain missing pods', () => {
    expect(selectorOf({ spec: { selector: { matchLabels: { app: 'web', tier: 'front' } } } })).toBe('app=web,tier=front');
    expect(selectorOf({ spec: {} })).toBeUndefined();
    expect(describeWorkloadConditions({ status: { conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "web-1" is forbidden: exceeded quota: compute' }] } })).toEqual([
      'ReplicaFailure: FailedCreate (pods "web-1" is forbidden: exceeded quota: compute)',
    ]);
  });
});

describe('describeFailedCreates', () => {
  it('names why a controller got no pods, newest distinct refusal first, ignoring other events', () => {
    const event = (reason: string, message: string, lastTimestamp: string) => ({ reason, message, lastTimestamp, type: 'Warning' });
    const lines = describeFailedCreates([
      event('FailedCreate', 'Error creating: pods "a-1" is forbidden: exceeded quota: q', '2026-01-01T10:00:00Z'),
      event('SuccessfulCreate', 'Created pod: a-2', '2026-01-01T10:00:05Z'),
      event('FailedCreate', 'Error creating: pods "a-3" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true', '2026-01-01T10:00:09Z'),
      event('FailedCreate', 'Error creating: pods "a-3" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true', '2026-01-01T10:00:08Z'),
    ]);
    expect(lines).toEqual([
      'FailedCreate: Error creating: pods "a-3" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
      'FailedCreate: Error creating: pods "a-1" is forbidden: exceeded quota: q',
    ]);
    expect(describeFailedCreates([])).toEqual([]);
  });
});
