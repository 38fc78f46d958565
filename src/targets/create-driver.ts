/**
 * Picks the driver for a site in one environment of its data center. Drivers and their heavy
 * dependencies load on first use (dynamic import), so a local run never loads SSH or Kubernetes.
 */
import os from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { InternalError, InvalidInputError, InvalidTargetError, type Problem } from '../errors.js';
import { resolveVmAccess } from '../inventory/defaults.js';
import type { DataCenter, EnvironmentSpec, Site } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import type { FetchHttp } from '../smoke/run-checks.js';
import type { TargetDriver } from './driver.js';
import type { RecordedHostKey, SshTransport } from './ssh/ssh-transport.js';
import { DNS_LABEL } from '../inventory/dns-label.js';
import { formatLocalTarget, formatVmTarget } from '../inventory/target-naming.js';
import { systemClock, type Clock } from '../clock.js';

export interface CreateDriverOptions {
  /** releases kept per procedure (default: the data center's keepReleases) */
  keepReleases?: number;
  /** environment for commands run on this machine (the local transport) */
  env?: Record<string, string | undefined>;
  /** runs HTTP smoke checks (default: global fetch) */
  runHttp?: FetchHttp;
  /** pause between smoke attempts */
  sleep?: (ms: number) => Promise<void>;
  /** vm: record host keys not yet in known_hosts instead of refusing them (--accept-new-host-keys) */
  acceptNewHostKeys?: boolean;
  /** vm: told about each host key recorded under acceptNewHostKeys */
  onHostKeyRecorded?: (recorded: RecordedHostKey) => void;
  /** vm: home directory for the default known_hosts (default: os.homedir()) */
  homeDir?: string;
  /** vm: the run's interrupt; once aborted, no SSH connect is tried again after a dropped connection */
  signal?: AbortSignal;
  /** vm: called with each SSH transport created, so a benchmark can read its stats */
  onSshTransport?: (transport: SshTransport) => void;
  /** the run's clock: release times in markers and records (default: the machine's) */
  clock?: Clock;
  /** kubernetes: this run's id (its ledger lock token), recorded with the change it starts */
  run?: string;
  /** kubernetes: ids of dead runs whose ledger lock this run took over; their unfinished changes are not waited for */
  deadRuns?: readonly string[];
}


export async function createDriver(
  dataCenter: DataCenter,
  environmentSpec: EnvironmentSpec,
  site: Site,
  options: CreateDriverOptions = {},
): Promise<TargetDriver> {
  if (!DNS_LABEL.test(site.name)) throw new InvalidTargetError(`sites.${site.name}`, 'the site name is not a DNS label');
  const keepReleases = options.keepReleases ?? dataCenter.keepReleases;
  switch (dataCenter.kind) {
    case 'local': {
      const root = resolveLocalRoot(dataCenter, environmentSpec, site);
      const [{ createVmDriver }, { createLocalTransport }] = await Promise.all([
        import('./vm/vm-driver.js'),
        import('./vm/local-transport.js'),
      ]);
      return createVmDriver({
        transport: createLocalTransport({ where: root, env: options.env }),
        root,
        site: site.name,
        environment: environmentSpec.name,
        keepReleases,
        description: `${site.name}/${environmentSpec.name} @ ${root}`,
        runHttp: options.runHttp,
        sleep: options.sleep,
        now: () => (options.clock ?? systemClock).now(),
      });
    }
    case 'vm':
      return createSshVmDriver(dataCenter, environmentSpec, site, { ...options, keepReleases });
    case 'kubernetes': {
      const { createKubernetesDriverFor } = await import('./kubernetes/kube-target.js');
      return createKubernetesDriverFor(dataCenter, environmentSpec, site, {
        keepReleases,
        sleep: options.sleep,
        now: () => (options.clock ?? systemClock).now(),
        ...(options.run ? { run: options.run } : {}),
        ...(options.deadRuns ? { deadRuns: options.deadRuns } : {}),
      });
    }
    default:
      throw new InternalError(`data center ${dataCenter.name} has unknown kind ${JSON.stringify((dataCenter as { kind: unknown }).kind)}`);
  }
}

export interface CheckBundleOptions {
  /** names a bundle path as errors show it (the template it came from); default `<procedure>/<version>/<path>` */
  describeFile?: (path: string) => string;
}

/**
 * Refuses, without contacting the target, a bundle it could not take (InvalidInputError
 * listing every problem with file and line): on a namespace-only Kubernetes target a
 * cluster-scoped kind, a kind ozg does not deploy, or an object naming another namespace; on
 * a VM or local target a file path the release archive cannot carry or ozg's own release
 * metadata name. The drivers run the same checks again before they apply; this lets
 * `validate` and a rollout refuse the bundle before the first request.
 */
