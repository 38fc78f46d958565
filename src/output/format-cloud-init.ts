import path from 'node:path';
import type { CloudInitResult } from '../cloud-init/site-seed.js';

/** `ozg cloud-init` for people: what the seed holds and where it is, paths relative to `cwd`. */
export function formatCloudInitResult(result: CloudInitResult, cwd: string): string {
  const lines = [`seed for ${result.site}/${result.environment} (${result.hostname}, instance ${result.instanceId}) in ${path.relative(cwd, result.outDir) || '.'}`];
  for (const key of result.hostKeys) lines.push(`  host key ${key.type} ${key.fingerprint}`);
  if (result.knownHosts) lines.push(`  known_hosts ${result.knownHosts.file}: ${result.knownHosts.status}`);
  if (result.iso) lines.push(`  ISO ${result.iso.path} (built with ${result.iso.tool})`);
  if (result.procedures.length) lines.push(`  first boot installs ${result.procedures.join(', ')}`);
  if (result.fragments.length) lines.push(`  user-data includes the cloud-init fragments ${result.fragments.join(', ')}`);
  if (result.secretFiles.length) lines.push(`  user-data holds secret values in clear text: ${result.secretFiles.join(', ')}`);
  lines.push('  user-data holds private host keys: it is written 0600; keep it out of version control');
  return lines.join('\n');
}
