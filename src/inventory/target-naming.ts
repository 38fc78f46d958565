/**
 * Where a site lands in its data center: the environments it moves through, its Kubernetes
 * namespace, its directory under a local root or a VM's deploy root. The inventory checks and
 * the drivers both name targets through here, so the name a check accepts (or finds colliding)
 * is the name the driver deploys to.
 */
import path from 'node:path';
import { DNS_LABEL } from './dns-label.js';
import type { DataCenter, EnvironmentName, EnvironmentSpec } from './types.js';

/** The environments of a data center in the order a site moves through them: test, then prod when defined. */
export function listEnvironmentNames(dataCenter: DataCenter): EnvironmentName[] {
  return dataCenter.environments.prod ? ['test', 'prod'] : ['test'];
}

/** listEnvironmentNames with each environment's settings. */
export function listEnvironments(dataCenter: DataCenter): [EnvironmentName, EnvironmentSpec][] {
  return listEnvironmentNames(dataCenter).map((name) => [name, dataCenter.environments[name]!]);
}

/** `ozg-{site}-test` → `ozg-kiel-test` */
export function formatNamespace(pattern: string, site: string): string {
  return pattern.replaceAll('{site}', site);
}

/** Whether Kubernetes takes `namespace` as a namespace name: a DNS label, at most 63 characters. */
export function isValidNamespace(namespace: string): boolean {
  return DNS_LABEL.test(namespace);
}

/** A site's directory in a local environment: `<root>/<site>` (`root` is absolute once the inventory is loaded). */
export function formatLocalTarget(root: string, site: string): string {
  return path.resolve(root, site);
}

/** A site's directory on its VM: `<deployRoot>/<site>`, a POSIX path whatever machine ozg runs on. */
export function formatVmTarget(deployRoot: string, site: string): string {
  return path.posix.join(deployRoot, site);
}
