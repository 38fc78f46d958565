/**
 * Whether a host key ozg records goes into known_hosts hashed (`|1|salt|hmac`), the way the
 * user's own ssh would write it: OpenSSH's `HashKnownHosts` for that host, as `ssh -G` reports
 * it (Debian's /etc/ssh/ssh_config sets `HashKnownHosts yes`). `OZG_HASH_KNOWN_HOSTS=yes|no`
 * overrides it, e.g. where ozg's known_hosts is not the one the user's ssh writes.
 */
import { isErrnoCode } from '../../system-error.js';

/** Decides per host:port; asked only when a key is about to be recorded. */
export type DecideHashKnownHosts = (host: string, port: number) => Promise<boolean>;

/** Runs `ssh` with the arguments; undefined when ssh is not installed. */
export type RunSsh = (args: string[]) => Promise<{ exitCode: number | null; stdout: string } | undefined>;

export interface CreateHashKnownHostsDecisionOptions {
  /** the environment ozg runs with (OZG_HASH_KNOWN_HOSTS, and PATH/HOME for ssh) */
  env: Record<string, string | undefined>;
  /** default: the ssh client through execa */
  runSsh?: RunSsh;
}

export const HASH_KNOWN_HOSTS_VARIABLE = 'OZG_HASH_KNOWN_HOSTS';

export function createHashKnownHostsDecision(options: CreateHashKnownHostsDecisionOptions): DecideHashKnownHosts {
  const override = options.env[HASH_KNOWN_HOSTS_VARIABLE];
  if (override !== undefined && override !== '') {
    const value = parseYesNo(override);
    if (value === undefined) {
      return () => Promise.reject(new Error(`${HASH_KNOWN_HOSTS_VARIABLE} must be yes or no, not ${JSON.stringify(override)}`));
    }
    return () => Promise.resolve(value);
  }
  const runSsh = options.runSsh ?? ((args) => runSshWithExeca(args, options.env));
  const decided = new Map<string, Promise<boolean>>();
  return (host, port) => {
    const key = `${host}\0${port}`;
    let decision = decided.get(key);
    if (!decision) {
      decision = askSsh(runSsh, host, port);
      decided.set(key, decision);
    }
    return decision;
  };
}

async function askSsh(runSsh: RunSsh, host: string, port: number): Promise<boolean> {
  // a host starting with '-' would be read as an option; the inventory never allows one
  if (host.startsWith('-')) return true;
  const result = await runSsh(['-G', '-p', String(port), host]);
  // Without OpenSSH there is no habit to follow: plain, as OpenSSH's own default.
  if (result === undefined) return false;
  // An ssh that cannot read its configuration: hashed, which every ssh reads and which does
  // not list the fleet's host names in clear.
  if (result.exitCode !== 0) return true;
  return parseHashKnownHosts(result.stdout) ?? false;
}

/** The `hashknownhosts` line of `ssh -G` output; undefined when there is none. */
export function parseHashKnownHosts(sshGOutput: string): boolean | undefined {
  for (const line of sshGOutput.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name?.toLowerCase() === 'hashknownhosts' && value !== undefined) return parseYesNo(value);
  }
  return undefined;
}

function parseYesNo(value: string): boolean | undefined {
  const lower = value.trim().toLowerCase();
  if (lower === 'yes' || lower === 'true') return true;
  if (lower === 'no' || lower === 'false') return false;
  return undefined;
}

async function runSshWithExeca(args: string[], env: Record<string, string | undefined>): ReturnType<RunSsh> {
  const { execa } = await import('execa');
  const result = await execa('ssh', args, { env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 10_000 });
  if (isErrnoCode(result.cause, 'ENOENT')) return undefined;
  return { exitCode: result.exitCode ?? null, stdout: String(result.stdout ?? '') };
}
