import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  addParentDirectories,
  ARCHIVE_CHUNK_BYTES,
  ArchiveSourceError,
  createTarArchive,
  streamTarArchive,
  validateArchivePath,
  type ArchiveEntry,
} from '../../../src/targets/vm/archive.js';

function requireTar(): void {
  const probe = spawnSync('tar', ['--version']);
  if (probe.status !== 0) throw new Error('these tests need tar on PATH: apt-get install -y tar');
}

function extract(archive: Buffer, dir: string): { stderr: string } {
  // Same flags the VM driver uses; a tight umask proves modes come from the archive (-p).
  const r = spawnSync('sh', ['-c', 'cd "$1" && umask 077 && tar -x -p --no-same-owner -f -', 'sh', dir], { input: archive });
  if (r.status !== 0) throw new Error(`tar -x failed: ${r.stderr}`);
  return { stderr: r.stderr.toString() };
}

function list(archive: Buffer): string[] {
  const r = spawnSync('tar', ['-t', '-f', '-'], { input: archive });
  if (r.status !== 0 || r.stderr.length > 0) throw new Error(`tar -t failed: ${r.stderr}`);
  return r.stdout.toString().split('\n').filter(Boolean);
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('createTarArchive', () => {
  let dir: string;
  beforeAll(requireTar);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ozg-archive-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips files byte-identically with their modes through tar -x', () => {
    const binary = randomBytes(70_000);
    const entries = addParentDirectories([
      { path: 'config/app.env', type: 'file', mode: 0o600, content: Buffer.from('PASSWORD=s3cret\n') },
      { path: 'hooks/install.sh', type: 'file', mode: 0o755, content: Buffer.from('#!/bin/sh\necho hi\n') },
      { path: 'data/blob.bin', type: 'file', mode: 0o644, content: binary },
      { path: 'data/empty', type: 'file', mode: 0o640 },
      { path: 'private', type: 'directory', mode: 0o700 },
      { path: 'Bürgeramt/straße.txt', type: 'file', mode: 0o644, content: Buffer.from('ä\n') },
    ]);
    const archive = createTarArchive(entries, { mtime: new Date('2024-05-01T00:00:00Z') });
    expect(archive.length % 512).toBe(0);
    expect(extract(archive, dir).stderr).toBe('');

    expect(readFileSync(join(dir, 'data/blob.bin')).equals(binary)).toBe(true);
    expect(readFileSync(join(dir, 'data/empty')).length).toBe(0);
    expect(readFileSync(join(dir, 'Bürgeramt/straße.txt'), 'utf8')).toBe('ä\n');
    expect(mode(join(dir, 'config/app.env'))).toBe(0o600);
    expect(mode(join(dir, 'hooks/install.sh'))).toBe(0o755);
    expect(mode(join(dir, 'data/empty'))).toBe(0o640);
    expect(mode(join(dir, 'private'))).toBe(0o700);
    expect(mode(join(dir, 'config'))).toBe(0o755);
    expect(statSync(join(dir, 'data/blob.bin')).mtime.toISOString()).toBe('2024-05-01T00:00:00.000Z');
  });

  it('lists exactly the members, directories first, without warnings (tar -t)', () => {
    const entries = addParentDirectories([
      { path: 'a/b/c.txt', type: 'file', mode: 0o644, content: Buffer.from('c') },
      { path: 'a-b.txt', type: 'file', mode: 0o644, content: Buffer.from('x') },
    ]);
    expect(list(createTarArchive(entries))).toEqual(['a/', 'a/b/', 'a/b/c.txt', 'a-b.txt']);
  });

  it('stores long paths in the ustar prefix field or a PAX record', () => {
    const viaPrefix = `${'p'.repeat(90)}/${'q'.repeat(50)}/file-${'r'.repeat(80)}.txt`; // > 100 bytes, splittable
    const viaPax = Array.from({ length: 8 }, (_, i) => `segment-${i}-${'s'.repeat(40)}`).join('/') + '/end.txt'; // > 255 bytes
    const longSegment = 'x'.repeat(180) + '.txt'; // one name longer than 100 bytes: no slash to split at
    const longDir = `${'d'.repeat(120)}/${'e'.repeat(99)}`; // directory whose name + slash needs the prefix
    const multiByte = 'ü'.repeat(60) + '/' + 'ß'.repeat(60); // 241 bytes in UTF-8 though only 121 characters
    const files: ArchiveEntry[] = [viaPrefix, viaPax, longSegment, `${longDir}/f`, multiByte].map((path) => ({
      path,
      type: 'file',
      mode: 0o644,
      content: Buffer.from(`content of ${path}`),
    }));
    const archive = createTarArchive(addParentDirectories(files));
    extract(archive, dir);
    for (const f of files) expect(readFileSync(join(dir, f.path), 'utf8')).toBe(`content of ${f.path}`);
    const listed = list(archive);
    expect(listed).toEqual(expect.arrayContaining([viaPrefix, viaPax, longSegment, `${longDir}/`, multiByte]));
    expect(listed.some((l) => l.includes('PaxHeaders'))).toBe(false);
  });

  it('uses the ustar prefix, not PAX, when a slash split fits', () => {
    const path = `${'p'.repeat(120)}/${'f'.repeat(90)}`;
    const archive = createTarArchive([{ path, type: 'file', mode: 0o644, content: Buffer.from('x') }]);
    // header + one content block + two end blocks: no extra PAX header and record
    expect(archive.length).toBe(4 * 512);
    expect(archive.subarray(345, 345 + 120).toString()).toBe('p'.repeat(120));
    expect(list(archive)).toEqual([path]);
  });

  it('keeps names with backslashes, quotes, newlines and shell syntax literal', () => {
    const path = `odd/$(touch x) \`y\` 'q" \\n back\\slash\nnewline *`;
    extract(createTarArchive(addParentDirectories([{ path, type: 'file', mode: 0o644, content: Buffer.from('odd') }])), dir);
    expect(readFileSync(join(dir, path), 'utf8')).toBe('odd');
    expect(readdirSync(join(dir, 'odd'))).toEqual([path.slice(4)]);
  });

  it('produces the same bytes for the same input', () => {
    const entries: ArchiveEntry[] = [{ path: 'a.txt', type: 'file', mode: 0o644, content: Buffer.from('a') }];
    expect(createTarArchive(entries).equals(createTarArchive(entries))).toBe(true);
  });

  it('drops setuid, setgid and sticky bits', () => {
    extract(createTarArchive([{ path: 'x', type: 'file', mode: 0o4755, content: Buffer.from('') }]), dir);
    expect(statSync(join(dir, 'x')).mode & 0o7777).toBe(0o755);
  });

  it.each(['../escape', 'a/../../b', '/etc/passwd', 'a//b', './a', 'a/.', '', 'nul\0byte'])('rejects the path %j', (path) => {
    expect(() => validateArchivePath(path)).toThrow(/archive path/);
    expect(() => createTarArchive([{ path, type: 'file', mode: 0o644 }])).toThrow(/archive path/);
  });

  it('rejects a path that appears twice', () => {
    const e: ArchiveEntry = { path: 'a', type: 'file', mode: 0o644 };
    expect(() => createTarArchive([e, e])).toThrow(/appears twice/);
  });

  it('is readable by tar from a pipe without a full 10 KiB record', () => {
    // The driver streams archives over stdin; GNU tar must not insist on record padding.
    const out = execFileSync('sh', ['-c', 'tar -t -f - 2>&1'], { input: createTarArchive([{ path: 'a', type: 'file', mode: 0o644 }]) });
    expect(out.toString()).toBe('a\n');
  });
});

