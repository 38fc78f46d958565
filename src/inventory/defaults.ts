/**
 * What a vm environment means where sites.yaml leaves a field out. One home for each
 * default: the SSH driver, the SSH transport and cloud-init seeds all take them from here,
 * so a seeded VM is reached exactly where and as whom a deploy looks for it.
 */
import path from 'node:path';
import type { EnvironmentSpec } from './types.js';

/** Directory on the host under which procedures live (`deployRoot`). */
export const DEFAULT_DEPLOY_ROOT = '/opt/ozg';
/** The deploy user ozg logs in as (`ssh.user`), and the user cloud-init creates. */
export const DEFAULT_SSH_USER = 'ozg';
export const DEFAULT_SSH_PORT = 22;

/** `~/.ssh/known_hosts`: the file the user's own ssh trusts (`ssh.knownHosts`). */
export function defaultKnownHostsFile(homeDir: string): string {
  return path.join(homeDir, '.ssh', 'known_hosts');
}

/** How ozg reaches one site's VM in one environment, every default filled in. */
export interface VmAccess {
  host: string;
  port: number;
  user: string;
  /** absolute deploy root on the host; the site's directory is `<deployRoot>/<site>` */
  deployRoot: string;
  knownHostsFile: string;
  sudo: boolean;
}

/** The host's own port wins over the environment's. */
export function resolveVmAccess(spec: EnvironmentSpec, host: { host: string; port?: number }, homeDir: string): VmAccess {
  const ssh = spec.ssh ?? {};
  return {
    host: host.host,
    port: host.port ?? ssh.port ?? DEFAULT_SSH_PORT,
    user: ssh.user ?? DEFAULT_SSH_USER,
    deployRoot: spec.deployRoot ?? DEFAULT_DEPLOY_ROOT,
    knownHostsFile: ssh.knownHosts ?? defaultKnownHostsFile(homeDir),
    sudo: ssh.sudo ?? false,
  };
}
