import { createSecretRedactor } from '../../../src/inventory/secret-redactor.js';
import { createReporter } from '../../../src/output/create-reporter.js';
import { escapeControlCharacters } from '../../../src/output/escape-control.js';
import { guardReporter } from '../../../src/output/guarded-reporter.js';
import type { OzgEvent } from '../../../src/events.js';
import { CaptureStream } from '../../helpers/capture-stream.js';

/** hook output as a hostile script prints it: an OSC window title and a screen clear */
const HOSTILE = 'title \x1b]0;pwned\x07 clear \x1b[2J cr\r del\x7f c1\x9b end';
const SECRET = 'hunter2-hunter2';

const events: OzgEvent[] = [
  { type: 'step', site: 'kiel', environment: 'test', procedure: 'p', step: 'apply', message: `hook said: ${HOSTILE}` },
  { type: 'smoke-result', site: 'kiel', environment: 'test', procedure: 'p', result: { name: 'c', passed: false, attempts: 1, durationMs: 1, detail: `exit 1 ${SECRET}`, output: SECRET } },
  { type: 'site-finished', site: 'kiel', outcome: 'failed', error: `install failed\n    ${HOSTILE}\n    token=${SECRET}`, hint: `check token=${SECRET} on the host` },
  { type: 'warning', message: HOSTILE },
];

async function run(mode: { json: boolean; isTTY: boolean }) {
  const stdout = new CaptureStream();
  const stderr = new CaptureStream({ isTTY: mode.isTTY, columns: 200 });
  const redactor = createSecretRedactor();
  redactor.add('token', SECRET);
  const inner = await createReporter({ json: mode.json, stdout, stderr, isTTY: mode.isTTY, env: { NO_COLOR: '1' } });
  const reporter = guardReporter(inner, { redactor, escapeControls: !mode.json });
  for (const event of events) reporter.emit(event);
  reporter.result({ records: [{ actor: HOSTILE, error: SECRET }] }, () => `ACTOR ${HOSTILE}\nERROR ${SECRET}`);
  reporter.close();
  return { stdout: stdout.text, stderr: stderr.text };
}

describe('control characters', () => {
  it('are shown as \\xNN, except newline and tab', () => {
    expect(escapeControlCharacters(HOSTILE)).toBe('title \\x1b]0;pwned\\x07 clear \\x1b[2J cr\\x0d del\\x7f c1\\x9b end');
    expect(escapeControlCharacters('a\tb\nc')).toBe('a\tb\nc');
  });
});

describe('guarded reporter', () => {
  it('plain output (logs, CI): secrets redacted, control characters escaped, in events and results', async () => {
    const out = await run({ json: false, isTTY: false });
    const text = out.stdout + out.stderr;
    expect(text).not.toContain(SECRET);
    expect(text).toContain('«secret:token»');
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('\\x1b]0;pwned\\x07');
    expect(out.stdout).toBe(`ACTOR ${escapeControlCharacters(HOSTILE)}\nERROR «secret:token»\n`);
    // the failure's hint is shown with it, redacted like the error
    expect(out.stderr).toContain('\n    hint: check token=«secret:token» on the host');
  });

  it("a failed smoke check's output shown to people is redacted, on a terminal and in logs", async () => {
    for (const isTTY of [false, true]) expect((await run({ json: false, isTTY })).stderr).toContain('| «secret:token»');
  });

  it('a terminal: nothing of the hostile text reaches it raw (only the spinner draws escape sequences)', async () => {
    const out = await run({ json: false, isTTY: true });
    expect(out.stdout + out.stderr).not.toContain(SECRET);
    expect(out.stderr).not.toContain('\x1b]0;');
    expect(out.stderr).not.toContain('\x1b[2J');
    expect(out.stderr).toContain('\\x1b[2J');
  });

  it('--json: secrets redacted; every control character escaped by JSON (C1 and DEL too)', async () => {
    const out = await run({ json: true, isTTY: false });
    expect(out.stdout).not.toContain(SECRET);
    expect(out.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const lines = out.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    expect(lines.at(-1)).toEqual({ type: 'result', result: { records: [{ actor: HOSTILE, error: '«secret:token»' }] } });
  });
});

describe('guarded reporter: the result value', () => {
  /** a result whose only field counts how often it is read */
  function watchedResult() {
    const reads = { count: 0 };
    const value = {};
    Object.defineProperty(value, 'sites', {
      enumerable: true,
      get() {
        reads.count += 1;
        return [{ name: 'kiel', error: SECRET }];
      },
    });
    return { value, reads };
  }

  async function resultThrough(mode: { json: boolean; isTTY: boolean }, value: unknown) {
    const stdout = new CaptureStream();
    const stderr = new CaptureStream({ isTTY: mode.isTTY, columns: 200 });
    const redactor = createSecretRedactor();
    redactor.add('token', SECRET);
    const inner = await createReporter({ json: mode.json, stdout, stderr, isTTY: mode.isTTY, env: { NO_COLOR: '1' } });
    const reporter = guardReporter(inner, { redactor, escapeControls: !mode.json });
    reporter.result(value, () => `summary ${SECRET}`);
    reporter.close();
    return stdout.text;
  }

  it('is not copied when only the human text is printed (a fleet report model is hundreds of MB)', async () => {
    for (const isTTY of [false, true]) {
      const { value, reads } = watchedResult();
      expect(await resultThrough({ json: false, isTTY }, value)).toBe('summary «secret:token»\n');
      expect(reads.count).toBe(0);
    }
  });

  it('--json: is printed, redacted', async () => {
    const { value, reads } = watchedResult();
    const out = await resultThrough({ json: true, isTTY: false }, value);
    expect(reads.count).toBe(1);
    expect(JSON.parse(out)).toEqual({ type: 'result', result: { sites: [{ name: 'kiel', error: '«secret:token»' }] } });
  });
});
