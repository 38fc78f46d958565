import { RemoteCommandError } from '../../../src/errors.js';
import { readMarker } from '../../../src/targets/vm/live-marker.js';
import type { ExecOptions, ShellTransport } from '../../../src/targets/vm/transport.js';
import { createVmShell } from '../../../src/targets/vm/vm-shell.js';

/** A transport that answers every exec with `stdout` and remembers what it got. */
function answering(stdout: string): ShellTransport & { calls: Array<{ script: string; options?: ExecOptions }> } {
  const calls: Array<{ script: string; options?: ExecOptions }> = [];
  return {
    where: 'fake',
    calls,
    exec: async (script, options) => {
      calls.push({ script, options });
      return { exitCode: 0, stdout, stderr: '', durationMs: 1 };
    },
    readFile: async () => {
      throw new Error('the file fast path cannot ask the store');
    },
    close: async () => undefined,
  };
}

const context = { root: '/srv/ozg', site: 'kiel', environment: 'test', procedure: 'antrag' };
const marker = '{"procedure":"antrag","version":"1.0.0","hash":"h","release":"r1","deployedAt":"2026-01-01T00:00:00.000Z"}\n';
const keys = ['a'.repeat(64) + '-644', 'b'.repeat(64) + '-755', 'c'.repeat(64) + '-644'];

async function read(stdout: string) {
  const transport = answering(stdout);
  const result = await readMarker(context, { shell: createVmShell(transport, 'kiel', 'test'), readFile: transport.readFile, timeoutMs: 1000 }, keys);
  return { result, transport };
}

describe('readMarker with store keys', () => {
  it('sends the keys on stdin in one exec (not the file fast path) and splits the missing ones from the marker', async () => {
    const { result, transport } = await read(`ozg-store-missing 0 2\n${marker}`);
    expect(transport.calls).toHaveLength(1);
    expect(transport.calls[0]!.options?.stdin).toBe(keys.join('\n') + '\n');
    expect([...result.store!.missing]).toEqual([keys[0], keys[2]]);
    expect(result.text).toBe(marker);
    expect(result.live?.release).toBe('r1');
  });

  it('reads an empty store answer and no marker as nothing live, nothing missing', async () => {
    const { result } = await read('ozg-store-missing\n');
    expect(result.live).toBeUndefined();
    expect(result.store!.missing.size).toBe(0);
  });

  it('fails as a read error when the first line is not the store answer or names an index not asked', async () => {
    for (const [stdout, problem] of [
      [marker, 'expected a first line ozg-store-missing'],
      [`ozg-store-missing 3\n${marker}`, 'names "3", not one of the 3 keys asked'],
    ]) {
      const error = await read(stdout!).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RemoteCommandError);
      expect((error as Error).message).toContain(problem);
    }
  });
});
