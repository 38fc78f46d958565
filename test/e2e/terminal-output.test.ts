import { removeTemp, runOzg } from '../helpers/run-ozg.js';
import { createMiniProject } from '../helpers/mini-project.js';
import { runOzgInPty } from '../helpers/run-in-pty.js';

/** What a person at a terminal sees: through a pseudo-terminal, as they would. */

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await removeTemp(dir);
});

/** demo 1.0.0 whose smoke check prints why it fails, then fails */
async function createFailingSmokeProject(): Promise<string> {
  const { dir } = await createMiniProject({
    'procedure.yaml': [
      'name: demo',
      'version: 1.0.0',
      'vm:',
      '  files: files',
      'smoke:',
      '  - name: config-valid',
      `    command: "for i in 1 2 3 4 5 6 7 8; do echo \\"noise $i\\"; done; echo 'config.txt: key mail is missing' >&2; printf 'bell\\\\033]0;title\\\\007\\\\n'; exit 1"`,
    ].join('\n') + '\n',
    'files/config.txt': 'site {{ site.name }}\n',
  });
  dirs.push(dir);
  return dir;
}

describe('a failed smoke check on the terminal', () => {
  it('shows the last lines of the check output, control characters escaped, under the failure', async () => {
    const dir = await createFailingSmokeProject();
    const run = await runOzgInPty(['deploy'], { cwd: dir });
    expect(run.code).toBe(5);
    const failure = run.screen.indexOf('config-valid FAILED: exit 1 (expected 0)');
    expect(failure).toBeGreaterThan(-1);
    const after = run.screen.slice(failure).split('\n').slice(1, 6).map((line) => line.trim());
    expect(after).toEqual(['| noise 6', '| noise 7', '| noise 8', '| config.txt: key mail is missing', '| bell\\x1b]0;title\\x07']);
    expect(run.screen).not.toContain('noise 3');
  });

  it('shows them in plain output (CI logs) too', async () => {
    const dir = await createFailingSmokeProject();
    const run = await runOzg(['deploy'], { cwd: dir });
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/config-valid FAILED: exit 1 \(expected 0\) \(1 attempt, [^)]*\)\n +\| noise 6\n/);
    expect(run.stderr).toContain('| config.txt: key mail is missing\n');
  });
});
