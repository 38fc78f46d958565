/**
 * The benchmark's project: a copy of bench/fixtures/catalogue with its ~220 KB asset
 * generated (deterministically: every run deploys the same bytes), and a sites.yaml with
 * one `vm` data center whose sites each get a test host and a prod host of the harness.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { VM_DEPLOY_ROOT, type SshHosts } from '../test/helpers/sshd-harness.js';

export const PROCEDURE = 'bench-app';
const VERSION = '1.0.0';
/** the generated asset; with the config, hooks and tar headers the release is ~220 KB */
const ASSET_BYTES = 216 * 1024;

export interface BenchProject {
  inventoryPath: string;
  /** the procedure's vm/ folder (templates; the asset is plain text) */
  filesDir: string;
  assetFile: string;
  /** a tar of filesDir, what the floor measurement sends */
  archiveFile: string;
  archiveBytes: number;
  siteNames: string[];
}

export interface WriteBenchProjectOptions {
  repoRoot: string;
  dir: string;
  sites: number;
  concurrency: number;
  vms: SshHosts;
}

export async function writeBenchProject(options: WriteBenchProjectOptions): Promise<BenchProject> {
  const { dir, vms } = options;
  const catalogue = path.join(dir, 'catalogue');
  await cp(path.join(options.repoRoot, 'bench', 'fixtures', 'catalogue'), catalogue, { recursive: true });
  const filesDir = path.join(catalogue, PROCEDURE, VERSION, 'vm');
  const assetFile = path.join(filesDir, 'public', 'app.js');
  await mkdir(path.dirname(assetFile), { recursive: true });
  await writeFile(assetFile, generateAsset(ASSET_BYTES));

  const archiveFile = path.join(dir, 'floor-release.tar');
  await promisify(execFile)('tar', ['-c', '-f', archiveFile, '-C', filesDir, '.']);

  const ssh = { user: vms.user, identityFile: vms.identityFile, knownHosts: vms.knownHostsFile, sudo: false };
  const siteNames = Array.from({ length: options.sites }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
  const inventory = {
    catalogues: [catalogue],
    ledger: path.join(dir, '.ozg'),
    concurrency: options.concurrency,
    dataCenters: {
      'bench-vm': {
        kind: 'vm',
        keepReleases: 3,
        environments: {
          test: { deployRoot: VM_DEPLOY_ROOT, ssh },
          prod: { deployRoot: VM_DEPLOY_ROOT, ssh },
        },
      },
    },
    sites: Object.fromEntries(
      siteNames.map((name, i) => {
        const test = vms.hosts[2 * i]!;
        const prod = vms.hosts[2 * i + 1]!;
        const key = String(1_001_000 + i).padStart(8, '0');
        return [
          name,
          {
            dataCenter: 'bench-vm',
            labels: { ring: 'bench' },
            hosts: { test: { host: test.address, port: test.port }, prod: { host: prod.address, port: prod.port } },
            facts: { municipalityKey: key },
            procedures: {
              [PROCEDURE]: {
                version: VERSION,
                values: { title: `Gemeinde ${name}`, municipalityKey: key, domain: `${name}.bench.example` },
              },
            },
          },
        ];
      }),
    ),
  };
  const inventoryPath = path.join(dir, 'sites.yaml');
  await writeFile(inventoryPath, YAML.stringify(inventory));
  return { inventoryPath, filesDir, assetFile, archiveFile, archiveBytes: (await stat(archiveFile)).size, siteNames };
}

/**
 * Minified-JavaScript-looking text of exactly `bytes` bytes from a fixed seed. It holds no
 * `{{` or `{%`, so Liquid passes it through unchanged, as it would a real bundled asset.
 */
export function generateAsset(bytes: number): string {
  let seed = 0x0ca11ab1e;
  const next = (): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const words = ['form', 'antrag', 'value', 'state', 'render', 'submit', 'field', 'label', 'upload', 'check', 'gemeinde', 'schema'];
  const pick = (): string => words[Math.floor(next() * words.length)]!;
  const parts: string[] = ['/*! bench-app bundle (generated) */\n'];
  let size = parts[0]!.length;
  for (let i = 0; size < bytes; i++) {
    const line = `function ${pick()}_${i}(a,b){var ${pick()}=a*${Math.floor(next() * 1e6)}+b;return ${pick()}("${pick()}-${Math.floor(next() * 1e9).toString(36)}",a)}\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('').slice(0, bytes - 1) + '\n';
}
