import path from 'node:path';
import type { Workspace } from '../../src/workspace/workspace.js';
import { openWorkspace } from '../../src/workspace/workspace.js';
import { planTargets } from '../../src/rollout/inspect.js';
import { validateWorkspace } from '../../src/rollout/render-all.js';
import { copyToTemp, removeTemp, repoRoot } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/**
 * Issue 14 (Germany scale): commands that look at each bundle once do not keep them for the
 * run, and plan/status close a site's drivers once the site is read.
 */
describe('workspace memory over many sites', () => {
  let dir: string;
  let workspace: Workspace;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    await writeProbeInventory(dir, { version: '1.0.0', count: 3 });
    workspace = await openWorkspace(
      {
        cwd: dir,
        env: { ...process.env },
        inventoryPath: 'sites.yaml',
        reporter: { emit() {}, result() {}, close() {} },
        signal: new AbortController().signal,
        acceptNewHostKeys: false,
      },
      { lock: false, command: 'plan', secrets: false },
    );
  });
  afterEach(async () => {
    await workspace.close();
    await removeTemp(dir);
  });

  it('keeps a rendered bundle for the run by default, and renders afresh with keep: false', async () => {
    const [item] = workspace.selectItems({});
    const kept = await workspace.renderBundle(item!, 'test');
    expect(await workspace.renderBundle(item!, 'test')).toBe(kept);
    const once = await workspace.renderBundle(item!, 'prod', { keep: false });
    const again = await workspace.renderBundle(item!, 'prod', { keep: false });
    expect(again).not.toBe(once);
    expect(again.hash).toBe(once.hash);
    // a kept bundle is still found by a caller that does not keep
    expect(await workspace.renderBundle(item!, 'test', { keep: false })).toBe(kept);
  });

  it('validate counts every bundle without keeping them', async () => {
    const result = await validateWorkspace(workspace, 'sites.yaml');
    expect(result.bundles).toBe(6);
    // had validate kept its bundles, both calls would get the kept one
    const [item] = workspace.selectItems({});
    const first = await workspace.renderBundle(item!, 'test', { keep: false });
    expect(await workspace.renderBundle(item!, 'test', { keep: false })).not.toBe(first);
  });

  it('plan releases each site once, after its last target was read', async () => {
    const log: string[] = [];
    const watched: Workspace = {
      ...workspace,
      driver: (site, environment) => {
        log.push(`read ${site.name} ${environment}`);
        return workspace.driver(site, environment);
      },
      releaseSite: (site) => {
        log.push(`release ${site}`);
        return workspace.releaseSite(site);
      },
    };
    const result = await planTargets(watched, watched.selectItems({}));
    expect(result.targets).toHaveLength(6);
    expect(result.pending).toBe(6);
    for (const site of ['site-001', 'site-002', 'site-003']) {
      const releases = log.flatMap((line, i) => (line === `release ${site}` ? [i] : []));
      expect(releases).toHaveLength(1);
      const lastRead = Math.max(log.lastIndexOf(`read ${site} test`), log.lastIndexOf(`read ${site} prod`));
      expect(lastRead).toBeGreaterThanOrEqual(0);
      expect(releases[0]).toBeGreaterThan(lastRead);
    }
  });
});
