import type { KubeObject } from './objects.js';
import type { ResourceType } from './resources.js';

/**
 * A service mesh's mutating webhook (Istio, Linkerd), reduced to what matters to ozg: a pod
 * created in a namespace labelled `sidecar.ozg.example/inject` gets a proxy container.
 *
 * - `enabled`: a regular container `istio-proxy` is appended, unless the pod opts out with the
 *   annotation `sidecar.istio.io/inject: "false"` or `linkerd.io/inject: disabled` (as Istio's
 *   and Linkerd's injectors honour them). A regular sidecar keeps running after the other
 *   containers exit, so the pod stays Running and its Job never completes.
 * - `forced`: the same container, opt-out annotations ignored (a mesh policy that injects anyway).
 * - `native`: the proxy is a native sidecar, an init container with `restartPolicy: Always`
 *   (KEP-753, on by default since Kubernetes 1.29): it does not keep a Job's pod from finishing.
 */
export const INJECT_LABEL = 'sidecar.ozg.example/inject';
export const SIDECAR_NAME = 'istio-proxy';
export const SIDECAR_LOG = '2026-01-01T00:00:00.000000Z\tinfo\tEnvoy proxy is ready\n';

export function injectSidecar(type: ResourceType, pod: KubeObject, namespaceLabels: Record<string, string> | undefined): void {
  if (type.resource !== 'pods' || !namespaceLabels) return;
  const mode = namespaceLabels[INJECT_LABEL];
  if (mode !== 'enabled' && mode !== 'forced' && mode !== 'native') return;
  const annotations = pod.metadata.annotations ?? {};
  const optedOut = annotations['sidecar.istio.io/inject'] === 'false' || annotations['linkerd.io/inject'] === 'disabled';
  if (mode === 'enabled' && optedOut) return;
  const spec = (pod.spec ??= {});
  const proxy = { name: SIDECAR_NAME, image: 'docker.io/istio/proxyv2:1.24.0', args: ['proxy', 'sidecar'] };
  if (mode === 'native') spec.initContainers = [...(spec.initContainers ?? []), { ...proxy, restartPolicy: 'Always' }];
  else spec.containers = [...(spec.containers ?? []), proxy];
}

/** A regular (non-native) sidecar of the pod, which keeps running when the workload exits. */
export function hasRegularSidecar(pod: KubeObject): boolean {
  return (pod.spec?.containers ?? []).some((c: { name: string }) => c.name === SIDECAR_NAME);
}
