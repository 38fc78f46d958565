import type { EnvironmentName } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import { InvalidInputError, RenderError, type Problem } from '../errors.js';
import type { WorkItem } from './work-item.js';
import type { Workspace } from './workspace.js';

/**
 * Renders every selected bundle, collecting every render error and every bundle its target
 * would refuse instead of stopping at the first, so one `ozg validate` shows all template
 * problems at once and `ozg deploy` refuses before it contacts any target.
 */
export async function renderAll(
  workspace: Workspace,
  items: WorkItem[],
  options: { redactSecrets: boolean; only?: EnvironmentName },
): Promise<Bundle[]> {
  const bundles: Bundle[] = [];
  const problems: Problem[] = [];
  const refusalHints = new Set<string>();
  let renderFailed = false;
  for (const item of items) {
    for (const environment of workspace.environmentsOf(item.site, options.only)) {
      try {
        bundles.push(await workspace.renderBundle(item, environment, { redactSecrets: options.redactSecrets }));
      } catch (error) {
        if (error instanceof InvalidInputError) {
          // a bundle its target cannot take: the problems name the rendered file and document
          problems.push(...error.problems);
          if (error.hint) refusalHints.add(error.hint);
          continue;
        }
        if (!(error instanceof RenderError)) throw error;
        renderFailed = true;
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
  // the refusal's own hint when only refusals were found and they all say the same
  const hint = !renderFailed && refusalHints.size === 1 ? [...refusalHints][0] : undefined;
  if (problems.length > 0) throw new InvalidInputError(dedupe(problems), hint ? { hint } : {});
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
