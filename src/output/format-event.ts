import type { ChalkInstance } from 'chalk';
import type { OzgEvent } from '../events.js';
import type { SmokeResult } from '../smoke/types.js';

/** One line (continuation lines indented) per event, for logs and CI: the plain reporter's format. */
export function formatEventLine(event: OzgEvent, style: ChalkInstance): string {
  switch (event.type) {
    case 'run-started':
      return `run ${event.run}: ${event.command} on ${countSites(event.sites)}`;
    case 'wave-started':
      return `wave ${event.wave}/${event.waves}: ${countSites(event.sites.length)} (${event.sites.join(', ')})`;
    case 'site-started':
      return `${event.site}: started`;
    case 'step':
      return `${event.site} ${event.environment} ${event.procedure} ${event.step}: ${indentContinuation(event.message)}`;
    case 'smoke-result':
      return `${event.site} ${event.environment} ${event.procedure} smoke: ${formatSmokeResult(event.result, style)}`;
    case 'recorded': {
      const r = event.record;
      const details = [r.release ? `release ${r.release}` : undefined, `hash ${r.hash.slice(0, 12)}`].filter(Boolean).join(', ');
      return `${r.site} ${r.environment} ${r.procedure} record: ${r.outcome} ${r.version} (${details})`;
    }
    case 'site-finished': {
      const outcome = event.outcome === 'failed' ? style.red('FAILED') : event.outcome === 'ok' ? style.green('ok') : event.outcome;
      return `${event.site}: ${outcome}${event.error ? `: ${indentContinuation(event.error)}` : ''}${event.hint ? `\n    hint: ${indentContinuation(event.hint)}` : ''}`;
    }
    case 'host-key-recorded':
      return formatHostKeyRecorded(event);
    case 'write-failed':
      return formatWriteFailed(event, style);
    case 'warning':
      return `${style.yellow('warning')}: ${indentContinuation(event.message)}`;
    case 'info':
      return indentContinuation(event.message);
    case 'run-finished':
      return `run ${event.run}: ${event.interrupted ? style.yellow('interrupted') : event.ok ? style.green('ok') : style.red('FAILED')} (${formatDuration(event.durationMs)})`;
  }
}

export function formatHostKeyRecorded(event: Extract<OzgEvent, { type: 'host-key-recorded' }>): string {
  return `${event.site} ${event.environment}: recorded host key of ${event.endpoint}: ${event.keyType} ${event.fingerprint} in ${event.knownHostsFile}${event.hashed ? ' (hashed)' : ''}`;
}

/** The unwritten ledger lines in full, one per line: copied to a file, `ozg ledger merge` takes them. */
export function formatWriteFailed(event: Extract<OzgEvent, { type: 'write-failed' }>, style: ChalkInstance): string {
  const head = `${style.red('error')}: could not write ${event.file}: ${event.error}`;
  return [head, ...event.lines.map((line) => `  not recorded: ${line.replace(/\n$/, '')}`)].join('\n');
}

/** Lines of a failed check's output shown to people (the full tail is in --json, the ledger and JUnit). */
const SMOKE_OUTPUT_LINES = 5;
const SMOKE_OUTPUT_LINE_CHARS = 160;

export function formatSmokeResult(result: SmokeResult, style: ChalkInstance): string {
  const attempts = `${result.attempts} ${result.attempts === 1 ? 'attempt' : 'attempts'}, ${formatDuration(result.durationMs)}`;
  return result.passed
    ? `${result.name} passed (${attempts})`
    : `${result.name} ${style.red('FAILED')}: ${result.detail} (${attempts})${formatCheckOutput(result.output)}`;
}

/**
 * The last lines of what a failed check printed, indented under it: why it failed, as an
 * install hook's failure shows its stderr. Events reach formatters redacted and control-escaped.
 */
function formatCheckOutput(output: string | undefined): string {
  const lines = (output ?? '').replace(/\s+$/, '').split('\n').filter((line) => line.trim() !== '');
  return lines
    .slice(-SMOKE_OUTPUT_LINES)
    .map((line) => `\n      | ${[...line].length > SMOKE_OUTPUT_LINE_CHARS ? [...line].slice(0, SMOKE_OUTPUT_LINE_CHARS - 1).join('') + '…' : line}`)
    .join('');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function countSites(n: number): string {
  return n === 1 ? '1 site' : `${n} sites`;
}

function indentContinuation(text: string): string {
  return text.replace(/\s+$/, '').replace(/\n/g, '\n    ');
}
