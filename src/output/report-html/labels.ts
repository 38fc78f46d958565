import type { ReportState } from '../../report/types.js';

/**
 * Every word the report page shows, per language. One interface for both, so a label missing
 * in one language is a type error, and test/unit/output/report-html.test.ts checks that every
 * label the client script reads exists.
 */
export interface ReportLabels {
  title: string;
  inventory: string;
  generated: string;
  modeLive: string;
  modeOffline: string;
  modeLiveHint: string;
  modeOfflineHint: string;
  skipToMatrix: string;
  summary: string;
  sitesTotal: string;
  filters: string;
  filterState: string;
  filterAll: string;
  search: string;
  searchPlaceholder: string;
  sort: string;
  sortName: string;
  sortState: string;
  sortDataCenter: string;
  reset: string;
  shown: string;
  matrix: string;
  matrixHint: string;
  site: string;
  dataCenter: string;
  state: string;
  test: string;
  prod: string;
  noSites: string;
  details: string;
  close: string;
  labels: string;
  targets: string;
  environment: string;
  procedure: string;
  desired: string;
  live: string;
  recorded: string;
  reason: string;
  timeline: string;
  noTimeline: string;
  time: string;
  version: string;
  outcome: string;
  duration: string;
  run: string;
  checks: string;
  checkOutput: string;
  error: string;
  lastRollout: string;
  noRollout: string;
  actor: string;
  started: string;
  finished: string;
  targetsCount: string;
  outcomes: string;
  waves: string;
  wave: string;
  sites: string;
  failed: string;
  failures: string;
  noFailures: string;
  more: string;
  versions: string;
  versionsHint: string;
  noVersions: string;
  none: string;
  states: Record<ReportState, string>;
  outcomeNames: Record<string, string>;
}

export type ReportLanguage = 'de' | 'en';

/** Symbols that carry the state without colour (and without the word, in the dense matrix). */
export const stateSymbols: Record<ReportState, string> = {
  'up-to-date': '✓',
  pending: '↻',
  failed: '✗',
  drift: '≠',
  held: '‖',
  unreachable: '?',
  'not-deployed': '–',
};

const en: ReportLabels = {
  title: 'ozg fleet report',
  inventory: 'Inventory',
  generated: 'Generated',
  modeLive: 'live',
  modeOffline: 'offline',
  modeLiveHint: 'live markers read from the targets',
  modeOfflineHint: 'ledger only, targets not contacted',
  skipToMatrix: 'Skip to the site matrix',
  summary: 'Sites by state',
  sitesTotal: 'sites',
  filters: 'Filter and sort',
  filterState: 'State',
  filterAll: 'all',
  search: 'Search site',
  searchPlaceholder: 'site name',
  sort: 'Sort by',
  sortName: 'site name',
  sortState: 'state (worst first)',
  sortDataCenter: 'data center',
  reset: 'Reset filters',
  shown: '{shown} of {total} sites shown',
  matrix: 'Sites and procedures',
  matrixHint: 'Arrow keys move between sites, Enter opens a site, Escape closes it.',
  site: 'Site',
  dataCenter: 'Data center',
  state: 'State',
  test: 'test',
  prod: 'prod',
  noSites: 'No site matches the filters.',
  details: 'Site details',
  close: 'Close',
  labels: 'Labels',
  targets: 'Targets',
  environment: 'Environment',
  procedure: 'Procedure',
  desired: 'Desired',
  live: 'Live',
  recorded: 'Recorded',
  reason: 'Reason',
  timeline: 'Timeline',
  noTimeline: 'Nothing recorded for this site.',
  time: 'Time',
  version: 'Version',
  outcome: 'Outcome',
  duration: 'Duration',
  run: 'Run',
  checks: 'Smoke checks',
  checkOutput: 'Output of the failed check',
  error: 'Error',
  lastRollout: 'Last rollout',
  noRollout: 'No rollout recorded yet.',
  actor: 'By',
  started: 'Started',
  finished: 'Finished',
  targetsCount: 'targets',
  outcomes: 'Outcomes',
  waves: 'Waves',
  wave: 'Wave',
  sites: 'Sites',
  failed: 'Failed',
  failures: 'Failures',
  noFailures: 'No failures.',
  more: '… and {count} more',
  versions: 'Versions in use',
  versionsHint: 'Sites per version, by procedure and environment.',
  noVersions: 'no version recorded',
  none: '—',
  states: {
    'up-to-date': 'up to date',
    pending: 'pending',
    failed: 'failed',
    drift: 'drift',
    held: 'held',
    unreachable: 'unreachable',
    'not-deployed': 'not deployed',
  },
  outcomeNames: {
    applied: 'applied',
    unchanged: 'unchanged',
    'smoke-failed': 'smoke failed',
    'apply-failed': 'apply failed',
    'rolled-back': 'rolled back',
    tested: 'tested',
    skipped: 'skipped',
    adopted: 'adopted',
    'hold-released': 'hold released',
  },
};

