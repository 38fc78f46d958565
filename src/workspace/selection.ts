import type { ResolvedSetup } from '../inventory/types.js';
import type { InvalidSite, ProjectBySite } from '../inventory/load-by-site.js';
import { checkSelectorLabels, parseSelector, selectSites, type LabelledSite } from '../inventory/select.js';
import { ExitCode, formatProblem, UsageError, type Problem } from '../errors.js';
import { checkWaves, isInShard, parseShard, parseWaves } from '../rollout/waves.js';
import { formatSuggestion } from '../input/suggest.js';

/** Which sites and procedures a command acts on. */
export interface SelectionFlags {
  sites?: string[];
  selector?: string;
  procedure?: string[];
  /** `i/n`: this runner's share of the selected sites */
  shard?: string;
}

/** The selected work: the valid sites' setups, and the selected sites left out for their own problems. */
export interface SiteSelection {
  items: ResolvedSetup[];
  invalid: InvalidSite[];
  /** procedure versions with problems that no selected site uses: warnings, never a stop */
  unusedVersionProblems: Problem[];
}

/**
 * Names, selector, procedures and shard → the selection. A selector naming a label key or
 * value no site has, or matching no site at all, is a usage error (a typo must never turn a
 * canary rollout into an everyone-at-once one, nor an empty run that forgets the last one).
 */
export function selectWork(project: ProjectBySite, flags: SelectionFlags): SiteSelection {
  const { catalogue } = project;
  const shard = flags.shard ? parseShard(flags.shard) : undefined;
  const chosenSites = selectLabelled(project.everySite, project.inventory.file, flags);
  const chosen = new Set(chosenSites.filter((site) => !shard || isInShard(site.name, shard)).map((site) => site.name));
  const wanted = flags.procedure?.length ? new Set(flags.procedure) : undefined;
  if (wanted) {
    const known = [...new Set([...catalogue.names(), ...[...project.versionProblems.keys()].map((key) => key.slice(0, key.lastIndexOf('@')))])].sort();
    for (const name of wanted) if (!known.includes(name)) throw new UsageError(`unknown procedure "${name}"${formatSuggestion(name, known)}`, { hint: `known: ${known.join(', ')}` });
  }
  const used = new Set([...chosen].flatMap((site) => project.versionsUsed.get(site) ?? []));
  const unusedVersionProblems = [...project.versionProblems].filter(([version]) => !used.has(version)).flatMap(([, problems]) => problems);
  return {
    items: project.items.filter((item) => chosen.has(item.site.name) && (!wanted || wanted.has(item.procedure.name))),
    invalid: project.invalidSites.filter((site) => chosen.has(site.name)),
    unusedVersionProblems: [...unusedVersionProblems, ...project.strayProblems],
  };
}

/** The selection's checks alone, before a command takes the lock or writes anything. */
export function checkSelection(project: ProjectBySite, flags: SelectionFlags & { waves?: string }): void {
  const selected = selectLabelled(project.everySite, project.inventory.file, flags);
  if (flags.waves) checkWaves(selected, parseWaves(flags.waves), project.everySite);
}

function selectLabelled(everySite: LabelledSite[], file: string, flags: SelectionFlags): LabelledSite[] {
  const sites = selectSites({ file, sites: everySite }, { sites: flags.sites, selector: flags.selector });
  if (flags.selector !== undefined) {
    checkSelectorLabels(everySite, parseSelector(flags.selector), `--selector "${flags.selector}"`);
    if (sites.length === 0) {
      const among = flags.sites?.length ? `none of the named sites (${flags.sites.join(', ')})` : 'no site';
      throw new UsageError(`--selector "${flags.selector}" matches ${among}`, { hint: 'run `ozg status` to see the sites and their labels' });
    }
  }
  return sites;
}

/** One warning per invalid site: what a read-only command leaves out, with every problem. */
export function describeInvalidSite(site: InvalidSite): string {
  return `site ${site.name} left out: its setup is invalid (${site.problems.length} problem(s)):\n${site.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`;
}

/**
 * A command's exit code once selected sites were left out for their own problems: input
 * errors occurred (3), unless the command's own code is worse (unreachable, interrupted).
 * `plan`'s "changes pending" (10) gives way too: the plan is incomplete.
 */
export function exitCodeWithInvalidSites(code: number, invalid: readonly InvalidSite[]): number {
  if (invalid.length === 0) return code;
  return code === ExitCode.ok || code === ExitCode.changesPending ? ExitCode.invalidInput : code;
}
