/**
 * From an inventory environment to a Kubernetes driver: which kubeconfig, which context, which
 * namespace. Loaded by create-driver.ts on demand, with the driver.
 */
import { isAbsolute } from 'node:path';
import { InvalidTargetError } from '../../errors.js';
import type { DataCenter, EnvironmentSpec, Site } from '../../inventory/types.js';
import { createKubernetesDriver, type CreateKubernetesDriverOptions, type KubernetesDriver } from './kube-driver.js';
import { formatNamespace, isValidNamespace } from '../../inventory/target-naming.js';


export type KubernetesTargetOptions = Partial<Pick<CreateKubernetesDriverOptions, 'keepReleases' | 'sleep' | 'api' | 'rolloutTimeoutMs' | 'pollIntervalMs' | 'now' | 'smokeStartupSeconds' | 'run' | 'deadRuns'>>;

/** The site's namespace: the environment's pattern with `{site}` replaced, checked to be a DNS label. */
export function resolveNamespace(dataCenter: DataCenter, spec: EnvironmentSpec, site: Site): string {
  const pattern = spec.namespace;
  if (!pattern) {
    throw new InvalidTargetError(`dataCenters.${dataCenter.name}.environments.${spec.name}.namespace`, `names no namespace pattern`, {
      hint: 'set `namespace:` (e.g. `ozg-{site}-test`) for this environment in sites.yaml',
    });
  }
  const namespace = formatNamespace(pattern, site.name);
  if (!isValidNamespace(namespace)) {
    throw new InvalidTargetError(`dataCenters.${dataCenter.name}.environments.${spec.name}.namespace`, `namespace ${JSON.stringify(namespace)} of site ${site.name} is not a DNS label of at most 63 characters`, {
      hint: 'shorten the namespace pattern in sites.yaml',
    });
  }
  return namespace;
}

export function createKubernetesDriverFor(dataCenter: DataCenter, spec: EnvironmentSpec, site: Site, options: KubernetesTargetOptions = {}): KubernetesDriver {
  const namespace = resolveNamespace(dataCenter, spec, site);
  const kubeconfigPath = spec.kubeconfig;
  if (!kubeconfigPath || !isAbsolute(kubeconfigPath)) {
    throw new InvalidTargetError(`dataCenters.${dataCenter.name}.environments.${spec.name}.kubeconfig`, `needs a kubeconfig (an absolute path once loaded)`, {
      hint: 'set `kubeconfig:` (and `context:` unless the current context is right) for this environment in sites.yaml',
    });
  }
  return createKubernetesDriver({
    kubeconfigPath,
    kubeconfigField: `dataCenters.${dataCenter.name}.environments.${spec.name}.kubeconfig`,
    ...(spec.context ? { context: spec.context } : {}),
    namespace,
    site: site.name,
    environment: spec.name,
    description: `${site.name}/${spec.name} @ namespace ${namespace}${spec.context ? ` (context ${spec.context})` : ''}`,
    ...(spec.smokeImage ? { smokeImage: spec.smokeImage } : {}),
    ...(spec.smokeStartupSeconds !== undefined ? { smokeStartupSeconds: spec.smokeStartupSeconds } : {}),
    ...(spec.rolloutTimeoutSeconds !== undefined ? { rolloutTimeoutMs: spec.rolloutTimeoutSeconds * 1000 } : {}),
    ...options,
  });
}
