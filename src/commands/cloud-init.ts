import path from 'node:path';
import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { createSiteSeed } from '../cloud-init/site-seed.js';
import { formatCloudInitResult } from '../output/format-cloud-init.js';

interface CloudInitFlags {
  env: EnvironmentName;
  out?: string;
  iso?: string | boolean;
  publicKey?: string[];
  hostname?: string;
  package?: string[];
  withProcedures?: boolean;
  includeSecrets?: boolean;
  replace?: boolean;
}

const BASE_PACKAGES = ['ca-certificates', 'curl', 'sudo', 'tar'];

export async function run(context: CommandContext, site: string, flags: CloudInitFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'cloud-init' });
  try {
    const outDir = path.resolve(context.cwd, flags.out ?? path.join('seeds', `${site}-${flags.env}`));
    const isoPath = flags.iso === undefined || flags.iso === false ? undefined : flags.iso === true ? `${outDir}.iso` : path.resolve(context.cwd, flags.iso);
    const result = await createSiteSeed(workspace, {
      site,
      environment: flags.env,
      outDir,
      isoPath,
      publicKeyFiles: (flags.publicKey ?? []).map((f) => path.resolve(context.cwd, f)),
      hostname: flags.hostname,
      packages: [...BASE_PACKAGES, ...(flags.package ?? [])],
      withProcedures: Boolean(flags.withProcedures),
      includeSecrets: Boolean(flags.includeSecrets),
      replace: Boolean(flags.replace),
      homeDir: context.env.HOME,
    });
    if (result.secretFiles.length > 0) {
      context.reporter.emit({
        type: 'warning',
        message:
          `the seed holds secret values in clear text (--include-secrets): ${result.secretFiles.join(', ')}. ` +
          'Anyone who can read user-data, the ISO or the VM\'s metadata can read them; the seed files are written 0600: ' +
          'delete them once the VM has booted and keep them out of version control and shared storage',
      });
    }
    context.reporter.result(result, () => formatCloudInitResult(result, context.cwd));
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
