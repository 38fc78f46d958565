import type { FleetReport, ReportCell, ReportEvent, ReportRollout, ReportSite, ReportState, ReportTarget, ReportVersions } from '../../src/report/types.js';

/**
 * A deterministic fleet report model for the report page's tests, bench and screenshot: the
 * same options give the same model, byte for byte. States are mixed in fixed proportions; every
 * failed cell has a smoke-failed event with the failing check's output in its site's timeline.
 * Type imports only: bench/report.mjs and scripts/report-screenshot.mjs transpile this file.
 */
export interface ReportModelOptions {
  sites: number;
  procedures?: string[];
  /** live markers read (unreachable occurs only then) */
  live?: boolean;
  seed?: number;
}

const ORDER: ReportState[] = ['failed', 'unreachable', 'drift', 'held', 'pending', 'up-to-date', 'not-deployed'];
const STEMS = ['alten', 'bach', 'berg', 'birken', 'eich', 'fels', 'grün', 'hoch', 'lin', 'mühl', 'neu', 'ober', 'ros', 'sand', 'stein', 'tann', 'unter', 'wald', 'weiß', 'wiesen'];
const ENDS = ['au', 'bach', 'berg', 'burg', 'dorf', 'feld', 'hausen', 'heim', 'hof', 'ingen', 'kirchen', 'stadt', 'tal', 'walde'];
const DISTRICTS = ['nord', 'ost', 'sued', 'west', 'mitte'];
const RINGS = ['canary', 'early', 'main', 'main', 'main'];
const DATA_CENTERS = ['rz-nord', 'rz-mitte', 'rz-sued'];
const VERSIONS: Record<string, string[]> = { bauantrag: ['3.2.0', '3.1.4', '3.1.2'], meldewesen: ['1.8.0', '1.7.3'], wohngeld: ['2.5.1', '2.5.0', '2.4.9'] };

/** Park–Miller: small, deterministic, good enough to mix states. */
function makeRandom(seed: number): () => number {
  let state = seed % 2147483647 || 1;
  return () => (state = (state * 48271) % 2147483647) / 2147483647;
}

function pickState(random: () => number, live: boolean): ReportState {
  const r = random();
  if (r < 0.03) return 'failed';
  if (r < 0.05) return live ? 'unreachable' : 'pending';
  if (r < 0.07) return 'drift';
  if (r < 0.09) return 'held';
  if (r < 0.17) return 'pending';
  if (r < 0.2) return 'not-deployed';
  return 'up-to-date';
}

function versionsOf(procedure: string): string[] {
  return VERSIONS[procedure] ?? ['1.1.0', '1.0.0'];
}

function target(state: ReportState, desired: string, onTarget: string | null, live: boolean, reason?: string): ReportTarget {
  const t: ReportTarget = { state, desired, live: live ? onTarget : null, recorded: onTarget };
  if (reason) t.reason = reason;
  return t;
}

function makeCell(procedure: string, state: ReportState, live: boolean): ReportCell {
  const [desired, previous, older] = versionsOf(procedure);
  const ok = (version: string) => target('up-to-date', desired, version, live);
  switch (state) {
    case 'failed':
      return { procedure, state, test: target('failed', desired, previous, live, 'smoke check http-health failed: HTTP 503'), prod: target('pending', desired, previous, live) };
    case 'unreachable':
      return { procedure, state, test: ok(desired), prod: { state, desired, live: null, recorded: previous, reason: 'ssh: connect to host timed out after 10 s' } };
    case 'drift':
      return { procedure, state, test: ok(desired), prod: { state, desired, live: older ?? previous, recorded: desired, reason: `live ${older ?? previous} differs from recorded ${desired}` } };
    case 'held':
      return { procedure, state, test: ok(desired), prod: target('held', desired, previous, live, `rolled back from ${desired}; held until ozg unhold`) };
    case 'pending':
      return { procedure, state, test: ok(desired), prod: target('pending', desired, previous, live) };
    case 'not-deployed':
      return { procedure, state, test: target('not-deployed', desired, null, live), prod: target('not-deployed', desired, null, live) };
    default:
      return { procedure, state, test: ok(desired), prod: ok(desired) };
  }
}

function worst(states: ReportState[]): ReportState {
  return ORDER[Math.min(...states.map((s) => ORDER.indexOf(s)))];
}

