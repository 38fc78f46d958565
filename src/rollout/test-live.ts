import pLimit from 'p-limit';
import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import type { SmokeResult } from '../smoke/types.js';
import { describeError, ExitCode } from '../errors.js';
import { isUnrecordedRelease, planTarget } from './plan.js';
import { elapsedMs } from '../clock.js';
import type { Workspace } from '../workspace/workspace.js';

/** One target as `ozg test` found it: the live release and its smoke results. */
export interface LiveTest {
  site: string;
  environment: EnvironmentName;
  procedure: string;
  version?: string;
  release?: string;
  status: 'passed' | 'failed' | 'not-deployed' | 'error';
  smoke: SmokeResult[];
  error?: string;
}

/** `ozg test`'s result: the smoke checks of what is live on each selected target. */
export interface TestResult {
  targets: LiveTest[];
}

export function exitCodeForTest(result: TestResult): number {
  if (result.targets.some((t) => t.status === 'error')) return ExitCode.unreachable;
  return result.targets.some((t) => t.status === 'failed') ? ExitCode.testGateFailed : ExitCode.ok;
}

/**
 * Runs the smoke checks of what is live now. The checks come from the live version's
 * template (not the desired one), so an older release is judged by its own checks.
 */
export async function testLive(workspace: Workspace, items: ResolvedSetup[], only?: EnvironmentName): Promise<TestResult> {
  const deps = workspace.pipelineDeps();
  const limit = pLimit(Math.max(1, workspace.inventory.concurrency));
  const jobs = items.flatMap((item) =>
    workspace.environmentsOf(item.site, only).map((environment) =>
      limit(async (): Promise<LiveTest> => {
        const row: LiveTest = { site: item.site.name, environment, procedure: item.procedure.name, status: 'not-deployed', smoke: [] };
        const started = deps.clock.monotonicMs();
        try {
          const driver = await workspace.driver(item.site, environment);
          const live = await driver.live(item.procedure.name);
          if (!live) return row;
          const procedure = workspace.catalogue.get(item.procedure.name, live.version) ?? item.procedure;
          const bundle = await workspace.renderBundle({ ...item, procedure }, environment);
          row.version = live.version;
          row.release = live.release;
          row.smoke = await driver.smoke(item.procedure.name, bundle.smoke);
          for (const result of row.smoke) deps.reporter.emit({ type: 'smoke-result', site: row.site, environment, procedure: row.procedure, result });
          row.status = row.smoke.every((r) => r.passed) ? 'passed' : 'failed';
          // the desired release live but missing from the ledger (a deploy killed before its record): passing, it is recorded as live
          const desired = row.status === 'passed' ? await workspace.renderBundle(item, environment).catch(() => undefined) : undefined;
          const adopted = desired !== undefined && isUnrecordedRelease(planTarget(desired, live, workspace.recorded(row)));
          await deps.record({
            site: row.site,
            environment,
            procedure: row.procedure,
            version: live.version,
            hash: live.hash,
            release: live.release,
            outcome: adopted ? 'adopted' : row.status === 'passed' ? 'tested' : 'smoke-failed',
            smoke: row.smoke,
            durationMs: elapsedMs(deps.clock, started),
          });
        } catch (error) {
          row.status = 'error';
          row.error = describeError(error);
        }
        return row;
      }),
    ),
  );
  return { targets: await Promise.all(jobs) };
}
