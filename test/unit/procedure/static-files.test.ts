/**
 * Files that are not rendered: `vm.static` (byte for byte, mode kept) and artefacts (blobs),
 * through the real loader, renderer, hash and `render -o` writer; and `{% raw %}` for a
 * template that needs a literal `{{`.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RenderError } from '../../../src/errors.js';
import type { Setup, Site } from '../../../src/inventory/types.js';
import { hashBundle } from '../../../src/procedure/hash.js';
import { loadProcedureFile, type LoadProcedureResult } from '../../../src/procedure/load.js';
import { renderBundle, type RenderInput } from '../../../src/procedure/render.js';
import { STATIC_BLOB_THRESHOLD } from '../../../src/procedure/static-files.js';
import type { BlobSource, Bundle, Procedure } from '../../../src/procedure/types.js';
import { writeBundles } from '../../../src/procedure/write-bundles.js';

let catalogue: string;
let counter = 0;

beforeAll(() => {
  catalogue = mkdtempSync(path.join(tmpdir(), 'ozg-static-'));
});
afterAll(() => {
  rmSync(catalogue, { recursive: true, force: true });
});

type Files = Record<string, string | Buffer | { content: string | Buffer; mode: number } | { symlink: string }>;

/** A version folder: procedure.yaml's body after name and version, and its files by path. */
async function load(yaml: string, files: Files): Promise<LoadProcedureResult & { dir: string; name: string }> {
  const name = `static${++counter}`;
  const dir = path.join(catalogue, name, '1.0.0');
  mkdirSync(dir, { recursive: true });
  for (const [rel, file] of Object.entries(files)) {
    const target = path.join(dir, rel);
    mkdirSync(path.dirname(target), { recursive: true });
    if (typeof file === 'object' && 'symlink' in file) {
      symlinkSync(file.symlink, target);
      continue;
    }
    const content = typeof file === 'string' || Buffer.isBuffer(file) ? file : file.content;
    writeFileSync(target, content);
    chmodSync(target, typeof file === 'object' && 'mode' in file ? file.mode : 0o644);
  }
  writeFileSync(path.join(dir, 'procedure.yaml'), `name: ${name}\nversion: 1.0.0\n${yaml}`);
  const loaded = await loadProcedureFile({ dir, displayFile: `${name}/1.0.0/procedure.yaml`, expected: { name, version: '1.0.0' } });
  return { ...loaded, dir, name };
}

async function loadOk(yaml: string, files: Files): Promise<Procedure> {
  const loaded = await load(yaml, files);
  if (!loaded.procedure) throw new Error(`unexpected problems: ${JSON.stringify(loaded.problems)}`);
  return loaded.procedure;
}

const site: Site = { name: 'kiel', labels: {}, dataCenter: 'local', hosts: { test: { host: '10.0.0.1' } }, facts: {}, setups: [] };

function inputFor(procedure: Procedure, overrides: Partial<RenderInput> = {}): RenderInput {
  const setup: Setup = { procedure: procedure.name, version: '1.0.0', values: {}, secrets: {} };
  return { procedure, site, setup, environment: 'test', targetKind: 'vm', values: {}, secrets: {}, ...overrides };
}

function file(bundle: Bundle, at: string): Bundle['files'][number] {
  const found = bundle.files.find((f) => f.path === at);
  if (!found) throw new Error(`no ${at} in bundle (has ${bundle.files.map((f) => f.path).join(', ')})`);
  return found;
}

// a PNG header, a NUL, invalid UTF-8 and Liquid markup: everything a template would refuse or change
const logo = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]), Buffer.from('{{ site.name }}{% if %}')]);
const script = '#!/bin/sh\necho "{{ not liquid }}"\n';