function makeTimeline(site: string, cells: ReportCell[], base: number): ReportEvent[] {
  const events: ReportEvent[] = [];
  cells.forEach((cell, i) => {
    if (cell.state === 'not-deployed') return;
    const [desired, previous] = versionsOf(cell.procedure);
    const time = (minutes: number) => new Date(base - minutes * 60_000).toISOString();
    const event = (minutes: number, environment: 'test' | 'prod', version: string, outcome: string): ReportEvent => ({
      time: time(minutes), run: `20261204T${String(10 + (minutes % 12)).padStart(2, '0')}0000Z-${(i + 1).toString(16).padStart(8, 'a')}`,
      environment, procedure: cell.procedure, version, outcome, durationMs: 1_200 + ((minutes * 37) % 9_000), checks: [{ name: 'http-health', ok: true }],
    });
    if (cell.state === 'failed') {
      const failed = event(10 + i, 'test', desired, 'smoke-failed');
      failed.error = 'smoke check http-health failed';
      failed.checks = [{ name: 'http-health', ok: false, output: `GET https://${site}.test.example/health → 503 Service Unavailable\n{"status":"down","db":"timeout after 5000 ms"}` }, { name: 'version-endpoint', ok: true }];
      events.push(failed);
    } else if (cell.state !== 'pending') {
      events.push(event(30 + i, 'prod', cell.state === 'held' ? previous : desired, cell.state === 'held' ? 'rolled-back' : 'applied'));
    }
    events.push(event(60 + i, 'test', cell.state === 'failed' ? previous : desired, 'applied'));
    events.push(event(2_000 + i, 'prod', previous, 'applied'));
  });
  return events.sort((a, b) => b.time.localeCompare(a.time));
}

function siteName(i: number): string {
  return `${STEMS[(i * 7) % STEMS.length]}${ENDS[(i * 3 + Math.floor(i / STEMS.length)) % ENDS.length]}-${String(i + 1).padStart(4, '0')}`;
}

function makeSite(i: number, procedures: string[], random: () => number, live: boolean, base: number): ReportSite {
  const name = siteName(i);
  // every 17th site is new: nothing deployed anywhere yet
  const cells = procedures.map((p) => makeCell(p, i % 17 === 16 ? 'not-deployed' : pickState(random, live), live));
  return {
    name,
    dataCenter: DATA_CENTERS[i % DATA_CENTERS.length],
    labels: { district: DISTRICTS[Math.floor(random() * DISTRICTS.length)], ring: RINGS[i % RINGS.length] },
    state: worst(cells.map((c) => c.state)),
    cells,
    timeline: makeTimeline(name, cells, base),
  };
}

function countVersions(sites: ReportSite[], procedure: string, env: 'test' | 'prod'): { version: string; sites: number }[] {
  const counts = new Map<string, number>();
  for (const site of sites) {
    const t = site.cells.find((c) => c.procedure === procedure)?.[env];
    const version = t?.live ?? t?.recorded;
    if (version) counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  return [...counts].map(([version, n]) => ({ version, sites: n })).sort((a, b) => b.sites - a.sites || b.version.localeCompare(a.version));
}

function makeRollout(sites: ReportSite[], base: number): ReportRollout {
  const failures = sites.flatMap((s) => s.cells.filter((c) => c.state === 'failed').map((c) => ({ site: s.name, procedure: c.procedure, environment: 'test' as const, reason: 'smoke check http-health failed: HTTP 503' })));
  const waves = ['canary', 'early', 'main'].map((name) => {
    const inWave = sites.filter((s) => (s.labels.ring === name));
    return { name, sites: inWave.length, failed: inWave.filter((s) => s.state === 'failed').length };
  });
  const targets = sites.length * 2;
  return {
    run: '20261204T220000Z-5f3c2a1b', actor: 'deploy@ci-runner-3', started: new Date(base - 47 * 60_000).toISOString(), finished: new Date(base - 9 * 60_000).toISOString(),
    durationMs: 38 * 60_000 + 12_400, sites: sites.length, targets,
    outcomes: { applied: targets - failures.length * 2, 'smoke-failed': failures.length, skipped: failures.length },
    failures, waves,
  };
}

/** A report for `sites` sites with mixed states, deterministic for the same options. */
export function makeReportModel(options: ReportModelOptions): FleetReport {
  const procedures = options.procedures ?? ['bauantrag', 'meldewesen', 'wohngeld'];
  const live = options.live ?? true;
  const random = makeRandom(options.seed ?? 16);
  const base = Date.UTC(2026, 11, 4, 23, 0, 0);
  const sites = Array.from({ length: options.sites }, (_, i) => makeSite(i, procedures, random, live, base));
  const counts = Object.fromEntries(ORDER.map((s) => [s, sites.filter((site) => site.state === s).length])) as Record<ReportState, number>;
  const versions: ReportVersions[] = procedures.map((procedure) => ({ procedure, prod: countVersions(sites, procedure, 'prod'), test: countVersions(sites, procedure, 'test') }));
  return {
    generatedAt: new Date(base).toISOString(),
    inventory: 'sites.yaml',
    live,
    procedures,
    labelKeys: ['district', 'ring'],
    counts,
    sites,
    lastRollout: makeRollout(sites, base),
    versions,
  };
}
