import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, chown, mkdir, mkdtemp, open, readFile, readdir, readlink, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Real OpenSSH servers standing in for VMs. Each "VM" is one sshd with its own loopback
 * address, port and ed25519 host key, started inside its own mount namespace in which
 * VM_DEPLOY_ROOT is a bind mount of that host's own directory on this machine (`host.root`):
 * a script writing to /srv/ozg-vm on host 3 lands in hosts[3].root and nowhere else.
 *
 * Needs root, /usr/sbin/sshd (openssh-server), ssh-keygen (openssh-client), unshare and
 * mount (util-linux, mount), useradd/usermod (passwd), sudo and visudo (sudo). Creates the
 * non-root user DEPLOY_USER (shell /bin/sh) with passwordless sudo through
 * /etc/sudoers.d/ozg-test-<user>, once per machine.
 */

/** where each simulated VM sees its own directory */
export const VM_DEPLOY_ROOT = '/srv/ozg-vm';
/** the non-root login user on every simulated VM (NOPASSWD sudo) */
export const DEPLOY_USER = 'ozgdeploy';

const SSHD = '/usr/sbin/sshd';
const INSTALL_STEP = 'apt-get install -y openssh-server openssh-client util-linux mount passwd sudo';

export interface StartSshHostsOptions {
  /**
   * first three octets of the hosts' loopback addresses, e.g. `127.42.7`; default: derived from
   * this process id. More hosts than fit into it continue in the next /24s (`127.42.8.1`, …).
   */
  subnet?: string;
  /** last octet of the first host; default: the next range not used by an earlier harness of this process */
  firstHost?: number;
  user?: string;
  /** sshd LogLevel; DEBUG1 shows forwarding (direct-tcpip) requests */
  logLevel?: 'QUIET' | 'FATAL' | 'ERROR' | 'INFO' | 'VERBOSE' | 'DEBUG1' | 'DEBUG2' | 'DEBUG3';
  /** extra sshd_config lines for every host (a `Match` block must come last) */
  extraConfig?: string[];
}

export interface SshHost {
  index: number;
  address: string;
  port: number;
  /** this host's VM_DEPLOY_ROOT as seen from this machine */
  root: string;
  /** the host's temp dir: sshd_config, host key, log */
  dir: string;
  logFile: string;
  /** the host key as known_hosts writes it */
  hostKey: { type: string; blob: Buffer; base64: string };
  /** pid of the running sshd listener, undefined while killed */
  pid: number | undefined;
  readLog(): Promise<string>;
}

export interface WriteKnownHostsOptions {
  /** hosts left out (their key is then unknown) */
  omit?: SshHost[];
  /** hosts listed with some other ed25519 key (their key then looks changed) */
  wrongKeyFor?: SshHost[];
  /** write `|1|salt|hmac` names like `ssh-keygen -H` */
  hashed?: boolean;
}

export interface SshHosts {
  hosts: SshHost[];
  user: string;
  /** the client's private key, authorized on every host */
  identityFile: string;
  /** known_hosts listing every host's key, plain `[address]:port` names */
  knownHostsFile: string;
  workDir: string;
  writeKnownHosts(file: string, options?: WriteKnownHostsOptions): Promise<string>;
  /** SIGKILL the host's sshd and everything running in its namespace, like a VM losing power */
  kill(host: SshHost): Promise<void>;
  /** start the host's sshd again, same address, port and key */
  restart(host: SshHost): Promise<void>;
  /**
   * Give the host another host key and restart its sshd (same address and port): a fresh key
   * of a type, or a given private key (e.g. the one a cloud-init seed pins). known_hosts files
   * written earlier keep the old key, so the host then looks like an impostor to them.
   */
  replaceHostKey(host: SshHost, key: HostKeySpec): Promise<void>;
  /** stop every sshd (by its pid), wait for them, remove the temp dirs */
  stop(): Promise<void>;
}

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';
export type HostKeySpec = { type: HostKeyType } | { privateKey: string };

interface HostState {
  host: SshHost;
  config: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  /** `mnt:[inode]` of the host's mount namespace: everything in it belongs to this VM */
  namespace?: string;
  /**
   * An open handle on that namespace. The kernel reuses namespace inode numbers as soon as a
   * namespace dies; holding it open keeps the number ours until the kill is complete, so a
   * namespace another test file just created can never be mistaken for this one.
   */
  namespaceHandle?: FileHandle;
}

