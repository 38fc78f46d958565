import type { Bundle, BundleFile } from '../../../src/procedure/types.js';
import { findBundleProblems } from '../../../src/targets/vm/check-vm-target.js';

function bundleOf(files: BundleFile[]): Bundle {
  return { site: 'kiel', environment: 'test', procedure: 'antrag', version: '1.0.0', targetKind: 'vm', files, hooks: {}, smoke: [], hash: 'h' };
}
const text = (path: string): BundleFile => ({ path, content: Buffer.from('x'), mode: 0o644, sensitive: false });
const blob = (path: string, sha256: string): BundleFile => ({ path, content: Buffer.alloc(0), blob: { sha256, size: 1, path: '/tmp/x' }, mode: 0o644, sensitive: false });

describe('findBundleProblems (blob store)', () => {
  it('refuses files under .ozg-incoming, where the store blobs of an apply arrive', () => {
    const problems = findBundleProblems(bundleOf([text('.ozg-incoming'), text('.ozg-incoming/links'), text('app/.ozg-incoming/ok')]));
    expect(problems.map((p) => p.file)).toEqual(['.ozg-incoming', '.ozg-incoming/links']);
    expect(problems[0]!.message).toContain('rename this folder');
  });

  it('refuses a blob whose sha256 is not 64 lowercase hex digits, and accepts one that is', () => {
    const good = 'ab'.repeat(32);
    const problems = findBundleProblems(bundleOf([blob('lib/a.jar', good), blob('lib/b.jar', good.toUpperCase()), blob('lib/c.jar', '../../etc')]));
    expect(problems.map((p) => p.file)).toEqual(['lib/b.jar', 'lib/c.jar']);
    expect(problems[1]!.message).toContain('"../../etc"');
  });
});
