import net from 'node:net';

/**
 * When a dropped connection is cut: `accept` right after accepting it (before any byte, as
 * sshd past MaxStartups does), `banner` after forwarding the server's identification line
 * (during the handshake, as LoginGraceTime or a reset does).
 */
export type DropPoint = 'accept' | 'banner';

export interface DroppingProxy {
  /** 127.0.0.1 */
  address: string;
  port: number;
  /** connections accepted so far, dropped or not */
  readonly connections: number;
  /** drop the next `count` connections (Infinity: every one) at `at`, forward the ones after */
  drop(count: number, at: DropPoint): void;
  /** called on each accepted connection; it is dropped or forwarded once this returns (or its promise settles) */
  onConnection?: (index: number) => void | Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 in front of `upstream` that drops the first connections it is told to. */
export async function startDroppingProxy(upstream: { address: string; port: number }): Promise<DroppingProxy> {
  let toDrop = 0;
  let at: DropPoint = 'accept';
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // a peer resetting is what this proxy is for; it is no failure of the test
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    connections += 1;
    const held = proxy.onConnection?.(connections);
    if (held) void held.catch(() => undefined).then(() => serve(client));
    else serve(client);
  });
  const serve = (client: net.Socket): void => {
    const dropping = toDrop > 0;
    if (dropping) toDrop -= 1;
    if (dropping && at === 'accept') {
      client.destroy();
      return;
    }
    const server = net.connect({ host: upstream.address, port: upstream.port });
    track(server);
    if (dropping) {
      server.once('data', (banner) => {
        client.write(banner, () => {
          client.destroy();
          server.destroy();
        });
      });
      return;
    }
    client.pipe(server).pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const proxy: DroppingProxy = {
    address: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    drop(count, point) {
      toDrop = count;
      at = point;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
