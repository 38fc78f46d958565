/**
 * Smoke check logic, independent of any target driver: a driver supplies how to run a command
 * on its target and how to fetch a URL; retries, timeouts and verdicts live here.
 */
import { lastLines } from '../errors.js';
import type { CommandSmokeCheck, HttpSmokeCheck, SmokeCheck, SmokeResult } from './types.js';
import { systemClock } from '../clock.js';

/** What running a check's command once produced. */
export interface CommandOutcome {
  /** null when killed (timeout or signal) */
  exitCode: number | null;
  /** stdout and stderr, interleaved if the runner can */
  output: string;
  timedOut: boolean;
  /** why the command never ran to an end when the runner knows better than "timed out" (a refused pod) */
  stuck?: string;
}

/** One HTTP response, body read as text. */
export interface HttpResponse {
  status: number;
  body: string;
}

/** Run a check's command on the target, in the live release directory, within `timeoutMs`. */
export type RunCommand = (command: string, timeoutMs: number) => Promise<CommandOutcome>;
/** GET `url`; rejects on a network failure, and with a `TimeoutError` past `timeoutMs`. */
export type FetchHttp = (url: string, timeoutMs: number) => Promise<HttpResponse>;

export interface RunChecksOptions {
  runCommand: RunCommand;
  fetchHttp: FetchHttp;
  /** pause between attempts; injected so tests do not wait */
  sleep?: (ms: number) => Promise<void>;
  /** monotonic milliseconds, for durations */
  now?: () => number;
}

const DEFAULT_TIMEOUT_SECONDS = 10;
const DEFAULT_INTERVAL_SECONDS = 1;
const OUTPUT_LINES = 20;
const OUTPUT_CHARS = 4000;

interface AttemptOutcome {
  passed: boolean;
  detail: string;
  output?: string;
}

export function isCommandCheck(check: SmokeCheck): check is CommandSmokeCheck {
  return 'command' in check;
}

/** Run checks one after another (a later check may rely on an earlier one); one result each. */
export async function runChecks(checks: SmokeCheck[], options: RunChecksOptions): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const check of checks) results.push(await runCheck(check, options));
  return results;
}

/** Run one check, retrying after failed attempts; a failed check is a result, not an exception. */
export async function runCheck(check: SmokeCheck, options: RunChecksOptions): Promise<SmokeResult> {
  const now = options.now ?? systemClock.monotonicMs;
  const sleep = options.sleep ?? sleepFor;
  const timeoutMs = (check.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const maxAttempts = 1 + Math.max(0, Math.floor(check.retries ?? 0));
  const intervalMs = (check.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS) * 1000;
  const started = now();

  let outcome: AttemptOutcome = { passed: false, detail: 'not run' };
  let attempts = 0;
  while (attempts < maxAttempts) {
    if (attempts > 0) await sleep(intervalMs);
    attempts++;
    outcome = isCommandCheck(check)
      ? await attemptCommand(check, timeoutMs, options.runCommand)
      : await attemptHttp(check, timeoutMs, options.fetchHttp);
    if (outcome.passed) break;
  }
  return {
    name: check.name,
    passed: outcome.passed,
    attempts,
    durationMs: Math.round(now() - started),
    detail: outcome.detail,
    ...(outcome.output ? { output: outcome.output } : {}),
  };
}

async function attemptCommand(check: CommandSmokeCheck, timeoutMs: number, runCommand: RunCommand): Promise<AttemptOutcome> {
  const expected = check.expectExitCode ?? 0;
  const result = await runCommand(check.command, timeoutMs);
  const output = trimOutput(result.output);
  if (result.timedOut) return { passed: false, detail: `timed out after ${formatSeconds(timeoutMs)}${result.stuck ? `: ${result.stuck}` : ''}`, output };
  if (result.exitCode === null) return { passed: false, detail: 'killed by a signal', output };
  if (result.exitCode !== expected) return { passed: false, detail: `exit ${result.exitCode} (expected ${expected})`, output };
  return { passed: true, detail: `exit ${result.exitCode}`, output };
}

async function attemptHttp(check: HttpSmokeCheck, timeoutMs: number, fetchHttp: FetchHttp): Promise<AttemptOutcome> {
  const expected = check.http.status ?? 200;
  let response: HttpResponse;
  try {
    response = await fetchHttp(check.http.url, timeoutMs);
  } catch (error) {
    return { passed: false, detail: describeFetchError(error, timeoutMs) };
  }
  const output = trimOutput(response.body);
  if (response.status !== expected) return { passed: false, detail: `status ${response.status} (expected ${expected})`, output };
  const contains = check.http.contains;
  if (contains !== undefined && !response.body.includes(contains)) {
    return { passed: false, detail: `status ${response.status}, body does not contain ${JSON.stringify(contains)}`, output };
  }
  return { passed: true, detail: `status ${response.status}${contains !== undefined ? `, body contains ${JSON.stringify(contains)}` : ''}` };
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${formatSeconds(timeoutMs)}`;
  // fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND) in cause.
  const reason = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
  return `request failed: ${reason}`;
}

/** The first line a bounded transport tail starts with when it had to drop output. */
const DROPPED_LINE = /^… (\d+) bytes dropped\n/;

/** The last lines of a check's output, led by how many bytes before them are not kept (counting what the transport dropped). */
function trimOutput(text: string): string {
  const earlier = Number(DROPPED_LINE.exec(text)?.[1] ?? 0);
  const body = text.replace(DROPPED_LINE, '').replace(/\s+$/, '');
  const tail = lastLines(body, OUTPUT_LINES);
  const kept = tail.length > OUTPUT_CHARS ? tail.slice(-OUTPUT_CHARS) : tail;
  const dropped = earlier + Buffer.byteLength(body) - Buffer.byteLength(kept);
  return dropped > 0 ? `… ${dropped} bytes dropped\n${kept}` : kept;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
