import { inspect } from 'node:util';
import { parse } from 'yaml';
import { RemoteCommandError, ToolMissingError, UsageError } from '../../../src/errors.js';
import { formatKnownHostsLine } from '../../../src/cloud-init/host-keys.js';
import { buildSeed, PROVISIONED_MARKER, renderSeed, summarizeSeed, type BuildSeedInput, type Seed } from '../../../src/cloud-init/seed.js';
import { createFakeRunCommand, createSeedInput, FIXED_ED25519 } from './fake-run-command.js';

/** Read user-data the way cloud-init does: YAML 1.1 (PyYAML). The real PyYAML check is in the integration test. */
function parseCloudYaml(text: string): any {
  return parse(text, { version: '1.1' });
}

async function build(overrides: Partial<BuildSeedInput> = {}): Promise<Seed> {
  const { runCommand } = createFakeRunCommand();
  return buildSeed(createSeedInput(overrides), { runCommand });
}

// Top-level keys of cloud-config modules in cloud-init 22.4 that ozg may use. `cloud-init schema`
// accepts unknown keys silently, so a typo would only show up on a real VM without this list.
const KNOWN_CLOUD_CONFIG_KEYS = new Set([
  'users', 'groups', 'disable_root', 'ssh_pwauth', 'ssh_deletekeys', 'ssh_keys', 'ssh_genkeytypes',
  'ssh_authorized_keys', 'package_update', 'package_upgrade', 'packages', 'write_files', 'runcmd',
  'bootcmd', 'hostname', 'fqdn', 'manage_etc_hosts', 'timezone', 'final_message', 'power_state',
]);
const KNOWN_USER_KEYS = new Set(['name', 'shell', 'lock_passwd', 'ssh_authorized_keys', 'sudo', 'groups', 'homedir', 'gecos']);
const KNOWN_WRITE_FILES_KEYS = new Set(['path', 'content', 'encoding', 'owner', 'permissions', 'append', 'defer']);

const NASTY = `a: b # not a comment 'single' "double" \\back\n$(rm -rf /) \`tick\` & | ; > < * ? ~ {x} [y] !z %p @q\n  indented\ttab\n- dash\n---\n...\n`;

describe('buildSeed user-data', () => {
  it('is #cloud-config YAML with the deploy user, pinned host keys, packages, files and the marker', async () => {
    const seed = await build({
      firstDeploy: {
        files: [{ path: 'antrag/config.json', content: '{"title": "Antrag"}\n', mode: 0o640 }],
        runcmd: [['systemctl', 'restart', 'antrag']],
      },
    });
    expect(seed.userData.split('\n')[0]).toBe('#cloud-config');
    const config = parseCloudYaml(seed.userData);

    expect(config.users).toEqual([
      {
        name: 'ozg',
        shell: '/bin/bash',
        lock_passwd: true,
        ssh_authorized_keys: [`ssh-ed25519 ${FIXED_ED25519.publicBase64} operator@admin`],
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
      },
    ]);
    expect(config.ssh_pwauth).toBe(false);
    expect(config.disable_root).toBe(true);
    expect(config.ssh_deletekeys).toBe(true);
    expect(config).not.toHaveProperty('ssh_genkeytypes');
    expect(config.ssh_keys).toEqual({
      ed25519_private: FIXED_ED25519.privateKey,
      ed25519_public: `ssh-ed25519 ${FIXED_ED25519.publicBase64} kiel-test-1`,
    });
    expect(config.package_update).toBe(true);
    expect(config.packages).toEqual(['ca-certificates', 'curl', 'tar']);
    expect(config.write_files).toEqual([
      { path: '/opt/ozg/antrag/config.json', content: '{"title": "Antrag"}\n', owner: 'ozg:ozg', permissions: '0640', defer: true },
    ]);
    expect(config.runcmd[0]).toEqual(['set', '-e']);
    expect(config.runcmd).toContainEqual(['install', '-d', '-m', '0755', '-o', 'ozg', '-g', 'ozg', '/opt/ozg']);
    expect(config.runcmd).toContainEqual(['chown', '-R', 'ozg:ozg', '/opt/ozg']);
    // the first deploy runs after the deploy root is prepared, and the marker comes last
    const deployIndex = config.runcmd.findIndex((c: string[]) => c[0] === 'systemctl');
    expect(deployIndex).toBeGreaterThan(config.runcmd.findIndex((c: string[]) => c[0] === 'chown'));
    const last = config.runcmd.at(-1);
    expect(last.at(-1)).toBe(PROVISIONED_MARKER);
    expect(JSON.parse(last.at(-2))).toEqual({ instanceId: seed.instanceId, site: 'kiel', environment: 'test' });
  });

  it('leaves out sudo, packages and write_files when not asked for', async () => {
    const config = parseCloudYaml((await build({ sudo: false, packages: [] })).userData);
    expect(config.users[0]).not.toHaveProperty('sudo');
    expect(config).not.toHaveProperty('packages');
    expect(config).not.toHaveProperty('package_update');
    expect(config).not.toHaveProperty('write_files');
    expect(config.runcmd).not.toContainEqual(expect.arrayContaining(['chown']));
  });

  it('uses only keys of known cloud-config modules (schema validation ignores unknown ones)', async () => {
    for (const seed of [await build(), await build({ sudo: false, firstDeploy: { files: [{ path: 'a', content: 'x', mode: 0o600 }], runcmd: ['true'] } })]) {
      const config = parseCloudYaml(seed.userData);
      expect(Object.keys(config).filter((key) => !KNOWN_CLOUD_CONFIG_KEYS.has(key))).toEqual([]);
      expect(Object.keys(config.users[0]).filter((key) => !KNOWN_USER_KEYS.has(key))).toEqual([]);
      for (const file of config.write_files ?? []) {
        expect(Object.keys(file).filter((key) => !KNOWN_WRITE_FILES_KEYS.has(key))).toEqual([]);
      }
      expect(Object.keys(config.ssh_keys).every((key) => /^(ecdsa|ed25519|rsa)_(public|private)$/.test(key))).toBe(true);
    }
  });

  it('sorts every mapping by key', async () => {
    const seed = await build({ networkConfig: { version: 2, ethernets: { eth1: { dhcp4: true }, eth0: { mtu: 1500, addresses: ['10.0.0.5/24'] } } } });
    const sortedEverywhere = (value: unknown): boolean => {
      if (Array.isArray(value)) return value.every(sortedEverywhere);
      if (value === null || typeof value !== 'object') return true;
      const keys = Object.keys(value);
      return keys.join('\0') === [...keys].sort().join('\0') && Object.values(value).every(sortedEverywhere);
    };
    for (const text of [seed.userData, seed.metaData, seed.networkConfig!]) expect(sortedEverywhere(parseCloudYaml(text))).toBe(true);
  });
});

