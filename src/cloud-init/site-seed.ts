import os from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { resolveVmAccess } from '../inventory/defaults.js';
import type { EnvironmentName, EnvironmentSpec, Site } from '../inventory/types.js';
import { formatVmTarget } from '../inventory/target-naming.js';
import { UsageError } from '../errors.js';
import type { Workspace } from '../workspace/workspace.js';
import { createReleaseId } from '../rollout/release-id.js';
import { prepareRelease } from '../targets/vm/vm-driver.js';
import { renderCloudInitFragment } from '../procedure/render.js';
import { buildSeed, type FirstDeploy, type SeedFile } from './seed.js';
import { parseCloudInitFragment, type CloudInitFragment } from './fragments.js';
import { writeSeed, type WriteSeedResult } from './write-seed.js';

export interface CreateSiteSeedOptions {
  site: string;
  environment: EnvironmentName;
  /** absolute folder for user-data, meta-data, network-config */
  outDir: string;
  /** absolute path of a cidata ISO to build as well */
  isoPath?: string;
  /** absolute paths of public keys allowed to log in as the deploy user */
  publicKeyFiles: string[];
  hostname?: string;
  packages: string[];
  /** install the site's procedures on first boot, through the same apply script as `deploy` */
  withProcedures: boolean;
  /** allow release files holding secret values into the seed (user-data and ISO), in clear text */
  includeSecrets: boolean;
  /** replace a different host key already pinned for this host (the VM is being rebuilt) */
  replace: boolean;
  homeDir?: string;
  now?: () => Date;
}

/** `ozg cloud-init`'s result: the seed written for one site's VM. */
export interface CloudInitResult extends WriteSeedResult {
  /** procedures installed on first boot, `name@version` */
  procedures: string[];
  /** the procedures' cloud-init fragments merged into user-data, e.g. `antrag-formular/1.1.0/cloud-init.yaml` */
  fragments: string[];
  /** release files holding secret values that went into the seed in clear text, `procedure/file` */
  secretFiles: string[];
}

const SEED_STAGING = '.ozg-seed';

/**
 * A NoCloud seed for one site's VM in one environment: the deploy user with the operator's
 * keys, host keys pinned in the inventory's known_hosts (the first connection is verified),
 * base packages and, optionally, the site's procedures.
 */
export async function createSiteSeed(workspace: Workspace, options: CreateSiteSeedOptions): Promise<CloudInitResult> {
  // the site's own problems stop its seed (its data center, hosts and setups are read below)
  const valid = workspace.selectValidItems({ sites: [options.site] });
  const site = workspace.inventory.sites.find((s) => s.name === options.site);
  if (!site) throw new UsageError(`unknown site "${options.site}"`, { hint: 'run `ozg status` to list the sites' });
  const dataCenter = workspace.inventory.dataCenters.get(site.dataCenter)!;
  if (dataCenter.kind !== 'vm') {
    throw new UsageError(`site ${site.name} is in data center ${dataCenter.name} of kind ${dataCenter.kind}; cloud-init seeds are for vm data centers`);
  }
  const spec = dataCenter.environments[options.environment];
  const host = site.hosts?.[options.environment];
  if (!spec || !host) throw new UsageError(`site ${site.name} has no ${options.environment} VM in data center ${dataCenter.name}`);

  const access = resolveVmAccess(spec, host, options.homeDir ?? os.homedir());
  const { deployRoot, user: deployUser, sudo } = access;
  const items = options.withProcedures ? valid : [];
  const firstDeploy = items.length > 0 ? await buildFirstDeploy(workspace, site, spec, items, { deployRoot, deployUser, sudo, now: options.now ?? (() => workspace.clock.now()) }) : undefined;
  const secretFiles = firstDeploy?.secretFiles ?? [];
  // Checked before anything is written: the seed is read by whoever can read the ISO, the
  // hypervisor's datastore or the cloud's metadata service, not only by the VM.
  if (secretFiles.length > 0 && !options.includeSecrets) {
    throw new UsageError(
      `the seed for ${site.name}/${options.environment} would hold secret values in clear text: ${secretFiles.join(', ')}; ` +
        'they are release files of the procedures first boot installs and would go into user-data (and the ISO)',
      {
        hint:
          'pass --include-secrets to put them into the seed anyway (anyone who can read the seed, the ISO or the metadata service can read them), ' +
          'or leave out --with-procedures and run `ozg deploy` once the VM is up',
      },
    );
  }
  const fragments = await renderFragments(workspace, items, options.environment);

  const seed = await buildSeed({
    site: { name: site.name },
    environment: options.environment,
    hostname: options.hostname ?? `${site.name}-${options.environment}`,
    deployUser,
    operatorPublicKeys: await readPublicKeys(options.publicKeyFiles, spec),
    sudo,
    packages: options.packages,
    deployRoot,
    hostAddress: access.host,
    hostPort: access.port,
    ...(host.network ? { networkConfig: host.network } : {}),
    ...(firstDeploy ? { firstDeploy } : {}),
    ...(fragments.length > 0 ? { fragments } : {}),
  });
  const result = await writeSeed(seed, options.outDir, {
    knownHostsFile: access.knownHostsFile,
    replace: options.replace,
    ...(options.isoPath ? { isoPath: options.isoPath } : {}),
  });
  return { ...result, procedures: items.map((i) => `${i.procedure.name}@${i.procedure.version}`), fragments: fragments.map((f) => f.file), secretFiles };
}

