/**
 * A NoCloud seed for a new VM of a site: user-data, meta-data and optional network-config,
 * plus the SSH host keys baked into it so ozg's first connection is already verified.
 *
 * The user-data contains private host keys: it is a secret. Nothing here prints; the
 * command shows `summarizeSeed` (fingerprints, never keys).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { inspect } from 'node:util';
import { UsageError } from '../errors.js';
import { DEFAULT_SSH_PORT, DEFAULT_SSH_USER } from '../inventory/defaults.js';
import { ENVIRONMENTS, type EnvironmentName } from '../inventory/types.js';
import { canWriteAsYamlString, isWellFormedText, stringifyCloudYaml } from './cloud-yaml.js';
import { formatKnownHostsLine, generateHostKeys, HOST_KEY_TYPES, type HostKey, type HostKeyType } from './host-keys.js';
import { runCommandWithExeca, type RunCommand } from '../run-command.js';
import { DNS_LABEL } from '../inventory/dns-label.js';
import { mergeCloudInitFragments, type CloudInitFragment } from './fragments.js';

/** Written by the last runcmd step, so "provisioned" means every earlier step succeeded. */
export const PROVISIONED_MARKER = '/var/lib/ozg/provisioned';
const SUDO_RULE = 'ALL=(ALL) NOPASSWD:ALL';

/** A file of the first deploy; `path` is relative to the deploy root (or absolute inside it). */
export interface SeedFile {
  path: string;
  content: string | Uint8Array;
  /** permission bits, e.g. 0o640 */
  mode: number;
}

/** The site's procedures, installed on first boot: files under the deploy root, then commands as root. */
export interface FirstDeploy {
  files: readonly SeedFile[];
  /** an array is one command's argv (preferred); a string is a shell command line */
  runcmd: ReadonlyArray<string | readonly string[]>;
}

export interface BuildSeedInput {
  site: { name: string };
  environment: EnvironmentName;
  hostname: string;
  /** default: `ozg-<site>-<env>-<hash>`, stable for the same input and host keys */
  instanceId?: string;
  /** default `ozg` */
  deployUser?: string;
  /** authorized_keys lines for the deploy user (at least one) */
  operatorPublicKeys: readonly string[];
  /** passwordless sudo for the deploy user */
  sudo: boolean;
  /** Debian packages installed on first boot, e.g. ca-certificates, curl, tar */
  packages: readonly string[];
  /** absolute directory owned by the deploy user, e.g. /opt/ozg */
  deployRoot: string;
  /** netplan v2 style network config (with or without a top-level `network:`) */
  networkConfig?: Record<string, unknown>;
  firstDeploy?: FirstDeploy;
  /** the site's procedures' cloud-init fragments, in procedure order, merged into user-data (fragments.ts) */
  fragments?: readonly CloudInitFragment[];
  /** how ozg reaches the VM: the known_hosts entries are for this address and port */
  hostAddress: string;
  /** default 22 */
  hostPort?: number;
  /** default `['ed25519']`; ed25519 is always required */
  hostKeyTypes?: readonly HostKeyType[];
}

export interface BuildSeedOptions {
  /** runs ssh-keygen (default: execa) */
  runCommand?: RunCommand;
  /** parent of the private temp directory for key generation (default: the OS temp dir) */
  tempRoot?: string;
}

/** A generated seed. `userData` and `hostKeys[].privateKey` are secret: never print them. */
export interface Seed {
  site: string;
  environment: EnvironmentName;
  hostname: string;
  instanceId: string;
  userData: string;
  metaData: string;
  networkConfig?: string;
  hostKeys: HostKey[];
  /** `host algorithm key` lines for the known_hosts ozg connects with */
  knownHostsLines: string[];
}

/** What the command may show: no key material. */
export interface SeedSummary {
  site: string;
  environment: EnvironmentName;
  hostname: string;
  instanceId: string;
  hostKeys: Array<{ type: HostKeyType; fingerprint: string }>;
}

