import { runCheck, runChecks, type CommandOutcome, type FetchHttp, type HttpResponse, type RunCommand } from '../../../src/smoke/run-checks.js';
import type { SmokeCheck } from '../../../src/smoke/types.js';

/** A command runner that answers from a script of outcomes and records every call. */
function scriptedCommands(outcomes: Partial<CommandOutcome>[]): RunCommand & { calls: { command: string; timeoutMs: number }[] } {
  const calls: { command: string; timeoutMs: number }[] = [];
  const run = async (command: string, timeoutMs: number): Promise<CommandOutcome> => {
    calls.push({ command, timeoutMs });
    const next = outcomes[Math.min(calls.length - 1, outcomes.length - 1)];
    return { exitCode: 0, output: '', timedOut: false, ...next };
  };
  return Object.assign(run, { calls });
}

/** An HTTP fetcher answering from a script; an entry without a status is thrown instead of returned. */
function scriptedHttp(answers: (HttpResponse | Error | DOMException)[]): FetchHttp & { calls: { url: string; timeoutMs: number }[] } {
  const calls: { url: string; timeoutMs: number }[] = [];
  const fetchHttp = async (url: string, timeoutMs: number): Promise<HttpResponse> => {
    calls.push({ url, timeoutMs });
    const next = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (!('status' in next)) throw next;
    return next;
  };
  return Object.assign(fetchHttp, { calls });
}

const unusedHttp: FetchHttp = async () => {
  throw new Error('no HTTP expected');
};
const unusedCommand: RunCommand = async () => {
  throw new Error('no command expected');
};

function recordingSleep(): ((ms: number) => Promise<void>) & { waits: number[] } {
  const waits: number[] = [];
  return Object.assign(async (ms: number) => void waits.push(ms), { waits });
}

/** A clock that advances 5 ms per reading, so durations are deterministic. */
function steppingClock(): () => number {
  let t = 1000;
  return () => (t += 5);
}

describe('command checks', () => {
  it('passes on exit 0 by default and runs once', async () => {
    const runCommand = scriptedCommands([{ exitCode: 0, output: 'config ok\n' }]);
    const sleep = recordingSleep();
    const result = await runCheck({ name: 'config', command: 'sh hooks/check.sh' }, { runCommand, fetchHttp: unusedHttp, sleep, now: steppingClock() });
    expect(result).toEqual({ name: 'config', passed: true, attempts: 1, durationMs: 5, detail: 'exit 0', output: 'config ok' });
    expect(runCommand.calls).toEqual([{ command: 'sh hooks/check.sh', timeoutMs: 10_000 }]);
    expect(sleep.waits).toEqual([]);
  });

  it('retries after failures, waiting the interval between attempts, and reports the attempt that passed', async () => {
    const runCommand = scriptedCommands([{ exitCode: 1 }, { exitCode: 2 }, { exitCode: 0 }]);
    const sleep = recordingSleep();
    const result = await runCheck(
      { name: 'warm', command: 'true', retries: 5, intervalSeconds: 2, timeoutSeconds: 3 },
      { runCommand, fetchHttp: unusedHttp, sleep },
    );
    expect(result.passed).toBe(true);
    expect(result.attempts).toBe(3);
    expect(sleep.waits).toEqual([2000, 2000]);
    expect(runCommand.calls.map((c) => c.timeoutMs)).toEqual([3000, 3000, 3000]);
  });

  it('gives up after 1 + retries attempts with the last failure as detail', async () => {
    const runCommand = scriptedCommands([{ exitCode: 1, output: 'line1\nboom\n' }]);
    const sleep = recordingSleep();
    const result = await runCheck({ name: 'c', command: 'false', retries: 2 }, { runCommand, fetchHttp: unusedHttp, sleep });
    expect(result).toMatchObject({ passed: false, attempts: 3, detail: 'exit 1 (expected 0)', output: 'line1\nboom' });
    expect(sleep.waits).toEqual([1000, 1000]);
  });

  it('compares against expectExitCode', async () => {
    const options = { fetchHttp: unusedHttp, sleep: recordingSleep() };
    const check: SmokeCheck = { name: 'refuses', command: 'x', expectExitCode: 3 };
    expect(await runCheck(check, { ...options, runCommand: scriptedCommands([{ exitCode: 3 }]) })).toMatchObject({ passed: true, detail: 'exit 3' });
    expect(await runCheck(check, { ...options, runCommand: scriptedCommands([{ exitCode: 0 }]) })).toMatchObject({
      passed: false,
      detail: 'exit 0 (expected 3)',
    });
  });

  it('reports a timed-out attempt as a timeout, not as an exit code', async () => {
    const runCommand = scriptedCommands([{ exitCode: null, timedOut: true }]);
    const result = await runCheck({ name: 'slow', command: 'sleep 60', timeoutSeconds: 0.5 }, { runCommand, fetchHttp: unusedHttp, sleep: recordingSleep() });
    expect(result).toMatchObject({ passed: false, attempts: 1, detail: 'timed out after 0.5 s' });
    expect(runCommand.calls[0].timeoutMs).toBe(500);
  });

  it('reports a command killed by a signal', async () => {
    const runCommand = scriptedCommands([{ exitCode: null }]);
    expect(await runCheck({ name: 'k', command: 'x' }, { runCommand, fetchHttp: unusedHttp })).toMatchObject({ passed: false, detail: 'killed by a signal' });
  });

  it('lets a transport fault escape: an unreachable target is not a failed check', async () => {
    const runCommand: RunCommand = async () => {
      throw new Error('connection lost');
    };
    await expect(runCheck({ name: 'c', command: 'x', retries: 3 }, { runCommand, fetchHttp: unusedHttp, sleep: recordingSleep() })).rejects.toThrow(
      'connection lost',
    );
  });
});