/**
 * Each procedure travels as the archive and apply script `deploy` would send over SSH; first
 * boot runs that script (as the deploy user, or as root where the data center uses sudo),
 * then removes the staging folder, which holds rendered secrets.
 */
async function buildFirstDeploy(
  workspace: Workspace,
  site: Site,
  spec: EnvironmentSpec,
  items: ReturnType<Workspace['selectItems']>,
  options: { deployRoot: string; deployUser: string; sudo: boolean; now: () => Date },
): Promise<FirstDeploy & { secretFiles: string[] }> {
  const files: SeedFile[] = [];
  const secretFiles: string[] = [];
  const runcmd: string[][] = [];
  const root = formatVmTarget(options.deployRoot, site.name);
  const staging = path.posix.join(options.deployRoot, SEED_STAGING);
  for (const item of items) {
    const bundle = await workspace.renderBundle(item, spec.name);
    for (const file of bundle.files) if (file.sensitive) secretFiles.push(`${bundle.procedure}/${file.path}`);
    const deployedAt = options.now();
    const { script, archive } = prepareRelease(bundle, createReleaseId(deployedAt, bundle.hash), {
      root,
      site: site.name,
      environment: spec.name,
      procedure: bundle.procedure,
      keepReleases: workspace.inventory.dataCenters.get(site.dataCenter)!.keepReleases,
      deployedAt,
    });
    const scriptPath = path.posix.join(staging, `${bundle.procedure}-apply.sh`);
    const archivePath = path.posix.join(staging, `${bundle.procedure}.tar`);
    files.push({ path: scriptPath, content: script, mode: 0o700 }, { path: archivePath, content: archive, mode: 0o600 });
    const apply = ['sh', '-c', 'sh "$1" < "$2"', 'ozg-first-deploy', scriptPath, archivePath];
    runcmd.push(options.sudo ? apply : ['runuser', '-u', options.deployUser, '--', ...apply]);
  }
  runcmd.push(['rm', '-rf', staging]);
  return { files, runcmd, secretFiles };
}

/** Each procedure's `vm.cloudInit` rendered for the site (strict, without secrets) and checked, in procedure order. */
async function renderFragments(workspace: Workspace, items: ReturnType<Workspace['selectItems']>, environment: EnvironmentName): Promise<CloudInitFragment[]> {
  const fragments: CloudInitFragment[] = [];
  for (const item of items) {
    const relative = item.procedure.vm?.cloudInit;
    if (relative === undefined) continue;
    const text = await renderCloudInitFragment({ procedure: item.procedure, site: item.site, setup: item.setup, environment, values: item.values });
    if (text === undefined) continue;
    // the site's secret values, so a fragment that renders one (through a value) is refused
    await workspace.learnSecrets(item);
    const file = path.posix.join(item.procedure.name, item.procedure.version, relative.split(path.sep).join('/'));
    // read again (render checked it stays inside the procedure folder) to report the template's own lines
    const template = await readFile(path.resolve(item.procedure.dir, relative), 'utf8');
    fragments.push(parseCloudInitFragment(text, file, (t) => workspace.redactor.redact(t), template));
  }
  return fragments;
}

async function readPublicKeys(files: string[], spec: EnvironmentSpec): Promise<string[]> {
  const candidates = files.length > 0 ? files : spec.ssh?.identityFile ? [`${spec.ssh.identityFile}.pub`] : [];
  if (candidates.length === 0) {
    throw new UsageError('no operator public key for the deploy user', { hint: 'pass --public-key <file>, or set ssh.identityFile (its .pub is used)' });
  }
  const keys: string[] = [];
  for (const file of candidates) {
    const text = await readFile(file, 'utf8').catch(() => {
      throw new UsageError(`cannot read public key ${file}`, { hint: 'pass --public-key <file> with an OpenSSH public key' });
    });
    keys.push(...text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  return keys;
}
