import type { EnvironmentName } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import { InvalidInputError, RenderError, type Problem } from '../errors.js';
import type { WorkItem } from './work-item.js';
import type { Workspace } from './workspace.js';

/**
 * Renders every selected bundle, collecting every render error instead of stopping at the
 * first, so one `ozg validate` shows all template problems at once.
 */
export async function renderAll(
  workspace: Workspace,
  items: WorkItem[],
  options: { redactSecrets: boolean; only?: EnvironmentName },
): Promise<Bundle[]> {
  const bundles: Bundle[] = [];
  const problems: Problem[] = [];
  for (const item of items) {
    for (const environment of workspace.environmentsOf(item.site, options.only)) {
      try {
        bundles.push(await workspace.renderBundle(item, environment, { redactSecrets: options.redactSecrets }));
      } catch (error) {
        if (!(error instanceof RenderError)) throw error;
        problems.push({
          file: error.template,
          line: error.line ?? 1,
          col: error.col ?? 1,
          path: `sites.${item.site.name}.procedures.${item.procedure.name}`,
          message: `${environment}: ${error.message}`,
        });
      }
    }
  }
  if (problems.length > 0) throw new InvalidInputError(dedupe(problems));
  return bundles;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.col}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
