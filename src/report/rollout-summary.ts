import type { LabelledSite } from '../inventory/select.js';
import { parseWaves, planWaves } from '../rollout/waves.js';
import type { RolloutState } from '../rollout/rollout-state.js';
import type { RunAggregate } from './ledger-pass.js';
import { describeFailure } from './target-state.js';
import type { ReportRollout } from './types.js';

/**
 * The newest run, summed up for people. Waves are not in the ledger: they come from the
 * rollout state (`.ozg/rollout.json`) when it belongs to this run and had `--waves`, planned
 * again over the run's sites in inventory order as the deploy planned them.
 */
export function summarizeRollout(run: RunAggregate, options: { redact(text: string): string; everySite: readonly LabelledSite[]; rollout?: RolloutState }): ReportRollout {
  const failures = run.failed.map((record) => ({ site: record.site, procedure: record.procedure, environment: record.environment, reason: options.redact(describeFailure(record)) }));
  return {
    run: run.run,
    actor: run.actor,
    started: run.started,
    finished: run.finished,
    durationMs: Math.max(0, Date.parse(run.finished) - Date.parse(run.started)) || 0,
    sites: run.sites.size,
    targets: run.targets,
    outcomes: { ...run.outcomes },
    failures,
    waves: summarizeWaves(run, options.everySite, options.rollout),
  };
}

function summarizeWaves(run: RunAggregate, everySite: readonly LabelledSite[], rollout: RolloutState | undefined): ReportRollout['waves'] {
  if (!rollout || rollout.run !== run.run || !rollout.plan.waves) return [];
  let specs;
  try {
    specs = parseWaves(rollout.plan.waves);
  } catch {
    return []; // a state file edited by hand: no waves rather than no report
  }
  const names = rollout.plan.waves.split(',').map((part) => part.trim());
  const failedSites = new Set(run.failed.map((record) => record.site));
  const sites = everySite.filter((site) => run.sites.has(site.name));
  const count = (wave: LabelledSite[], name: string) => ({ name, sites: wave.length, failed: wave.filter((site) => failedSites.has(site.name)).length });
  // planWaves leaves empty waves out: plan each prefix of the specs to know which spec a wave is
  const waves: ReportRollout['waves'] = [];
  let planned = 0;
  for (let k = 1; k <= specs.length; k++) {
    const prefix = planWaves(sites, specs.slice(0, k), { rest: false });
    if (prefix.length > planned) waves.push(count(prefix.at(-1)!, names[k - 1]!));
    planned = prefix.length;
  }
  const all = planWaves(sites, specs);
  if (all.length > planned) waves.push(count(all.at(-1)!, 'rest'));
  return waves;
}
