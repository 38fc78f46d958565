import { decodeLiveRelease } from '../../../src/targets/live-release.js';
import { decodeRecord } from '../../../src/targets/kubernetes/release-record.js';
import { parseMarker } from '../../../src/targets/vm/live-marker.js';

const stored = {
  procedure: 'antrag',
  version: '1.2.0',
  hash: 'sha256:abc',
  release: '20260101T000000Z-1',
  deployedAt: '2026-01-01T00:00:00.000Z',
  previous: { version: '1.1.0', hash: 'sha256:old', release: '20251201T000000Z-1' },
};

describe('decodeLiveRelease', () => {
  it('reads the live release and the one before it', () => {
    expect(decodeLiveRelease(stored, 'antrag', 'release.json')).toEqual(stored);
  });

  it('drops a previous release that lacks a member instead of refusing the live one', () => {
    const { previous: _previous, ...live } = stored;
    expect(decodeLiveRelease({ ...stored, previous: { version: '1.1.0' } }, 'antrag', 'release.json')).toEqual(live);
  });

  it('says what is missing, naming the stored thing', () => {
    expect(decodeLiveRelease({ ...stored, hash: '' }, 'antrag', 'release.json')).toBe('release.json lacks procedure, version, hash, release or deployedAt');
    expect(decodeLiveRelease(['antrag'], 'antrag', 'release.json')).toBe('release.json lacks procedure, version, hash, release or deployedAt');
  });

  it("refuses another procedure's release", () => {
    expect(decodeLiveRelease(stored, 'bauantrag', 'release.json')).toBe('release.json is for procedure antrag, not bauantrag');
  });

  it('is the decoder of both a VM marker and a Kubernetes release record', () => {
    expect(parseMarker(JSON.stringify(stored), 'antrag')).toEqual(stored);
    expect(parseMarker(JSON.stringify({ ...stored, procedure: 'other' }), 'antrag')).toBe('release.json is for procedure other, not antrag');
    const configMap = { data: { 'release.json': JSON.stringify({ format: 1, procedure: 'antrag', site: 'kiel', environment: 'test', live: { ...stored, revision: 3 }, kept: [], kinds: [] }) } };
    const record = decodeRecord(configMap, 'antrag');
    expect(typeof record === 'string' ? record : record.live).toEqual({ ...stored, revision: 3 });
    // a record's live part that cannot be read counts as no live release, as before
    const damaged = decodeRecord({ data: { 'release.json': JSON.stringify({ format: 1, procedure: 'antrag', live: { version: '1' }, kept: [], kinds: [] }) } }, 'antrag');
    expect(typeof damaged === 'string' ? damaged : damaged.live).toBeUndefined();
  });
});
