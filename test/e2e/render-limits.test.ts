import { existsSync } from 'node:fs';
import path from 'node:path';
import { createMiniProject } from '../helpers/mini-project.js';
import { removeTemp, runOzg } from '../helpers/run-ozg.js';

/**
 * Issue 9, item 7: a runaway template once killed ozg with a V8 fatal error (exit 133, no
 * message, the lock left behind). Each limit must be a render error naming the template file
 * and line, exit 3, with the lock released.
 */
const PROCEDURE = 'name: demo\nversion: 1.0.0\nvm:\n  files: files\n';
const FILE = 'demo/1.0.0/files/runaway.txt';

describe('rendering limits', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await removeTemp(dir);
    dir = undefined;
  });

  async function runWith(template: string, command: string[]) {
    ({ dir } = await createMiniProject({ 'procedure.yaml': PROCEDURE, 'files/runaway.txt': template }));
    return runOzg([...command, '-i', 'sites.yaml'], { cwd: dir });
  }

  it('a range of a billion: deploy exits 3 naming file and line, records nothing and releases the lock', async () => {
    const run = await runWith('first line\nsecond line\n{% for i in (1..1000000000) %}x{% endfor %}\n', ['deploy']);
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 3, signal: null });
    expect(run.stderr).toContain(`${FILE}:3:1`);
    expect(run.stderr).toContain('(a runaway loop or range?)');
    expect(existsSync(path.join(dir!, '.ozg/lock'))).toBe(false);
    expect(existsSync(path.join(dir!, '.ozg/ledger.jsonl'))).toBe(false);
    expect(existsSync(path.join(dir!, 'targets'))).toBe(false);
  });

  it('output past the cap of one file: validate exits 3 naming file and line', async () => {
    const run = await runWith('{% for i in (1..100000) %}\n{% for j in (1..100) %}0123456789012345678901234567890123456789{% endfor %}{% endfor %}', ['validate']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`${FILE}:2:`);
    expect(run.stderr).toContain('rendered output exceeds 8 Mi characters');
  });

  it('output collected in a capture counts too', async () => {
    const run = await runWith(
      '{% capture all %}{% for i in (1..100000) %}{% for j in (1..100) %}0123456789012345678901234567890123456789{% endfor %}{% endfor %}{% endcapture %}{{ all | size }}',
      ['validate'],
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`${FILE}:1:`);
    expect(run.stderr).toContain('array elements and output characters');
  });

  it('a template longer than the parse limit', async () => {
    const run = await runWith('{{ site.name }}\n' + 'x'.repeat(17 * 1024 * 1024), ['validate']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(FILE);
    expect(run.stderr).toContain('is longer than 16 Mi characters');
  });
});
