import { buildSmokeJob } from '../../../src/targets/kubernetes/smoke-job.js';
import { podSecurityViolations } from '../../helpers/kube-api/pod-security.js';

/** The texts of k8s.io/pod-security-admission's policy checks (see pod-security.ts), one per rule. */
describe('Pod Security checks of the test API server', () => {
  const compliant = () => ({
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'app', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }] as any[],
    volumes: [{ name: 'tmp', emptyDir: {} }] as any[],
  });

  it('admits a compliant pod, and ozg’s own smoke Job', () => {
    expect(podSecurityViolations('restricted', compliant())).toEqual([]);
    const job = buildSmokeJob({ name: 'ozg-smoke-x', namespace: 'ns', site: 'kiel', environment: 'test', procedure: 'p', check: { name: 'c', command: 'true', targets: ['kubernetes'] }, image: 'busybox:1.36', startupSeconds: 60 } as any) as any;
    expect(podSecurityViolations('restricted', job.spec.template.spec)).toEqual([]);
  });

  it('words each violation as the upstream check does', () => {
    const spec = compliant();
    spec.securityContext = { runAsUser: 0, seccompProfile: { type: 'Unconfined' } } as any;
    spec.containers = [
      { name: 'app', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN', 'NET_BIND_SERVICE'] }, runAsNonRoot: false } },
      { name: 'side', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } },
    ];
    spec.volumes = [{ name: 'host', hostPath: { path: '/var' } }];
    expect(podSecurityViolations('restricted', { ...spec, hostNetwork: true })).toEqual([
      'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)',
      'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]; container "app" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
      'host namespaces (hostNetwork=true)',
      'privileged (container "app" must not set securityContext.privileged=true)',
      'restricted volume types (volume "host" uses restricted volume type "hostPath")',
      'runAsNonRoot != true (container "app" must not set securityContext.runAsNonRoot=false)',
      'runAsUser=0 (pod must not set runAsUser=0)',
      'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ]);
    expect(podSecurityViolations('baseline', spec)).toEqual(['hostPath volumes (volume "host")', 'privileged (container "app" must not set securityContext.privileged=true)']);
    expect(podSecurityViolations('privileged', spec)).toEqual([]);
  });
});
