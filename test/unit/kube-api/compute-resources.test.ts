import { buildSmokeJob } from '../../../src/targets/kubernetes/smoke-job.js';
import { applyLimitRangeDefaults, defaultLimitRange, defaultPodRequests, enforceLimitRanges, enforcePodQuotas } from '../../helpers/kube-api/compute-resources.js';
import type { KubeObject } from '../../helpers/kube-api/objects.js';
import { addQuantities, formatQuantity, parseQuantity } from '../../helpers/kube-api/quantity.js';
import { resolveResourceType } from '../../helpers/kube-api/resources.js';

const PODS = resolveResourceType('pods');
const q = (text: string) => parseQuantity(text)!;

function pod(name: string, containers: Array<{ name: string; requests?: Record<string, string>; limits?: Record<string, string> }>, phase = 'Running'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns' },
    spec: { containers: containers.map((c) => ({ name: c.name, image: 'x', resources: { ...(c.requests ? { requests: c.requests } : {}), ...(c.limits ? { limits: c.limits } : {}) } })) },
    status: { phase },
  };
}

function limitRange(name: string, item: Record<string, unknown>): KubeObject {
  const object: KubeObject = { apiVersion: 'v1', kind: 'LimitRange', metadata: { name, namespace: 'ns' }, spec: { limits: [{ type: 'Container', ...item }] } };
  defaultLimitRange(object);
  return object;
}

const quota = (name: string, hard: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name, namespace: 'ns' }, spec: { hard } });

