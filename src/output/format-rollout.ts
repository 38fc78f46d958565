import { formatProblem } from '../errors.js';
import { formatHold } from './format-plan.js';
import type { RolloutResult } from '../rollout/rollout.js';

export interface RolloutSummaryOptions {
  /** Ctrl-C or SIGTERM ended the run: say what was done, what was not, and how to go on */
  interrupted?: boolean;
  /** the exact command that continues the rollout */
  resumeCommand?: string;
}

/** Summary lines fit a 100-column terminal; a longer name is cut with "…" (--json has it whole). */
const WIDTH = 100;
const SITE_WIDTH = 24;
const PROCEDURE_WIDTH = 32;

/**
 * The end-of-run summary for people: a row per site and procedure that something happened to,
 * in aligned columns, each failure's detail indented below it. What did not change is
 * collapsed: a site's unchanged procedures into one row, whole unchanged or unstarted sites
 * into one line each, so a fleet re-deploy reads in a screen.
 */
export function formatRolloutSummary(result: RolloutResult, options: RolloutSummaryOptions = {}): string {
  const rows: { cells: string[]; details: string[] }[] = [];
  const collapsed = new Map<string, string[]>();
  const counts = new Map<string, number>();
  const invalid: string[] = [];
  for (const site of result.sites) {
    const kind = site.problems ? 'invalid' : site.result;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    if (site.problems) {
      // whole, not in the columns: the problems are what the operator has to read
      invalid.push(`${site.site}  failed: invalid input, not deployed`, ...site.problems.map((p) => `    ${formatProblem(p)}`));
      continue;
    }
    const holds = site.items.some((item) => item.environments.some((e) => e.status === 'held'));
    if (site.items.length === 0 || (site.result === 'unchanged' && !holds)) {
      const group = site.result === 'unchanged' ? 'unchanged' : `${site.result}${site.reason ? ` (${site.reason})` : ''}`;
      collapsed.set(group, [...(collapsed.get(group) ?? []), site.site]);
      continue;
    }
    const unchanged = site.items.filter((item) => item.environments.every((e) => e.status === 'unchanged'));
    for (const item of site.items) {
      if (unchanged.includes(item)) continue;
      // each failure's error below its row, and the error's hint below that
      const details = item.environments.flatMap((e) =>
        e.error
          ? [`    ${e.environment}: ${e.error.split('\n').join('\n    ')}`, ...(e.hint ? [`      hint: ${e.hint.split('\n').join('\n      ')}`] : [])]
          : e.status === 'held' && e.hold
            ? [`    ${e.environment}: ${formatHold(e.hold)}`]
            : [],
      );
      rows.push({ cells: [site.site, `${item.procedure} ${item.version}`, ...item.environments.map((e) => `${e.environment}: ${e.status}`)], details });
    }
    if (unchanged.length > 0) rows.push({ cells: [site.site, `${unchanged.length} procedure(s) unchanged`], details: [] });
  }
  const lines = [...alignRows(rows), ...invalid];
  for (const [group, sites] of collapsed) lines.push(listSites(`${group}: ${sites.length} site(s)`, sites));
  const total = [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`${result.sites.length} site(s): ${total || 'nothing selected'}`);
  const held = result.sites.flatMap((s) => s.items.flatMap((i) => i.environments)).filter((e) => e.status === 'held').length;
  if (held > 0) lines.push(`${held} target(s) held by a rollback and skipped: \`ozg unhold <site> -p <procedure> -e <env>\` releases one`);
  if (options.interrupted) lines.push(...describeInterruption(result, options.resumeCommand));
  return lines.join('\n');
}

/** Columns padded to the widest cell (site and procedure capped), two spaces apart; details below their row. */
function alignRows(rows: { cells: string[]; details: string[] }[]): string[] {
  const caps = [SITE_WIDTH, PROCEDURE_WIDTH];
  const cut = (cell: string, c: number) => (caps[c] !== undefined ? truncate(cell, caps[c]) : cell);
  const widths: number[] = [];
  for (const { cells } of rows) cells.forEach((cell, c) => (widths[c] = Math.max(widths[c] ?? 0, [...cut(cell, c)].length)));
  return rows.flatMap(({ cells, details }) => [
    cells
      .map((cell, c) => cut(cell, c).padEnd(c === cells.length - 1 ? 0 : widths[c]))
      .join('  ')
      .trimEnd(),
    ...details,
  ]);
}

/** `unchanged: 120 site(s): kiel, luebeck, … and 117 more`, within the line width. */
function listSites(head: string, sites: string[]): string {
  const shown: string[] = [];
  for (const [i, site] of sites.entries()) {
    const remaining = sites.length - i - 1;
    const candidate = `${head}: ${[...shown, site].join(', ')}${remaining > 0 ? `, … and ${remaining} more` : ''}`;
    if (shown.length > 0 && [...candidate].length > WIDTH) break;
    shown.push(site);
  }
  const left = sites.length - shown.length;
  return `${head}: ${shown.join(', ')}${left > 0 ? `, … and ${left} more` : ''}`;
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : chars.slice(0, width - 1).join('') + '…';
}

/** Sites done, stopped between two steps, and not started; then the command that goes on. */
function describeInterruption(result: RolloutResult, resumeCommand = 'ozg deploy --resume'): string[] {
  const skipped = result.sites.filter((s) => s.result === 'skipped');
  const partWay = skipped.filter((s) => s.items.length > 0).length;
  const parts = [`${result.sites.length - skipped.length} site(s) done`, ...(partWay > 0 ? [`${partWay} stopped between steps`] : []), `${skipped.length - partWay} not started`];
  return [`interrupted: ${parts.join(', ')}.`, `continue with: ${resumeCommand}`];
}
