import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quoteShell } from '../../../src/shell-quote.js';

describe('quoteShell', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ozg-quote-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** What sh makes of the quoted word: printed back with printf %s. */
  function throughSh(value: string): string {
    const r = spawnSync('sh', ['-c', `printf '%s' ${quoteShell(value)}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sh failed: ${r.stderr}`);
    return r.stdout;
  }

  it.each([
    '',
    'plain',
    "it's",
    "''",
    `$(touch CANARY); 'x" \\n`,
    '`touch CANARY`',
    'a\nb\n',
    '$HOME ${PATH} $1 $@ $$',
    '* ? [a-z] ~ ~root',
    'back\\slash \\',
    '; | & && || > < >> ( ) { } !',
    'tab\there',
    'ümlaut ß €',
    '-n',
  ])('delivers %j to sh literally', (template) => {
    const canary = join(dir, 'pwned');
    const value = template.replace('CANARY', canary);
    expect(throughSh(value)).toBe(value);
    expect(existsSync(canary)).toBe(false);
  });

  it('produces one single-quoted word', () => {
    expect(quoteShell("it's")).toBe(`'it'\\''s'`);
    expect(quoteShell('')).toBe("''");
  });

  it('refuses a NUL byte, which no shell word can hold', () => {
    expect(() => quoteShell('a\0b')).toThrow(/NUL/);
  });
});
