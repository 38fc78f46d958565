import os from 'node:os';
import { runOzg } from '../helpers/run-ozg.js';

/** `ozg <command> --help` lists the global options the command honours, not only its own. */
describe("a command's help", () => {
  const globalSection = (help: string) => help.slice(help.indexOf('Global Options:'));

  it.each(['deploy', 'plan', 'status', 'test', 'rollback', 'clone-procedure', 'report'])('%s shows -i, --json, --no-color and --accept-new-host-keys', async (command) => {
    const run = await runOzg([command, '--help'], { cwd: os.tmpdir() });
    expect(run.code).toBe(0);
    const global = globalSection(run.stdout);
    for (const option of ['-i, --inventory <file>', '--json', '--no-color', '--accept-new-host-keys']) expect(global).toContain(option);
    expect(global).not.toContain('--version');
  });

  it.each([['history'], ['validate'], ['render'], ['cloud-init'], ['ledger', 'merge']])('%s shows -i, --json and --no-color; host keys are no concern of it', async (...command) => {
    const run = await runOzg([...command, '--help'], { cwd: os.tmpdir() });
    expect(run.code).toBe(0);
    const global = globalSection(run.stdout);
    for (const option of ['-i, --inventory <file>', '--json', '--no-color']) expect(global).toContain(option);
    expect(global).not.toContain('--accept-new-host-keys');
  });
});
