import { coalesceStateWrites } from '../../../src/rollout/rollout-state.js';

/** A write that waits until the test lets it finish, recording the state it serialised at its start. */
function gatedWriter(state: string[]) {
  const written: string[][] = [];
  const gates: Array<() => void> = [];
  let running = 0;
  let overlapped = false;
  const write = async (): Promise<void> => {
    running++;
    if (running > 1) overlapped = true;
    written.push([...state]);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
  };
  const finishNext = async (): Promise<void> => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()!();
  };
  return { write, written, finishNext, overlapped: () => overlapped };
}

describe('coalesceStateWrites (the resume state after every site)', () => {
  it('shares one waiting write among the sites that finish while another write runs, and every site lands in a write', async () => {
    const state: string[] = [];
    const writer = gatedWriter(state);
    const writes = coalesceStateWrites(writer.write, (error) => {
      throw error;
    });
    state.push('site-0');
    writes.request();
    await new Promise((resolve) => setImmediate(resolve));
    // 20 sites finish while the first write is on disk: one more write, not 20
    for (let i = 1; i <= 20; i++) {
      state.push(`site-${i}`);
      writes.request();
    }
    await writer.finishNext();
    await writer.finishNext();
    await writes.settled();
    expect(writer.written).toEqual([['site-0'], state]);
    expect(writer.overlapped()).toBe(false);
  });

  it('writes again for a site that finishes after the waiting write started, and reports a failed write', async () => {
    const state: string[] = ['a'];
    const failures: unknown[] = [];
    let calls = 0;
    const writes = coalesceStateWrites(
      async () => {
        calls++;
        if (calls === 1) {
          state.push('b');
          writes.request();
          throw new Error('ENOSPC: no space left on device');
        }
      },
      (error) => failures.push(error),
    );
    writes.request();
    await writes.settled();
    await writes.settled();
    expect(calls).toBe(2);
    expect(failures.map((e) => (e as Error).message)).toEqual(['ENOSPC: no space left on device']);
  });
});
