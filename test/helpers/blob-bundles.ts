/**
 * Bundles with blob files for the blob store tests: blobs are real temp files with their
 * sha256, as the artefact cache hands them to the driver, and a transport wrapper counts
 * every byte written to a script's stdin (streamed archives included) and every exec.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { BlobSource, Bundle, BundleFile } from '../../src/procedure/types.js';
import type { ExecOptions, ShellTransport } from '../../src/targets/vm/transport.js';

/** Writes `bytes` pseudo-random bytes from `seed` into `path`, 1 MiB at a time, and returns the blob. */
export function writeBlobFile(path: string, bytes: number, seed: number): BlobSource {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    let state = seed >>> 0 || 1;
    for (let offset = 0; offset < bytes; ) {
      const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, bytes - offset));
      for (let i = 0; i < chunk.length; i++) {
        // xorshift32: cheap bytes that do not compress
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk[i] = state & 0xff;
      }
      writeSync(fd, chunk);
      hash.update(chunk);
      offset += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size: bytes, path };
}

export function blobFile(path: string, blob: BlobSource, mode = 0o644): BundleFile {
  return { path, content: Buffer.alloc(0), blob, mode, sensitive: false };
}

export function textFile(path: string, content: string | Buffer, mode = 0o644, sensitive = false): BundleFile {
  return { path, content: Buffer.isBuffer(content) ? content : Buffer.from(content), mode, sensitive };
}

export function makeBlobBundle(version: string, files: BundleFile[], procedure = 'fachverfahren'): Bundle {
  return {
    site: 'kiel',
    environment: 'test',
    procedure,
    version,
    targetKind: 'vm',
    files,
    hooks: {},
    smoke: [],
    hash: createHash('sha256').update(version).update(JSON.stringify(files.map((f) => [f.path, f.mode, f.blob?.sha256, f.content.toString('base64')]))).digest('hex'),
  };
}

export interface CountingTransport extends ShellTransport {
  execs: number;
  /** bytes written to scripts' stdin since the last reset */
  stdinBytes: number;
  /** runs before each exec (a test removes a store blob "by hand" there) */
  beforeExec?: (script: string) => void;
  reset(): void;
}

/** Wraps a transport: counts execs and stdin bytes as they are read by the transport. */
export function countStdin(inner: ShellTransport): CountingTransport {
  const counting: CountingTransport = {
    execs: 0,
    stdinBytes: 0,
    where: inner.where,
    reset() {
      counting.execs = 0;
      counting.stdinBytes = 0;
    },
    exec(script: string, options: ExecOptions = {}) {
      counting.execs++;
      counting.beforeExec?.(script);
      const { stdin } = options;
      if (stdin instanceof Readable) {
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            counting.stdinBytes += chunk.length;
            callback(null, chunk);
          },
        });
        stdin.once('error', (error) => counter.destroy(error));
        // the transport stops reading when the script ends early: stop the source as well
        counter.once('close', () => stdin.destroy());
        return inner.exec(script, { ...options, stdin: stdin.pipe(counter) });
      }
      if (stdin !== undefined) counting.stdinBytes += Buffer.byteLength(stdin);
      return inner.exec(script, options);
    },
    close: () => inner.close(),
  };
  return counting;
}

/** name → { inode, links } of every file in a store folder ({} when it does not exist) */
export function listStore(dir: string): Record<string, { ino: number; nlink: number; mode: number }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return {};
  }
  return Object.fromEntries(
    names.map((name) => {
      const s = statSync(join(dir, name));
      return [name, { ino: s.ino, nlink: s.nlink, mode: s.mode & 0o777 }];
    }),
  );
}
