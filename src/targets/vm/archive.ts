/**
 * A small ustar (POSIX.1-1988) writer with a PAX fallback for long names, so the VM driver can
 * stream a release to a target over stdin as one archive and unpack it there with the target's
 * own `tar -x`. Only what releases need: regular files and directories. Members whose bytes
 * live in a file (`source`) are read in chunks while the archive streams, so a 50 MB artefact
 * sent to many targets at once never sits in memory (issue 12).
 */
import { open } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { InternalError } from '../../errors.js';

/** One archive member; paths are relative POSIX paths, directories without a trailing slash. */
export interface ArchiveEntry {
  path: string;
  type: 'file' | 'directory';
  /** permission bits, e.g. 0o644; special bits (setuid, setgid, sticky) are dropped */
  mode: number;
  /** file content; directories have none */
  content?: Buffer;
  /** a file's bytes read from this file on this machine instead of `content` */
  source?: ArchiveSource;
}

/** A member's bytes in a file: `size` is what the archive header announces, and must match. */
export interface ArchiveSource {
  path: string;
  size: number;
}

/** Raised while an archive streams when a member's source file cannot be read as announced. */
export class ArchiveSourceError extends Error {
  constructor(
    readonly source: ArchiveSource,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot read ${source.path}: ${message}`, options);
    this.name = 'ArchiveSourceError';
  }
}

/** Bytes per read of a member's source file: what a stream holds per member at a time. */
export const ARCHIVE_CHUNK_BYTES = 64 * 1024;

export interface CreateArchiveOptions {
  /** modification time of every member (default: the epoch, so equal input gives equal bytes) */
  mtime?: Date;
}

const BLOCK = 512;
const NAME_MAX = 100;
const PREFIX_MAX = 155;
// 11 octal digits: the largest size a plain ustar header can carry (8 GiB - 1).
const SIZE_MAX = 0o77777777777;

/** Throws unless `path` is a plain relative path: no `..`, `.` or empty segments, not absolute. */
export function validateArchivePath(path: string): string {
  const problem = findArchivePathProblem(path);
  if (problem) throw new InternalError(`archive path ${JSON.stringify(path)} ${problem}`);
  return path;
}

/** What is wrong with `path` as an archive member path, or undefined for a plain relative path. */
export function findArchivePathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.startsWith('/')) return 'is absolute';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, `.` or `..` segment';
  return undefined;
}

/**
 * Add a directory entry for every parent directory the entries imply, parents before children,
 * so `tar -x` never invents a directory with a mode of its own choosing.
 */
export function addParentDirectories(entries: ArchiveEntry[], directoryMode = 0o755): ArchiveEntry[] {
  const explicit = new Map(entries.filter((e) => e.type === 'directory').map((e) => [e.path, e]));
  const directories = new Map(explicit);
  for (const entry of entries) {
    const segments = entry.path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (!directories.has(dir)) directories.set(dir, { path: dir, type: 'directory', mode: directoryMode });
    }
  }
  // Plain code-unit order puts every parent before its children (a prefix sorts first).
  const sortedDirectories = [...directories.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return [...sortedDirectories, ...entries.filter((e) => e.type === 'file')];
}

/** Serialise entries as one tar archive in memory (a cloud-init seed embeds it); `source` members are read whole. */
export function createTarArchive(entries: ArchiveEntry[], options: CreateArchiveOptions = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const part of archiveParts(entries, options)) {
    if (Buffer.isBuffer(part)) {
      blocks.push(part);
      continue;
    }
    const content = readSourceWhole(part);
    blocks.push(content, padding(content.length));
  }
  return Buffer.concat(blocks);
}

/**
 * The same archive as a stream: headers and `content` as they are, `source` members read in
 * chunks of ARCHIVE_CHUNK_BYTES only as fast as the reader takes them. A source file that is
 * missing, shorter or longer than announced fails the stream with an ArchiveSourceError.
 */
export function streamTarArchive(entries: ArchiveEntry[], options: CreateArchiveOptions = {}): Readable {
  // the parts are computed up front, so a bad path throws here, not half-way through a stream
  const parts = [...archiveParts(entries, options)];
  async function* chunks(): AsyncGenerator<Buffer> {
    // Headers, small files and padding go out together: each chunk becomes at least one SSH
    // packet (an encryption and a socket write on both ends), so 40 parts of 512 bytes would cost 40.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): Buffer | undefined => {
      if (pendingBytes === 0) return undefined;
      const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      return chunk;
    };
    for (const part of parts) {
      if (Buffer.isBuffer(part)) {
        if (pendingBytes + part.length > ARCHIVE_CHUNK_BYTES) {
          const chunk = flush();
          if (chunk) yield chunk;
        }
        if (part.length >= ARCHIVE_CHUNK_BYTES) yield part;
        else if (part.length > 0) {
          pending.push(part);
          pendingBytes += part.length;
        }
      } else {
        const chunk = flush();
        if (chunk) yield chunk;
        yield* readSourceChunks(part);
        const pad = padding(part.size);
        if (pad.length > 0) {
          pending.push(pad);
          pendingBytes += pad.length;
        }
      }
    }
    const last = flush();
    if (last) yield last;
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: ARCHIVE_CHUNK_BYTES });
}

/** Headers and in-memory data as buffers, in archive order; a `source` member's data as its source. */
function* archiveParts(entries: ArchiveEntry[], options: CreateArchiveOptions): Generator<Buffer | ArchiveSource> {
  const mtime = Math.max(0, Math.floor((options.mtime?.getTime() ?? 0) / 1000));
  const seen = new Set<string>();
  const headers: Buffer[] = [];
  const data: Array<Buffer | ArchiveSource> = [];
  for (const entry of entries) {
    validateArchivePath(entry.path);
    if (seen.has(entry.path)) throw new InternalError(`archive path ${JSON.stringify(entry.path)} appears twice`);
    seen.add(entry.path);
    const source = entry.type === 'file' ? entry.source : undefined;
    const content = entry.type === 'file' && !source ? (entry.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const size = source ? source.size : content.length;
    if (!Number.isSafeInteger(size) || size < 0) throw new InternalError(`archive member ${entry.path} has size ${size}`);
    if (size > SIZE_MAX) throw new InternalError(`archive member ${entry.path} is too large for ustar`);
    const name = Buffer.from(entry.type === 'directory' ? entry.path + '/' : entry.path, 'utf8');
    const split = splitUstarName(name);
    const header = { mode: entry.mode & 0o777, size, mtime, type: entry.type === 'file' ? '0' : '5' };
    if (split) {
      headers.push(writeHeader({ ...header, name: split.name, prefix: split.prefix }));
    } else {
      const pax = encodePaxRecord('path', name);
      headers.push(writeHeader({ mode: 0o644, size: pax.length, mtime, type: 'x', name: paxHeaderName(name), prefix: Buffer.alloc(0) }));
      headers.push(padToBlock(pax));
      headers.push(writeHeader({ ...header, name: name.subarray(0, NAME_MAX), prefix: Buffer.alloc(0) }));
    }
    if (source && size > 0) data.push(source);
    else if (content.length > 0) {
      // the bytes as they are and the padding after them: a copy of a 200 KB asset per target was the archive's largest cost
      data.push(content);
      if (content.length % BLOCK !== 0) data.push(padding(content.length));
    }
    // headers (and small data) are yielded together; a source's data is read when its turn comes
    yield* headers.splice(0);
    yield* data.splice(0);
  }
  // Two zero blocks end an archive.
  yield Buffer.alloc(2 * BLOCK);
}

function readSourceWhole(source: ArchiveSource): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(source.path);
  } catch (error) {
    throw new ArchiveSourceError(source, (error as Error).message, { cause: error });
  }
  if (content.length !== source.size) throw new ArchiveSourceError(source, `it holds ${content.length} bytes, not the ${source.size} expected`);
  return content;
}

async function* readSourceChunks(source: ArchiveSource): AsyncGenerator<Buffer> {
  let handle;
  try {
    handle = await open(source.path, 'r');
  } catch (error) {
    throw new ArchiveSourceError(source, (error as Error).message, { cause: error });
  }
  try {
    // checked before the first byte: a member cut short is what tar on the target must see,
    // never a complete archive of wrong bytes (a file that grows while read is caught there
    // by its sha256)
    const { size } = await handle.stat();
    if (size !== source.size) throw new ArchiveSourceError(source, `it holds ${size} bytes, not the ${source.size} expected`);
    let offset = 0;
    while (offset < source.size) {
      // a fresh buffer per chunk: the stream's reader may still hold the one before
      const buffer = Buffer.allocUnsafe(Math.min(ARCHIVE_CHUNK_BYTES, source.size - offset));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) throw new ArchiveSourceError(source, `it ended after ${offset} of ${source.size} bytes`);
      offset += bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** ustar splits a long name at a slash into prefix (≤155 bytes) and name (≤100 bytes). */
function splitUstarName(name: Buffer): { name: Buffer; prefix: Buffer } | undefined {
  if (name.length <= NAME_MAX) return { name, prefix: Buffer.alloc(0) };
  // The last byte may be a directory's trailing slash; splitting there would leave no name.
  for (let i = 0; i < name.length - 1; i++) {
    if (name[i] !== 0x2f) continue;
    if (i <= PREFIX_MAX && name.length - i - 1 <= NAME_MAX) {
      return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
  }
  return undefined;
}

/** A PAX record is `<length> <key>=<value>\n`, where length counts the whole record, itself included. */
function encodePaxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let digits = 1;
  while (String(body.length + digits).length !== digits) digits++;
  return Buffer.concat([Buffer.from(String(body.length + digits)), body]);
}

function paxHeaderName(name: Buffer): Buffer {
  // Informational only (readers take the path from the record); keep it short and ASCII.
  const base = name.toString('latin1').replace(/[^A-Za-z0-9._-]/g, '_').slice(-60);
  return Buffer.from(`PaxHeaders/${base}`, 'latin1');
}

interface HeaderFields {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  size: number;
  mtime: number;
  type: string;
}

function writeHeader(fields: HeaderFields): Buffer {
  const header = Buffer.alloc(BLOCK);
  fields.name.copy(header, 0);
  writeOctal(header, 100, 8, fields.mode);
  writeOctal(header, 108, 8, 0); // uid: the extracting user owns the files (tar runs with --no-same-owner)
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, fields.size);
  writeOctal(header, 136, 12, fields.mtime);
  header.write(fields.type, 156, 'latin1');
  header.write('ustar\u000000', 257, 'latin1'); // magic "ustar\0" + version "00"
  fields.prefix.copy(header, 345);
  // The checksum is computed with its own field read as eight spaces.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += header[i]!;
  header.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 'latin1');
  return header;
}

function writeOctal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(value.toString(8).padStart(width - 1, '0') + '\u0000', offset, 'latin1');
}

function padToBlock(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}