describe('HTTP checks', () => {
  it('passes on status 200 by default', async () => {
    const fetchHttp = scriptedHttp([{ status: 200, body: 'hello' }]);
    const result = await runCheck({ name: 'h', http: { url: 'http://x/health' } }, { runCommand: unusedCommand, fetchHttp });
    expect(result).toMatchObject({ passed: true, attempts: 1, detail: 'status 200' });
    expect(fetchHttp.calls).toEqual([{ url: 'http://x/health', timeoutMs: 10_000 }]);
  });

  it('fails on another status than expected and shows the body', async () => {
    const fetchHttp = scriptedHttp([{ status: 503, body: 'starting' }]);
    const result = await runCheck({ name: 'h', http: { url: 'http://x/' } }, { runCommand: unusedCommand, fetchHttp });
    expect(result).toMatchObject({ passed: false, detail: 'status 503 (expected 200)', output: 'starting' });
  });

  it('compares against a declared status', async () => {
    const fetchHttp = scriptedHttp([{ status: 401, body: '' }]);
    expect(await runCheck({ name: 'h', http: { url: 'u', status: 401 } }, { runCommand: unusedCommand, fetchHttp })).toMatchObject({ passed: true });
  });

  it('requires the body to contain the given text', async () => {
    const options = { runCommand: unusedCommand };
    const check: SmokeCheck = { name: 'h', http: { url: 'u', contains: 'ok' } };
    expect(await runCheck(check, { ...options, fetchHttp: scriptedHttp([{ status: 200, body: '{"status":"ok"}' }]) })).toMatchObject({
      passed: true,
      detail: 'status 200, body contains "ok"',
    });
    expect(await runCheck(check, { ...options, fetchHttp: scriptedHttp([{ status: 200, body: 'degraded' }]) })).toMatchObject({
      passed: false,
      detail: 'status 200, body does not contain "ok"',
    });
  });

  it('turns a refused connection into a failed attempt and retries it', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const fetchHttp = scriptedHttp([refused, { status: 200, body: 'ok' }]);
    const sleep = recordingSleep();
    const result = await runCheck({ name: 'h', http: { url: 'u' }, retries: 1, intervalSeconds: 0.25 }, { runCommand: unusedCommand, fetchHttp, sleep });
    expect(result).toMatchObject({ passed: true, attempts: 2 });
    expect(sleep.waits).toEqual([250]);
  });

  it('reports a refused connection when no retry is left', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const result = await runCheck({ name: 'h', http: { url: 'u' } }, { runCommand: unusedCommand, fetchHttp: scriptedHttp([refused]) });
    expect(result).toMatchObject({ passed: false, detail: 'request failed: ECONNREFUSED' });
  });

  it('reports an aborted request as a timeout with the per-attempt limit', async () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const fetchHttp = scriptedHttp([timeout]);
    const result = await runCheck({ name: 'h', http: { url: 'u' }, timeoutSeconds: 2 }, { runCommand: unusedCommand, fetchHttp });
    expect(result).toMatchObject({ passed: false, detail: 'timed out after 2 s' });
    expect(fetchHttp.calls[0].timeoutMs).toBe(2000);
  });
});

describe('runChecks', () => {
  it('runs every check in order and returns one result each', async () => {
    const order: string[] = [];
    const runCommand: RunCommand = async (command) => {
      order.push(command);
      return { exitCode: command === 'bad' ? 1 : 0, output: '', timedOut: false };
    };
    const fetchHttp: FetchHttp = async (url) => {
      order.push(url);
      return { status: 200, body: '' };
    };
    const results = await runChecks(
      [
        { name: 'a', command: 'good' },
        { name: 'b', http: { url: 'http://h/' } },
        { name: 'c', command: 'bad' },
      ],
      { runCommand, fetchHttp, sleep: recordingSleep() },
    );
    expect(order).toEqual(['good', 'http://h/', 'bad']);
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false],
    ]);
  });
});

describe('smoke output kept in records', () => {
  it('keeps the last lines and says how many bytes before them are gone, counting what the transport dropped', async () => {
    const long = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    const runCommand = scriptedCommands([{ exitCode: 1, output: `… 5000 bytes dropped\n${long}\n` }]);
    const result = await runCheck({ name: 'noisy', command: 'noisy' }, { runCommand, fetchHttp: unusedHttp, sleep: recordingSleep(), now: steppingClock() });
    const shown = Array.from({ length: 20 }, (_, i) => `line ${i + 11}`).join('\n');
    const droppedHere = Buffer.byteLength(long) - Buffer.byteLength(shown);
    expect(result.output).toBe(`… ${5000 + droppedHere} bytes dropped\n${shown}`);
  });
});
