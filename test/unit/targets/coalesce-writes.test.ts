import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { coalesceWrites } from '../../../src/targets/ssh/coalesce-writes.js';

// A real loopback TCP connection; what reaches the kernel is counted at the socket's
// _write/_writev (one call = one system call), not guessed from what the server reads.
describe('coalesceWrites', () => {
  let server: Server;
  let received: Buffer[];
  let ended: Promise<unknown>;

  beforeEach(async () => {
    received = [];
    server = createServer((peer) => {
      peer.on('data', (chunk: Buffer) => received.push(chunk));
      ended = once(peer, 'end');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterEach(async () => {
    server.close();
    await once(server, 'close');
  });

  async function connectCounting(): Promise<{ socket: Socket; kernelWrites: () => number }> {
    const address = server.address() as { port: number };
    const socket = connect({ host: '127.0.0.1', port: address.port, noDelay: true });
    await once(socket, 'connect');
    let calls = 0;
    const internals = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    for (const name of ['_write', '_writev'] as const) {
      const original = internals[name].bind(socket);
      internals[name] = (...args: unknown[]) => {
        calls++;
        return original(...args);
      };
    }
    return { socket, kernelWrites: () => calls };
  }

  it('hands the packets of one turn to the kernel as one write, bytes and order unchanged', async () => {
    const { socket, kernelWrites } = await connectCounting();
    const stats = coalesceWrites(socket);
    const packets = Array.from({ length: 7 }, (_, i) => Buffer.alloc(100 + i, i));
    for (const p of packets) socket.write(p);
    await new Promise((resolve) => setImmediate(resolve));
    socket.write(Buffer.from('next turn'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(kernelWrites()).toBe(2);
    expect(stats).toEqual({ writes: 8, flushes: 2 });
    socket.end();
    await ended;
    expect(Buffer.concat(received)).toEqual(Buffer.concat([...packets, Buffer.from('next turn')]));
  });

  it('without it, each packet is a write of its own (what the coalescing saves)', async () => {
    const { socket, kernelWrites } = await connectCounting();
    for (let i = 0; i < 7; i++) socket.write(Buffer.alloc(100, i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(kernelWrites()).toBe(7);
    socket.end();
    await ended;
  });
});