/** LimitRanger and the pod quota evaluator of the test API server (compute-resources.ts), their texts as upstream words them. */
describe('compute resources in the test API server', () => {
  it('prints quantities in canonical form, as resource.Quantity does', () => {
    expect(['1000m', '500m', '0.5', '1', '2000', '1024Mi', '1536Mi', '64Mi', '100M', '0', '1e3', '1.5Gi'].map((t) => formatQuantity(q(t)))).toEqual([
      '1',
      '500m',
      '500m',
      '1',
      '2k',
      '1Gi',
      '1536Mi',
      '64Mi',
      '100M',
      '0',
      '1e3',
      '1536Mi',
    ]);
    // a zero takes the other's format, so a quota's usage of one 64Mi pod prints as 64Mi
    expect(formatQuantity(addQuantities(parseQuantity('0')!, q('64Mi')))).toBe('64Mi');
    expect(formatQuantity(addQuantities(q('600Mi'), q('100Mi')))).toBe('700Mi');
    expect(parseQuantity('lots')).toBeUndefined();
  });

  it('fills in a LimitRange’s defaults (max as default limit, default as default request) and notes them', () => {
    const range = limitRange('limits', { max: { cpu: '500m' }, defaultRequest: { memory: '32Mi' }, default: { memory: '64Mi' } });
    expect(range.spec.limits[0]).toMatchObject({ default: { cpu: '500m', memory: '64Mi' }, defaultRequest: { cpu: '500m', memory: '32Mi' } });
    const p = pod('web', [{ name: 'app', requests: { cpu: '100m' } }]);
    applyLimitRangeDefaults(PODS, p, [range]);
    expect(p.spec.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '32Mi' }, limits: { cpu: '500m', memory: '64Mi' } });
    expect(p.metadata.annotations).toEqual({ 'kubernetes.io/limit-ranger': 'LimitRanger plugin set: memory request for container app; cpu, memory limit for container app' });
    // a LimitRange with only a minimum: the minimum becomes the default request, and no empty limits are stored
    const floor = pod('floor', [{ name: 'app' }]);
    applyLimitRangeDefaults(PODS, floor, [limitRange('floor', { min: { cpu: '50m' } })]);
    expect(floor.spec.containers[0].resources).toEqual({ requests: { cpu: '50m' } });
  });

  it('refuses a container beyond a LimitRange’s min or max with kube-apiserver’s words', () => {
    const range = limitRange('limits', { max: { cpu: '500m', memory: '1Gi' }, min: { cpu: '50m' } });
    const refuse = (p: KubeObject) => enforceLimitRanges(PODS, p, [range])?.message;
    expect(refuse(pod('big', [{ name: 'app', requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '64Mi' } }]))).toBe('pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1');
    expect(refuse(pod('small', [{ name: 'app', requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } }]))).toBe('pods "small" is forbidden: minimum cpu usage per Container is 50m, but request is 10m');
    expect(refuse(pod('bare', [{ name: 'app' }]))).toBe(
      'pods "bare" is forbidden: [minimum cpu usage per Container is 50m.  No request is specified, maximum cpu usage per Container is 500m.  No limit is specified, maximum memory usage per Container is 1Gi.  No limit is specified]',
    );
    expect(refuse(pod('fits', [{ name: 'app', requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '1Gi' } }]))).toBeUndefined();
  });

  it('defaults a pod’s requests to its limits (SetDefaults_Pod)', () => {
    const p = pod('web', [{ name: 'app', limits: { cpu: '1', memory: '1Gi' } }]);
    defaultPodRequests(p);
    expect(p.spec.containers[0].resources.requests).toEqual({ cpu: '1', memory: '1Gi' });
  });

  it('makes every container declare what a compute quota limits: failed quota … must specify', () => {
    const compute = quota('compute', { 'requests.cpu': '2', 'limits.memory': '1Gi' });
    const p = pod('web', [{ name: 'app', requests: { cpu: '100m' } }, { name: 'sidecar' }]);
    expect(enforcePodQuotas(PODS, p, [compute], [])?.message).toBe('pods "web" is forbidden: failed quota: compute: must specify limits.memory for: app,sidecar; requests.cpu for: sidecar');
  });

  it('refuses a pod that would exceed a compute quota, naming requested, used and limited of the exceeded resources only', () => {
    const compute = quota('compute', { 'requests.cpu': '1', 'requests.memory': '1Gi', pods: '10' });
    const running = [pod('a', [{ name: 'app', requests: { cpu: '600m', memory: '300Mi' } }]), pod('b', [{ name: 'app', requests: { cpu: '300m', memory: '300Mi' } }]), pod('done', [{ name: 'app', requests: { cpu: '900m', memory: '900Mi' } }], 'Succeeded')];
    const next = pod('c', [{ name: 'app', requests: { cpu: '200m', memory: '100Mi' } }]);
    expect(enforcePodQuotas(PODS, next, [compute], running)?.message).toBe('pods "c" is forbidden: exceeded quota: compute, requested: requests.cpu=200m, used: requests.cpu=900m, limited: requests.cpu=1');
    expect(enforcePodQuotas(PODS, pod('d', [{ name: 'app', requests: { cpu: '100m', memory: '100Mi' } }]), [compute], running)).toBeUndefined();
    expect(enforcePodQuotas(PODS, pod('e', [{ name: 'app', requests: { cpu: '1m', memory: '500Mi' } }]), [compute], running)?.message).toBe(
      'pods "e" is forbidden: exceeded quota: compute, requested: requests.memory=500Mi, used: requests.memory=600Mi, limited: requests.memory=1Gi',
    );
    // the pods count as before
    expect(enforcePodQuotas(PODS, next, [quota('no-pods', { pods: '0' })], [])?.message).toBe('pods "c" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0');
  });

  it('ozg’s smoke Job declares requests and limits that a compute quota and a typical LimitRange admit', () => {
    const job = buildSmokeJob({ name: 'ozg-smoke-x', namespace: 'ns', site: 'kiel', environment: 'test', procedure: 'p', check: { name: 'c', command: 'true', targets: ['kubernetes'] }, image: 'busybox:1.36', startupSeconds: 60 });
    const smokePod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ozg-smoke-x-abcde', namespace: 'ns' }, spec: (job as any).spec.template.spec };
    const compute = quota('compute', { 'requests.cpu': '1', 'requests.memory': '1Gi', 'limits.cpu': '2', 'limits.memory': '2Gi' });
    expect(enforcePodQuotas(PODS, smokePod, [compute], [])).toBeUndefined();
    expect(enforceLimitRanges(PODS, smokePod, [limitRange('limits', { max: { cpu: '1', memory: '512Mi' }, min: { cpu: '10m', memory: '16Mi' } })])).toBeUndefined();
  });
});