describe('streamTarArchive', () => {
  let dir: string;
  beforeAll(requireTar);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ozg-archive-stream-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Reads the stream chunk by chunk, counting, and pauses after each chunk to see what it holds buffered. */
  async function drain(stream: Readable, onChunk: (chunk: Buffer) => void = () => undefined): Promise<{ bytes: number; maxChunk: number; maxBuffered: number }> {
    let bytes = 0;
    let maxChunk = 0;
    let maxBuffered = 0;
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      maxChunk = Math.max(maxChunk, buffer.length);
      maxBuffered = Math.max(maxBuffered, stream.readableLength);
      onChunk(buffer);
    }
    return { bytes, maxChunk, maxBuffered };
  }

  it('streams a 64 MiB file in chunks of at most 64 KiB, never holding more than a few of them', async () => {
    const big = join(dir, 'big.bin');
    // sparse: 64 MiB of zeros that take no disk
    writeFileSync(big, '');
    truncateSync(big, 64 * 1024 * 1024);
    const entries: ArchiveEntry[] = [
      { path: 'lib', type: 'directory', mode: 0o755 },
      { path: 'lib/big.bin', type: 'file', mode: 0o644, source: { path: big, size: 64 * 1024 * 1024 } },
    ];
    const heapBefore = process.memoryUsage().heapUsed;
    let heapMax = heapBefore;
    const { bytes, maxChunk, maxBuffered } = await drain(streamTarArchive(entries), () => {
      heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
    });
    // 3 headers/end blocks + the data; the same size as the in-memory archive
    expect(bytes).toBe(512 + 512 + 64 * 1024 * 1024 + 1024);
    expect(maxChunk).toBeLessThanOrEqual(ARCHIVE_CHUNK_BYTES);
    expect(maxBuffered).toBeLessThanOrEqual(2 * ARCHIVE_CHUNK_BYTES);
    // buffers live outside the JS heap; the heap must not grow with the file either
    expect(heapMax - heapBefore).toBeLessThan(16 * 1024 * 1024);
  });

  it('gives the same bytes as createTarArchive, and tar -x unpacks files from disk byte-identically with their modes', async () => {
    const blob = randomBytes(300_001);
    writeFileSync(join(dir, 'blob.bin'), blob);
    const entries = addParentDirectories([
      { path: 'config/app.conf', type: 'file', mode: 0o640, content: Buffer.from('a=1\n') },
      { path: 'bin/app', type: 'file', mode: 0o755, source: { path: join(dir, 'blob.bin'), size: blob.length } },
      { path: `deep/${'x'.repeat(120)}/blob.copy`, type: 'file', mode: 0o644, source: { path: join(dir, 'blob.bin'), size: blob.length } },
    ]);
    const chunks: Buffer[] = [];
    await drain(streamTarArchive(entries, { mtime: new Date(1_700_000_000_000) }), (c) => chunks.push(c));
    const streamed = Buffer.concat(chunks);
    expect(streamed.equals(createTarArchive(entries, { mtime: new Date(1_700_000_000_000) }))).toBe(true);
    const out = join(dir, 'out');
    mkdirSync(out);
    extract(streamed, out);
    expect(readFileSync(join(out, 'bin/app')).equals(blob)).toBe(true);
    expect(mode(join(out, 'bin/app'))).toBe(0o755);
    expect(readFileSync(join(out, `deep/${'x'.repeat(120)}/blob.copy`)).equals(blob)).toBe(true);
    expect(readFileSync(join(out, 'config/app.conf'), 'utf8')).toBe('a=1\n');
    expect(mode(join(out, 'config/app.conf'))).toBe(0o640);
  });

  it('sends headers, small files and padding together: a 40-file release is one chunk (one SSH packet run), not 80', async () => {
    const entries = addParentDirectories(
      Array.from({ length: 40 }, (_, i): ArchiveEntry => ({ path: `etc/file-${i}.conf`, type: 'file', mode: 0o644, content: Buffer.from(`value=${i}\n`) })),
    );
    const chunks: Buffer[] = [];
    await drain(streamTarArchive(entries, { mtime: new Date(1_700_000_000_000) }), (c) => chunks.push(c));
    expect(chunks).toHaveLength(1);
    expect(Buffer.concat(chunks).equals(createTarArchive(entries, { mtime: new Date(1_700_000_000_000) }))).toBe(true);
  });

  it('a streamed file goes out in its own chunks as read, and the small parts around it travel together', async () => {
    const big = randomBytes(3 * ARCHIVE_CHUNK_BYTES + 7);
    writeFileSync(join(dir, 'blob.bin'), big);
    const entries = addParentDirectories([
      { path: 'a/small.txt', type: 'file', mode: 0o644, content: Buffer.from('x') },
      { path: 'a/big.js', type: 'file', mode: 0o644, content: big },
      { path: 'a/streamed.bin', type: 'file', mode: 0o644, source: { path: join(dir, 'blob.bin'), size: big.length } },
      { path: 'a/z1.txt', type: 'file', mode: 0o644, content: Buffer.from('y') },
      { path: 'a/z2.txt', type: 'file', mode: 0o644, content: Buffer.from('z') },
    ]);
    const chunks: Buffer[] = [];
    await drain(streamTarArchive(entries), (c) => chunks.push(c));
    expect(Buffer.concat(chunks).equals(createTarArchive(entries))).toBe(true);
    // everything in memory before the streamed file (big.js as it is, never copied to pad it) |
    // big.js's padding + the streamed file's header | its 4 chunks as read |
    // its padding + the 2 small files + the end blocks
    expect(chunks.map((c) => c.length)).toEqual([198_663, 1_017, 65_536, 65_536, 65_536, 7, 3_577]);
  });

  it('fails the stream, naming the file, when a source is missing, shorter or longer than announced', async () => {
    writeFileSync(join(dir, 'short.bin'), Buffer.alloc(10));
    for (const [size, path, problem] of [
      [10, join(dir, 'missing.bin'), 'ENOENT'],
      [20, join(dir, 'short.bin'), 'holds 10 bytes, not the 20 expected'],
      [5, join(dir, 'short.bin'), 'holds 10 bytes, not the 5 expected'],
    ] as const) {
      const stream = streamTarArchive([{ path: 'f', type: 'file', mode: 0o644, source: { path, size } }]);
      const error = await drain(stream).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ArchiveSourceError);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toContain(problem);
    }
  });
});
