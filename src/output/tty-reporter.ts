import type { ChalkInstance } from 'chalk';
import ora from 'ora';
import type { Ora } from 'ora';
import type { OzgEvent, Reporter } from '../events.js';
import { countSites, formatDuration, formatHostKeyRecorded, formatSmokeResult, formatWriteFailed } from './format-event.js';
import { writeResult } from './plain-reporter.js';

/** Sites shown under the spinner at once; a terminal full of spinners helps nobody. */
const MAX_ACTIVE_LINES = 4;

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A person at a terminal: one spinner on stderr showing what the running sites are doing,
 * a coloured ✔/✖ line per finished site, results on stdout.
 */
export function createTtyReporter(
  streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream & { columns?: number } },
  style: ChalkInstance,
): Reporter {
  const { stdout, stderr } = streams;
  // Each site's current step (uncoloured, so it can be cut to the terminal width);
  // Map order keeps the earliest-started sites on top.
  const active = new Map<string, string>();
  const progress = { total: 0, finished: 0 };
  const spinner: Ora = ora({
    stream: stderr,
    isEnabled: true,
    // raw-mode stdin would swallow Ctrl-C; the CLI's SIGINT handler must see it
    discardStdin: false,
    // ora colours its frame with the global chalk, which ignores --no-color: colour it ourselves
    color: false,
    spinner: { interval: 80, frames: FRAMES.map((f) => style.cyan(f)) },
  });

  const refresh = () => {
    if (active.size === 0) {
      if (spinner.isSpinning) spinner.stop();
      return;
    }
    const width = Math.max(20, (stderr.columns ?? 80) - 3);
    const lines = [...active.entries()]
      .slice(0, MAX_ACTIVE_LINES)
      .map(([site, doing]) => `${style.bold(site)} ${truncate(doing, width - site.length - 1)}`);
    if (active.size > MAX_ACTIVE_LINES) lines.push(style.dim(`… and ${countSites(active.size - MAX_ACTIVE_LINES)} more`));
    if (progress.total > 1) lines.unshift(formatProgressBar(progress.finished, progress.total, Math.min(30, width - 20), style));
    const text = lines.join('\n  ');
    if (spinner.isSpinning) spinner.text = text;
    else spinner.start(text);
  };

  // A finished line goes above the spinner, which is redrawn below it.
  const persist = (line: string) => {
    if (spinner.isSpinning) spinner.clear();
    stderr.write(line + '\n');
    if (spinner.isSpinning) spinner.render();
  };

  return {
    emit(event: OzgEvent) {
      switch (event.type) {
        case 'run-started':
          progress.total = event.sites;
          persist(style.dim(`${event.command}: ${countSites(event.sites)} (run ${event.run})`));
          return;
        case 'wave-started':
          if (event.waves > 1) persist(style.bold(`wave ${event.wave}/${event.waves}: ${countSites(event.sites.length)}`));
          return;
        case 'site-started':
          active.set(event.site, 'starting');
          refresh();
          return;
        case 'step':
          active.set(event.site, `${event.environment} ${event.procedure} ${event.step}: ${firstLine(event.message)}`);
          refresh();
          return;
        case 'smoke-result':
          if (event.result.passed) {
            active.set(event.site, `${event.environment} ${event.procedure} smoke: ${formatSmokeResult(event.result, style)}`);
            refresh();
          } else {
            persist(`  ${style.red('✖')} ${event.site} ${event.environment} ${event.procedure} smoke: ${formatSmokeResult(event.result, style)}`);
          }
          return;
        case 'recorded':
          // the site's ✔/✖ line says it; the record itself is for `ozg history`
          return;
        case 'site-finished':
          progress.finished += 1;
          active.delete(event.site);
          persist(formatFinishedSite(event, style));
          refresh();
          return;
        case 'host-key-recorded':
          persist(`${style.yellow('⚠')} ${formatHostKeyRecorded(event)}`);
          return;
        case 'write-failed':
          persist(formatWriteFailed(event, style));
          return;
        case 'warning':
          persist(`${style.yellow('⚠')} ${event.message}`);
          return;
        case 'info':
          persist(event.message);
          return;
        case 'run-finished':
          active.clear();
          refresh();
          persist(
            event.interrupted
              ? `${style.yellow('■')} interrupted after ${formatDuration(event.durationMs)}: the steps in flight were finished and recorded`
              : event.ok
                ? `${style.green('✔')} done in ${formatDuration(event.durationMs)}`
                : `${style.red('✖')} finished with failures in ${formatDuration(event.durationMs)}`,
          );
          return;
      }
    },
    result(_value: unknown, human: () => string) {
      // a result is the last thing a command says: the spinner is done
      if (spinner.isSpinning) spinner.stop();
      writeResult(stdout, human());
    },
    close() {
      if (spinner.isSpinning) spinner.stop();
    },
    printsResultValue: false,
  };
}

function formatFinishedSite(event: Extract<OzgEvent, { type: 'site-finished' }>, style: ChalkInstance): string {
  const hint = event.hint ? `\n    ${style.dim('hint:')} ${event.hint.replace(/\s+$/, '').replace(/\n/g, '\n    ')}` : '';
  const error = event.error ? `: ${event.error.replace(/\s+$/, '').replace(/\n/g, '\n    ')}${hint}` : '';
  switch (event.outcome) {
    case 'ok':
      return `${style.green('✔')} ${event.site}`;
    case 'unchanged':
      return `${style.dim('=')} ${event.site} ${style.dim('unchanged')}`;
    case 'skipped':
      return `${style.yellow('-')} ${event.site} ${style.yellow('skipped')}${error}`;
    case 'failed':
      return `${style.red('✖')} ${event.site} ${style.red('failed')}${error}`;
  }
}

function firstLine(text: string): string {
  const [first = ''] = text.split('\n');
  return first;
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : chars.slice(0, Math.max(1, width - 1)).join('') + '…';
}

/** `[██████░░░░░░] 12/200 sites`: the whole rollout at a glance, above the running sites. */
export function formatProgressBar(done: number, total: number, width: number, style: ChalkInstance): string {
  const filled = Math.round((Math.min(done, total) / Math.max(1, total)) * width);
  return `[${style.green('█'.repeat(filled))}${style.dim('░'.repeat(Math.max(0, width - filled)))}] ${done}/${countSites(total)}`;
}
