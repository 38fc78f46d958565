import { createHash } from 'node:crypto';
import { digestManifest, judgeVerifyOutput } from '../../../src/targets/vm/verify-files.js';
import { findBundleProblems } from '../../../src/targets/vm/check-vm-target.js';
import type { Bundle } from '../../../src/procedure/types.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const manifest = JSON.stringify({ 'a.conf': sha('a'), 'back\\slash': sha('b'), 'new\nline': sha('n') });
const marker = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ procedure: 'demo', version: '1.0.0', hash: 'h', release: 'r1', deployedAt: '2026-01-01T00:00:00.000Z', ...extra });

function output(parts: { marker?: string; manifest?: string; present?: string[]; sums?: string[] }): string {
  return [
    ...(parts.marker ? [`ozg-verify marker ${parts.marker}`] : []),
    ...(parts.manifest ? [`ozg-verify manifest ${parts.manifest}`] : []),
    ...(parts.present ? ['ozg-verify present', ...parts.present] : []),
    'ozg-verify sums',
    ...(parts.sums ?? []),
    '',
  ].join('\n');
}

describe('judging the verify script output', () => {
  it("reads sha256sum's escaped names (backslash, newline) and finds nothing changed", () => {
    const sums = [`${sha('a')}  ./a.conf`, `\\${sha('b')}  ./back\\\\slash`, `\\${sha('n')}  ./new\\nline`];
    expect(judgeVerifyOutput(output({ marker: marker({ files: digestManifest(manifest) }), manifest, sums }), 'demo')).toEqual({ status: 'clean', release: 'r1', checked: 3 });
  });

  it('tells changed, missing and extra apart; files the hooks made at apply time are not extra', () => {
    const sums = [`${sha('A!')}  ./a.conf`, `${sha('x')}  ./made-by-hook`, `${sha('y')}  ./added`];
    expect(judgeVerifyOutput(output({ marker: marker(), manifest, present: ['./a.conf', './made-by-hook'], sums }), 'demo')).toEqual({
      status: 'drifted',
      release: 'r1',
      checked: 3,
      changed: ['a.conf'],
      missing: ['back\\slash', 'new\nline'],
      extra: ['added'],
    });
  });

  it('does not trust a file list whose sha256 the marker does not hold', () => {
    const result = judgeVerifyOutput(output({ marker: marker({ files: sha('another list') }), manifest }), 'demo');
    expect(result).toEqual({ status: 'unverifiable', release: 'r1', reason: '.ozg-files of release r1 was changed since the apply; reinstall to repair it' });
  });

  it('an older marker and release without a file list: no checksums recorded', () => {
    expect(judgeVerifyOutput(output({ marker: marker() }), 'demo')).toEqual({
      status: 'unverifiable',
      release: 'r1',
      reason: 'no checksums recorded (deployed by an older ozg); reinstall to record them',
    });
  });

  it('nothing live, no current link, no sha256 tool', () => {
    expect(judgeVerifyOutput('', 'demo')).toEqual({ status: 'unverifiable', reason: 'no release is live' });
    expect(judgeVerifyOutput(`ozg-verify marker ${marker()}\nozg-verify no-current\n`, 'demo')).toMatchObject({ status: 'unverifiable', reason: expect.stringMatching(/current/) });
    expect(judgeVerifyOutput(`ozg-verify marker ${marker()}\nozg-verify manifest ${manifest}\nozg-verify no-tool\n`, 'demo')).toMatchObject({ reason: expect.stringMatching(/sha256sum/) });
  });

  it("a bundle file named like ozg's file list or hook file list is refused", () => {
    const file = (path: string) => ({ path, content: Buffer.from('x'), mode: 0o644, sensitive: false });
    const bundle = { procedure: 'demo', targetKind: 'vm', hooks: {}, files: [file('.ozg-files'), file('.ozg-present')] } as unknown as Bundle;
    expect(findBundleProblems(bundle).map((p) => p.file)).toEqual(['.ozg-files', '.ozg-present']);
  });
});