const run = promisify(execFile);
let nextFirstHost = 2;
/** usable last octets per /24 (1–254) */
const HOSTS_PER_SUBNET = 254;
/**
 * How many hosts are prepared (key generation) and started at once. A bench starts 1,000:
 * all at once would be 1,000 ssh-keygen processes, then 1,000 sshd and their TCP probes
 * competing for the CPUs, each probe timing out in turn.
 */
const START_BATCH = 32;

export async function startSshHosts(count: number, options: StartSshHostsOptions = {}): Promise<SshHosts> {
  await checkPrerequisites();
  const user = options.user ?? DEPLOY_USER;
  const subnets = Math.ceil(count / HOSTS_PER_SUBNET);
  const subnet = options.subnet ?? deriveSubnet(subnets);
  const firstHost = options.firstHost ?? allocateHostRange(count);
  const addressOf = hostAddresses(subnet, firstHost, count);
  const { uid, gid } = await ensureDeployUser(user);
  await mkdir(VM_DEPLOY_ROOT, { recursive: true, mode: 0o755 });

  const workDir = await mkdtemp(path.join(os.tmpdir(), 'ozg-sshd-'));
  // sshd reads AuthorizedKeysFile as the login user, who must be able to reach it.
  await chmod(workDir, 0o755);
  const identityFile = path.join(workDir, 'client_ed25519');
  await generateKey(identityFile, 'ozg-test-client');
  const authorizedKeys = path.join(workDir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(identityFile + '.pub'), { mode: 0o644 });

  const states: HostState[] = [];
  const stateOf = (host: SshHost): HostState => {
    const state = states.find((s) => s.host === host);
    if (!state) throw new Error(`host ${host.address}:${host.port} does not belong to this harness`);
    return state;
  };
  let wrongKey: Promise<Buffer> | undefined;
  let replacedKeys = 0;
  const killOnExit = (): void => {
    for (const s of states) if (s.host.pid !== undefined) safeKill(s.host.pid, 'SIGKILL');
  };
  process.on('exit', killOnExit);

  const harness: SshHosts = {
    hosts: [],
    user,
    identityFile,
    knownHostsFile: path.join(workDir, 'known_hosts'),
    workDir,
    async writeKnownHosts(file, writeOptions = {}) {
      const lines: string[] = [];
      for (const host of harness.hosts) {
        if (writeOptions.omit?.includes(host)) continue;
        let blob = host.hostKey.blob;
        if (writeOptions.wrongKeyFor?.includes(host)) {
          wrongKey ??= generateKey(path.join(workDir, 'wrong_host_key'), 'wrong').then((k) => k.blob);
          blob = await wrongKey;
        }
        const name = `[${host.address}]:${host.port}`;
        lines.push(`${writeOptions.hashed ? hashHostName(name) : name} ${host.hostKey.type} ${blob.toString('base64')}`);
      }
      await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
      return file;
    },
    async kill(host) {
      await killHost(stateOf(host), 'SIGKILL');
    },
    async restart(host) {
      const state = stateOf(host);
      if (state.host.pid !== undefined) await killHost(state, 'SIGKILL');
      await launch(state);
    },
    async replaceHostKey(host, spec) {
      const state = stateOf(host);
      const file = path.join(host.dir, `replaced_host_key_${++replacedKeys}`);
      let key: { type: string; blob: Buffer };
      if ('privateKey' in spec) {
        await writeFile(file, spec.privateKey, { mode: 0o600 });
        key = parsePublicKey((await run('ssh-keygen', ['-y', '-f', file])).stdout);
      } else {
        key = await generateKey(file, `ozg-test-host-${host.index}-${spec.type}`, spec.type);
      }
      const config = await readFile(state.config, 'utf8');
      await writeFile(state.config, config.replace(/^HostKey .*$/m, `HostKey ${file}`));
      host.hostKey = { type: key.type, blob: key.blob, base64: key.blob.toString('base64') };
      if (state.host.pid !== undefined) await killHost(state, 'SIGTERM');
      await launch(state);
    },
    async stop() {
      await stopAll(states);
      process.off('exit', killOnExit);
      await rm(workDir, { recursive: true, force: true });
    },
  };

  try {
    const prepared = await mapInBatches(
      Array.from({ length: count }, (_, index) => index),
      async (index) => {
        const dir = path.join(workDir, `host-${index}`);
        const root = path.join(dir, 'vm');
        await mkdir(root, { recursive: true });
        await chown(root, uid, gid);
        await chmod(root, 0o755);
        const hostKeyFile = path.join(dir, 'ssh_host_ed25519_key');
        const key = await generateKey(hostKeyFile, `ozg-test-host-${index}`);
        const host: SshHost = {
          index,
          address: addressOf(index),
          port: 0,
          root,
          dir,
          logFile: path.join(dir, 'sshd.log'),
          hostKey: { type: key.type, blob: key.blob, base64: key.blob.toString('base64') },
          pid: undefined,
          readLog: () => readFile(path.join(dir, 'sshd.log'), 'utf8').catch(() => ''),
        };
        const state: HostState = { host, config: path.join(dir, 'sshd_config') };
        states.push(state);
        const configLines = (port: number): string[] => [
          `ListenAddress ${host.address}`,
          `Port ${port}`,
          `HostKey ${hostKeyFile}`,
          `PidFile ${path.join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          'UsePAM no',
          'StrictModes no',
          'MaxStartups 100:30:200',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PubkeyAuthentication yes',
          'Subsystem sftp internal-sftp',
          `LogLevel ${options.logLevel ?? 'VERBOSE'}`,
          `AllowUsers ${user}`,
          'PrintMotd no',
          'PrintLastLog no',
          'UseDNS no',
          'X11Forwarding no',
          'AllowTcpForwarding yes',
          ...(options.extraConfig ?? []),
        ];
        return { state, configLines };
      },
    );
    states.sort((a, b) => a.host.index - b.host.index);
    // settled: when one host fails, stop() must not run before the others have started.
    const launched = await mapInBatches(
      prepared,
      settle(async ({ state, configLines }) => {
        // A port another program holds shows up as a bind failure: take another one.
        for (let attempt = 1; ; attempt++) {
          state.host.port = 20_000 + Math.floor(Math.random() * 40_000);
          await writeFile(state.config, configLines(state.host.port).join('\n') + '\n');
          try {
            await launch(state);
            return;
          } catch (error) {
            if (attempt >= 5 || !/Address already in use|Cannot bind any address/.test(String((error as Error).message))) throw error;
          }
        }
      }),
    );
    const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    harness.hosts.push(...states.map((s) => s.host));
    await harness.writeKnownHosts(harness.knownHostsFile);
    return harness;
  } catch (error) {
    await harness.stop().catch(() => undefined);
    throw error;
  }
}

async function launch(state: HostState): Promise<void> {
  const { host } = state;
  // sshd refuses to start without its privilege separation directory, which nothing but
  // systemd creates on Debian: every start makes sure it exists (a fresh machine has none).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const script = `mount --bind ${quote(host.root)} ${quote(VM_DEPLOY_ROOT)} && exec ${SSHD} -D -f ${quote(state.config)} -E ${quote(host.logFile)}`;
  // unshare without --fork execs its command: the spawned pid is sshd's own pid.
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let running = true;
  let exitStatus = '';
  state.child = child;
  state.exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = `exited with ${signal ?? `code ${code}`}`;
      running = false;
      resolve();
    });
    child.once('error', (error) => {
      stderr += error.message;
      running = false;
      resolve();
    });
  });
  const deadline = Date.now() + 10_000;
  while (!(await acceptsTcp(host.address, host.port))) {
    if (!running || Date.now() > deadline) {
      if (running) safeKill(child.pid!, 'SIGKILL');
      const log = (await host.readLog()).trim().split('\n').slice(-5).join('\n');
      const status = running ? 'accepted no TCP connection within 10 s' : exitStatus;
      throw new Error(`sshd for ${host.address}:${host.port} did not start (${status}):\n${stderr}${log}`);
    }
    await delay(15);
  }
  host.pid = child.pid;
  state.namespaceHandle = await open(`/proc/${child.pid}/ns/mnt`, 'r');
  state.namespace = await readlink(`/proc/${child.pid}/ns/mnt`);
  if (state.namespace === (await readlink('/proc/self/ns/mnt'))) {
    throw new Error(`sshd ${child.pid} runs in the test's own mount namespace: unshare --mount did not take effect`);
  }
}

/**
 * stop() for every host at once: the listeners first, each by its pid, then whatever still runs
 * in their mount namespaces, found with one scan of /proc per round for all hosts (killHost
 * scans once per host: 1,000 hosts × every process on the machine would take minutes).
 */
async function stopAll(states: HostState[]): Promise<void> {
  const running = states.filter((s) => s.host.pid !== undefined && s.namespace);
  for (const s of running) safeKill(s.host.pid!, 'SIGTERM');
  await waitAtMost(Promise.all(running.map((s) => s.exited)).then(() => undefined), 2_000);
  for (const s of running) safeKill(s.host.pid!, 'SIGKILL');
  const ownNamespace = await readlink('/proc/self/ns/mnt');
  const ours = new Set(running.map((s) => s.namespace!).filter((ns) => ns !== ownNamespace));
  for (let round = 0; round < 20; round++) {
    const members = await listMembersOf(ours);
    if (members.length === 0) break;
    for (const member of members) safeKill(member, 'SIGKILL');
    await delay(20);
  }
  await Promise.all(
    running.map(async (s) => {
      await s.exited;
      s.host.pid = undefined;
      await s.namespaceHandle?.close();
      s.namespaceHandle = undefined;
    }),
  );
}

/**
 * The listener first, by its pid; then whatever still runs in the host's mount namespace
 * (sshd puts every connection into its own session, so they are not in the listener's
 * process group, and they must die too for a "VM" to go down).
 */
async function killHost(state: HostState, signal: NodeJS.Signals): Promise<void> {
  const pid = state.host.pid;
  if (pid === undefined || !state.namespace) return;
  safeKill(pid, signal);
  if (signal !== 'SIGKILL') await waitAtMost(state.exited, 2_000);
  const ownNamespace = await readlink('/proc/self/ns/mnt');
  for (let round = 0; round < 20; round++) {
    const members = state.namespace === ownNamespace ? [] : await listNamespaceMembers(state.namespace);
    if (round === 0) safeKill(pid, 'SIGKILL');
    if (members.length === 0) break;
    for (const member of members) safeKill(member, 'SIGKILL');
    await delay(20);
  }
  await state.exited;
  state.host.pid = undefined;
  await state.namespaceHandle?.close();
  state.namespaceHandle = undefined;
}

async function listNamespaceMembers(namespace: string): Promise<number[]> {
  return listMembersOf(new Set([namespace]));
}

async function listMembersOf(namespaces: Set<string>): Promise<number[]> {
  const members: number[] = [];
  if (namespaces.size === 0) return members;
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (namespaces.has(await readlink(`/proc/${name}/ns/mnt`))) members.push(Number(name));
    } catch {
      // exited meanwhile, or a zombie
    }
  }
  return members;
}

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function acceptsTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(300, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('the sshd harness needs root (it starts sshd, bind-mounts per-host directories and creates a deploy user); run the tests as root, as CI does');
  }
  const tools: Array<[string, string]> = [
    [SSHD, 'apt-get install -y openssh-server'],
    ['/usr/bin/ssh-keygen', 'apt-get install -y openssh-client'],
    ['/usr/bin/unshare', 'apt-get install -y util-linux'],
    ['/usr/bin/mount', 'apt-get install -y mount'],
    ['/usr/sbin/useradd', 'apt-get install -y passwd'],
    ['/usr/bin/sudo', 'apt-get install -y sudo'],
    ['/usr/sbin/visudo', 'apt-get install -y sudo'],
  ];
  const missing: string[] = [];
  for (const [file, step] of tools) {
    try {
      await access(file, fsConstants.X_OK);
    } catch {
      missing.push(`${file} (${step})`);
    }
  }
  if (missing.length > 0) {
    throw new Error(`the sshd harness cannot run, missing: ${missing.join(', ')}; install with: ${INSTALL_STEP}`);
  }
}

