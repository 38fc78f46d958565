import { chooseReporterMode, createReporter, resolveColorLevel, type CreateReporterOptions } from '../../../src/output/create-reporter.js';
import type { OzgEvent } from '../../../src/events.js';
import { CaptureStream } from '../../helpers/capture-stream.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';

/** SGR sequences (colours, bold, dim): what NO_COLOR forbids. */
const SGR = /\x1b\[[0-9;]*m/;
/** any escape sequence at all */
const ANSI = /\x1b/;

const events: OzgEvent[] = [
  { type: 'run-started', run: 'r-1', command: 'deploy', sites: 2 },
  { type: 'site-started', site: 'kiel' },
  { type: 'step', site: 'kiel', environment: 'test', procedure: 'antrag-formular', step: 'apply', message: 'applied 1.1.0 (release 20260301T100000-1.1.0)' },
  { type: 'smoke-result', site: 'kiel', environment: 'test', procedure: 'antrag-formular', result: { name: 'http-ok', passed: true, attempts: 1, durationMs: 120, detail: 'status 200' } },
  { type: 'smoke-result', site: 'kiel', environment: 'prod', procedure: 'antrag-formular', result: { name: 'http-ok', passed: false, attempts: 3, durationMs: 3200, detail: 'status 503 (expected 200)' } },
  { type: 'recorded', record: makeLedgerRecord() },
  { type: 'site-finished', site: 'kiel', outcome: 'failed', error: 'prod smoke failed\nrolled back to 1.0.0' },
  { type: 'site-started', site: 'flensburg' },
  { type: 'site-finished', site: 'flensburg', outcome: 'ok' },
  { type: 'warning', message: 'flensburg/prod: slow' },
  { type: 'info', message: '1 site skipped' },
  { type: 'run-finished', run: 'r-1', ok: false, durationMs: 12_345 },
];

const result = { sites: [{ site: 'kiel', result: 'failed' }, { site: 'flensburg', result: 'ok' }] };
const human = () => 'kiel       failed\nflensburg  ok';

async function runReporter(overrides: Partial<CreateReporterOptions>) {
  const stdout = new CaptureStream();
  const stderr = new CaptureStream({ isTTY: overrides.isTTY });
  const reporter = await createReporter({ json: false, stdout, stderr, isTTY: false, env: {}, ...overrides });
  for (const event of events) reporter.emit(event);
  reporter.result(result, human);
  reporter.close();
  return { stdout: stdout.text, stderr: stderr.text };
}

describe('json reporter', () => {
  it('writes one parseable JSON object per event and the result last, on stdout only', async () => {
    const { stdout, stderr } = await runReporter({ json: true, isTTY: true, env: { FORCE_COLOR: '3' } });
    expect(stderr).toBe('');
    expect(stdout).not.toMatch(ANSI);
    const lines = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual([...events.map((e) => e.type), 'result']);
    expect(lines[2]).toEqual(events[2]);
    expect(lines.at(-1)).toEqual({ type: 'result', result });
  });
});

describe('plain reporter', () => {
  it('writes one plain line per event on stderr without escape codes, and the result on stdout', async () => {
    const { stdout, stderr } = await runReporter({ isTTY: false, env: { TERM: 'xterm-256color' } });
    expect(stderr).not.toMatch(ANSI);
    expect(stdout).toBe('kiel       failed\nflensburg  ok\n');
    expect(stderr.split('\n')).toEqual([
      'run r-1: deploy on 2 sites',
      'kiel: started',
      'kiel test antrag-formular apply: applied 1.1.0 (release 20260301T100000-1.1.0)',
      'kiel test antrag-formular smoke: http-ok passed (1 attempt, 120 ms)',
      'kiel prod antrag-formular smoke: http-ok FAILED: status 503 (expected 200) (3 attempts, 3.2 s)',
      `kiel test antrag-formular record: applied 1.1.0 (release 20260301T100000-1.1.0, hash ${'a'.repeat(12)})`,
      'kiel: FAILED: prod smoke failed',
      '    rolled back to 1.0.0',
      'flensburg: started',
      'flensburg: ok',
      'warning: flensburg/prod: slow',
      '1 site skipped',
      'run r-1: FAILED (12.3 s)',
      '',
    ]);
  });

  it('is used on a terminal when CI is set, still without escape codes', async () => {
    const { stderr } = await runReporter({ isTTY: true, env: { CI: 'true', TERM: 'xterm-256color' } });
    expect(stderr).toContain('kiel: started\n');
    expect(stderr).not.toMatch(ANSI);
  });

  it('colours only when FORCE_COLOR asks for it', async () => {
    const { stdout, stderr } = await runReporter({ isTTY: false, env: { FORCE_COLOR: '1' } });
    expect(stderr).toMatch(SGR);
    expect(stdout).not.toMatch(ANSI);
  });
});

describe('tty reporter', () => {
  it('draws coloured ✔/✖ lines and the spinner on stderr, the result alone on stdout', async () => {
    const { stdout, stderr } = await runReporter({ isTTY: true, env: { TERM: 'xterm-256color' } });
    expect(stdout).toBe('kiel       failed\nflensburg  ok\n');
    expect(stderr).toMatch(SGR);
    expect(stderr).toContain('flensburg');
    expect(stderr).toMatch(/✖.*kiel.*failed/);
    expect(stderr).toMatch(/✔.*flensburg/);
  });

  it('shows the running step of each site beside the spinner', async () => {
    const stdout = new CaptureStream();
    const stderr = new CaptureStream({ isTTY: true, columns: 120 });
    const reporter = await createReporter({ json: false, stdout, stderr, isTTY: true, env: { NO_COLOR: '1' } });
    reporter.emit(events[1]);
    reporter.emit(events[2]);
    reporter.emit({ type: 'site-started', site: 'flensburg' });
    reporter.emit({ type: 'info', message: 'redraw now' });
    reporter.close();
    expect(stderr.text).toContain('kiel test antrag-formular apply: applied 1.1.0 (release 20260301T100000-1.1.0)\n  flensburg starting');
    expect(stdout.text).toBe('');
  });

  it('honours NO_COLOR', async () => {
    const { stderr } = await runReporter({ isTTY: true, env: { TERM: 'xterm-256color', NO_COLOR: '1' } });
    expect(stderr).toContain('✔ flensburg');
    expect(stderr).not.toMatch(SGR);
  });

  it('honours --no-color', async () => {
    const { stderr } = await runReporter({ isTTY: true, color: false, env: { TERM: 'xterm-256color', FORCE_COLOR: '3' } });
    expect(stderr).toContain('✖ kiel failed');
    expect(stderr).not.toMatch(SGR);
  });
});

describe('choosing mode and colour', () => {
  it.each([
    [{ json: true, isTTY: true, env: {} }, 'json'],
    [{ json: false, isTTY: true, env: {} }, 'tty'],
    [{ json: false, isTTY: false, env: {} }, 'plain'],
    [{ json: false, isTTY: true, env: { CI: 'true' } }, 'plain'],
    [{ json: false, isTTY: true, env: { CI: 'false' } }, 'tty'],
    [{ json: false, isTTY: true, env: { TERM: 'dumb' } }, 'plain'],
  ])('%j → %s', (options, mode) => {
    expect(chooseReporterMode(options)).toBe(mode);
  });

  it.each([
    ['a terminal', { isTTY: true, env: { TERM: 'xterm' } }, 1],
    ['a 256-colour terminal', { isTTY: true, env: { TERM: 'xterm-256color' } }, 2],
    ['truecolor', { isTTY: true, env: { COLORTERM: 'truecolor' } }, 3],
    ['not a terminal', { isTTY: false, env: {} }, 0],
    ['NO_COLOR', { isTTY: true, env: { NO_COLOR: '1' } }, 0],
    ['empty NO_COLOR (ignored per no-color.org)', { isTTY: true, env: { NO_COLOR: '', TERM: 'xterm' } }, 1],
    ['--no-color', { isTTY: true, color: false, env: {} }, 0],
    ['--no-color over FORCE_COLOR', { isTTY: true, color: false, env: { FORCE_COLOR: '1' } }, 0],
    ['FORCE_COLOR off a terminal', { isTTY: false, env: { FORCE_COLOR: '2' } }, 2],
    ['FORCE_COLOR over NO_COLOR', { isTTY: false, env: { FORCE_COLOR: '1', NO_COLOR: '1' } }, 1],
    ['FORCE_COLOR=0', { isTTY: true, env: { FORCE_COLOR: '0' } }, 0],
    ['--json', { isTTY: true, json: true, env: { FORCE_COLOR: '3' } }, 0],
  ])('%s', (_name, options, level) => {
    expect(resolveColorLevel({ json: false, ...options })).toBe(level);
  });
});
