import path from 'node:path';
import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { createSiteSeed, type SiteSeedResult } from '../cloud-init/site-seed.js';

interface CloudInitFlags {
  env: EnvironmentName;
  out?: string;
  iso?: string | boolean;
  publicKey?: string[];
  hostname?: string;
  package?: string[];
  withProcedures?: boolean;
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
      replace: Boolean(flags.replace),
      homeDir: context.env.HOME,
    });
    context.reporter.result(result, () => formatSeed(result, context.cwd));
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}

function formatSeed(result: SiteSeedResult, cwd: string): string {
  const lines = [`seed for ${result.site}/${result.environment} (${result.hostname}, instance ${result.instanceId}) in ${path.relative(cwd, result.outDir) || '.'}`];
  for (const key of result.hostKeys) lines.push(`  host key ${key.type} ${key.fingerprint}`);
  if (result.knownHosts) lines.push(`  known_hosts ${result.knownHosts.file}: ${result.knownHosts.status}`);
  if (result.iso) lines.push(`  ISO ${result.iso.path} (built with ${result.iso.tool})`);
  if (result.procedures.length) lines.push(`  first boot installs ${result.procedures.join(', ')}`);
  lines.push('  user-data holds private host keys: it is written 0600; keep it out of version control');
  return lines.join('\n');
}
