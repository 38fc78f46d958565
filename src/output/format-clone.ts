import { formatProblem } from '../errors.js';
import type { CloneResult } from '../clone/clone-procedure.js';
import { describeSecretRef } from '../inventory/secrets.js';
import { formatRolloutSummary } from './format-rollout.js';

/** `clone-procedure` for people: the diff first, then what was cloned, what is left to do, and what to run next. */
export function formatCloneResult(result: CloneResult): string {
  const lines: string[] = [];
  if (result.diff) lines.push(result.diff.replace(/\n$/, ''), '');
  for (const setup of result.procedures) {
    lines.push(`${setup.procedure} ${setup.version}: ${result.from} → ${result.to}${setup.replaced ? ' (replaces its setup)' : ''}`);
    const values = result.siteValues.filter((value) => value.procedure === setup.procedure);
    const fromFacts = values.filter((value) => value.source === 'fact').map((value) => `${value.field} (facts.${value.fact})`);
    const kept = values.filter((value) => value.source === 'kept').map((value) => value.field);
    if (fromFacts.length > 0) lines.push(`  from ${result.to}'s facts: ${fromFacts.join(', ')}`);
    if (kept.length > 0) lines.push(`  kept from ${result.to}'s own setup: ${kept.join(', ')}`);
  }
  if (!result.changed) lines.push(`no changes: ${result.to} already has this setup`);
  else if (result.written) lines.push(`written to ${result.inventory}`);
  else lines.push('not written (dry run): pass --write to apply it');

  const missing = result.secretsToProvide.filter((secret) => !secret.provided);
  if (result.placeholders.length > 0 || missing.length > 0) {
    lines.push(result.written || !result.changed ? 'left to do:' : 'left to do (positions as after --write):');
    for (const placeholder of result.placeholders) lines.push(`  ${formatProblem(placeholder)}`);
    for (const secret of missing) lines.push(`  secret ${secret.secret} (${secret.procedure}): provide ${describeSecretRef(secret.ref)}, or change ${secret.path}`);
  }
  const provided = result.secretsToProvide.filter((secret) => secret.provided);
  if (provided.length > 0) lines.push(`secrets provided: ${provided.map((secret) => `${secret.secret} (${describeSecretRef(secret.ref)})`).join(', ')}`);

  if (result.deploy) lines.push('', formatRolloutSummary(result.deploy));
  if (result.deploySkipped) lines.push(`not deployed: ${result.deploySkipped}`);
  if (result.nextCommand) lines.push(`next: ${result.nextCommand}`);
  return lines.join('\n');
}
