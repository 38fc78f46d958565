import {
  ArtifactFetchError,
  CanaryNotPassedError,
  ClusterError,
  ConcurrentChangeError,
  ExitCode,
  InternalError,
  InterruptedError,
  InvalidInputError,
  InvalidTargetError,
  LockHeldError,
  RecordWriteError,
  RemoteCommandError,
  RenderError,
  ToolMissingError,
  UnreachableError,
  UsageError,
} from '../../src/errors.js';
import { readFileSync } from 'node:fs';

describe('exit codes', () => {
  it.each([
    [new InternalError('x'), 1],
    [new UsageError('x'), 2],
    [new InvalidInputError([{ file: 'sites.yaml', line: 1, col: 1, path: 'sites', message: 'x' }]), 3],
    [new RenderError('t', 'x'), 3],
    [new RemoteCommandError({ where: 'h', step: 's' }, 'c', { exitCode: 1, durationMs: 1, stderr: '' }), 4],
    [new ClusterError('ns', 'x'), 4],
    [new ConcurrentChangeError('ns', 'x', { applied: false }), 4],
    [new RecordWriteError('.ozg/ledger.jsonl', 'ENOSPC'), 4],
    [new UnreachableError('h', 'x'), 6],
    [new ArtifactFetchError('https://example.invalid/app.jar', 'x'), 6],
    [new LockHeldError('x'), 7],
    [new ToolMissingError('x'), 8],
    [new InvalidTargetError('sites.kiel', 'x'), 3],
    [new CanaryNotPassedError('x'), 12],
    [new InterruptedError('x'), 130],
  ])('%p exits with %i', (error, code) => {
    expect(error.exitCode).toBe(code);
  });

  it('status --exit-code: 10 when changes are pending (as plan), 11 on drift', () => {
    expect({ changesPending: ExitCode.changesPending, drift: ExitCode.drift }).toEqual({ changesPending: 10, drift: 11 });
  });

  it('5 is documented for `ozg test` in any environment, not only as the test gate', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const row = /^\|\s*5\s*\|(.*)$/m.exec(readme)?.[1] ?? '';
    expect(row).toContain('test gate failed');
    expect(row).toContain('`ozg test`: a check of what is live now failed, in whichever environment it ran (`-e prod` included)');
  });

  it('are the ones the README documents', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const [name, code] of Object.entries(ExitCode)) {
      expect({ name, documented: new RegExp(`^\\|\\s*${code}\\s*\\|`, 'm').test(readme) }).toEqual({ name, documented: true });
    }
  });
});

describe('RemoteCommandError', () => {
  it('names site, environment, host, step, exit code and the last lines of stderr', () => {
    const stderr = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    const error = new RemoteCommandError({ site: 'kiel', environment: 'test', where: '127.0.0.2', step: 'install hook' }, 'sh hooks/install.sh', { exitCode: 3, durationMs: 120, stderr });
    expect(error.message).toContain('kiel/test: install hook failed on 127.0.0.2 (exit 3, 120 ms)');
    expect(error.message).toContain('line 29');
    expect(error.message).not.toContain('line 19\n');
  });
});
