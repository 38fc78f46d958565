import { InternalError } from '../../../src/errors.js';
import { hashBundle, serializeCanonically, type BundleHashInput } from '../../../src/procedure/hash.js';

type MutableInput = BundleHashInput & { files: Array<BundleHashInput['files'][number]> };

function baseInput(): MutableInput {
  return {
    procedure: 'antrag-formular',
    version: '1.0.0',
    targetKind: 'vm',
    files: [
      { path: 'config/app.json', mode: 0o644, content: Buffer.from('{"port":8080}\n') },
      { path: 'config/smtp.env', mode: 0o600, content: Buffer.from("SMTP_PASSWORD='s3cret'\n") },
      { path: 'hooks/install.sh', mode: 0o755, content: Buffer.from('#!/bin/sh\nset -eu\n') },
    ],
    hooks: { install: 'hooks/install.sh' },
    smoke: [{ name: 'config-valid', command: 'sh hooks/check.sh', retries: 2 }],
  };
}

describe('hashBundle', () => {
  it('is a sha256 hex digest, the same for the same input', () => {
    const a = hashBundle(baseInput());
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(hashBundle(baseInput())).toBe(a);
  });

  it('does not depend on file order or object key order', () => {
    const reordered = baseInput();
    reordered.files = [...reordered.files].reverse();
    reordered.smoke = [{ retries: 2, command: 'sh hooks/check.sh', name: 'config-valid' }];
    expect(hashBundle(reordered)).toBe(hashBundle(baseInput()));
  });

  it('changes with every part of the bundle', () => {
    const variants: Array<(b: MutableInput) => void> = [
      (b) => (b.procedure = 'dms-connector'),
      (b) => (b.version = '1.0.1'),
      (b) => (b.targetKind = 'kubernetes'),
      (b) => (b.files[0]!.content = Buffer.from('{"port":8081}\n')),
      (b) => (b.files[0]!.mode = 0o755),
      (b) => (b.files[0]!.path = 'config/app2.json'),
      (b) => (b.files[1]!.content = Buffer.from("SMTP_PASSWORD='rotated'\n")),
      (b) => b.files.pop(),
      (b) => b.files.push({ path: 'extra', mode: 0o644, content: Buffer.alloc(0) }),
      (b) => (b.hooks = {}),
      (b) => (b.hooks = { install: 'hooks/install.sh', activate: 'hooks/install.sh' }),
      (b) => (b.smoke = []),
      (b) => (b.smoke = [{ name: 'config-valid', command: 'sh hooks/check.sh', retries: 3 }]),
    ];
    const hashes = new Set([hashBundle(baseInput())]);
    for (const change of variants) {
      const input = baseInput();
      change(input);
      hashes.add(hashBundle(input));
    }
    expect(hashes.size).toBe(variants.length + 1);
  });

  it('keeps path and content apart (no concatenation ambiguity)', () => {
    const one = { ...baseInput(), files: [{ path: 'ab', mode: 0o644, content: Buffer.from('c') }] };
    const two = { ...baseInput(), files: [{ path: 'a', mode: 0o644, content: Buffer.from('bc') }] };
    expect(hashBundle(one)).not.toBe(hashBundle(two));
  });

  it('does not contain file content in readable form', () => {
    const hash = hashBundle(baseInput());
    expect(hash).not.toContain('s3cret');
  });

  it('refuses two files at one path', () => {
    const input = baseInput();
    input.files.push({ path: 'config/app.json', mode: 0o644, content: Buffer.from('x') });
    expect(() => hashBundle(input)).toThrow(InternalError);
  });
});

describe('serializeCanonically', () => {
  it('sorts keys at every level and leaves out undefined members', () => {
    expect(serializeCanonically({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"z":1}]},"b":1}');
  });

  it('refuses values JSON would change silently', () => {
    expect(() => serializeCanonically({ n: Infinity })).toThrow(InternalError);
    expect(() => serializeCanonically({ f: () => 1 })).toThrow(InternalError);
  });
});
