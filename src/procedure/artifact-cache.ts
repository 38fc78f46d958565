/**
 * The artefact cache on the ozg machine: blobs by sha256 under `<cache>/blobs/sha256/<hex>`.
 * A blob enters only verified: the bytes go to a temp file in the same folder while their
 * sha256 is computed, and only a match is renamed into place, so a crash or a second ozg
 * fetching the same blob never leaves a wrong one. Targets never fetch anything: municipal
 * data centers are often closed networks, ozg pushes what they need.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import { ArtifactFetchError, InterruptedError, InvalidInputError, OzgError, RecordWriteError } from '../errors.js';
import { resolveContainedPath } from './contained-path.js';
import { DownloadCancelled, redactUrl, type Download } from './curl-download.js';
import { hashFile } from './static-files.js';
import type { BlobSource, Procedure, ProcedureArtifact } from './types.js';

export interface ArtifactCacheOptions {
  /** ozg's cache folder (see resolveCacheDir); blobs live in `<dir>/blobs/sha256/` */
  dir: string;
  download: Download;
  /** downloads and verifications at once; default 4 */
  concurrency?: number;
  /** a cached blob whose bytes no longer match its name (it is fetched again) */
  onWarning?(message: string): void;
  /** aborted (Ctrl-C): a download that fails then failed because of it */
  signal?: AbortSignal;
}

export interface ArtifactCache {
  /**
   * The procedure's artefacts as verified blobs, by artefact name: each distinct one fetched
   * at most once per run (and not at all when the cache has it). A wrong checksum is an
   * InvalidInputError naming procedure.yaml's line; a failed download an ArtifactFetchError.
   */
  resolve(procedure: Procedure): Promise<Map<string, BlobSource>>;
}

/** `OZG_CACHE_DIR`, else `$XDG_CACHE_HOME/ozg`, else `~/.cache/ozg`. */
export function resolveCacheDir(env: Record<string, string | undefined>): string {
  if (env.OZG_CACHE_DIR) return path.resolve(env.OZG_CACHE_DIR);
  // the XDG spec: a relative value is invalid and ignored
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, 'ozg');
  return path.join(env.HOME || os.homedir(), '.cache', 'ozg');
}

export function createArtifactCache(options: ArtifactCacheOptions): ArtifactCache {
  const blobDir = path.join(options.dir, 'blobs', 'sha256');
  const limit = pLimit(options.concurrency ?? 4);
  const blobs = new Map<string, Promise<BlobSource>>();
  const procedures = new WeakMap<Procedure, Promise<Map<string, BlobSource>>>();
  let sweep: Promise<void> | undefined;

  const ensure = (artifact: ProcedureArtifact, procedure: Procedure): Promise<BlobSource> => {
    // one download per URL however many procedures name it; a path is one file of one version folder
    const key = 'url' in artifact.source ? `${artifact.sha256}\0${artifact.source.url}` : `${artifact.sha256}\0${procedure.dir}\0${artifact.source.path}`;
    let blob = blobs.get(key);
    if (!blob) {
      blob = limit(async () => {
        sweep ??= removeStaleParts(blobDir);
        await sweep;
        return ensureBlob(blobDir, artifact, procedure, options);
      });
      blobs.set(key, blob);
    }
    return blob;
  };

  return {
    resolve(procedure) {
      let resolved = procedures.get(procedure);
      if (!resolved) {
        resolved = resolveAll(procedure, ensure);
        procedures.set(procedure, resolved);
      }
      return resolved;
    },
  };
}

async function resolveAll(procedure: Procedure, ensure: (artifact: ProcedureArtifact, procedure: Procedure) => Promise<BlobSource>): Promise<Map<string, BlobSource>> {
  const artifacts = procedure.artifacts ?? [];
  const settled = await Promise.allSettled(artifacts.map((artifact) => ensure(artifact, procedure)));
  const found = new Map<string, BlobSource>();
  const problems: InvalidInputError[] = [];
  let other: unknown;
  settled.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') found.set(artifacts[index]!.name, outcome.value);
    else if (outcome.reason instanceof InvalidInputError) problems.push(outcome.reason);
    else other ??= outcome.reason;
  });
  // a wrong checksum is the input's fault and says exactly what to fix: it decides the exit code
  if (problems.length > 0) throw new InvalidInputError(problems.flatMap((p) => p.problems), { hint: problems[0]!.hint });
  if (other !== undefined) throw other;
  return found;
}

