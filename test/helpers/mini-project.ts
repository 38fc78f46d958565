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

export const MINI_SITES_YAML = `catalogues: [./catalogue]
ledger: .ozg
dataCenters:
  local-dc:
    kind: local
    environments:
      test: { root: ./targets/test }
      prod: { root: ./targets/prod }
sites:
  kiel:
    dataCenter: local-dc
    procedures:
      demo: { version: 1.0.0 }
`;
