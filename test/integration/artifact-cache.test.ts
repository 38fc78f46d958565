/**
 * The artefact cache with the real curl against loopback servers: verified blobs, cache
 * hits, damaged blobs, HTTP errors, stalls, TLS trust and proxies.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArtifactFetchError, ExitCode, InterruptedError, InvalidInputError, ToolMissingError } from '../../src/errors.js';
import { createArtifactCache, resolveCacheDir, type ArtifactCache } from '../../src/procedure/artifact-cache.js';
import { createCurlDownload, redactUrl, type CurlDownloadOptions } from '../../src/procedure/curl-download.js';
import { loadProcedureFile } from '../../src/procedure/load.js';
import type { Procedure } from '../../src/procedure/types.js';
import { createTestCa, startArtifactServer, startForwardProxy, type ArtifactServer, type TestCa } from '../helpers/artifact-server.js';

const jar = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256));
const jarSha = createHash('sha256').update(jar).digest('hex');
const logo = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x7b, 0x7b]);
const logoSha = createHash('sha256').update(logo).digest('hex');

let work: string;
let server: ArtifactServer;
let counter = 0;
/** no proxy variables from the machine running the tests */
const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'ozg-artifact-cache-'));
  server = await startArtifactServer({ files: new Map([['/app.jar', jar], ['/logo.png', logo]]), stall: new Set(['/stall.jar']) });
});
afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

/** A procedure version folder with these artefact entries (YAML lines), loaded as ozg loads it. */
async function loadWith(artifactsYaml: string, files: Record<string, Buffer> = {}): Promise<Procedure> {
  const name = `app${++counter}`;
  const dir = path.join(work, 'catalogue', name, '1.0.0');
  mkdirSync(path.join(dir, 'vm'), { recursive: true });
  writeFileSync(path.join(dir, 'vm', 'config.txt'), 'x\n');
  for (const [file, bytes] of Object.entries(files)) writeFileSync(path.join(dir, file), bytes);
  writeFileSync(path.join(dir, 'procedure.yaml'), `name: ${name}\nversion: 1.0.0\nvm:\n  files: vm\nartifacts:\n${artifactsYaml}`);
  const loaded = await loadProcedureFile({ dir, displayFile: `${name}/1.0.0/procedure.yaml`, expected: { name, version: '1.0.0' } });
  if (!loaded.procedure) throw new Error(JSON.stringify(loaded.problems));
  return loaded.procedure;
}

function newCache(options: Partial<CurlDownloadOptions> & { dir?: string; warnings?: string[] } = {}): { cache: ArtifactCache; dir: string } {
  const dir = options.dir ?? mkdtempSync(path.join(work, 'cache-'));
  const { warnings, dir: _dir, ...curl } = options;
  const cache = createArtifactCache({ dir, download: createCurlDownload({ env: baseEnv, ...curl }), onWarning: (m) => warnings?.push(m) });
  return { cache, dir };
}

function blobFiles(dir: string): string[] {
  return readdirSync(path.join(dir, 'blobs', 'sha256')).sort();
}