/** Generates host keys (ssh-keygen through `runCommand`) and renders the seed around them. */
export async function buildSeed(input: BuildSeedInput, options: BuildSeedOptions = {}): Promise<Seed> {
  // Validate before spending time on keys; renderSeed validates again (cheap, and it is public).
  validateSeedInput(input);
  const hostKeys = await generateHostKeys(input.hostKeyTypes ?? ['ed25519'], {
    runCommand: options.runCommand ?? runCommandWithExeca,
    comment: input.hostname,
    tempRoot: options.tempRoot,
  });
  return renderSeed(input, hostKeys);
}

/** The seed for given host keys: pure, so the same input and keys always give the same bytes. */
export function renderSeed(input: BuildSeedInput, hostKeys: readonly HostKey[]): Seed {
  validateSeedInput(input);
  const site = input.site.name;
  const deployUser = input.deployUser ?? DEFAULT_SSH_USER;
  const deployRoot = input.deployRoot;
  const hostPort = input.hostPort ?? DEFAULT_SSH_PORT;
  const wanted = input.hostKeyTypes ?? ['ed25519'];
  for (const type of wanted) {
    if (!hostKeys.some((key) => key.type === type)) throw new UsageError(`no ${type} host key was given for ${input.hostname}`);
  }
  const keys = [...hostKeys].sort((a, b) => HOST_KEY_TYPES.indexOf(a.type) - HOST_KEY_TYPES.indexOf(b.type));
  const instanceId = input.instanceId ?? defaultInstanceId(site, input.environment, input.hostname, keys);
  const owner = `${deployUser}:${deployUser}`;

  const sshKeys: Record<string, string> = {};
  for (const key of keys) {
    sshKeys[`${key.type}_private`] = key.privateKey;
    sshKeys[`${key.type}_public`] = key.publicKey;
  }

  const files = input.firstDeploy?.files ?? [];
  const writeFiles = files.map((file) => ({
    path: resolveUnderRoot(deployRoot, file.path),
    ...encodeContent(file.content),
    owner,
    permissions: formatMode(file.mode),
    // Written in the final stage, after the deploy user exists (users-groups runs after write_files).
    defer: true,
  }));

  const marker = JSON.stringify({ instanceId, site, environment: input.environment });
  const runcmdHead: Array<string | readonly string[]> = [
    // runcmd runs last (scripts-user, after packages and deferred files) as one sh script that
    // ignores failures; stop at the first one so the marker is only written when all worked.
    ['set', '-e'],
    ['install', '-d', '-m', '0755', '-o', deployUser, '-g', deployUser, deployRoot],
    // write_files creates missing parent directories as root; the deploy user must own them.
    ...(files.length > 0 ? [['chown', '-R', owner, deployRoot]] : []),
  ];
  // the procedures' fragments' commands go between head and tail (fragments.ts)
  const runcmdTail: Array<string | readonly string[]> = [
    ...(input.firstDeploy?.runcmd ?? []),
    ['install', '-d', '-m', '0755', posix.dirname(PROVISIONED_MARKER)],
    ['sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'ozg-provisioned', marker, PROVISIONED_MARKER],
  ];

  const user: Record<string, unknown> = {
    name: deployUser,
    shell: '/bin/bash',
    lock_passwd: true,
    ssh_authorized_keys: [...input.operatorPublicKeys],
    ...(input.sudo ? { sudo: SUDO_RULE } : {}),
  };

  const cloudConfig: Record<string, unknown> = {
    // No `default` entry: the image's stock user is not created, only the deploy user.
    users: [user],
    disable_root: true,
    ssh_pwauth: false,
    // cloud-init deletes the image's host keys first, then writes ssh_keys, and generates
    // none when ssh_keys is present (cc_ssh.handle), so true removes keys shared by every VM
    // of the image without touching ours. `ssh_genkeytypes: []` is a schema error (minItems 1).
    ssh_deletekeys: true,
    ssh_keys: sshKeys,
    ...(input.packages.length > 0 ? { package_update: true, packages: [...input.packages] } : {}),
    ...(writeFiles.length > 0 ? { write_files: writeFiles } : {}),
    runcmd: [...runcmdHead, ...runcmdTail],
  };
  const userData = input.fragments?.length ? mergeCloudInitFragments({ config: cloudConfig, runcmdHead, runcmdTail }, input.fragments) : cloudConfig;

  const label = `cloud-init seed for ${site}/${input.environment}`;
  const seed: Seed = {
    site,
    environment: input.environment,
    hostname: input.hostname,
    instanceId,
    userData: stringifyCloudYaml(userData, `${label} user-data`, '#cloud-config'),
    metaData: stringifyCloudYaml({ 'instance-id': instanceId, 'local-hostname': input.hostname }, `${label} meta-data`),
    hostKeys: keys.map((key) => ({ ...key })),
    knownHostsLines: keys.map((key) => formatKnownHostsLine(input.hostAddress, hostPort, key.publicKey)),
  };
  if (input.networkConfig !== undefined) {
    seed.networkConfig = stringifyCloudYaml(normalizeNetworkConfig(input.networkConfig), `${label} network-config`);
  }
  guardAgainstPrinting(seed);
  return seed;
}

/** Fingerprints and ids only: safe to print or emit as JSON. */
export function summarizeSeed(seed: Seed): SeedSummary {
  return {
    site: seed.site,
    environment: seed.environment,
    hostname: seed.hostname,
    instanceId: seed.instanceId,
    hostKeys: seed.hostKeys.map((key) => ({ type: key.type, fingerprint: key.fingerprint })),
  };
}

/**
 * `ozg-<site>-<env>-<hash>`. The hash covers the host keys too: cloud-init runs its
 * per-instance modules (keys included) only when the instance-id changes, so a re-seed with
 * new keys must get a new id, while the same input and keys always give the same one.
 */
function defaultInstanceId(site: string, environment: string, hostname: string, keys: readonly HostKey[]): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(['ozg-instance/1', site, environment, hostname.toLowerCase(), keys.map((key) => key.publicKey)]))
    .digest('hex')
    .slice(0, 12);
  return `ozg-${site}-${environment}-${hash}`;
}