/**
 * The deploy user, with a password field of `*` (no password, but not locked: sshd without
 * PAM refuses accounts whose password starts with `!`) and passwordless sudo. Parallel test
 * workers may race here; the shadow tools then report a lock, and we retry.
 */
async function ensureDeployUser(user: string): Promise<{ uid: number; gid: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (!(await userExists(user))) await run('useradd', ['--create-home', '--shell', '/bin/sh', user]);
      const shadow = await readFile('/etc/shadow', 'utf8');
      const field = shadow.split('\n').find((l) => l.startsWith(user + ':'))?.split(':')[1] ?? '';
      if (field.startsWith('!') || field === '') await run('usermod', ['--password', '*', user]);
      break;
    } catch (error) {
      if (attempt >= 30) throw new Error(`cannot create the deploy user ${user}: ${(error as Error).message}`);
      await delay(100 + Math.random() * 200);
    }
  }
  await ensureSudoers(user);
  const { stdout: uid } = await run('id', ['-u', user]);
  const { stdout: gid } = await run('id', ['-g', user]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

async function userExists(user: string): Promise<boolean> {
  try {
    await run('id', ['-u', user]);
    return true;
  } catch {
    return false;
  }
}

async function ensureSudoers(user: string): Promise<void> {
  const file = `/etc/sudoers.d/ozg-test-${user}`;
  const content = `# written by ozg's test harness (test/helpers/sshd-harness.ts)\n${user} ALL=(ALL) NOPASSWD: ALL\n`;
  if ((await readFile(file, 'utf8').catch(() => '')) === content) return;
  // sudo ignores files in sudoers.d whose name contains a dot, so the draft is inert until renamed.
  const draft = `/etc/sudoers.d/.ozg-test-${user}.${process.pid}`;
  await writeFile(draft, content, { mode: 0o440 });
  try {
    await run('visudo', ['-cf', draft]);
    await rename(draft, file);
  } catch (error) {
    await rm(draft, { force: true });
    throw new Error(`cannot install ${file}: ${(error as Error).message}`);
  }
}

async function generateKey(file: string, comment: string, type: HostKeyType = 'ed25519'): Promise<{ type: string; blob: Buffer }> {
  await run('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', comment, '-f', file]);
  return parsePublicKey(await readFile(file + '.pub', 'utf8'));
}

