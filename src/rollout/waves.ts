import type { Site } from '../inventory/types.js';
import { UsageError } from '../errors.js';
import { checkSelectorLabels, matchesSelector, parseSelector, type LabelledSite } from '../inventory/select.js';

/** One entry of `--waves`: a cumulative count, a cumulative percentage, or a label selector. */
export type WaveSpec = { kind: 'count'; count: number } | { kind: 'percent'; percent: number } | { kind: 'selector'; selector: string };

/**
 * Parses `--waves 1,10%,100%` or `--waves ring=canary,ring=main`. Counts and percentages
 * are cumulative (10% means "until a tenth of the sites are done"); a selector takes every
 * remaining site that matches. Sites left over after the last entry form a final wave.
 */
export function parseWaves(text: string): WaveSpec[] {
  const specs = text.split(',').map((part) => part.trim());
  if (specs.some((s) => s === '')) throw new UsageError(`--waves "${text}" has an empty entry`, { hint: 'e.g. --waves 1,10%,100% or --waves ring=canary,ring=main' });
  return specs.map((spec): WaveSpec => {
    if (/^\d+$/.test(spec)) {
      const count = Number(spec);
      if (count < 1) throw new UsageError(`--waves entry "${spec}" must be at least 1`);
      return { kind: 'count', count };
    }
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(spec);
    if (percent) {
      const value = Number(percent[1]);
      if (value <= 0 || value > 100) throw new UsageError(`--waves entry "${spec}" must be a percentage above 0 and at most 100`);
      return { kind: 'percent', percent: value };
    }
    if (spec.includes('=')) {
      parseSelector(spec);
      return { kind: 'selector', selector: spec };
    }
    throw new UsageError(`--waves entry "${spec}" is neither a count, a percentage nor a label selector`, { hint: 'e.g. --waves 1,10%,100% or --waves ring=canary,ring=main' });
  });
}

/** Splits sites (in inventory order) into waves; every site lands in exactly one, none empty. */
export function planWaves<T extends LabelledSite = Site>(sites: readonly T[], specs: readonly WaveSpec[], options: { rest?: boolean } = {}): T[][] {
  const waves: T[][] = [];
  const assigned = new Set<string>();
  const remaining = () => sites.filter((s) => !assigned.has(s.name));
  for (const spec of specs) {
    let wave: T[];
    if (spec.kind === 'selector') {
      const requirements = parseSelector(spec.selector);
      wave = remaining().filter((s) => matchesSelector(s, requirements));
    } else {
      const target = spec.kind === 'count' ? spec.count : Math.ceil((sites.length * spec.percent) / 100);
      wave = remaining().slice(0, Math.max(0, target - assigned.size));
    }
    for (const site of wave) assigned.add(site.name);
    if (wave.length > 0) waves.push(wave);
  }
  const rest = remaining();
  if (rest.length > 0 && options.rest !== false) waves.push(rest);
  return waves;
}

/** `--max-failures 3` or `--max-failures 5%` (of the selected sites): how many may fail before the rollout stops. */
export function parseFailureBudget(text: string, siteCount: number): number {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (percent) return Math.floor((siteCount * Number(percent[1])) / 100);
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  throw new UsageError(`--max-failures "${text}" must be a number or a percentage`, { hint: 'e.g. --max-failures 0 or --max-failures 5%' });
}

/** `--shard 2/4`: this runner's share of the sites, chosen by a stable hash of the site name. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard "${text}" must be i/n with 1 ≤ i ≤ n`, { hint: 'e.g. --shard 1/4 in the first of four parallel CI jobs' });
  }
  return { index, count };
}

/**
 * Whether a site belongs to shard i of n. A hash of the name (not its position) keeps a site
 * on the same runner when other sites are added or removed.
 */
export function isInShard(siteName: string, shard: { index: number; count: number }): boolean {
  let hash = 0x811c9dc5; // FNV-1a, 32 bit
  for (const char of Buffer.from(siteName, 'utf8')) {
    hash ^= char;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shard.count === shard.index - 1;
}

/**
 * Refuses waves that would silently drop: a selector wave naming labels no site has, or
 * matching none of the selected sites, would leave the canary out and send every site in
 * one wave. Checked when a rollout starts, never on `--resume` (a finished canary wave is
 * rightly empty then).
 */
export function checkWaves(selected: readonly LabelledSite[], specs: readonly WaveSpec[], everySite: readonly LabelledSite[]): void {
  for (const spec of specs) {
    if (spec.kind !== 'selector') continue;
    const requirements = parseSelector(spec.selector);
    checkSelectorLabels(everySite, requirements, `--waves entry "${spec.selector}"`);
    if (!selected.some((site) => matchesSelector(site, requirements))) {
      throw new UsageError(`--waves entry "${spec.selector}" matches none of the ${selected.length} selected site(s): the wave would be dropped`, {
        hint: 'select sites that include the wave, or change the wave',
      });
    }
  }
}
