import type { KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';
import { forbidden, type ApiError } from './status.js';

/**
 * Pod Security admission, `enforce` mode, for namespaces labelled
 * `pod-security.kubernetes.io/enforce: restricted` (or `baseline`): a pod that violates the
 * level is refused with 403 Forbidden, so controllers never get their pods (the Job gets a
 * FailedCreate event, a ReplicaSet a ReplicaFailure condition). Followed:
 * k8s.io/pod-security-admission (kubernetes/kubernetes staging/src/k8s.io/pod-security-admission)
 * admission/admission.go (the message `violates PodSecurity "<level>:<version>": reason
 * (detail), …`, checks in the order of their IDs) and the policy checks of the level this
 * server models: policy/check_allowPrivilegeEscalation.go, check_capabilities_restricted.go,
 * check_hostNamespaces.go, check_privileged.go, check_hostPathVolumes.go (baseline),
 * check_restrictedVolumes.go, check_runAsNonRoot.go, check_runAsUser.go,
 * check_seccompProfile_restricted.go. Not modelled: AppArmor, SELinux options, procMount,
 * sysctls, host ports, Windows options, the user-namespace relaxation, and the warnings a
 * workload (Deployment, Job) gets at create time in `warn`/`audit` modes.
 */

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const ENFORCE_VERSION_LABEL = 'pod-security.kubernetes.io/enforce-version';

interface Container {
  name: string;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    capabilities?: { add?: string[]; drop?: string[] };
    seccompProfile?: { type?: string };
  };
}

interface Check {
  id: string;
  levels: Array<'baseline' | 'restricted'>;
  run(spec: any, containers: Container[]): { reason: string; detail: string } | undefined;
}

