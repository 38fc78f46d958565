/**
 * The artefact cache's own rules with a hand-written download (the real curl is in
 * test/integration/artifact-cache.test.ts): bounded concurrency, one download per URL per
 * run, temp files of killed runs swept.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createArtifactCache } from '../../../src/procedure/artifact-cache.js';
import type { Download } from '../../../src/procedure/curl-download.js';
import type { Procedure, ProcedureArtifact } from '../../../src/procedure/types.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'ozg-artifact-unit-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bytesOf = (url: string): Buffer => Buffer.from(`bytes of ${url}\n`);
const shaOf = (url: string): string => createHash('sha256').update(bytesOf(url)).digest('hex');

function artifact(url: string): ProcedureArtifact {
  return { name: path.basename(url), sha256: shaOf(url), source: { url }, dest: `artifacts/${path.basename(url)}`, mode: 0o644, at: { file: 'procedure.yaml', line: 1, col: 1, path: 'artifacts' } };
}

function procedure(name: string, urls: string[]): Procedure {
  return { name, version: '1.0.0', description: '', dir: path.join(work, name), file: path.join(work, name, 'procedure.yaml'), valuesSchema: {}, secrets: [], smoke: [], artifacts: urls.map(artifact) };
}

/** Serves each URL's bytes when the test releases it; records how many were in flight at most. */
function createGatedDownload(): { download: Download; requested: string[]; maxInFlight: () => number; releaseAll: () => void } {
  const requested: string[] = [];
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let max = 0;
  const download: Download = (url) => {
    requested.push(url);
    inFlight++;
    max = Math.max(max, inFlight);
    const body = new PassThrough();
    const done = new Promise<void>((resolve) => {
      waiting.push(() => {
        inFlight--;
        body.end(bytesOf(url));
        resolve();
      });
    });
    return { body, done, cancel: () => body.destroy() };
  };
  const releaseAll = (): void => {
    for (const release of waiting.splice(0)) release();
  };
  return { download, requested, maxInFlight: () => max, releaseAll };
}

it('downloads at most `concurrency` at once, and a URL two procedures name only once', async () => {
  const gate = createGatedDownload();
  const cache = createArtifactCache({ dir: mkdtempSync(path.join(work, 'cache-')), download: gate.download, concurrency: 3 });
  const urls = Array.from({ length: 8 }, (_, i) => `https://example.invalid/a${i}.jar`);
  const resolving = Promise.all([cache.resolve(procedure('one', urls)), cache.resolve(procedure('two', urls.slice(0, 4)))]);
  // release whatever is waiting until everything is through
  const timer = setInterval(gate.releaseAll, 5);
  try {
    const [one, two] = await resolving;
    expect(one.size).toBe(8);
    expect(two.get('a0.jar')).toEqual(one.get('a0.jar'));
  } finally {
    clearInterval(timer);
  }
  expect(gate.maxInFlight()).toBeLessThanOrEqual(3);
  expect([...gate.requested].sort()).toEqual([...urls].sort());
});

it('downloads a URL that several procedures name once, even when they ask at the same time', async () => {
  const gate = createGatedDownload();
  const cache = createArtifactCache({ dir: mkdtempSync(path.join(work, 'cache-')), download: gate.download, concurrency: 10 });
  const url = 'https://example.invalid/shared.jar';
  const resolving = Promise.all(['p1', 'p2', 'p3'].map((name) => cache.resolve(procedure(name, [url]))));
  const timer = setInterval(gate.releaseAll, 5);
  try {
    await resolving;
  } finally {
    clearInterval(timer);
  }
  expect(gate.requested).toEqual([url]);
});

it('removes temp files a killed run left in the cache (older than a day), and no others', async () => {
  const dir = mkdtempSync(path.join(work, 'cache-'));
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(path.join(blobs, '.old.part'), 'x');
  writeFileSync(path.join(blobs, '.fresh.part'), 'x');
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  utimesSync(path.join(blobs, '.old.part'), twoDaysAgo, twoDaysAgo);
  const gate = createGatedDownload();
  const timer = setInterval(gate.releaseAll, 5);
  try {
    await createArtifactCache({ dir, download: gate.download }).resolve(procedure('three', ['https://example.invalid/x.jar']));
  } finally {
    clearInterval(timer);
  }
  expect(readdirSync(blobs).sort()).toEqual(['.fresh.part', shaOf('https://example.invalid/x.jar')]);
});