describe('artefact cache', () => {
  it('fetches a blob once, verified, into <cache>/blobs/sha256/<hex>, and a later run finds it there', async () => {
    const procedure = await loadWith(`  - { name: app.jar, url: "${server.origin}/app.jar", sha256: ${jarSha} }\n  - { name: logo.png, url: "${server.origin}/logo.png", sha256: ${logoSha}, dest: static/logo.png }\n`);
    const before = server.requests.get('/app.jar') ?? 0;
    const { cache, dir } = newCache();
    const blobs = await cache.resolve(procedure);
    expect(blobs.get('app.jar')).toEqual({ sha256: jarSha, size: jar.length, path: path.join(dir, 'blobs', 'sha256', jarSha) });
    expect(readFileSync(blobs.get('app.jar')!.path).equals(jar)).toBe(true);
    expect(readFileSync(blobs.get('logo.png')!.path).equals(logo)).toBe(true);
    // resolving again in the same run, and in a new run with the same cache folder: no request
    await cache.resolve(procedure);
    await newCache({ dir }).cache.resolve(procedure);
    expect(server.requests.get('/app.jar')).toBe(before + 1);
    // no temp file left behind
    expect(blobFiles(dir)).toEqual([jarSha, logoSha].sort());
  });

  it('re-verifies a cached blob once per run: a damaged one is removed, fetched again, and warned about', async () => {
    const procedure = await loadWith(`  - { name: app.jar, url: "${server.origin}/app.jar", sha256: ${jarSha} }\n`);
    const { cache, dir } = newCache();
    await cache.resolve(procedure);
    const blob = path.join(dir, 'blobs', 'sha256', jarSha);
    const damaged = Buffer.from(jar);
    damaged[1000] ^= 0xff;
    writeFileSync(blob, damaged);
    const before = server.requests.get('/app.jar')!;
    const warnings: string[] = [];
    await newCache({ dir, warnings }).cache.resolve(procedure);
    expect(readFileSync(blob).equals(jar)).toBe(true);
    expect(server.requests.get('/app.jar')).toBe(before + 1);
    expect(warnings).toEqual([expect.stringContaining(`${blob} does not match its sha256`)]);
  });

  it('a wrong checksum is an input error at procedure.yaml line:col naming the artefact, expected and actual; nothing enters the cache', async () => {
    const wrong = 'a'.repeat(64);
    const procedure = await loadWith(`  - name: app.jar\n    url: "${server.origin}/app.jar"\n    sha256: ${wrong}\n`);
    const { cache, dir } = newCache();
    const error = await cache.resolve(procedure).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).exitCode).toBe(ExitCode.invalidInput);
    const [problem] = (error as InvalidInputError).problems;
    expect(problem).toMatchObject({ file: `${procedure.name}/1.0.0/procedure.yaml`, line: 8, col: 13, path: 'artifacts[0].sha256' });
    expect(problem!.message).toContain(`artifact app.jar: expected sha256 ${wrong}, but ${server.origin}/app.jar has ${jarSha} (${jar.length} bytes)`);
    expect(blobFiles(dir)).toEqual([]);
  });

  it('a path artefact is read from the version folder and verified like a download', async () => {
    const procedure = await loadWith(`  - { name: logo.png, path: assets-logo.png, sha256: ${logoSha} }\n`, { 'assets-logo.png': logo });
    const before = server.total();
    const { cache } = newCache();
    const blobs = await cache.resolve(procedure);
    expect(readFileSync(blobs.get('logo.png')!.path).equals(logo)).toBe(true);
    expect(server.total()).toBe(before);
  });

  it('a 404 is an ArtifactFetchError (exit 6) naming the URL and the status', async () => {
    const procedure = await loadWith(`  - { name: gone.jar, url: "${server.origin}/gone.jar", sha256: ${jarSha} }\n`);
    const error = await newCache().cache.resolve(procedure).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactFetchError);
    expect((error as ArtifactFetchError).exitCode).toBe(ExitCode.unreachable);
    expect((error as Error).message).toMatch(new RegExp(`^artifact gone.jar \\(${procedure.name}/1.0.0/procedure.yaml:6\\): ${server.origin}/gone.jar: the server answered with an error: .*404`));
  });

  it('never shows credentials of a URL', async () => {
    const url = `${server.origin.replace('//', '//deploy:s3cr3t-pw@')}/gone.jar`;
    expect(redactUrl(url)).toBe(`${server.origin.replace('//', '//***@')}/gone.jar`);
    const procedure = await loadWith(`  - { name: gone.jar, url: "${url}", sha256: ${jarSha} }\n`);
    const error = (await newCache().cache.resolve(procedure).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ArtifactFetchError);
    expect(`${error.message} ${(error as ArtifactFetchError).hint}`).not.toMatch(/s3cr3t|deploy:/);
  });

  it('a refused connection names the URL', async () => {
    // a port just closed: nothing listens there
    const gone = await startArtifactServer({ files: new Map() });
    await gone.close();
    const procedure = await loadWith(`  - { name: app.jar, url: "${gone.origin}/app.jar", sha256: ${jarSha} }\n`);
    const error = (await newCache().cache.resolve(procedure).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ArtifactFetchError);
    expect(error.message).toContain(`artifact app.jar (${procedure.name}/1.0.0/procedure.yaml:6): ${gone.origin}/app.jar: cannot connect`);
  });

  it('a stalled transfer is given up after the stall time, naming the URL', async () => {
    const procedure = await loadWith(`  - { name: stall.jar, url: "${server.origin}/stall.jar", sha256: ${jarSha} }\n`);
    const { cache, dir } = newCache({ stallSeconds: 1 });
    const error = (await cache.resolve(procedure).catch((e: unknown) => e)) as ArtifactFetchError;
    expect(error).toBeInstanceOf(ArtifactFetchError);
    expect(error.message).toContain(`${server.origin}/stall.jar: timed out`);
    expect(error.hint).toContain('https_proxy');
    expect(blobFiles(dir)).toEqual([]);
  }, 30_000);

  it('Ctrl-C stops a running download: InterruptedError (exit 130), no blob, no temp file', async () => {
    const procedure = await loadWith(`  - { name: stall.jar, url: "${server.origin}/stall.jar", sha256: ${jarSha} }\n`);
    const controller = new AbortController();
    const dir = mkdtempSync(path.join(work, 'cache-'));
    const cache = createArtifactCache({ dir, download: createCurlDownload({ env: baseEnv, signal: controller.signal }), signal: controller.signal });
    const before = server.requests.get('/stall.jar') ?? 0;
    const resolving = cache.resolve(procedure).catch((e: unknown) => e);
    // abort once the server has the request: the transfer is under way
    while ((server.requests.get('/stall.jar') ?? 0) === before) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const error = (await resolving) as InterruptedError;
    expect(error).toBeInstanceOf(InterruptedError);
    expect(error.exitCode).toBe(ExitCode.interrupted);
    expect(blobFiles(dir)).toEqual([]);
  });

  it('a missing curl is ToolMissingError (exit 8) naming the install step', async () => {
    const procedure = await loadWith(`  - { name: app.jar, url: "${server.origin}/app.jar", sha256: ${jarSha} }\n`);
    const error = (await newCache({ curl: path.join(work, 'no-such-curl') }).cache.resolve(procedure).catch((e: unknown) => e)) as ToolMissingError;
    expect(error).toBeInstanceOf(ToolMissingError);
    expect(error.exitCode).toBe(ExitCode.toolMissing);
    expect(error.hint).toBe('install it: apt-get install curl');
  });

  it('concurrent runs fetching one blob into one cache all end with the verified blob', async () => {
    const procedure = await loadWith(`  - { name: app.jar, url: "${server.origin}/app.jar", sha256: ${jarSha} }\n`);
    const dir = mkdtempSync(path.join(work, 'cache-'));
    const results = await Promise.all(Array.from({ length: 6 }, () => newCache({ dir }).cache.resolve(procedure)));
    for (const blobs of results) expect(readFileSync(blobs.get('app.jar')!.path).equals(jar)).toBe(true);
    expect(blobFiles(dir)).toEqual([jarSha]);
  });
});

