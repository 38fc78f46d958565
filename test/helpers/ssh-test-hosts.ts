import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSshTransport, type CreateSshTransportOptions, type SshTransport } from '../../src/targets/ssh/ssh-transport.js';
import { startSshHosts, type SshHosts, type StartSshHostsOptions } from './sshd-harness.js';

export interface UseSshHostsOptions extends StartSshHostsOptions {
  /** options every `connect()` of this file starts from (before its own overrides) */
  transport?: Partial<CreateSshTransportOptions>;
}

/** The started hosts, plus what the SSH integration tests do with them. */
export interface SshTestHosts extends SshHosts {
  /**
   * A transport to `host` as the harness's user with its key, verified against its
   * known_hosts; closed after each test.
   */
  connect(host: { address: string; port: number }, overrides?: Partial<CreateSshTransportOptions>): SshTransport;
  /** a temp dir of this test file for its own files (known_hosts variants, keys), removed after all */
  readonly dir: string;
}

/**
 * Starts `count` sshd hosts for one test file and registers the hooks around them: hosts
 * and a temp dir before all tests, every transport `connect()` opened closed after each
 * test, hosts stopped and the dir removed after all. Call it at the top of a test file.
 */
export function useSshHosts(count: number, options: UseSshHostsOptions = {}): SshTestHosts {
  const { transport: transportDefaults, ...startOptions } = options;
  let started: SshHosts | undefined;
  let dir: string | undefined;
  const open: SshTransport[] = [];
  const hosts = (): SshHosts => {
    if (!started) throw new Error('useSshHosts: the hosts start in beforeAll; use them inside a test or a hook');
    return started;
  };

  beforeAll(async () => {
    started = await startSshHosts(count, startOptions);
    dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-ssh-test-'));
  }, 30_000);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
    await started?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  return {
    get hosts() {
      return hosts().hosts;
    },
    get user() {
      return hosts().user;
    },
    get identityFile() {
      return hosts().identityFile;
    },
    get knownHostsFile() {
      return hosts().knownHostsFile;
    },
    get workDir() {
      return hosts().workDir;
    },
    get dir() {
      if (!dir) throw new Error('useSshHosts: the temp dir is made in beforeAll; use it inside a test or a hook');
      return dir;
    },
    writeKnownHosts: (file, writeOptions) => hosts().writeKnownHosts(file, writeOptions),
    kill: (host) => hosts().kill(host),
    restart: (host) => hosts().restart(host),
    replaceHostKey: (host, key) => hosts().replaceHostKey(host, key),
    stop: () => hosts().stop(),
    connect(host, overrides = {}) {
      const transport = createSshTransport({
        host: host.address,
        port: host.port,
        user: hosts().user,
        identityFile: hosts().identityFile,
        knownHostsFile: hosts().knownHostsFile,
        acceptNewHostKeys: false,
        sudo: false,
        connectTimeoutMs: 5_000,
        ...transportDefaults,
        ...overrides,
      });
      open.push(transport);
      return transport;
    },
  };
}
