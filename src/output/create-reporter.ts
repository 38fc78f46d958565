import { Chalk } from 'chalk';
import type { ChalkInstance, ColorSupportLevel } from 'chalk';
import type { Reporter } from '../events.js';
import { createJsonReporter } from './json-reporter.js';
import { createPlainReporter } from './plain-reporter.js';

export type ReporterMode = 'json' | 'plain' | 'tty';

export interface CreateReporterOptions {
  /** `--json` */
  json: boolean;
  /** `--color` / `--no-color`; undefined: decide from the terminal and the environment */
  color?: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** whether stderr (where progress goes) is a terminal */
  isTTY: boolean;
  env: Record<string, string | undefined>;
}

/** The reporter for how ozg was invoked. Async so that ora loads only for a terminal. */
export async function createReporter(options: CreateReporterOptions): Promise<Reporter> {
  const mode = chooseReporterMode(options);
  if (mode === 'json') return createJsonReporter(options.stdout);
  const style = createStyle(resolveColorLevel({ ...options, isTTY: mode === 'tty' }));
  if (mode === 'plain') return createPlainReporter(options, style);
  const { createTtyReporter } = await import('./tty-reporter.js');
  return createTtyReporter(options, style);
}

export function chooseReporterMode(options: Pick<CreateReporterOptions, 'json' | 'isTTY' | 'env'>): ReporterMode {
  if (options.json) return 'json';
  // CI logs keep every byte: a spinner there turns into thousands of redraw lines
  if (!options.isTTY || isCI(options.env) || options.env.TERM === 'dumb') return 'plain';
  return 'tty';
}

/**
 * Colour level: --json never, --no-color never, then FORCE_COLOR (it overrides NO_COLOR, as in
 * Node itself), then NO_COLOR, then whatever the terminal supports; not a terminal, no colour.
 */
export function resolveColorLevel(options: Pick<CreateReporterOptions, 'json' | 'color' | 'isTTY' | 'env'>): ColorSupportLevel {
  const { env } = options;
  if (options.json || options.color === false) return 0;
  const forced = parseForceColor(env.FORCE_COLOR);
  if (forced !== undefined) return forced;
  if (options.color === true) return Math.max(1, detectTerminalLevel(env)) as ColorSupportLevel;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  return options.isTTY ? detectTerminalLevel(env) : 0;
}

export function createStyle(level: ColorSupportLevel): ChalkInstance {
  return new Chalk({ level });
}

function parseForceColor(value: string | undefined): ColorSupportLevel | undefined {
  if (value === undefined) return undefined;
  if (value === '0' || value === 'false') return 0;
  if (value === '2') return 2;
  if (value === '3') return 3;
  return 1;
}

function detectTerminalLevel(env: Record<string, string | undefined>): ColorSupportLevel {
  if (env.TERM === 'dumb') return 0;
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return 3;
  if (env.TERM?.includes('256')) return 2;
  return 1;
}

function isCI(env: Record<string, string | undefined>): boolean {
  const value = env.CI;
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}
