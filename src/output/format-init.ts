import path from 'node:path';
import { quoteShell } from '../shell-quote.js';

/** What `ozg init` did: the project folder (absolute) and its files, relative to it. */
export interface InitResult {
  directory: string;
  written: string[];
  /** secret files `--force` left as they were */
  kept: string[];
}

export function formatInitResult(result: InitResult, cwd: string): string {
  const where = path.relative(cwd, result.directory) || '.';
  const lines = [`created an ozg project in ${where}: sites.yaml, procedures/, .gitignore, .gitlab-ci.yml, secrets/ (mode 0600, not in git)`];
  if (result.kept.length > 0) lines.push(`kept the existing ${result.kept.join(', ')}`);
  lines.push(where === '.' ? 'next: ozg deploy' : `next: cd ${/^[\w./-]+$/.test(where) ? where : quoteShell(where)} && ozg deploy`);
  return lines.join('\n');
}