export async function checkBundleForTarget(dataCenter: DataCenter, environmentSpec: EnvironmentSpec, site: Site, bundle: Bundle, options: CheckBundleOptions = {}): Promise<void> {
  if (dataCenter.kind === 'kubernetes') {
    const [{ resolveNamespace }, { readBundleManifests }] = await Promise.all([import('./kubernetes/kube-target.js'), import('./kubernetes/manifests.js')]);
    readBundleManifests(bundle, { namespace: resolveNamespace(dataCenter, environmentSpec, site) });
    return;
  }
  const { findBundleProblems } = await import('./vm/check-vm-target.js');
  const describe = options.describeFile ?? ((path: string) => `${bundle.procedure}/${bundle.version}/${path}`);
  const problems: Problem[] = findBundleProblems(bundle).map((problem) => ({
    file: problem.file === undefined ? `${bundle.procedure}/${bundle.version}/procedure.yaml` : describe(problem.file),
    line: 1,
    col: 1,
    path: `sites.${site.name}.procedures.${bundle.procedure}`,
    message: `${bundle.environment}: ${problem.message}`,
  }));
  if (problems.length > 0) {
    throw new InvalidInputError(problems, { hint: `nothing was sent to any target: fix the procedure's files under vm.files, then run \`ozg validate\`` });
  }
}

/** An object a bundle puts on its target, for comparing the procedures of one site. */
export interface BundleObject {
  /** `ConfigMap/settings` */
  key: string;
  /** the bundle file (`configmap.yaml`) and line of its document */
  file: string;
  line: number;
}

/** The objects of a bundle that passed checkBundleForTarget; none for VM targets (files belong to their procedure's folder). */
export async function listBundleObjects(dataCenter: DataCenter, environmentSpec: EnvironmentSpec, site: Site, bundle: Bundle): Promise<BundleObject[]> {
  if (dataCenter.kind !== 'kubernetes') return [];
  const [{ resolveNamespace }, { readBundleManifests }] = await Promise.all([import('./kubernetes/kube-target.js'), import('./kubernetes/manifests.js')]);
  return readBundleManifests(bundle, { namespace: resolveNamespace(dataCenter, environmentSpec, site) }).map((o) => ({
    key: `${o.info.kind}/${o.object.metadata.name}`,
    file: o.source.replace(/#\d+$/, ''),
    line: o.line ?? 1,
  }));
}

/** `<environment root>/<site>`, refusing anything that would land outside the environment root. */
export function resolveLocalRoot(dataCenter: DataCenter, environmentSpec: EnvironmentSpec, site: Site): string {
  const base = environmentSpec.root;
  if (!base || !isAbsolute(base)) {
    throw new InvalidTargetError(`dataCenters.${dataCenter.name}.environments.${environmentSpec.name}.root`, 'needs an absolute root directory', {
      hint: 'set `root:` for this environment in sites.yaml',
    });
  }
  const root = formatLocalTarget(base, site.name);
  const inside = relative(resolve(base), root);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside) || inside.includes('/')) {
    throw new InvalidTargetError(`sites.${site.name}`, `the site's directory would resolve outside ${base} (to ${root})`);
  }
  return root;
}

/** A VM reached over SSH: the same VM driver as `local`, over the SSH transport. */
async function createSshVmDriver(
  dataCenter: DataCenter,
  environmentSpec: EnvironmentSpec,
  site: Site,
  options: CreateDriverOptions & { keepReleases: number },
): Promise<TargetDriver> {
  const host = site.hosts?.[environmentSpec.name];
  if (!host) {
    throw new InvalidTargetError(`sites.${site.name}.hosts.${environmentSpec.name}`, `site ${site.name} has no ${environmentSpec.name} host in data center ${dataCenter.name}`, {
      hint: `add sites.${site.name}.hosts.${environmentSpec.name}.host to the inventory`,
    });
  }
  const ssh = environmentSpec.ssh ?? {};
  const { port, user, deployRoot, knownHostsFile, sudo } = resolveVmAccess(environmentSpec, host, options.homeDir ?? os.homedir());
  const root = formatVmTarget(deployRoot, site.name);
  const [{ createVmDriver }, { createSshTransport }, { createHashKnownHostsDecision }] = await Promise.all([
    import('./vm/vm-driver.js'),
    import('./ssh/ssh-transport.js'),
    import('./ssh/hash-known-hosts.js'),
  ]);
  const transport = createSshTransport({
    host: host.host,
    port,
    user,
    identityFile: ssh.identityFile,
    agent: options.env?.SSH_AUTH_SOCK,
    knownHostsFile,
    acceptNewHostKeys: options.acceptNewHostKeys ?? false,
    hashKnownHosts: createHashKnownHostsDecision({ env: options.env ?? process.env }),
    onHostKeyRecorded: options.onHostKeyRecorded,
    sudo,
    bastion: ssh.bastion,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  options.onSshTransport?.(transport);
  return createVmDriver({
    transport,
    root,
    site: site.name,
    environment: environmentSpec.name,
    keepReleases: options.keepReleases,
    description: `${site.name}/${environmentSpec.name} @ ${user}@${host.host}:${port}`,
    runHttp: options.runHttp,
    sleep: options.sleep,
    now: () => (options.clock ?? systemClock).now(),
  });
}