const pluralize = (one: string, many: string, n: number) => (n === 1 ? one : many);
const joinQuote = (items: string[]) => items.map((i) => JSON.stringify(i)).join(', ');
const containersPhrase = (names: string[]) => `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
const VALID_SECCOMP = new Set(['RuntimeDefault', 'Localhost']);
const RESTRICTED_VOLUME_SOURCES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

/** A check for a pod- or container-level setting where the container's value wins (runAsNonRoot, seccompProfile). */
function podOrContainer(reason: string, podValue: unknown, containers: Container[], value: (c: Container) => unknown, valid: (v: unknown) => boolean, mustSet: string, mustNotSet: (bad: string[]) => string) {
  const badSetters: string[] = [];
  const badValues = new Set<string>();
  const podValid = podValue !== undefined && valid(podValue);
  if (podValue !== undefined && !podValid) {
    badSetters.push('pod');
    badValues.add(String(podValue));
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  for (const c of containers) {
    const v = value(c);
    if (v !== undefined) {
      if (!valid(v)) {
        explicit.push(c.name);
        badValues.add(String(v));
      }
    } else if (!podValid) implicit.push(c.name);
  }
  if (explicit.length > 0) badSetters.push(containersPhrase(explicit));
  if (badSetters.length > 0) return { reason, detail: `${badSetters.join(' and ')} ${mustNotSet([...badValues].sort())}` };
  if (implicit.length > 0) return { reason, detail: `pod or ${containersPhrase(implicit)} ${mustSet}` };
  return undefined;
}

/** In the order of their check IDs, as admission.go reports them. */
const CHECKS: Check[] = [
  {
    id: 'allowPrivilegeEscalation',
    levels: ['restricted'],
    run: (_spec, containers) => {
      const bad = containers.filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => c.name);
      return bad.length > 0 ? { reason: 'allowPrivilegeEscalation != false', detail: `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false` } : undefined;
    },
  },
  {
    id: 'capabilities_restricted',
    levels: ['restricted'],
    run: (_spec, containers) => {
      const missingDrop = containers.filter((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL')).map((c) => c.name);
      const adding = containers.filter((c) => (c.securityContext?.capabilities?.add ?? []).some((a) => a !== 'NET_BIND_SERVICE'));
      const added = [...new Set(adding.flatMap((c) => (c.securityContext?.capabilities?.add ?? []).filter((a) => a !== 'NET_BIND_SERVICE')))].sort();
      const details = [
        ...(missingDrop.length > 0 ? [`${containersPhrase(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`] : []),
        ...(adding.length > 0 ? [`${containersPhrase(adding.map((c) => c.name))} must not include ${joinQuote(added)} in securityContext.capabilities.add`] : []),
      ];
      return details.length > 0 ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined;
    },
  },
  {
    id: 'hostNamespaces',
    levels: ['baseline', 'restricted'],
    run: (spec) => {
      const set = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((k) => spec?.[k] === true);
      return set.length > 0 ? { reason: 'host namespaces', detail: set.map((k) => `${k}=true`).join(', ') } : undefined;
    },
  },
  {
    id: 'hostPathVolumes',
    levels: ['baseline'],
    run: (spec) => {
      const bad = ((spec?.volumes ?? []) as any[]).filter((v) => v?.hostPath).map((v) => String(v.name));
      return bad.length > 0 ? { reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)}` } : undefined;
    },
  },
  {
    id: 'privileged',
    levels: ['baseline', 'restricted'],
    run: (_spec, containers) => {
      const bad = containers.filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
      return bad.length > 0 ? { reason: 'privileged', detail: `${containersPhrase(bad)} must not set securityContext.privileged=true` } : undefined;
    },
  },
  {
    id: 'restrictedVolumes',
    levels: ['restricted'],
    run: (spec) => {
      const bad: string[] = [];
      const types = new Set<string>();
      for (const v of (spec?.volumes ?? []) as any[]) {
        const source = Object.keys(v ?? {}).find((k) => k !== 'name');
        if (source === undefined || RESTRICTED_VOLUME_SOURCES.has(source)) continue;
        bad.push(String(v.name));
        types.add(source);
      }
      if (bad.length === 0) return undefined;
      const sorted = [...types].sort();
      return { reason: 'restricted volume types', detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('restricted volume type', 'restricted volume types', sorted.length)} ${joinQuote(sorted)}` };
    },
  },
  {
    id: 'runAsNonRoot',
    levels: ['restricted'],
    run: (spec, containers) =>
      podOrContainer(
        'runAsNonRoot != true',
        spec?.securityContext?.runAsNonRoot,
        containers,
        (c) => c.securityContext?.runAsNonRoot,
        (v) => v === true,
        'must set securityContext.runAsNonRoot=true',
        () => 'must not set securityContext.runAsNonRoot=false',
      ),
  },
  {
    id: 'runAsUser',
    levels: ['restricted'],
    run: (spec, containers) => {
      const setters = [...(spec?.securityContext?.runAsUser === 0 ? ['pod'] : []), ...(containers.some((c) => c.securityContext?.runAsUser === 0) ? [containersPhrase(containers.filter((c) => c.securityContext?.runAsUser === 0).map((c) => c.name))] : [])];
      return setters.length > 0 ? { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0` } : undefined;
    },
  },
  {
    id: 'seccompProfile_restricted',
    levels: ['restricted'],
    run: (spec, containers) =>
      podOrContainer(
        'seccompProfile',
        spec?.securityContext?.seccompProfile?.type,
        containers,
        (c) => c.securityContext?.seccompProfile?.type,
        (v) => VALID_SECCOMP.has(String(v)),
        'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        (bad) => `must not set securityContext.seccompProfile.type to ${joinQuote(bad)}`,
      ),
  },
];

/** The reasons a pod spec violates `level`, `reason (detail)` each, in check-ID order. */
export function podSecurityViolations(level: string, spec: any): string[] {
  if (level !== 'restricted' && level !== 'baseline') return [];
  const containers = [...((spec?.initContainers ?? []) as Container[]), ...((spec?.containers ?? []) as Container[])];
  return CHECKS.filter((c) => c.levels.includes(level))
    .map((c) => c.run(spec, containers))
    .filter((r): r is { reason: string; detail: string } => r !== undefined)
    .map((r) => `${r.reason} (${r.detail})`);
}

/** The 403 a pod gets in a namespace whose enforce label it violates, or undefined when admitted. */
export function enforcePodSecurity(type: ResourceType, pod: KubeObject, namespaceLabels: Record<string, string> | undefined): ApiError | undefined {
  if (type.resource !== 'pods' || !namespaceLabels) return undefined;
  const level = namespaceLabels[ENFORCE_LABEL];
  if (!level) return undefined;
  const violations = podSecurityViolations(level, pod.spec);
  if (violations.length === 0) return undefined;
  const version = namespaceLabels[ENFORCE_VERSION_LABEL] ?? 'latest';
  return forbidden(type, pod.metadata.name, `violates PodSecurity "${level}:${version}": ${violations.join(', ')}`);
}
