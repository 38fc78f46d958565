import { createOutputTail, droppedCounts } from '../../../src/targets/vm/output-tail.js';

describe('output tail', () => {
  it('keeps everything up to the limit, and says nothing about dropping', () => {
    const tail = createOutputTail(10);
    tail.push(Buffer.from('hello'));
    tail.push(Buffer.from('world'));
    expect(tail.text()).toBe('helloworld');
    expect(tail.droppedBytes).toBe(0);
    expect(droppedCounts(tail, createOutputTail(10))).toEqual({});
  });

  it('keeps the newest bytes across chunk boundaries and counts the dropped ones', () => {
    const tail = createOutputTail(10);
    for (const part of ['abc', 'defgh', 'ijklm', 'no']) tail.push(Buffer.from(part));
    expect(tail.droppedBytes).toBe(5);
    expect(tail.text()).toBe('… 5 bytes dropped\nfghijklmno');
    // a chunk larger than the limit replaces everything
    tail.push(Buffer.alloc(25, 'x'));
    expect(tail.droppedBytes).toBe(30);
    expect(tail.text()).toBe(`… 30 bytes dropped\n${'x'.repeat(10)}`);
    expect(droppedCounts(tail, tail)).toEqual({ stdoutDroppedBytes: 30, stderrDroppedBytes: 30 });
  });

  it('stays bounded however much goes through it', () => {
    const tail = createOutputTail(64 * 1024);
    const chunk = Buffer.alloc(50_000, 'y');
    for (let i = 0; i < 2_000; i++) tail.push(chunk);
    expect(tail.droppedBytes).toBe(2_000 * 50_000 - 64 * 1024);
    expect(Buffer.byteLength(tail.text())).toBe(Buffer.byteLength(`… ${2_000 * 50_000 - 64 * 1024} bytes dropped\n`) + 64 * 1024);
  });

  it('does not start with half a character when the cut falls inside one, and counts its bytes as dropped', () => {
    const tail = createOutputTail(5);
    tail.push(Buffer.from('aä€b')); // a(1) ä(2) €(3) b(1): the cut leaves the last byte of ä
    expect(tail.text()).toBe('… 3 bytes dropped\n€b');
    expect(tail.droppedBytes).toBe(3);
  });
});
