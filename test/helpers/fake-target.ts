import type { Bundle } from '../../src/procedure/types.js';
import type { SmokeResult } from '../../src/smoke/types.js';
import type { ApplyResult, LiveRelease, RollbackResult, TargetDriver } from '../../src/targets/driver.js';

/**
 * A target that keeps its releases in memory, like the VM driver keeps them in directories.
 * Tests of the pipeline and the scheduler drive it; `beforeApply` lets a test hold an apply
 * open (to count what runs at once) or fail it.
 */
export class FakeTarget implements TargetDriver {
  readonly description: string;
  releases: LiveRelease[] = [];
  calls: string[] = [];
  smokePasses = true;
  applyError?: Error;
  liveError?: Error;
  beforeApply?: (bundle: Bundle) => Promise<void>;

  constructor(name: string) {
    this.description = name;
  }
  async live() {
    this.calls.push('live');
    if (this.liveError) throw this.liveError;
    return this.releases.at(-1);
  }
  async apply(bundle: Bundle, releaseId: string): Promise<ApplyResult> {
    this.calls.push('apply');
    await this.beforeApply?.(bundle);
    if (this.applyError) throw this.applyError;
    const current = this.releases.at(-1);
    if (current?.hash === bundle.hash) return { status: 'unchanged', live: current };
    const live: LiveRelease = { procedure: bundle.procedure, version: bundle.version, hash: bundle.hash, release: releaseId, deployedAt: 'now' };
    this.releases.push(live);
    return { status: 'applied', live, previous: current };
  }
  async smoke(): Promise<SmokeResult[]> {
    this.calls.push('smoke');
    return [{ name: 'ok', passed: this.smokePasses, attempts: 1, durationMs: 1, detail: this.smokePasses ? 'exit 0' : 'exit 1 (expected 0)' }];
  }
  async rollback(_procedure?: string, _toRelease?: string): Promise<RollbackResult> {
    this.calls.push('rollback');
    if (this.releases.length < 2) return { status: 'nothing-to-roll-back', reason: 'no previous release' };
    this.releases.pop();
    return { status: 'rolled-back', live: this.releases.at(-1)! };
  }
  async close() {}
}