describe('escaping', () => {
  it('round-trips nasty file contents, paths and commands exactly', async () => {
    const path = `dir with space/it's "quoted" $(x) #1: yes`;
    const seed = await build({
      firstDeploy: {
        files: [
          { path, content: NASTY, mode: 0o600 },
          { path: 'no-newline', content: 'on', mode: 0o644 },
          { path: 'leading-space', content: '  starts indented\nthen not\n\n\n', mode: 0o644 },
          { path: 'crlf', content: 'windows\r\nline\r\n', mode: 0o644 },
          { path: 'controls', content: 'bell\u0007 nul\u0000 esc\u001b end', mode: 0o644 },
          { path: 'unicode', content: 'Straße äöü 😀 „Zitat“', mode: 0o644 },
          { path: 'empty', content: '', mode: 0o644 },
        ],
        runcmd: [['printf', '%s\n', NASTY], `echo ${NASTY.split('\n')[0]}`, ['=', '<<', '0644', 'yes', '~', 'null', '1:20', '.inf', '2001-01-01']],
      },
    });
    const config = parseCloudYaml(seed.userData);
    const files = new Map<string, any>(config.write_files.map((f: any) => [f.path, f]));
    expect(files.get(`/opt/ozg/${path}`).content).toBe(NASTY);
    expect(files.get('/opt/ozg/no-newline').content).toBe('on');
    expect(files.get('/opt/ozg/leading-space').content).toBe('  starts indented\nthen not\n\n\n');
    expect(files.get('/opt/ozg/crlf').content).toBe('windows\r\nline\r\n');
    expect(files.get('/opt/ozg/controls').content).toBe('bell\u0007 nul\u0000 esc\u001b end');
    expect(files.get('/opt/ozg/unicode').content).toBe('Straße äöü 😀 „Zitat“');
    expect(files.get('/opt/ozg/empty').content).toBe('');
    for (const file of files.values()) expect(file).not.toHaveProperty('encoding');
    expect(config.runcmd).toContainEqual(['printf', '%s\n', NASTY]);
    expect(config.runcmd).toContainEqual(`echo ${NASTY.split('\n')[0]}`);
    expect(config.runcmd).toContainEqual(['=', '<<', '0644', 'yes', '~', 'null', '1:20', '.inf', '2001-01-01']);
    // YAML 1.2 readers must agree with YAML 1.1 ones.
    expect(parse(seed.userData)).toEqual(config);
  });

  it('sends contents YAML cannot carry exactly (line separators, DEL, binary) as base64', async () => {
    const odd = 'a\u2028b\u0085c\u007fd\ufeff';
    const bytes = new Uint8Array([0, 255, 10, 13, 0x80]);
    const config = parseCloudYaml((await build({ firstDeploy: { files: [{ path: 'odd', content: odd, mode: 0o600 }, { path: 'bin', content: bytes, mode: 0o600 }], runcmd: [] } })).userData);
    const [oddFile, bin] = config.write_files;
    expect(oddFile).toMatchObject({ path: '/opt/ozg/odd', encoding: 'b64' });
    expect(Buffer.from(oddFile.content, 'base64').toString('utf8')).toBe(odd);
    expect(bin).toMatchObject({ path: '/opt/ozg/bin', encoding: 'b64' });
    expect([...Buffer.from(bin.content, 'base64')]).toEqual([...bytes]);
  });

  it('refuses a command argument YAML cannot carry, naming where it is', async () => {
    await expect(build({ firstDeploy: { files: [], runcmd: [['echo', 'a\u2028b']] } })).rejects.toThrow(/runcmd\[\d+\]\[1\]/);
  });

  it('rejects a nasty hostname and other bad values, all in one error', async () => {
    const error = await build({
      hostname: `host: # ' " \n $()`,
      deployUser: 'root',
      operatorPublicKeys: [],
      deployRoot: 'opt/ozg',
      hostAddress: 'a b',
      firstDeploy: { files: [{ path: '../etc/passwd', content: 'x', mode: 0o644 }], runcmd: [] },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    for (const part of ['hostname', 'deploy user', 'no operator public key', 'deploy root', 'host address']) expect(message).toContain(part);
  });

  it('keeps first-deploy files inside the deploy root', async () => {
    await expect(build({ firstDeploy: { files: [{ path: '/etc/sudoers.d/x', content: 'x', mode: 0o644 }], runcmd: [] } })).rejects.toThrow(/outside the deploy root/);
    await expect(build({ firstDeploy: { files: [{ path: 'a/../../etc/x', content: 'x', mode: 0o644 }], runcmd: [] } })).rejects.toThrow(/outside the deploy root/);
    await expect(build({ firstDeploy: { files: [{ path: 'a', content: 'x', mode: 0o644 }, { path: '/opt/ozg/a', content: 'y', mode: 0o644 }], runcmd: [] } })).rejects.toThrow(/written twice/);
  });
});

describe('determinism and identity', () => {
  it('gives byte-identical output for the same input and keys', async () => {
    const input = createSeedInput({
      networkConfig: { network: { version: 2, ethernets: { eth0: { addresses: ['10.0.0.5/24'], routes: [{ to: 'default', via: '10.0.0.1' }] } } } },
      firstDeploy: { files: [{ path: 'a.txt', content: NASTY, mode: 0o600 }], runcmd: [['true']] },
    });
    const first = await buildSeed(input, { runCommand: createFakeRunCommand().runCommand });
    const second = await buildSeed(structuredClone(input), { runCommand: createFakeRunCommand().runCommand });
    expect(second.userData).toBe(first.userData);
    expect(second.metaData).toBe(first.metaData);
    expect(second.networkConfig).toBe(first.networkConfig);
    expect(second.knownHostsLines).toEqual(first.knownHostsLines);
    expect(renderSeed(input, first.hostKeys).userData).toBe(first.userData);
  });

  it('derives a stable instance id from site, environment, hostname and host keys', async () => {
    const seed = await build();
    expect(seed.instanceId).toMatch(/^ozg-kiel-test-[0-9a-f]{12}$/);
    expect(parseCloudYaml(seed.metaData)).toEqual({ 'instance-id': seed.instanceId, 'local-hostname': 'kiel-test-1' });
    expect((await build({ environment: 'prod' })).instanceId).toMatch(/^ozg-kiel-prod-/);
    // new keys mean a new instance for cloud-init, so it applies them on an existing VM too
    const otherKeys = seed.hostKeys.map((key) => ({ ...key, publicKey: key.publicKey.replace('kiel-test-1', 'other') }));
    expect(renderSeed(createSeedInput(), otherKeys).instanceId).not.toBe(seed.instanceId);
    expect((await build({ instanceId: 'vm-4711' })).metaData).toContain('instance-id: vm-4711');
  });

  it('writes network-config unwrapped, with version 2 by default', async () => {
    const wrapped = await build({ networkConfig: { network: { version: 2, ethernets: { eth0: { dhcp4: true } } } } });
    const bare = await build({ networkConfig: { ethernets: { eth0: { dhcp4: true } } } });
    expect(parseCloudYaml(wrapped.networkConfig!)).toEqual({ version: 2, ethernets: { eth0: { dhcp4: true } } });
    expect(bare.networkConfig).toBe(wrapped.networkConfig);
    expect((await build()).networkConfig).toBeUndefined();
    await expect(build({ networkConfig: { version: 3 } })).rejects.toThrow(/version must be 1 or 2/);
  });
});

describe('host keys', () => {
  it('runs ssh-keygen in a private temp dir and removes it', async () => {
    const { runCommand, calls } = createFakeRunCommand();
    const seed = await buildSeed(createSeedInput(), { runCommand });
    expect(calls).toHaveLength(1);
    const args = calls[0]!.args;
    expect(calls[0]!.file).toBe('ssh-keygen');
    expect(args).toEqual(['-q', '-t', 'ed25519', '-N', '', '-C', 'kiel-test-1', '-f', expect.stringMatching(/ozg-host-keys-.*\/ssh_host_ed25519_key$/)]);
    expect(calls[0]!.dirMode).toBe(0o700);
    const { existsSync } = await import('node:fs');
    expect(existsSync(args.at(-1)!)).toBe(false);
    expect(seed.hostKeys).toEqual([
      { type: 'ed25519', publicKey: `ssh-ed25519 ${FIXED_ED25519.publicBase64} kiel-test-1`, privateKey: FIXED_ED25519.privateKey, fingerprint: FIXED_ED25519.fingerprint },
    ]);
  });

  it('says how to install ssh-keygen when it is missing, and reports its failure with stderr', async () => {
    const missing = buildSeed(createSeedInput(), { runCommand: async () => ({ exitCode: null, stdout: '', stderr: '', durationMs: 0, notFound: true }) });
    await expect(missing).rejects.toThrow(ToolMissingError);
    await expect(missing).rejects.toMatchObject({ hint: expect.stringContaining('apt-get install -y openssh-client') });
    const failing = buildSeed(createSeedInput(), { runCommand: async () => ({ exitCode: 1, stdout: '', stderr: 'unknown key type', durationMs: 3 }) });
    await expect(failing).rejects.toThrow(RemoteCommandError);
    await expect(failing).rejects.toThrow(/unknown key type/);
  });

  it('formats known_hosts lines as ssh looks them up', async () => {
    const pub = `ssh-ed25519 ${FIXED_ED25519.publicBase64} some comment`;
    expect(formatKnownHostsLine('10.0.0.5', 2222, pub)).toBe(`[10.0.0.5]:2222 ssh-ed25519 ${FIXED_ED25519.publicBase64}`);
    expect(formatKnownHostsLine('Kiel-Test.Example.ORG', 22, pub)).toBe(`kiel-test.example.org ssh-ed25519 ${FIXED_ED25519.publicBase64}`);
    expect(formatKnownHostsLine('fd00::5', 22, pub)).toBe(`fd00::5 ssh-ed25519 ${FIXED_ED25519.publicBase64}`);
    expect(formatKnownHostsLine('fd00::5', 2200, pub)).toBe(`[fd00::5]:2200 ssh-ed25519 ${FIXED_ED25519.publicBase64}`);
    expect((await build()).knownHostsLines).toEqual([`[10.0.0.5]:2222 ssh-ed25519 ${FIXED_ED25519.publicBase64}`]);
    expect((await build({ hostAddress: 'kiel-test-1.example', hostPort: 22 })).knownHostsLines).toEqual([`kiel-test-1.example ssh-ed25519 ${FIXED_ED25519.publicBase64}`]);
  });
});

describe('nothing secret is printed', () => {
  it('summarizes with fingerprints, and JSON or inspect of a seed show only the summary', async () => {
    const seed = await build();
    const summary = summarizeSeed(seed);
    expect(summary).toEqual({
      site: 'kiel',
      environment: 'test',
      hostname: 'kiel-test-1',
      instanceId: seed.instanceId,
      hostKeys: [{ type: 'ed25519', fingerprint: FIXED_ED25519.fingerprint }],
    });
    for (const shown of [JSON.stringify(summary), JSON.stringify(seed), inspect(seed, { depth: 10 }), inspect({ seed }, { depth: 10 })]) {
      expect(shown).not.toContain('PRIVATE KEY');
      expect(shown).not.toContain('b3BlbnNzaC1rZXktdjE');
    }
  });
});