describe('vm.static', () => {
  it('copies every file byte for byte, binary and Liquid-looking alike, keeping the execute bit', async () => {
    const procedure = await loadOk('vm:\n  files: vm\n  static: static\n', {
      'vm/config.txt': 'site={{ site.name }}\n',
      'static/img/logo.png': logo,
      'static/bin/start.sh': { content: script, mode: 0o750 },
      'static/app.js': 'const t = `{{name}}`;\n',
    });
    const bundle = await renderBundle(inputFor(procedure));
    expect(bundle.files.map((f) => [f.path, f.mode, f.sensitive])).toEqual([
      ['app.js', 0o644, false],
      ['bin/start.sh', 0o755, false],
      ['config.txt', 0o644, false],
      ['img/logo.png', 0o644, false],
    ]);
    expect(file(bundle, 'img/logo.png').content.equals(logo)).toBe(true);
    expect(file(bundle, 'bin/start.sh').content.toString()).toBe(script);
    expect(file(bundle, 'app.js').content.toString()).toBe('const t = `{{name}}`;\n');
    expect(file(bundle, 'config.txt').content.toString()).toBe('site=kiel\n');
  });

  it('is part of the bundle hash: one changed byte or the execute bit alone changes it', async () => {
    const first = await loadOk('vm:\n  files: vm\n  static: static\n', { 'vm/a.txt': 'a\n', 'static/logo.png': logo });
    // loaded afresh each time, as a new run would: static files are read once per loaded procedure
    const hashNow = async (): Promise<string> => {
      const again = await loadProcedureFile({ dir: first.dir, displayFile: 'procedure.yaml', expected: { name: first.name, version: '1.0.0' } });
      return (await renderBundle(inputFor(again.procedure!))).hash;
    };
    const original = await hashNow();
    expect(await hashNow()).toBe(original);
    const changed = Buffer.from(logo);
    changed[9] = 0x01;
    writeFileSync(path.join(first.dir, 'static', 'logo.png'), changed);
    const byte = await hashNow();
    writeFileSync(path.join(first.dir, 'static', 'logo.png'), logo);
    chmodSync(path.join(first.dir, 'static', 'logo.png'), 0o755);
    const mode = await hashNow();
    expect(new Set([original, byte, mode]).size).toBe(3);
  });

  it('keeps a file above the threshold on disk as a blob: hashed by sha256, streamed, the same bundle hash as in memory', async () => {
    const big = Buffer.alloc(STATIC_BLOB_THRESHOLD + 10, 0xab);
    const procedure = await loadOk('vm:\n  files: vm\n  static: static\n', { 'vm/a.txt': 'a\n', 'static/big.bin': big });
    const bundle = await renderBundle(inputFor(procedure));
    const entry = file(bundle, 'big.bin');
    expect(entry.content.length).toBe(0);
    expect(entry.blob).toEqual({ sha256: createHash('sha256').update(big).digest('hex'), size: big.length, path: path.join(procedure.dir, 'static', 'big.bin') });
    const inMemory = bundle.files.map((f) => (f.blob ? { path: f.path, mode: f.mode, content: big } : f));
    expect(hashBundle({ ...bundle, procedure: bundle.procedure, files: inMemory })).toBe(bundle.hash);
  });

  it('a static file and a template at the same release path is an error naming both', async () => {
    const procedure = await loadOk('vm:\n  files: vm\n  static: static\n', { 'vm/conf/app.conf': 'x={{ site.name }}\n', 'static/conf/app.conf': 'x=1\n' });
    const error = await renderBundle(inputFor(procedure)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RenderError);
    expect((error as Error).message).toBe(`${procedure.name}/1.0.0/static/conf/app.conf  lands at conf/app.conf in the release, as does ${procedure.name}/1.0.0/vm/conf/app.conf; rename or move one of them`);
  });

  it('a static file where a template needs a folder (or the other way round) is an error naming both', async () => {
    const procedure = await loadOk('vm:\n  files: vm\n  static: static\n', { 'vm/conf/app.conf': 'x\n', 'static/conf': 'a file\n' });
    const error = await renderBundle(inputFor(procedure)).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`${procedure.name}/1.0.0/static/conf  lands at conf in the release, which ${procedure.name}/1.0.0/vm/conf/app.conf needs as a folder; rename or move one of them`);

    const sha = 'ab'.repeat(32);
    const other = await loadOk(`vm:\n  files: vm\nartifacts:\n  - { name: x, path: x.bin, sha256: ${sha}, dest: a.txt/x }\n`, { 'vm/a.txt': 'a\n', 'x.bin': 'x' });
    const blob = { sha256: sha, size: 1, path: '/cache/x' };
    const nested = await renderBundle(inputFor(other, { artifacts: new Map([['x', blob]]) })).catch((e: unknown) => e);
    expect((nested as Error).message).toBe(`${other.name}/1.0.0/procedure.yaml#artifacts[0] (x)  needs a.txt as a folder in the release, where ${other.name}/1.0.0/vm/a.txt lands; rename or move one of them`);
  });

  it('refuses a symbolic link below the static folder, and a static folder leading outside the version folder (exit 3 at the field)', async () => {
    const inner = await load('vm:\n  files: vm\n  static: static\n', { 'vm/a.txt': 'a\n', 'static/keys': { symlink: '/etc/ssh' } });
    expect(inner.problems).toEqual([expect.objectContaining({ line: 5, col: 11, path: 'vm.static', message: 'static/keys is a symbolic link or special file; static files must be regular files inside the procedure folder' })]);

    const outside = await load('vm:\n  files: vm\n  static: up/etc\n', { 'vm/a.txt': 'a\n', up: { symlink: '/' } });
    expect(outside.problems).toEqual([expect.objectContaining({ path: 'vm.static', message: expect.stringContaining('leads outside the procedure version folder') })]);

    const missing = await load('vm:\n  files: vm\n  static: nowhere\n', { 'vm/a.txt': 'a\n' });
    expect(missing.problems).toEqual([expect.objectContaining({ path: 'vm.static', message: 'directory nowhere not found next to procedure.yaml' })]);
  });

  it('refuses a link planted in the static folder after loading, at render', async () => {
    const procedure = await loadOk('vm:\n  files: vm\n  static: static\n', { 'vm/a.txt': 'a\n', 'static/ok.txt': 'ok\n' });
    symlinkSync('/etc/passwd', path.join(procedure.dir, 'static', 'passwd'));
    const error = await renderBundle(inputFor(procedure)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RenderError);
    expect((error as Error).message).toContain('static/passwd  a symbolic link; static files must be regular files inside the procedure');
  });
});

