import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  archiveName,
  decodeArchive,
  decodeRecord,
  encodeArchive,
  encodeRecord,
  liveReleaseOf,
  nextRevision,
  recordName,
  selectKeptReleases,
  type KeptRelease,
  type ReleaseRecord,
} from '../../../../src/targets/kubernetes/release-record.js';
import { LABELS } from '../../../../src/targets/kubernetes/manifests.js';

const record: ReleaseRecord = {
  procedure: 'antrag-formular',
  site: 'kiel',
  environment: 'test',
  live: {
    procedure: 'antrag-formular',
    version: '1.1.0',
    hash: 'b'.repeat(64),
    release: '20260102T000000Z-bbbbbbbb',
    deployedAt: '2026-01-02T00:00:00.000Z',
    revision: 2,
    previous: { version: '1.0.0', hash: 'a'.repeat(64), release: '20260101T000000Z-aaaaaaaa' },
  },
  kept: [
    { revision: 2, release: '20260102T000000Z-bbbbbbbb', version: '1.1.0', hash: 'b'.repeat(64), archive: 'ozg-release-antrag-formular.v2' },
    { revision: 1, release: '20260101T000000Z-aaaaaaaa', version: '1.0.0', hash: 'a'.repeat(64), archive: 'ozg-release-antrag-formular.v1' },
  ],
  kinds: ['apps/v1/Deployment', 'v1/ConfigMap'],
};

describe('release record', () => {
  it('round-trips through a labelled ConfigMap', () => {
    const configMap = encodeRecord(record, 'ozg-kiel-test', '42');
    expect(configMap.metadata).toMatchObject({
      name: 'ozg-release-antrag-formular',
      namespace: 'ozg-kiel-test',
      resourceVersion: '42',
      labels: { [LABELS.managedBy]: 'ozg', [LABELS.site]: 'kiel', [LABELS.procedure]: 'antrag-formular', [LABELS.record]: 'release' },
    });
    expect(decodeRecord(JSON.parse(JSON.stringify(configMap)), 'antrag-formular')).toEqual(record);
  });

  it('reports the live release without ozg-internal fields, and an unfinished change on top of it', () => {
    expect(liveReleaseOf(record)).toEqual({
      procedure: 'antrag-formular',
      version: '1.1.0',
      hash: 'b'.repeat(64),
      release: '20260102T000000Z-bbbbbbbb',
      deployedAt: '2026-01-02T00:00:00.000Z',
      previous: record.live!.previous,
    });
    const failing: ReleaseRecord = { ...record, incomplete: { action: 'apply', release: 'r3', version: '1.2.0', hash: 'c'.repeat(64), startedAt: 'x', failed: 'not ready' } };
    const decoded = decodeRecord(encodeRecord(failing, 'ns'), 'antrag-formular') as ReleaseRecord;
    expect(liveReleaseOf(decoded)?.incomplete).toEqual({ version: '1.2.0', hash: 'c'.repeat(64), release: 'r3', failed: 'not ready' });
    expect(liveReleaseOf({ ...record, live: undefined })).toBeUndefined();
  });

  it('says what is wrong with a record it cannot read', () => {
    expect(decodeRecord({ data: {} }, 'p')).toMatch(/has no release.json/);
    expect(decodeRecord({ data: { 'release.json': '{' } }, 'p')).toMatch(/is not JSON/);
    expect(decodeRecord({ data: { 'release.json': '{"format":1,"procedure":"other"}' } }, 'p')).toMatch(/record of other, not p/);
    expect(decodeRecord({ data: { 'release.json': '{"format":9,"procedure":"p"}' } }, 'p')).toMatch(/not an ozg release record of format 1/);
  });

  it('numbers revisions past every kept one', () => {
    expect(nextRevision(undefined)).toBe(1);
    expect(nextRevision(record)).toBe(3);
    expect(nextRevision({ ...record, live: { ...record.live!, revision: 7 } })).toBe(8);
  });

  it('names archives so they never collide with another procedure’s record', () => {
    expect(recordName('a-v1')).toBe('ozg-release-a-v1');
    expect(archiveName('a', 1)).toBe('ozg-release-a.v1');
  });
});

describe('release archive', () => {
  const objects = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' }, stringData: { PASSWORD: 'hunter2' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ns' }, data: { a: 'b' } },
  ];
  const entry = { revision: 3, release: 'r3', version: '1.2.0', hash: 'c'.repeat(64) };

  it('keeps the objects gzipped in a Secret of its own type, and reads them back', () => {
    const secret = encodeArchive(objects, entry, { site: 'kiel', environment: 'test', procedure: 'p' }, 'ns');
    if (typeof secret === 'string') throw new Error(secret);
    expect(secret.kind).toBe('Secret');
    expect(secret.type).toBe('ozg.example/release-archive');
    expect(secret.metadata).toMatchObject({ name: 'ozg-release-p.v3', labels: { [LABELS.record]: 'archive' } });
    const data = (secret.data as Record<string, string>)['objects.json.gz']!;
    expect(gunzipSync(Buffer.from(data, 'base64')).toString()).toContain('hunter2'); // a Secret, so it may hold secrets
    expect(decodeArchive(JSON.parse(JSON.stringify(secret)))).toEqual(objects);
  });

  it('refuses objects that do not fit into one Secret', () => {
    const random = randomBytes(1_200_000); // incompressible
    const big = [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, binaryData: { b: random.toString('base64') } }];
    expect(encodeArchive(big, entry, { site: 'kiel', environment: 'test', procedure: 'p' }, 'ns')).toMatch(/holds at most 1000000/);
  });

  it('says when an archive is damaged', () => {
    expect(decodeArchive({ data: {} })).toMatch(/has no objects.json.gz/);
    expect(decodeArchive({ data: { 'objects.json.gz': Buffer.from('nope').toString('base64') } })).toMatch(/cannot be read/);
  });
});

describe('selectKeptReleases', () => {
  const kept = (n: number): KeptRelease[] =>
    Array.from({ length: n }, (_, i) => ({ revision: i + 1, release: `r${i + 1}`, version: `1.${i}.0`, hash: 'h', archive: `a${i + 1}` }));

  it('keeps the newest n and drops the rest', () => {
    const { kept: keep, drop } = selectKeptReleases(kept(5), 3, ['r5', 'r4']);
    expect(keep.map((k) => k.release)).toEqual(['r5', 'r4', 'r3']);
    expect(drop.map((k) => k.release)).toEqual(['r2', 'r1']);
  });

  it('always keeps the live and the previous release, and never fewer than two', () => {
    expect(selectKeptReleases(kept(5), 2, ['r2', 'r1']).kept.map((k) => k.release)).toEqual(['r5', 'r4', 'r2', 'r1']);
    expect(selectKeptReleases(kept(3), 0, []).kept).toHaveLength(2);
  });
});
