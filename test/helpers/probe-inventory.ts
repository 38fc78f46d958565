import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { localInventoryYaml } from './mini-project.js';

/** An inventory of `count` sites on a local data center, all using the `probe` fixture procedure. */
export function probeInventory(options: {
  version: string;
  count?: number;
  installDelay?: number;
  sites?: string[];
  /** a different version for some sites (e.g. one that fails its gate) */
  versionFor?: (site: string) => string | undefined;
  /** the ledger folder, default .ozg */
  ledger?: string;
}): string {
  const names = options.sites ?? Array.from({ length: options.count ?? 2 }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
  return localInventoryYaml({
    ledger: options.ledger,
    concurrency: 4,
    sites: names.map((name, i) => ({
      name,
      labels: `{ state: SH, wave: "${i % 3}" }`,
      procedures: { probe: { version: options.versionFor?.(name) ?? options.version, values: `{ installDelay: ${options.installDelay ?? 0} }` } },
    })),
  });
}

export async function writeProbeInventory(dir: string, options: Parameters<typeof probeInventory>[0]): Promise<void> {
  await writeFile(path.join(dir, 'sites.yaml'), probeInventory(options));
}