describe('{% raw %}', () => {
  it('writes a literal {{ … }} into a rendered file', async () => {
    const procedure = await loadOk('vm:\n  files: vm\n', { 'vm/page.html': '<h1>{{ site.name }}</h1>\n<p>{% raw %}{{ user.name }} {% if %}{% endraw %}</p>\n' });
    const bundle = await renderBundle(inputFor(procedure));
    expect(file(bundle, 'page.html').content.toString()).toBe('<h1>kiel</h1>\n<p>{{ user.name }} {% if %}</p>\n');
  });
});

describe('artifacts in a bundle', () => {
  const sha = 'ab'.repeat(32);
  const blob = (size: number): BlobSource => ({ sha256: sha, size, path: '/cache/blobs/sha256/' + sha });

  it('lands at artifacts/<name> or its dest as a blob with its mode; the hash uses the blob sha256', async () => {
    const procedure = await loadOk(
      `vm:\n  files: vm\nartifacts:\n  - { name: app.jar, url: "https://example.invalid/app.jar", sha256: ${sha} }\n  - { name: tool, url: "https://example.invalid/tool", sha256: ${sha}, dest: bin/tool, mode: "0755" }\n`,
      { 'vm/a.txt': 'a\n' },
    );
    const bundle = await renderBundle(inputFor(procedure, { artifacts: new Map([['app.jar', blob(10)], ['tool', blob(10)]]) }));
    expect(file(bundle, 'artifacts/app.jar')).toEqual({ path: 'artifacts/app.jar', content: Buffer.alloc(0), blob: blob(10), mode: 0o644, sensitive: false });
    expect(file(bundle, 'bin/tool').mode).toBe(0o755);
    const other = await renderBundle(inputFor(procedure, { artifacts: new Map([['app.jar', { ...blob(10), sha256: 'cd'.repeat(32) }], ['tool', blob(10)]]) }));
    expect(other.hash).not.toBe(bundle.hash);
  });

  it('an artefact at a template path is an error naming the artefact and the template', async () => {
    const procedure = await loadOk(`vm:\n  files: vm\nartifacts:\n  - { name: app.jar, path: app.jar, sha256: ${sha}, dest: a.txt }\n`, { 'vm/a.txt': 'a\n', 'app.jar': 'x' });
    const error = await renderBundle(inputFor(procedure, { artifacts: new Map([['app.jar', blob(1)]]) })).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`${procedure.name}/1.0.0/procedure.yaml#artifacts[0] (app.jar)  lands at a.txt in the release, as does ${procedure.name}/1.0.0/vm/a.txt; rename or move one of them`);
  });

  it('a Kubernetes bundle of a procedure with both sections carries no artefacts', async () => {
    const procedure = await loadOk(`vm:\n  files: vm\nkubernetes:\n  manifests: k8s\nartifacts:\n  - { name: app.jar, path: app.jar, sha256: ${sha} }\n`, {
      'vm/a.txt': 'a\n',
      'k8s/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n',
      'app.jar': 'x',
    });
    const bundle = await renderBundle(inputFor(procedure, { targetKind: 'kubernetes' }));
    expect(bundle.files.map((f) => f.path)).toEqual(['cm.yaml']);
  });
});

