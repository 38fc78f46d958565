import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { VM_DEPLOY_ROOT, type SshHost, type SshHosts } from './sshd-harness.js';

/** One `vm` data center whose hosts are sshd-harness "VMs". */
export interface VmDataCenterSpec {
  name: string;
  knownHosts: string;
  /** run the environment's scripts through sudo (default false) */
  sudo?: { test?: boolean; prod?: boolean };
  /** a harness host every connection jumps through */
  bastion?: SshHost;
  /** without prod: a test-only data center */
  withoutProd?: boolean;
}

export interface VmSiteSpec {
  name: string;
  dataCenter: string;
  test: SshHost;
  prod?: SshHost;
  procedures: Record<string, { version: string; values?: Record<string, unknown> }>;
}

/** sites.yaml text for sites on harness hosts: deploy user, client key and deploy root of the harness. */
export function vmInventory(
  vms: SshHosts,
  options: { catalogues: string[]; dataCenters: VmDataCenterSpec[]; sites: VmSiteSpec[]; concurrency?: number },
): string {
  const environment = (dc: VmDataCenterSpec, sudo: boolean | undefined) => ({
    deployRoot: VM_DEPLOY_ROOT,
    ssh: {
      user: vms.user,
      identityFile: vms.identityFile,
      knownHosts: dc.knownHosts,
      sudo: sudo ?? false,
      ...(dc.bastion ? { bastion: { host: dc.bastion.address, port: dc.bastion.port } } : {}),
    },
  });
  const document = {
    catalogues: options.catalogues,
    concurrency: options.concurrency ?? 8,
    dataCenters: Object.fromEntries(
      options.dataCenters.map((dc) => [
        dc.name,
        {
          kind: 'vm',
          environments: {
            test: environment(dc, dc.sudo?.test),
            ...(dc.withoutProd ? {} : { prod: environment(dc, dc.sudo?.prod) }),
          },
        },
      ]),
    ),
    sites: Object.fromEntries(
      options.sites.map((site) => [
        site.name,
        {
          dataCenter: site.dataCenter,
          hosts: {
            test: { host: site.test.address, port: site.test.port },
            ...(site.prod ? { prod: { host: site.prod.address, port: site.prod.port } } : {}),
          },
          procedures: site.procedures,
        },
      ]),
    ),
  };
  return stringify(document);
}

/** Writes `<dir>/sites.yaml` (creating dir); returns its path. */
export async function writeVmInventory(dir: string, vms: SshHosts, options: Parameters<typeof vmInventory>[1]): Promise<string> {
  const file = path.join(dir, 'sites.yaml');
  await mkdir(dir, { recursive: true });
  await writeFile(file, vmInventory(vms, options));
  return file;
}

/** The live marker a site's procedure has on a host, read from the host's own directory; undefined when none. */
export async function readHostMarker(host: SshHost, site: string, procedure: string): Promise<Record<string, any> | undefined> {
  const text = await readFile(path.join(host.root, site, procedure, 'release.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : JSON.parse(text);
}

/** Everything below a host's own directory (relative paths), to show that nothing was written. */
export async function listHostFiles(host: SshHost): Promise<string[]> {
  const entries = await readdir(host.root, { recursive: true });
  return entries.map(String).sort();
}

/** Reads sshd logs from a point on: what one ozg run did on each host. */
export async function markLogs(hosts: SshHost[]): Promise<() => Promise<string[]>> {
  const offsets = await Promise.all(hosts.map(async (h) => (await h.readLog()).length));
  return async () => Promise.all(hosts.map(async (h, i) => (await h.readLog()).slice(offsets[i])));
}

/** SSH connections a host accepted, and commands (exec requests) it started, in a piece of its sshd log (LogLevel VERBOSE or above). */
export function countSessions(log: string): { connections: number; commands: number } {
  return {
    connections: log.match(/Accepted publickey for /g)?.length ?? 0,
    commands: log.match(/Starting session: command /g)?.length ?? 0,
  };
}
