/**
 * Workloads a HorizontalPodAutoscaler of the same bundle scales lose `spec.replicas` before
 * they are applied. The HPA controller writes replicas through the `scale` subresource as field
 * manager `kube-controller-manager`; an apply that still sets replicas then conflicts on every
 * deploy, and forcing it would take the count back from the autoscaler, which scales again a
 * moment later. Kubernetes' own advice (docs "Server-Side Apply", section "Transferring
 * ownership", and the HPA walkthrough): leave replicas out of the manifest once an HPA owns
 * them. On a first install the Deployment/StatefulSet then starts at the API's default of 1
 * and the HPA scales it to its minReplicas or beyond.
 */

const SCALABLE_KINDS = new Set(['Deployment', 'StatefulSet']);

/** What this needs of a manifest object; structural, so manifests.ts can use it without an import cycle. */
interface Named {
  object: { apiVersion?: unknown; kind?: unknown; metadata: { name?: unknown }; spec?: unknown };
}

/** `apps/v1 Deployment web` for each workload an HPA of the bundle targets. */
function hpaTargets(objects: readonly Named[]): Set<string> {
  const targets = new Set<string>();
  for (const { object } of objects) {
    if (object.kind !== 'HorizontalPodAutoscaler') continue;
    const ref = (object.spec as { scaleTargetRef?: { apiVersion?: unknown; kind?: unknown; name?: unknown } } | undefined)?.scaleTargetRef;
    if (ref && typeof ref.kind === 'string' && typeof ref.name === 'string') targets.add(`${String(ref.apiVersion ?? 'apps/v1')} ${ref.kind} ${ref.name}`);
  }
  return targets;
}

/** The objects with `spec.replicas` left out of every workload an HPA in the same list scales; others unchanged. */
export function omitHpaScaledReplicas<T extends Named>(objects: readonly T[]): T[] {
  const targets = hpaTargets(objects);
  if (targets.size === 0) return [...objects];
  return objects.map((o) => {
    const { object } = o;
    const spec = object.spec as Record<string, unknown> | undefined;
    if (!SCALABLE_KINDS.has(String(object.kind)) || !spec || !('replicas' in spec)) return o;
    if (!targets.has(`${String(object.apiVersion)} ${String(object.kind)} ${String(object.metadata.name)}`)) return o;
    const { replicas: _replicas, ...rest } = spec;
    return { ...o, object: { ...object, spec: rest } } as T;
  });
}
