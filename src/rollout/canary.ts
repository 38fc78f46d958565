import type { EnvironmentName, ResolvedSetup, Site } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import type { LedgerRecord } from '../ledger/types.js';
import type { TargetKey } from './target-key.js';
import { CanaryNotPassedError, UsageError } from '../errors.js';
import { isInShard, parseFailureBudget, parseShard, parseWaves, planWaves } from './waves.js';

/**
 * A sharded pipeline's stages: `canary` deploys the first wave of the whole fleet once;
 * `after-canary` (in every shard) deploys this shard's part of the later waves, once the
 * ledger shows the canary passed.
 */
export type RolloutStage = 'canary' | 'after-canary';

/** What one run of a staged or sharded rollout deploys, planned over the whole fleet. */
export interface FleetShare {
  /** the fleet's waves in order (every selected site, unsharded); the canary is the first */
  waves?: Site[][];
  /** the sites this run deploys */
  sites: Site[];
  /** the fleet's canary wave (after-canary: the sites whose records must show it passed) */
  canary: Site[];
  /** this run's failure budget */
  maxFailures?: number;
  /** how the fleet's budget was shared, said before the run starts */
  budgetNote?: string;
}

export interface FleetShareOptions {
  stage?: RolloutStage;
  waves?: string;
  shard?: string;
  maxFailures?: string;
}

/**
 * Plans this run's share of a fleet rollout from every selected site, so each shard and the
 * canary job compute the same canary and the same budget split without talking to each
 * other. Usage errors (exit 2) come before anything is written.
 */
export function planFleetShare(fleet: Site[], options: FleetShareOptions): FleetShare {
  const { stage, shard: shardText } = options;
  if (stage && !options.waves) {
    throw new UsageError(`--${stage === 'canary' ? 'canary-only' : 'after-canary'} needs --waves: the first wave is the canary`, {
      hint: 'e.g. --waves 1,10%,100%, the same in the canary job and in every shard',
    });
  }
  if (stage === 'canary' && shardText) {
    throw new UsageError('--canary-only runs the canary once for the whole fleet and takes no --shard', {
      hint: 'run the canary in one job, then the shards with --after-canary --shard i/n',
    });
  }
  if (!stage && shardText && options.waves) {
    throw new UsageError('--waves with --shard would run a canary in every shard', {
      hint: 'run the first wave once with `ozg deploy --waves … --canary-only`, then each shard with `--waves … --after-canary --shard i/n` (see Fleet rollouts in the README)',
    });
  }
  const shard = shardText ? parseShard(shardText) : undefined;
  const waves = options.waves ? planWaves(fleet, parseWaves(options.waves)) : undefined;
  const canary = waves?.[0] ?? [];
  const canaryNames = new Set(canary.map((s) => s.name));
  // the budget is the fleet's: a percentage is of every selected site, as without shards
  const budget = options.maxFailures !== undefined ? parseFailureBudget(options.maxFailures, fleet.length) : undefined;

  if (stage === 'canary') return { waves, sites: canary, canary, ...(budget !== undefined ? { maxFailures: budget } : {}) };
  const after = stage === 'after-canary' ? fleet.filter((s) => !canaryNames.has(s.name)) : fleet;
  const sites = shard ? after.filter((s) => isInShard(s.name, shard)) : after;
  const share: FleetShare = { ...(waves ? { waves } : {}), sites, canary };
  if (budget === undefined) return share;
  if (!shard) return { ...share, maxFailures: budget };
  const sizes = Array.from({ length: shard.count }, (_, i) => after.filter((s) => isInShard(s.name, { index: i + 1, count: shard.count })).length);
  const shares = splitFailureBudget(budget, sizes);
  return {
    ...share,
    maxFailures: shares[shard.index - 1]!,
    budgetNote:
      `failure budget: ${shares[shard.index - 1]} of the fleet's ${budget} for shard ${shard.index}/${shard.count} ` +
      `(shares ${shares.join('+')}, by each shard's ${sizes.join('/')} site(s)); this shard stops once more than its share failed`,
  };
}

/**
 * Shares a fleet's failure budget among shards in proportion to their sites (largest
 * remainder, ties to the lower shard), so the shares add up to the budget exactly and every
 * shard computes the same split on its own.
 */
export function splitFailureBudget(budget: number, sizes: number[]): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total === 0) return sizes.map(() => 0);
  const exact = sizes.map((size) => (budget * size) / total);
  const shares = exact.map(Math.floor);
  let left = budget - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((value, index) => ({ index, rest: value - Math.floor(value) })).sort((a, b) => b.rest - a.rest || a.index - b.index);
  for (const { index } of order) {
    if (left === 0) break;
    shares[index]! += 1;
    left -= 1;
  }
  return shares;
}

export interface CanaryCheckDeps {
  environmentsOf(site: Site): EnvironmentName[];
  renderBundle(item: ResolvedSetup, environment: EnvironmentName): Promise<Bundle>;
  /** the last live-making record of a target in this ledger */
  recorded(key: TargetKey): LedgerRecord | undefined;
}

/**
 * The canary passed when, for every target of every canary site, the ledger's last
 * live-making record is an applied (or adopted) release of exactly the bundle this run
 * would deploy: a failed apply, a closed test gate or a prod rollback leaves another bundle
 * (or none) recorded there, and so does a canary of other versions or values.
 */
export async function checkCanaryPassed(canaryItems: ResolvedSetup[], deps: CanaryCheckDeps): Promise<void> {
  const problems: string[] = [];
  for (const item of canaryItems) {
    for (const environment of deps.environmentsOf(item.site)) {
      const bundle = await deps.renderBundle(item, environment);
      const key = { site: item.site.name, environment, procedure: item.procedure.name };
      const record = deps.recorded(key);
      const where = `${key.site}/${environment}/${key.procedure}`;
      if (!record) problems.push(`${where}: no release recorded in the ledger (desired ${bundle.version})`);
      else if (record.hash !== bundle.hash || record.outcome === 'rolled-back') {
        problems.push(`${where}: the ledger's last release is ${record.version} (${record.outcome}, bundle ${record.hash.slice(0, 8)}), not the desired ${bundle.version} (bundle ${bundle.hash.slice(0, 8)})`);
      }
    }
  }
  if (problems.length === 0) return;
  const sites = [...new Set(canaryItems.map((i) => i.site.name))];
  throw new CanaryNotPassedError(`the canary wave (${sites.join(', ')}) has not passed; no site of this shard was started:\n  ${problems.join('\n  ')}`, {
    hint: 'run the canary stage first (`ozg deploy --waves … --canary-only`, same waves and selection), then `ozg ledger merge <its ledger>` here before `--after-canary`',
  });
}
