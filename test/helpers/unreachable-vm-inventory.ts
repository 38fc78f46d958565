import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

const SITES: Record<string, string> = {
  kiel: '{ title: "Kiel", municipalityKey: "01002000", domain: antraege.kiel.de, contactEmail: a@kiel.de }',
  husum: '{ title: "Husum", municipalityKey: "01054056", domain: antraege.husum.de, contactEmail: a@husum.de }',
};

/**
 * `<dir>/vm.yaml`: a vm data center whose sites' test host, 127.0.0.1 port 1, refuses every
 * connection (ledger `.ozg-vm`, an operator key and an empty known_hosts beside it). Meant for
 * a copy of the example, whose catalogue and secrets it uses.
 */
export async function writeUnreachableVmInventory(dir: string, sites: ReadonlyArray<'kiel' | 'husum'> = ['kiel']): Promise<void> {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator@test', '-f', path.join(dir, 'operator')]);
  await writeFile(path.join(dir, 'known_hosts'), '');
  const lines = [
    'ledger: .ozg-vm',
    'dataCenters:',
    '  dataport:',
    '    kind: vm',
    '    environments:',
    '      test: { deployRoot: /opt/ozg, ssh: { user: ozg, identityFile: ./operator, knownHosts: ./known_hosts } }',
    'sites:',
  ];
  for (const site of sites) {
    lines.push(
      `  ${site}:`,
      '    dataCenter: dataport',
      '    hosts: { test: { host: 127.0.0.1, port: 1 } }',
      '    procedures:',
      '      antrag-formular:',
      '        version: "^1.0.0"',
      `        values: ${SITES[site]}`,
      '        secrets: { smtpPassword: { file: ./examples/secrets/kiel-smtp.txt } }',
    );
  }
  await writeFile(path.join(dir, 'vm.yaml'), lines.join('\n') + '\n');
}