const de: ReportLabels = {
  title: 'ozg-Flottenbericht',
  inventory: 'Inventar',
  generated: 'Erstellt',
  modeLive: 'live',
  modeOffline: 'offline',
  modeLiveHint: 'Live-Marker von den Zielen gelesen',
  modeOfflineHint: 'nur das Ledger, Ziele nicht kontaktiert',
  skipToMatrix: 'Zur Standort-Matrix springen',
  summary: 'Standorte nach Zustand',
  sitesTotal: 'Standorte',
  filters: 'Filtern und sortieren',
  filterState: 'Zustand',
  filterAll: 'alle',
  search: 'Standort suchen',
  searchPlaceholder: 'Standortname',
  sort: 'Sortieren nach',
  sortName: 'Standortname',
  sortState: 'Zustand (schlechteste zuerst)',
  sortDataCenter: 'Rechenzentrum',
  reset: 'Filter zurücksetzen',
  shown: '{shown} von {total} Standorten angezeigt',
  matrix: 'Standorte und Verfahren',
  matrixHint: 'Pfeiltasten wechseln den Standort, Enter öffnet ihn, Escape schließt ihn.',
  site: 'Standort',
  dataCenter: 'Rechenzentrum',
  state: 'Zustand',
  test: 'Test',
  prod: 'Prod',
  noSites: 'Kein Standort passt zu den Filtern.',
  details: 'Standortdetails',
  close: 'Schließen',
  labels: 'Labels',
  targets: 'Ziele',
  environment: 'Umgebung',
  procedure: 'Verfahren',
  desired: 'Soll',
  live: 'Live',
  recorded: 'Protokolliert',
  reason: 'Grund',
  timeline: 'Verlauf',
  noTimeline: 'Für diesen Standort ist nichts protokolliert.',
  time: 'Zeit',
  version: 'Version',
  outcome: 'Ergebnis',
  duration: 'Dauer',
  run: 'Lauf',
  checks: 'Smoke-Checks',
  checkOutput: 'Ausgabe des fehlgeschlagenen Checks',
  error: 'Fehler',
  lastRollout: 'Letzter Rollout',
  noRollout: 'Noch kein Rollout protokolliert.',
  actor: 'Von',
  started: 'Begonnen',
  finished: 'Beendet',
  targetsCount: 'Ziele',
  outcomes: 'Ergebnisse',
  waves: 'Wellen',
  wave: 'Welle',
  sites: 'Standorte',
  failed: 'Fehlgeschlagen',
  failures: 'Fehler',
  noFailures: 'Keine Fehler.',
  more: '… und {count} weitere',
  versions: 'Eingesetzte Versionen',
  versionsHint: 'Standorte je Version, nach Verfahren und Umgebung.',
  noVersions: 'keine Version protokolliert',
  none: '—',
  states: {
    'up-to-date': 'aktuell',
    pending: 'ausstehend',
    failed: 'fehlgeschlagen',
    drift: 'Abweichung',
    held: 'angehalten',
    unreachable: 'nicht erreichbar',
    'not-deployed': 'nicht ausgerollt',
  },
  outcomeNames: {
    applied: 'ausgerollt',
    unchanged: 'unverändert',
    'smoke-failed': 'Smoke-Check fehlgeschlagen',
    'apply-failed': 'Ausrollen fehlgeschlagen',
    'rolled-back': 'zurückgerollt',
    tested: 'getestet',
    skipped: 'übersprungen',
    adopted: 'übernommen',
    'hold-released': 'Sperre aufgehoben',
  },
};

export const reportLabels: Record<ReportLanguage, ReportLabels> = { de, en };
