/**
 * Loopback servers for artefact downloads: a file server (HTTP or HTTPS with a test CA) that
 * counts requests per path, a forward proxy that counts what it relays, and a test CA made
 * with the real openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface ArtifactServer {
  /** `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>` */
  origin: string;
  /** requests per path (query left out) */
  requests: Map<string, number>;
  total(): number;
  close(): Promise<void>;
}

export interface ArtifactServerOptions {
  /** path → bytes; any other path answers 404 */
  files: Map<string, Buffer>;
  /** serve HTTPS with this key and certificate */
  tls?: { key: Buffer; cert: Buffer };
  /** paths that answer headers, then never a byte (a stalled transfer) */
  stall?: Set<string>;
}

export async function startArtifactServer(options: ArtifactServerOptions): Promise<ArtifactServer> {
  const requests = new Map<string, number>();
  const stalled = new Set<http.ServerResponse>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    if (options.stall?.has(pathname)) {
      res.writeHead(200, { 'content-length': '1000' });
      res.flushHeaders();
      stalled.add(res);
      return;
    }
    const body = options.files.get(pathname);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }).end(body);
  };
  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // a TLS handshake the client refuses is no test failure
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    total: () => [...requests.values()].reduce((a, b) => a + b, 0),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ForwardProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** absolute-URI GETs relayed (plain http through the proxy) */
  gets: string[];
  /** CONNECT targets tunnelled (https through the proxy) */
  connects: string[];
  close(): Promise<void>;
}

/**
 * A forward proxy that sends every request to `upstream` (host:port) whatever host the
 * client named, so a URL with a host that resolves nowhere (`.invalid`) is reachable only
 * through it.
 */
export async function startForwardProxy(upstream: { host: string; port: number }): Promise<ForwardProxy> {
  const gets: string[] = [];
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    gets.push(req.url ?? '');
    const target = new URL(req.url ?? '/');
    const forwarded = http.request({ host: upstream.host, port: upstream.port, method: req.method, path: target.pathname + target.search, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.writeHead(502).end());
    req.pipe(forwarded);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket) => {
    connects.push(req.url ?? '');
    const tunnel = net.connect(upstream.port, upstream.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      tunnel.pipe(client);
      client.pipe(tunnel);
    });
    tunnel.on('error', () => client.destroy());
    client.on('error', () => tunnel.destroy());
    sockets.add(tunnel);
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    gets,
    connects,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TestCa {
  /** the CA certificate (PEM), the one file a client must trust */
  caFile: string;
  /** a server key and certificate for 127.0.0.1 signed by the CA */
  key: Buffer;
  cert: Buffer;
  /** a certificate for 127.0.0.1 signed by no one the client knows (self-signed) */
  untrusted: { key: Buffer; cert: Buffer };
  remove(): void;
}

/** A CA and server certificates made with the real openssl (installed: apt-get install openssl). */
export function createTestCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ozg-test-ca-'));
  const run = (...args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('openssl is missing: install it with `apt-get install -y openssl`');
      throw error;
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ozg test CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  run('req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
  const read = (name: string): Buffer => readFileSync(path.join(dir, name));
  return {
    caFile: path.join(dir, 'ca.pem'),
    key: read('server.key'),
    cert: read('server.pem'),
    untrusted: { key: read('self.key'), cert: read('self.pem') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
