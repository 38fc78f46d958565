/** Which sites a command acts on: named sites, a label selector, or all of them. */
import { UsageError } from '../errors.js';
import { formatSuggestion, suggestName } from '../input/suggest.js';
import type { Site } from './types.js';

export interface SelectSitesOptions {
  /** site names; each must exist */
  sites?: string[];
  /** label selector: `state=SH,ring!=canary`, `ring=a|b`; terms are ANDed */
  selector?: string;
  /** every site (the same as giving neither names nor a selector, but explicit) */
  all?: boolean;
}

/** One term of a label selector. */
export interface LabelRequirement {
  key: string;
  operator: '=' | '!=';
  /** `=`: the label has one of these; `!=`: the label is absent or has none of these */
  values: string[];
}

const TERM = /^([A-Za-z0-9][A-Za-z0-9._/-]*)\s*(!=|==|=)\s*([^=!]+)$/;

/**
 * The selected sites in inventory order. Names and a selector together mean "these sites,
 * if they match". Without names or a selector every site is selected.
 */
export function selectSites<T extends LabelledSite = Site>(inventory: { file: string; sites: readonly T[] }, options: SelectSitesOptions = {}): T[] {
  const names = options.sites?.length ? options.sites : undefined;
  if (options.all && names) throw new UsageError('site names and --all exclude each other', { hint: 'name sites, or use --all (optionally with --selector)' });
  const requirements = options.selector === undefined ? [] : parseSelector(options.selector);
  let sites = inventory.sites;
  if (names) {
    const known = new Set(sites.map((site) => site.name));
    const unknown = [...new Set(names.filter((name) => !known.has(name)))];
    if (unknown.length > 0) {
      const detail = unknown.map((name) => `"${name}"${formatSuggestion(name, known)}`).join(', ');
      throw new UsageError(`unknown site${unknown.length > 1 ? 's' : ''} ${detail}`, { hint: `sites are defined in ${inventory.file}; run \`ozg status\` to list them` });
    }
    const wanted = new Set(names);
    sites = sites.filter((site) => wanted.has(site.name));
  }
  return sites.filter((site) => matchesSelector(site, requirements));
}

/** `state=SH,ring!=canary` → requirements; a UsageError explains a malformed term. */
export function parseSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === '') throw new UsageError('empty --selector', { hint: 'write it as label=value[,label!=value...]' });
  return selector.split(',').map((term) => {
    const match = TERM.exec(term.trim());
    const values = match?.[3].split('|').map((value) => value.trim());
    if (!match || !values || values.some((value) => value === '')) {
      throw new UsageError(`cannot read selector term "${term.trim()}"`, { hint: 'write label=value or label!=value, join terms with "," and alternatives with "|", e.g. state=SH,ring!=canary' });
    }
    return { key: match[1], operator: match[2] === '!=' ? '!=' : '=', values };
  });
}

export function matchesSelector(site: LabelledSite, requirements: readonly LabelRequirement[]): boolean {
  return requirements.every((requirement) => {
    const value = Object.hasOwn(site.labels, requirement.key) ? site.labels[requirement.key] : undefined;
    const listed = value !== undefined && requirement.values.includes(value);
    return requirement.operator === '=' ? listed : !listed;
  });
}

/** A site as a selector sees it: its name and labels (also for sites whose setup is invalid). */
export interface LabelledSite {
  name: string;
  labels: Record<string, string>;
}

/**
 * Refuses a selector that names a label key, or a value of it, that no site has: such a term
 * is a typo far more often than an intent (`ring=canry` would select nothing, `ring!=canry`
 * everything), and a rollout built on it would silently skip the canary. `what` names the flag.
 */
export function checkSelectorLabels(sites: readonly LabelledSite[], requirements: readonly LabelRequirement[], what: string): void {
  const known = new Map<string, Set<string>>();
  for (const site of sites) {
    for (const [key, value] of Object.entries(site.labels)) known.set(key, (known.get(key) ?? new Set()).add(value));
  }
  const faults: string[] = [];
  for (const requirement of requirements) {
    const values = known.get(requirement.key);
    if (!values) {
      const guess = suggestName(requirement.key, known.keys());
      const value = requirement.values.map((v) => (guess ? (suggestName(v, known.get(guess)!) ?? v) : v)).join('|');
      faults.push(`no site has a label "${requirement.key}"${guess ? `; did you mean ${guess}${requirement.operator}${value}?` : ''}`);
      continue;
    }
    for (const value of requirement.values) {
      if (values.has(value)) continue;
      const guess = suggestName(value, values);
      faults.push(`no site has ${requirement.key}=${value}${guess ? `; did you mean ${requirement.key}${requirement.operator}${guess}?` : ''}`);
    }
  }
  if (faults.length === 0) return;
  // a label per municipality would make the hint as long as the inventory: a few values per key
  const labels = [...known].map(([key, values]) => {
    const sorted = [...values].sort();
    return `${key}=${sorted.slice(0, 8).join('|')}${sorted.length > 8 ? `|… (${sorted.length} values)` : ''}`;
  });
  throw new UsageError(`${what}: ${faults.join('; ')}`, {
    hint: labels.length > 0 ? `labels in the inventory: ${labels.join(', ')}` : 'no site in the inventory has labels',
  });
}
