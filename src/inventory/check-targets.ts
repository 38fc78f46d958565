/**
 * Targets must not overlap: two sites (or a site's test and prod) sharing a directory or a
 * namespace would overwrite each other's releases. Names come from target-naming.ts, as the
 * drivers' do.
 */
import path from 'node:path';
import { findRootProblem } from '../targets/vm/check-vm-target.js';
import { report } from './check-context.js';
import type { CheckContext } from './check-context.js';
import { formatLocalTarget, formatNamespace, isValidNamespace, listEnvironments } from './target-naming.js';
import type { DataCenter, EnvironmentName, EnvironmentSpec, Site } from './types.js';

export function checkDataCenterTargets(context: CheckContext, dataCenter: DataCenter): void {
  checkRoots(context, dataCenter);
  const { test, prod } = dataCenter.environments;
  if (!prod) return;
  const at = ['dataCenters', dataCenter.name, 'environments', 'prod'];
  if (dataCenter.kind === 'local' && test.root === prod.root) {
    report(context, [...at, 'root'], 'prod uses the same root as test: every site\'s test and prod releases would overwrite each other');
  }
  if (dataCenter.kind === 'kubernetes' && describeCluster(test) === describeCluster(prod) && test.namespace === prod.namespace) {
    report(context, [...at, 'namespace'], 'prod uses the same namespace pattern in the same cluster as test: every site\'s test and prod would share a namespace');
  }
}

/** The root check the VM driver makes before it runs anything there, reported at the field. */
function checkRoots(context: CheckContext, dataCenter: DataCenter): void {
  if (dataCenter.kind === 'kubernetes') return;
  const field = dataCenter.kind === 'vm' ? 'deployRoot' : 'root';
  for (const [environment, spec] of listEnvironments(dataCenter)) {
    const root = spec[field];
    const problem = root === undefined ? undefined : findRootProblem(root);
    if (problem) report(context, ['dataCenters', dataCenter.name, 'environments', environment, field], `${field} ${problem}`);
  }
}

interface Claim {
  site: string;
  environment: EnvironmentName;
  /** the claimed directory or namespace; described only for a collision (path.relative per target added up) */
  directory?: string;
  namespace?: string;
}

/** A site's own namespaces can name a Kubernetes namespace, each reported at the site. */
export function checkSiteNamespaces(context: CheckContext, site: Site, dataCenter: DataCenter): void {
  if (dataCenter.kind !== 'kubernetes') return;
  for (const [environment, spec] of listEnvironments(dataCenter)) {
    if (spec.namespace === undefined) continue;
    const namespace = formatNamespace(spec.namespace, site.name);
    if (isValidNamespace(namespace)) continue;
    report(context, ['sites', site.name], `namespace "${namespace}" (${dataCenter.name}, ${environment}) is not a valid Kubernetes namespace name: at most 63 lowercase letters, digits and hyphens`, {
      path: ['sites', site.name],
      side: 'key',
    });
  }
}

/**
 * Sites whose targets collide with an earlier site's; each is reported at the later site.
 * Sites without a known data center and namespaces checkSiteNamespaces refuses claim nothing.
 */
export function checkTargetCollisions(context: CheckContext): void {
  const directories: DirectoryClaims = { targets: new Map(), ancestors: new Map() };
  const namespaces = new Map<string, Claim>();
  for (const site of context.inventory.sites) {
    const dataCenter = context.inventory.dataCenters.get(site.dataCenter);
    if (!dataCenter) continue;
    for (const [environment, spec] of listEnvironments(dataCenter)) {
      if (dataCenter.kind === 'local' && spec.root !== undefined) {
        const target = formatLocalTarget(spec.root, site.name);
        const claim = { site: site.name, environment, directory: target };
        checkClaim(context, site, claim, findDirectoryClash(directories, target));
        claimDirectory(directories, target, claim);
      } else if (dataCenter.kind === 'kubernetes' && spec.namespace !== undefined) {
        const namespace = formatNamespace(spec.namespace, site.name);
        if (!isValidNamespace(namespace)) continue;
        const key = `${describeCluster(spec)}\u0000${namespace}`;
        const claim = { site: site.name, environment, namespace };
        checkClaim(context, site, claim, namespaces.get(key));
        namespaces.set(key, claim);
      }
    }
  }
}

function checkClaim(context: CheckContext, site: Site, claim: Claim, earlier: Claim | undefined): void {
  // a site's own test/prod overlap is reported once per data center, not once per site
  if (!earlier || earlier.site === claim.site) return;
  const description = claim.directory !== undefined ? `directory ${path.relative(context.inventory.dir, claim.directory) || '.'}` : `namespace ${claim.namespace}`;
  report(context, ['sites', site.name, 'dataCenter'], `${claim.environment} target ${description} collides with site ${earlier.site} (${earlier.environment}); their releases would overwrite each other`);
}

interface DirectoryClaims {
  targets: Map<string, Claim>;
  /** every directory above a claimed target: finds a new target that would contain one */
  ancestors: Map<string, Claim>;
}

function claimDirectory(claimed: DirectoryClaims, target: string, claim: Claim): void {
  claimed.targets.set(target, claim);
  for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (!claimed.ancestors.has(dir)) claimed.ancestors.set(dir, claim);
  }
}

/** An earlier directory target equal to, inside, or containing `target`. */
function findDirectoryClash(claimed: DirectoryClaims, target: string): Claim | undefined {
  const exact = claimed.targets.get(target) ?? claimed.ancestors.get(target);
  if (exact) return exact;
  for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const outer = claimed.targets.get(dir);
    if (outer) return outer;
  }
  return undefined;
}

function describeCluster(spec: EnvironmentSpec): string {
  return `${spec.kubeconfig ?? ''}\u0000${spec.context ?? ''}`;
}