/** Plain text when YAML carries it exactly, base64 otherwise (binary, odd control characters). */
function encodeContent(content: string | Uint8Array): { content: string; encoding?: 'b64' } {
  if (typeof content === 'string' && canWriteAsYamlString(content)) return { content };
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  return { content: bytes.toString('base64'), encoding: 'b64' };
}

/** cloud-init wants permissions as an octal string such as `0640`. */
function formatMode(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

function resolveUnderRoot(root: string, path: string): string {
  return posix.isAbsolute(path) ? posix.normalize(path) : posix.join(root, path);
}

/** NoCloud's network-config is the bare config (`version: 2 …`), not wrapped in `network:`. */
function normalizeNetworkConfig(config: Record<string, unknown>): Record<string, unknown> {
  const inner = isPlainObject(config.network) && Object.keys(config).length === 1 ? config.network : config;
  return inner.version === undefined ? { version: 2, ...inner } : inner;
}

/**
 * JSON.stringify(seed) or console.log(seed) show the summary instead of keys. Non-enumerable,
 * so spreading or comparing a seed is unaffected.
 */
function guardAgainstPrinting(seed: Seed): void {
  Object.defineProperty(seed, 'toJSON', { value: () => summarizeSeed(seed), enumerable: false });
  Object.defineProperty(seed, inspect.custom, { value: () => summarizeSeed(seed), enumerable: false });
}

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$/;
const HOST_ADDRESS = /^[A-Za-z0-9._:-]+$/;
const PUBLIC_KEY = /(^|\s)(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+AAAA[A-Za-z0-9+/]+={0,2}(\s|$)/;

/** Throws one UsageError listing every problem of the input. */
export function validateSeedInput(input: BuildSeedInput): void {
  const problems: string[] = [];
  const add = (message: string) => problems.push(message);

  if (!DNS_LABEL.test(input.site?.name ?? '')) add(`site name ${JSON.stringify(input.site?.name)} is not a DNS label`);
  if (!ENVIRONMENTS.includes(input.environment)) add(`environment must be test or prod, not ${JSON.stringify(input.environment)}`);
  if (!isHostname(input.hostname)) add(`hostname ${JSON.stringify(input.hostname)} is not a valid host name (letters, digits, hyphens; dot-separated labels)`);
  if (input.instanceId !== undefined && !INSTANCE_ID.test(input.instanceId)) add(`instance id ${JSON.stringify(input.instanceId)} may only hold letters, digits, '.', '_' and '-'`);
  const user = input.deployUser ?? DEFAULT_SSH_USER;
  if (!USER_NAME.test(user) || user === 'root') add(`deploy user ${JSON.stringify(user)} is not a valid non-root user name`);

  if (input.operatorPublicKeys.length === 0) add('no operator public key: the deploy user could never log in (its password is locked)');
  input.operatorPublicKeys.forEach((key, i) => {
    if (/[\r\n\0]/.test(key) || !PUBLIC_KEY.test(key)) add(`operator public key #${i + 1} is not one OpenSSH public key line`);
  });
  input.packages.forEach((name) => {
    if (!PACKAGE.test(name)) add(`package ${JSON.stringify(name)} is not a Debian package name (optionally name=version)`);
  });

  const root = input.deployRoot;
  const rootOk = typeof root === 'string' && posix.isAbsolute(root) && posix.normalize(root) === root && root !== '/' && !root.endsWith('/') && !root.includes('\0');
  if (!rootOk) add(`deploy root ${JSON.stringify(root)} must be an absolute, normalized directory other than /`);

  if (!HOST_ADDRESS.test(input.hostAddress ?? '')) add(`host address ${JSON.stringify(input.hostAddress)} is not a host name or IP address`);
  const port = input.hostPort ?? DEFAULT_SSH_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) add(`host port ${port} is not a TCP port`);

  const types = input.hostKeyTypes ?? ['ed25519'];
  if (!types.includes('ed25519')) add('host key types must include ed25519');
  if (new Set(types).size !== types.length || types.some((type) => !HOST_KEY_TYPES.includes(type))) {
    add(`host key types must be distinct values of ${HOST_KEY_TYPES.join(', ')}`);
  }

  if (input.networkConfig !== undefined) {
    const config = input.networkConfig;
    const inner = isPlainObject(config) && isPlainObject(config.network) && Object.keys(config).length === 1 ? config.network : config;
    if (!isPlainObject(inner)) add('network config must be a mapping (netplan v2 style)');
    else if (inner.version !== undefined && inner.version !== 1 && inner.version !== 2) add(`network config version must be 1 or 2, not ${JSON.stringify(inner.version)}`);
  }

  const seen = new Set<string>();
  (input.firstDeploy?.files ?? []).forEach((file, i) => {
    const where = `first-deploy file #${i + 1} (${JSON.stringify(file.path)})`;
    if (typeof file.path !== 'string' || file.path === '' || file.path.includes('\0') || file.path.endsWith('/')) {
      add(`${where}: path must name a file`);
      return;
    }
    if (rootOk) {
      const resolved = resolveUnderRoot(root, file.path);
      if (!resolved.startsWith(root + '/')) add(`${where}: path is outside the deploy root ${root}`);
      else if (seen.has(resolved)) add(`${where}: ${resolved} is written twice`);
      seen.add(resolved);
    }
    if (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > 0o7777) add(`${where}: mode must be permission bits such as 0o644`);
    if (typeof file.content === 'string' ? !isWellFormedText(file.content) : !(file.content instanceof Uint8Array)) {
      add(`${where}: content must be a well-formed string or bytes`);
    }
  });
  (input.firstDeploy?.runcmd ?? []).forEach((command, i) => {
    const parts = typeof command === 'string' ? [command] : command;
    if (parts.length === 0 || parts.some((part) => typeof part !== 'string' || part.includes('\0'))) {
      add(`first-deploy command #${i + 1} must be a non-empty argv of strings (or one shell line) without NUL bytes`);
    }
  });

  if (problems.length > 0) {
    throw new UsageError(`cannot build the cloud-init seed:\n${problems.map((p) => '  ' + p).join('\n')}`, {
      hint: 'fix the listed values (inventory or command options), then run `ozg cloud-init` again',
    });
  }
}

function isHostname(name: unknown): boolean {
  return typeof name === 'string' && name.length <= 253 && name.split('.').every((label) => HOST_LABEL.test(label));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