function parsePublicKey(line: string): { type: string; blob: Buffer } {
  const [type, base64] = line.trim().split(/\s+/);
  return { type, blob: Buffer.from(base64, 'base64') };
}

/** `|1|salt|hmac`, as `ssh-keygen -H` writes host names. */
export function hashHostName(name: string): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

// 127.0.0.0/8 is all loopback on Linux. Concurrent jest workers are distinct processes, so
// a subnet derived from the pid keeps parallel test files (and parallel runs) apart; the
// random port per host covers what the derivation cannot.
function deriveSubnet(subnets = 1): string {
  const pid = process.pid;
  return `127.${16 + ((pid >> 8) % 232)}.${Math.min(pid & 255, 256 - subnets)}`;
}

/** host index → address: `firstHost` on in `subnet`, then on through the next /24s */
function hostAddresses(subnet: string, firstHost: number, count: number): (index: number) => string {
  const octets = subnet.split('.').map(Number);
  if (octets.length !== 3 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new Error(`subnet ${JSON.stringify(subnet)}: expected three octets like 127.42.7`);
  const [a, b, c] = octets as [number, number, number];
  const lastSubnet = c + Math.floor((firstHost - 1 + count - 1) / HOSTS_PER_SUBNET);
  if (firstHost < 1 || firstHost > HOSTS_PER_SUBNET || lastSubnet > 255) {
    throw new Error(`${count} hosts from ${subnet}.${firstHost} do not fit below ${a}.${b}.255.254`);
  }
  return (index) => {
    const n = firstHost - 1 + index;
    return `${a}.${b}.${c + Math.floor(n / HOSTS_PER_SUBNET)}.${1 + (n % HOSTS_PER_SUBNET)}`;
  };
}

function allocateHostRange(count: number): number {
  // more than one /24's worth: from .2 on, spilling over into the next /24s
  if (count > HOSTS_PER_SUBNET - 1) return 2;
  if (nextFirstHost + count - 1 > 254) nextFirstHost = 2;
  const first = nextFirstHost;
  nextFirstHost += count;
  return first;
}

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Like Promise.race with a delay, minus the pending timer that keeps jest from exiting. */
async function waitAtMost(promise: Promise<void> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** `work` over `items`, at most START_BATCH at a time, results in order; rejects on the first failure */
async function mapInBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await work(items[i]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(START_BATCH, items.length) }, lane));
  if (failure) throw failure.error;
  return results;
}

/** `fn` as a function that never rejects, for mapInBatches over work that must all settle */
function settle<T, R>(fn: (item: T) => Promise<R>): (item: T) => Promise<PromiseSettledResult<R>> {
  return (item) => fn(item).then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
