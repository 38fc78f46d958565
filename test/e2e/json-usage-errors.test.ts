import { copyExampleToTemp, parseJsonLines, removeTemp, runOzg } from '../helpers/run-ozg.js';

/** README: with --json, errors are `{"type":"error",…}` lines on stdout; usage errors too. */
describe('--json usage errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await copyExampleToTemp();
  });
  afterAll(() => removeTemp(dir));

  it.each([
    ['an unknown flag', ['deploy', '--bogus', '--json'], "unknown option '--bogus'"],
    ['a missing option argument', ['deploy', '--json', '--waves'], "option '--waves <spec>' argument missing"],
    ['a missing required option', ['--json', 'rollback', 'kiel', '-e', 'test'], "required option '-p, --procedure <name>' not specified"],
    ['an invalid number', ['history', '-n', '0', '--json'], "argument '0' is invalid"],
    ['bad --waves syntax', ['deploy', '--json', '--waves', '1,,x%'], '--waves'],
  ])('%s: one error line on stdout, exit 2, nothing else', async (_what, args, message) => {
    const run = await runOzg(args, { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: '' });
    const lines = parseJsonLines(run.stdout);
    expect(lines).toEqual([{ type: 'error', error: 'UsageError', exitCode: 2, message: expect.stringContaining(message), hint: expect.any(String) }]);
  });

  it('without --json the usage error stays text on stderr', async () => {
    const run = await runOzg(['deploy', '--bogus'], { cwd: dir });
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
    expect(run.stderr).toContain("error: unknown option '--bogus'");
  });
});