describe('artefact cache over HTTPS and proxies', () => {
  let ca: TestCa;
  let secure: ArtifactServer;
  let selfSigned: ArtifactServer;

  beforeAll(async () => {
    ca = createTestCa();
    secure = await startArtifactServer({ files: new Map([['/app.jar', jar]]), tls: { key: ca.key, cert: ca.cert } });
    selfSigned = await startArtifactServer({ files: new Map([['/app.jar', jar]]), tls: ca.untrusted });
  });
  afterAll(async () => {
    await secure.close();
    await selfSigned.close();
    ca.remove();
  });

  it('trusts a CA named by CURL_CA_BUNDLE (as the system store would), and refuses an untrusted certificate with a TLS error', async () => {
    const trusted = await loadWith(`  - { name: app.jar, url: "${secure.origin}/app.jar", sha256: ${jarSha} }\n`);
    const blobs = await newCache({ env: { ...baseEnv, CURL_CA_BUNDLE: ca.caFile } }).cache.resolve(trusted);
    expect(statSync(blobs.get('app.jar')!.path).size).toBe(jar.length);

    const untrusted = await loadWith(`  - { name: app.jar, url: "${selfSigned.origin}/app.jar", sha256: ${jarSha} }\n`);
    const error = (await newCache({ env: { ...baseEnv, CURL_CA_BUNDLE: ca.caFile } }).cache.resolve(untrusted).catch((e: unknown) => e)) as ArtifactFetchError;
    expect(error).toBeInstanceOf(ArtifactFetchError);
    expect(error.message).toContain(`${selfSigned.origin}/app.jar: TLS failure`);
    expect(error.hint).toContain('system CA store');
    expect(selfSigned.total()).toBe(0);
  });

  it('honours http_proxy and https_proxy (GET and CONNECT through the proxy), and no_proxy', async () => {
    const plainProxy = await startForwardProxy({ host: '127.0.0.1', port: Number(new URL(server.origin).port) });
    const tlsProxy = await startForwardProxy({ host: '127.0.0.1', port: Number(new URL(secure.origin).port) });
    try {
      // a host that resolves nowhere: only the proxy can reach it
      const viaHttp = await loadWith(`  - { name: app.jar, url: "http://artefacts.example.invalid/app.jar", sha256: ${jarSha} }\n`);
      await newCache({ env: { ...baseEnv, http_proxy: plainProxy.url } }).cache.resolve(viaHttp);
      expect(plainProxy.gets).toEqual(['http://artefacts.example.invalid/app.jar']);

      const viaTls = await loadWith(`  - { name: app.jar, url: "${secure.origin}/app.jar", sha256: ${jarSha} }\n`);
      await newCache({ env: { ...baseEnv, https_proxy: tlsProxy.url, CURL_CA_BUNDLE: ca.caFile } }).cache.resolve(viaTls);
      expect(tlsProxy.connects).toEqual([new URL(secure.origin).host]);

      const direct = await loadWith(`  - { name: app.jar, url: "${server.origin}/app.jar", sha256: ${jarSha} }\n`);
      await newCache({ env: { ...baseEnv, http_proxy: plainProxy.url, no_proxy: '127.0.0.1' } }).cache.resolve(direct);
      expect(plainProxy.gets).toHaveLength(1);
    } finally {
      await plainProxy.close();
      await tlsProxy.close();
    }
  });
});

describe('resolveCacheDir', () => {
  it('is OZG_CACHE_DIR, else $XDG_CACHE_HOME/ozg, else ~/.cache/ozg', () => {
    expect(resolveCacheDir({ OZG_CACHE_DIR: '/srv/cache', XDG_CACHE_HOME: '/x', HOME: '/home/a' })).toBe('/srv/cache');
    expect(resolveCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/home/a' })).toBe('/x/ozg');
    expect(resolveCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/a' })).toBe('/home/a/.cache/ozg');
    expect(resolveCacheDir({ HOME: '/home/a' })).toBe('/home/a/.cache/ozg');
  });
});