describe('artifacts in procedure.yaml', () => {
  const sha = 'ab'.repeat(32);

  it('are refused for a procedure without a vm: section, at the artifacts key', async () => {
    const loaded = await load(`kubernetes:\n  manifests: k8s\nartifacts:\n  - { name: app.jar, url: "https://example.invalid/app.jar", sha256: ${sha} }\n`, { 'k8s/cm.yaml': 'x: 1\n' });
    expect(loaded.problems).toEqual([
      expect.objectContaining({ line: 5, col: 1, path: 'artifacts', message: expect.stringContaining('artifacts are delivered to VM and local targets only, and this procedure has no vm: section') }),
    ]);
  });

  it('are schema-checked with file:line:col: sha256, url scheme, mode in quotes, one of url or path', async () => {
    const loaded = await load(
      [
        'vm:',
        '  files: vm',
        'artifacts:',
        '  - { name: a.jar, url: "https://example.invalid/a.jar", sha256: ABC }',
        `  - { name: b.jar, url: "ftp://example.invalid/b.jar", sha256: ${sha} }`,
        `  - { name: c.jar, path: c.jar, sha256: ${sha}, mode: 0755 }`,
        `  - { name: d.jar, sha256: ${sha} }`,
        '',
      ].join('\n'),
      { 'vm/a.txt': 'a\n', 'c.jar': 'c' },
    );
    const shown = loaded.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path} ${p.message}`);
    expect(shown).toEqual(
      [
        `${loaded.name}/1.0.0/procedure.yaml:6:66 artifacts[0].sha256 must be 64 lowercase hex digits (sha256sum's output)`,
        `${loaded.name}/1.0.0/procedure.yaml:7:25 artifacts[1].url must be an http:// or https:// URL`,
        `${loaded.name}/1.0.0/procedure.yaml:8:113 artifacts[2].mode must be a string (got 755); quote it to keep it a string`,
        `${loaded.name}/1.0.0/procedure.yaml:9:5 artifacts[3] needs exactly one of url or path`,
      ],
    );
  });

  it('two artefacts landing at one path, and a path artefact that is missing, are problems at their fields', async () => {
    const loaded = await load(`vm:\n  files: vm\nartifacts:\n  - { name: app.jar, path: app.jar, sha256: ${sha} }\n  - { name: x.jar, path: gone.jar, sha256: ${sha}, dest: artifacts/app.jar }\n`, { 'vm/a.txt': 'a\n', 'app.jar': 'x' });
    expect(loaded.problems.map((p) => [p.path, p.message])).toEqual([
      ['artifacts[1].dest', 'lands at artifacts/app.jar in the release, as does artifacts[0] (app.jar); give one a different name or dest'],
      ['artifacts[1].path', 'file gone.jar not found next to procedure.yaml (artifact paths are relative to it)'],
    ]);
  });
});

describe('render -o with blobs', () => {
  it('copies a blob file byte for byte with its mode', async () => {
    const big = Buffer.alloc(STATIC_BLOB_THRESHOLD + 1, 0x5a);
    const procedure = await loadOk('vm:\n  files: vm\n  static: static\n', { 'vm/a.txt': 'a\n', 'static/bin/big': { content: big, mode: 0o755 } });
    const bundle = await renderBundle(inputFor(procedure));
    const out = mkdtempSync(path.join(tmpdir(), 'ozg-static-out-'));
    try {
      await writeBundles([bundle], out, 'rendered');
      const written = path.join(out, 'rendered', 'kiel', 'test', procedure.name, 'bin', 'big');
      expect(readFileSync(written).equals(big)).toBe(true);
      expect(statSync(written).mode & 0o777).toBe(0o755);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
