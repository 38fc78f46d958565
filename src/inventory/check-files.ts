/**
 * The files a data center's configuration names (kubeconfig, SSH keys) exist and can be read:
 * `ozg validate` says so at the field in sites.yaml, instead of plan or deploy failing later
 * at the file. Only validate runs this: other commands report a missing file for the targets
 * they touch, so one data center's missing key never stops commands about other sites.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { report } from './check-context.js';
import type { CheckContext } from './check-context.js';
import { listEnvironments } from './target-naming.js';
import type { DataCenter } from './types.js';

export async function checkDataCenterFiles(context: CheckContext, dataCenter: DataCenter): Promise<void> {
  for (const [environment, spec] of listEnvironments(dataCenter)) {
    const at = ['dataCenters', dataCenter.name, 'environments', environment];
    const files: [path: (string | number)[], file: string | undefined, what: string][] =
      dataCenter.kind === 'kubernetes'
        ? [[[...at, 'kubeconfig'], spec.kubeconfig, 'kubeconfig']]
        : dataCenter.kind === 'vm'
          ? [
              [[...at, 'ssh', 'identityFile'], spec.ssh?.identityFile, 'SSH identity file'],
              [[...at, 'ssh', 'bastion', 'identityFile'], spec.ssh?.bastion?.identityFile, 'bastion SSH identity file'],
            ]
          : [];
    for (const [path, file, what] of files) {
      if (file === undefined) continue;
      const problem = await findFileProblem(file);
      if (problem) report(context, path, `${what} ${file} ${problem}`);
    }
  }
}

async function findFileProblem(file: string): Promise<string | undefined> {
  try {
    if (!(await stat(file)).isFile()) return 'is not a file';
    await access(file, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist';
    if (code === 'EACCES') return 'cannot be read (permission denied)';
    return `cannot be read: ${(error as Error).message}`;
  }
}