async function ensureBlob(blobDir: string, artifact: ProcedureArtifact, procedure: Procedure, options: ArtifactCacheOptions): Promise<BlobSource> {
  const final = path.join(blobDir, artifact.sha256);
  const cached = await verifyCached(final, artifact.sha256, options);
  if (cached) return cached;
  await mkdir(blobDir, { recursive: true }).catch((error: unknown) => {
    throw new RecordWriteError(blobDir, describe(error), { what: 'the artefact cache', hint: 'make the cache folder writable, or set OZG_CACHE_DIR', cause: error });
  });
  // in the blob's own folder, so the rename below is atomic; a name no other run uses
  const temp = path.join(blobDir, `.${artifact.sha256}.${process.pid}.${randomUUID()}.part`);
  try {
    const got = await copyIntoTemp(artifact, procedure, temp, options.download).catch((error: unknown) => {
      if (options.signal?.aborted) throw new InterruptedError(`interrupted while fetching artifact ${artifact.name}; nothing was deployed`, { cause: error });
      if (!(error instanceof ArtifactFetchError) || error.artifact) throw error;
      throw new ArtifactFetchError(error.url, error.reason, { hint: error.hint, cause: error, artifact: `artifact ${artifact.name} (${artifact.at.file}:${artifact.at.line})` });
    });
    if (got.sha256 !== artifact.sha256) throw checksumMismatch(artifact, got);
    await rename(temp, final);
    return { sha256: artifact.sha256, size: got.size, path: final };
  } finally {
    await rm(temp, { force: true });
  }
}

/** A day: no download takes that long, so such a temp file was left by a run that was killed. */
const STALE_PART_MS = 24 * 60 * 60 * 1000;

/** Temp files of runs killed mid-download; a failure here never stops a deploy. */
async function removeStaleParts(blobDir: string): Promise<void> {
  const names = await readdir(blobDir).catch(() => [] as string[]);
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith('.part')) continue;
    const file = path.join(blobDir, name);
    const info = await stat(file).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_PART_MS) await rm(file, { force: true }).catch(() => {});
  }
}

/**
 * A blob already in the cache, read through once per run: a disk error or a hand edit since
 * it was verified must not reach a hundred targets. A mismatch is removed and fetched again.
 */
async function verifyCached(final: string, sha256: string, options: ArtifactCacheOptions): Promise<BlobSource | undefined> {
  const info = await stat(final).catch(() => undefined);
  if (!info) return undefined;
  const got = await hashFile(final).catch(() => undefined);
  if (got && got.sha256 === sha256) return { sha256, size: got.size, path: final };
  options.onWarning?.(`the cached blob ${final} does not match its sha256 (damaged on disk?); it is removed and fetched again`);
  await rm(final, { force: true });
  return undefined;
}

async function copyIntoTemp(artifact: ProcedureArtifact, procedure: Procedure, temp: string, download: Download): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  // exclusive: a name no other run uses, never a file someone put there
  const sink = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
  if ('url' in artifact.source) {
    const transfer = download(artifact.source.url);
    const piping = pipeline(transfer.body, tap, sink).catch((error: unknown) => {
      transfer.cancel();
      throw error;
    });
    const [piped, done] = await Promise.allSettled([piping, transfer.done]);
    // a failed write cancels curl: its complaint then is only the consequence
    if (done.status === 'rejected' && !(done.reason instanceof DownloadCancelled)) throw done.reason;
    if (piped.status === 'rejected') throw writeFailure(temp, piped.reason);
  } else {
    const source = await openCatalogueFile(procedure, artifact, artifact.source.path).catch((error: unknown) => {
      sink.destroy();
      throw error;
    });
    await pipeline(createReadStream(source), tap, sink).catch((error: unknown) => {
      throw writeFailure(temp, error);
    });
  }
  // on disk before the rename: a crash right after must not leave a short blob under its name
  const written = await open(temp, 'r+');
  try {
    await written.sync();
  } finally {
    await written.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/** A `path:` artefact, still inside its version folder now that it is read. */
async function openCatalogueFile(procedure: Procedure, artifact: ProcedureArtifact, relative: string): Promise<string> {
  const found = await resolveContainedPath(procedure.dir, relative);
  if (found.status === 'inside' && found.kind === 'file') return found.real;
  const reason = found.status === 'outside' ? `leads outside the procedure version folder (to ${found.real})` : 'is not a file next to procedure.yaml';
  throw new InvalidInputError([{ ...artifact.at, path: artifact.at.path.replace(/sha256$/, 'path'), message: `artifact ${artifact.name}: ${relative} ${reason}` }]);
}

function checksumMismatch(artifact: ProcedureArtifact, got: { sha256: string; size: number }): InvalidInputError {
  const from = 'url' in artifact.source ? redactUrl(artifact.source.url) : artifact.source.path;
  return new InvalidInputError(
    [{ ...artifact.at, message: `artifact ${artifact.name}: expected sha256 ${artifact.sha256}, but ${from} has ${got.sha256} (${got.size} bytes); nothing was deployed` }],
    { hint: 'if the new file is the one you want, put its sha256 (sha256sum) into procedure.yaml; otherwise fix the URL or path' },
  );
}

function writeFailure(temp: string, error: unknown): OzgError {
  if (error instanceof OzgError) return error;
  return new RecordWriteError(temp, describe(error), { what: 'the artefact cache', hint: 'free space on the disk holding the cache, or set OZG_CACHE_DIR', cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
