import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A throw-away project with one site (kiel) on a `local` data center like the built-in
 * example's, and one procedure `demo 1.0.0` in ./catalogue. `files` are written below the
 * version folder (procedure.yaml among them); the caller adds links and removes the folder.
 */
export async function createMiniProject(files: Record<string, string>, options: { sitesYaml?: string } = {}): Promise<{ dir: string; version: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-mini-'));
  const version = path.join(dir, 'catalogue/demo/1.0.0');
  await writeFile(path.join(dir, 'sites.yaml'), options.sitesYaml ?? MINI_SITES_YAML);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(version, name)), { recursive: true });
    await writeFile(path.join(version, name), content, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return { dir, version };
}

export const MINI_SITES_YAML = localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites: [{ name: 'kiel', procedures: { demo: { version: '1.0.0' } } }] });

/** One site of a local inventory: its procedures with version, and values/secrets as YAML flow text. */
export interface LocalSiteSpec {
  name: string;
  /** YAML flow mapping, e.g. `{ state: SH, wave: "1" }` */
  labels?: string;
  procedures: Record<string, { version: string; values?: string; secrets?: Record<string, string> }>;
}

/**
 * sites.yaml for a `local` data center (`./targets/<env>`) like the built-in example's: the one
 * shape the end-to-end tests build their throw-away projects on.
 */
export function localInventoryYaml(options: { sites: LocalSiteSpec[]; catalogue?: string; ledger?: string; concurrency?: number; prod?: boolean }): string {
  const lines = [
    `catalogues: [${options.catalogue ?? './templates'}]`,
    ...(options.ledger ? [`ledger: ${options.ledger}`] : []),
    ...(options.concurrency ? [`concurrency: ${options.concurrency}`] : []),
    'dataCenters:',
    '  local-dc:',
    '    kind: local',
    '    environments:',
    '      test: { root: ./targets/test }',
    ...(options.prod === false ? [] : ['      prod: { root: ./targets/prod }']),
    'sites:',
  ];
  for (const site of options.sites) {
    const none = Object.keys(site.procedures).length === 0;
    lines.push(`  ${site.name}:`, '    dataCenter: local-dc', ...(site.labels ? [`    labels: ${site.labels}`] : []), none ? '    procedures: {}' : '    procedures:');
    for (const [name, setup] of Object.entries(site.procedures)) {
      lines.push(`      ${name}:`, `        version: "${setup.version}"`);
      if (setup.values) lines.push(`        values: ${setup.values}`);
      if (setup.secrets) lines.push('        secrets:', ...Object.entries(setup.secrets).map(([secret, ref]) => `          ${secret}: ${ref}`));
    }
  }
  return lines.join('\n') + '\n';
}
