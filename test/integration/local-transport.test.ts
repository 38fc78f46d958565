import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { UnreachableError } from '../../src/errors.js';
import { createLocalTransport } from '../../src/targets/vm/local-transport.js';
import { OUTPUT_TAIL_BYTES } from '../../src/targets/vm/output-tail.js';

describe('local transport', () => {
  const transport = createLocalTransport({ where: '/srv/test', env: { HOME: "it's $(not run)", PATH: process.env.PATH, OZG_TEST_SECRET: 'ozg-env-secret-1', CI_JOB_TOKEN: 'ci-token-value-2' } });
  afterAll(() => transport.close());

  it('runs sh scripts and reports exit code, stdout and stderr without throwing', async () => {
    const r = await transport.exec('echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.timedOut).toBeUndefined();
  });

  it('streams binary stdin larger than a pipe buffer', async () => {
    const data = randomBytes(3_000_000);
    const r = await transport.exec('wc -c', { stdin: data });
    expect(r.stdout.trim()).toBe(String(data.length));
  });

  it('keeps only the last 64 KiB of a 50 MB output per stream and counts the bytes it dropped', async () => {
    const mb50 = 50 * 1024 * 1024;
    const r = await transport.exec(`yes 0123456789 | head -c ${mb50}; echo; echo last-out; head -c ${mb50} /dev/zero | tr '\\0' e >&2; echo last-err >&2`);
    expect(r.exitCode).toBe(0);
    const outDropped = mb50 + '\nlast-out\n'.length - OUTPUT_TAIL_BYTES;
    const errDropped = mb50 + 'last-err\n'.length - OUTPUT_TAIL_BYTES;
    expect({ out: r.stdoutDroppedBytes, err: r.stderrDroppedBytes }).toEqual({ out: outDropped, err: errDropped });
    expect(Buffer.byteLength(r.stdout)).toBe(Buffer.byteLength(`… ${outDropped} bytes dropped\n`) + OUTPUT_TAIL_BYTES);
    expect(r.stdout.startsWith(`… ${outDropped} bytes dropped\n`)).toBe(true);
    expect(r.stdout.endsWith('\nlast-out\n')).toBe(true);
    expect(r.stdout).toContain('0123456789\n0123456789\n');
    expect(r.stderr.startsWith(`… ${errDropped} bytes dropped\neee`)).toBe(true);
    expect(r.stderr.endsWith('eeelast-err\n')).toBe(true);
  }, 60_000);

  it('gives a script without stdin /dev/null, not our terminal', async () => {
    expect((await transport.exec('cat; echo end')).stdout).toBe('end\n');
  });

  it('passes environment values as data', async () => {
    expect((await transport.exec('printf %s "$HOME"')).stdout).toBe("it's $(not run)");
  });

  it("gives scripts PATH, HOME and the locale of ozg's environment, nothing else (no secrets, no CI tokens)", async () => {
    const names = (await transport.exec('env')).stdout.split('\n').filter(Boolean).map((line) => line.split('=')[0]);
    expect(names.filter((name) => !['PWD', 'SHLVL', '_'].includes(name!)).sort()).toEqual(['HOME', 'PATH']);
  });

  it('kills the whole process group at the timeout', async () => {
    const started = Date.now();
    const r = await transport.exec('sleep 30 & echo started; sleep 30', { timeoutMs: 300 });
    expect(r).toMatchObject({ exitCode: null, timedOut: true, stdout: 'started\n' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('throws UnreachableError when sh cannot be started', async () => {
    const broken = createLocalTransport({ where: '/srv/test', env: { PATH: join(tmpdir(), 'ozg-no-such-bin') } });
    await expect(broken.exec('true')).rejects.toBeInstanceOf(UnreachableError);
  });

  it('ends scripts still running when closed', async () => {
    const other = createLocalTransport({ where: '/srv/test' });
    const running = other.exec('sleep 30');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await other.close();
    const r = await running;
    expect(r.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
