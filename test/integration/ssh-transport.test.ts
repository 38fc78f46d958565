import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { OUTPUT_TAIL_BYTES } from '../../src/targets/vm/output-tail.js';
import { quoteShell } from '../../src/shell-quote.js';
import { VM_DEPLOY_ROOT } from '../helpers/sshd-harness.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';

const vms = useSshHosts(1);
const { connect } = vms;

describe('ssh transport against a real sshd', () => {
  it('keeps only the last 64 KiB of a 50 MB output per stream and counts the bytes it dropped', async () => {
    const transport = connect(vms.hosts[0]);
    const mb50 = 50 * 1024 * 1024;
    // 50 MB of lines on stdout, 50 MB of 'e' on stderr, then a last line on each
    const result = await transport.exec(
      `yes 0123456789 | head -c ${mb50}; echo; echo last-out; head -c ${mb50} /dev/zero | tr '\\0' e >&2; echo last-err >&2`,
    );
    expect(result.exitCode).toBe(0);
    const tail = OUTPUT_TAIL_BYTES;
    const outBytes = mb50 + 1 + 'last-out\n'.length;
    const errBytes = mb50 + 'last-err\n'.length;
    expect({ out: result.stdoutDroppedBytes, err: result.stderrDroppedBytes }).toEqual({ out: outBytes - tail, err: errBytes - tail });
    expect(result.stdout.startsWith(`… ${outBytes - tail} bytes dropped\n`)).toBe(true);
    expect(result.stderr.startsWith(`… ${errBytes - tail} bytes dropped\n`)).toBe(true);
    expect(Buffer.byteLength(result.stdout)).toBe(Buffer.byteLength(`… ${outBytes - tail} bytes dropped\n`) + tail);
    expect(Buffer.byteLength(result.stderr)).toBe(Buffer.byteLength(`… ${errBytes - tail} bytes dropped\n`) + tail);
    expect(result.stdout.endsWith('\nlast-out\n')).toBe(true);
    expect(result.stderr.endsWith('eeeelast-err\n')).toBe(true);
    // small output stays whole, with nothing counted
    const small = await transport.exec('echo hello');
    expect(small).toMatchObject({ stdout: 'hello\n', stderr: '' });
    expect(small.stdoutDroppedBytes).toBeUndefined();
  }, 60_000);

  it('streams 1 MB of random stdin bytes that arrive byte-identical', async () => {
    const transport = connect(vms.hosts[0]);
    const payload = randomBytes(1024 * 1024);
    const result = await transport.exec('sha256sum', { stdin: payload });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split(' ')[0]).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(transport.stats.bytesSent).toBeGreaterThan(payload.length);
  });

  it('streams stdin through sudo too, and passes its exit codes back', async () => {
    const transport = connect(vms.hosts[0], { sudo: true });
    const payload = randomBytes(256 * 1024);
    const result = await transport.exec('sha256sum; id -u', { stdin: payload });
    expect(result.stdout).toBe(`${createHash('sha256').update(payload).digest('hex')}  -\n0\n`);
    expect(await transport.exec('echo err >&2; exit 7')).toMatchObject({ exitCode: 7, stderr: 'err\n' });
  });

  it('authenticates through an ssh-agent when no identity file is given', async () => {
    const socket = path.join(vms.workDir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await promisify(execFile)('ssh-add', ['-q', vms.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const transport = connect(vms.hosts[0], { identityFile: undefined, agent: socket });
      expect((await transport.exec('echo agent')).stdout).toBe('agent\n');
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('reuses one connection for 50 execs, also when more run at once than channels are allowed', async () => {
    const transport = connect(vms.hosts[0]);
    for (let i = 0; i < 40; i++) {
      const result = await transport.exec(`echo ${i}`);
      expect(result.stdout).toBe(`${i}\n`);
    }
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => transport.exec(`sleep 0.1; echo burst-${i}`)));
    expect(burst.map((r) => r.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `burst-${i}\n`));
    expect(transport.stats).toMatchObject({ connects: 1, execs: 50 });
    expect((await vms.hosts[0].readLog()).match(/Accepted publickey/g)?.length).toBeGreaterThanOrEqual(1);
  });

  it('returns non-zero exits and signals as results, never as exceptions', async () => {
    const transport = connect(vms.hosts[0]);
    expect(await transport.exec('echo out; echo err >&2; exit 3')).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    const killed = await transport.exec('kill -TERM $$; sleep 5');
    expect(killed.exitCode).toBeNull();
  });

  it('decodes multi-byte UTF-8 output split across packets', async () => {
    const transport = connect(vms.hosts[0]);
    // 50 000 bytes: more than one SSH packet, less than the kept tail
    const result = await transport.exec(`i=0; while [ $i -lt 10000 ]; do printf 'ü€'; i=$((i+1)); done`);
    expect(result.stdout).toBe('ü€'.repeat(10000));
  });

  it('runs as the non-root deploy user, and as root through sudo -n when asked', async () => {
    const plain = connect(vms.hosts[0]);
    const uid = (await plain.exec('id -u')).stdout.trim();
    expect(uid).not.toBe('0');
    expect((await plain.exec('id -un')).stdout.trim()).toBe(vms.user);

    const root = connect(vms.hosts[0], { sudo: true });
    expect((await root.exec('id -u')).stdout.trim()).toBe('0');
    const written = await root.exec(`cat > ${VM_DEPLOY_ROOT}/owned-by-root && stat -c %u ${VM_DEPLOY_ROOT}/owned-by-root`, { stdin: 'data' });
    expect(written).toMatchObject({ exitCode: 0, stdout: '0\n' });
    expect((await stat(`${vms.hosts[0].root}/owned-by-root`)).uid).toBe(0);
    expect(await readFile(`${vms.hosts[0].root}/owned-by-root`, 'utf8')).toBe('data');
  });

  it.each([false, true])('passes hostile values through quoting literally (sudo: %s)', async (sudo) => {
    const canary = `/tmp/ozg-pwned-${randomBytes(6).toString('hex')}`;
    const value = `$(touch ${canary}); \`touch ${canary}\` 'x" \n\\ ; touch ${canary} # ü`;
    const transport = connect(vms.hosts[0], { sudo });
    const result = await transport.exec(`printf '%s' ${quoteShell(value)}`);
    expect(result).toMatchObject({ exitCode: 0, stdout: value });
    // /tmp is shared between this machine and every simulated VM
    expect(existsSync(canary)).toBe(false);
  });

  it('ends a command that runs past timeoutMs and keeps the connection usable', async () => {
    const transport = connect(vms.hosts[0]);
    const result = await transport.exec('sleep 30', { timeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true });
    expect(result.durationMs).toBeLessThan(3_000);
    expect((await transport.exec('echo still-here')).stdout).toBe('still-here\n');
    expect(transport.stats.connects).toBe(1);
  });

  it.each([false, true])('leaves nothing of a timed-out script running on the host (sudo: %s)', async (sudo) => {
    const marker = 4000 + Math.floor(Math.random() * 1000);
    const transport = connect(vms.hosts[0], { sudo });
    const result = await transport.exec(`sleep ${marker} & sleep ${marker}; echo never`, { timeoutMs: 300 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true, stdout: '' });
    // the bracket keeps pgrep from finding its own command line
    const pattern = `sleep ${String(marker).slice(0, -1)}[${String(marker).slice(-1)}]`;
    let left = '';
    for (let i = 0; i < 20; i++) {
      left = (await transport.exec(`pgrep -f '${pattern}' || true`)).stdout;
      if (left === '') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(left).toBe('');
  });
});
