/**
 * ssh2 hands the socket every SSH packet as a write of its own; a channel open, an exec
 * request, a 200 KB archive (seven 32 KB packets) and its EOF each cost a system call, and on
 * loopback or a LAN each wakes the server once more. Packets written in the same turn of the
 * event loop go out together instead: the socket is corked at the first write and uncorked
 * on the next tick, so the stream hands them to the kernel as one writev.
 *
 * Nothing is held back past the current tick, the bytes and their order are unchanged, and
 * back-pressure is the stream's as before (cork only buffers inside the Writable).
 */
import type { Socket } from 'node:net';

export interface WriteCoalescingStats {
  /** writes the caller made */
  writes: number;
  /** batches handed to the kernel (one per tick with at least one write) */
  flushes: number;
}

export function coalesceWrites(socket: Socket): WriteCoalescingStats {
  const stats: WriteCoalescingStats = { writes: 0, flushes: 0 };
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    stats.flushes++;
    socket.uncork();
  };
  socket.write = function coalescedWrite(this: Socket, ...args: Parameters<Socket['write']>): boolean {
    stats.writes++;
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(flush);
    }
    return (write as (...a: Parameters<Socket['write']>) => boolean).apply(this, args);
  } as Socket['write'];
  return stats;
}
