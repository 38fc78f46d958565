/**
 * The renderer reads and parses a procedure's templates once per loaded procedure, renders
 * synchronously and shares one frozen context between a bundle's files and smoke checks.
 * None of that may show in the result: bundles are byte for byte, and hash for hash, what
 * rendering everything afresh gives — and what it gave before there was a cache.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Setup, Site } from '../../../src/inventory/types.js';
import { contentDigestStats, sha256Hex } from '../../../src/procedure/hash.js';
import { renderBundle, type RenderInput } from '../../../src/procedure/render.js';
import { planStore } from '../../../src/targets/vm/store-plan.js';
import { renderManifest } from '../../../src/targets/vm/verify-files.js';
import type { Bundle, Procedure } from '../../../src/procedure/types.js';

let catalogue: string;
let procedure: Procedure;

const files: Record<string, { content: string; mode: number }> = {
  'config/app.json': {
    content: '{"site": {{ site.name | json }}, "env": {{ environment | json }}, "title": {{ values.title | json }}, "port": {{ values.port }}, "smtp": {{ values.smtp | json }}, "labels": {{ site.labels | json }}}\n',
    mode: 0o644,
  },
  'hooks/install.sh': {
    content: '#!/bin/sh\nset -eu\necho install {{ site.name | shell }}{% for t in processTransfers %} {{ t.destination | shell }}{% endfor %}\n',
    mode: 0o755,
  },
  'hooks/activate.sh': { content: '#!/bin/sh\necho activate {{ procedure.name }} {{ procedure.version }}\n', mode: 0o755 },
  // writes into the top-level scope and builds a changed copy of a list: neither may reach another file or target
  'roles.txt': {
    content: '{% increment n %} {% assign roles = userConnection.roles | push: "extra" %}{{ roles | join: "," }}\n',
    mode: 0o644,
  },
  'roles-again.txt': { content: '{% increment n %} {{ userConnection.roles | join: "," }}\n', mode: 0o644 },
  'smtp.env': { content: 'SMTP_PASSWORD={{ secrets.pw | shell }}\n', mode: 0o644 },
  'static.txt': { content: 'no template syntax here\n', mode: 0o644 },
};

function writeFiles(dir: string): void {
  for (const [rel, file] of Object.entries(files)) {
    const target = path.join(dir, 'vm', rel);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, file.content);
    chmodSync(target, file.mode);
  }
}

beforeAll(() => {
  catalogue = mkdtempSync(path.join(tmpdir(), 'ozg-render-cache-'));
  const dir = path.join(catalogue, 'cached', '1.0.0');
  writeFiles(dir);
  writeFileSync(path.join(dir, 'procedure.yaml'), 'name: cached\nversion: 1.0.0\n');
  procedure = {
    name: 'cached',
    version: '1.0.0',
    description: 'render cache fixture',
    dir,
    file: path.join(dir, 'procedure.yaml'),
    valuesSchema: {
      type: 'object',
      properties: {
        title: { type: 'string', default: 'Anträge' },
        port: { type: 'integer', default: 8080 },
        smtp: { type: 'object', default: {}, properties: { host: { default: 'localhost' }, port: { default: 587 } } },
      },
    },
    secrets: ['pw'],
    vm: { files: 'vm', hooks: { install: 'hooks/install.sh', activate: './hooks/activate.sh' } },
    smoke: [
      { name: 'config-{{ environment }}', command: 'grep -q {{ site.name | shell }} config/app.json', retries: 1 },
      { name: 'health', http: { url: 'http://127.0.0.1:{{ values.port }}/', contains: '{{ values.title }}' }, timeoutSeconds: 5 },
    ],
  };
});

afterAll(() => {
  rmSync(catalogue, { recursive: true, force: true });
});

function siteNamed(name: string): Site {
  return { name, labels: { region: 'nord' }, dataCenter: 'local', facts: { population: 1000 }, setups: [] };
}

function inputFor(siteName: string, environment: 'test' | 'prod', using: Procedure = procedure): RenderInput {
  const setup: Setup = {
    procedure: 'cached',
    version: '1.0.0',
    values: {},
    secrets: {},
    userConnection: { idp: 'servicekonto-sh', roles: ['sachbearbeitung'] },
    processTransfers: [{ destination: `https://xta.${siteName}.example/` }],
  };
  return {
    procedure: using,
    site: siteNamed(siteName),
    setup,
    environment,
    targetKind: 'vm',
    values: siteName === 'kiel' ? { title: 'Gewerbe Kiel', smtp: { port: 25 } } : {},
    secrets: { pw: `secret-of-${siteName}` },
  };
}

/** Everything that reaches the target or the hash, with file bytes as hex. */
function describeBundle(bundle: Bundle): unknown {
  return {
    ...bundle,
    files: bundle.files.map((file) => ({ path: file.path, mode: file.mode.toString(8), sensitive: file.sensitive, bytes: file.content.toString('hex') })),
  };
}

const targets = [
  ['kiel', 'test'],
  ['kiel', 'prod'],
  ['luebeck', 'test'],
  ['luebeck', 'prod'],
] as const;

describe('renderBundle with its template cache', () => {
  it('gives byte-identical bundles and hashes from the cache and from a fresh read', async () => {
    // a copy of the procedure is a procedure loaded anew: its templates are read and parsed again
    const fresh = await Promise.all(targets.map(([site, environment]) => renderBundle(inputFor(site, environment, { ...procedure }))));
    for (let round = 0; round < 3; round++) {
      const cached = await Promise.all(targets.map(([site, environment]) => renderBundle(inputFor(site, environment))));
      expect(cached.map(describeBundle)).toEqual(fresh.map(describeBundle));
    }
  });

  it('hashes exactly as rendering did before the cache', async () => {
    // Pinned from the renderer that read and parsed every template for every target. A
    // change here means every deployed target would be redeployed: it must be deliberate.
    const hashes = await Promise.all(targets.map(async ([site, environment]) => (await renderBundle(inputFor(site, environment))).hash));
    expect(hashes).toEqual([
      'dcdb567f895c852bb4a5c12cb19e98df3ae4503ffba380e2278df99bedf946ba',
      'e205633b1b3cd25aa084cd945e125443f092df5d48816bea60f1fb36bdbb1052',
      'af6f49c1f44bb835c9bfb2a43d759631660837a7c6dfe8d5526065ce67c107f6',
      '51400942d347653f17b9b5f3c235a06ca0eb049edda3a47d979d3db0b2191ae6',
    ]);
  });

  it('keeps what one template does out of the other files and targets', async () => {
    for (const [site, environment] of targets) {
      const bundle = await renderBundle(inputFor(site, environment));
      const text = (file: string) => bundle.files.find((f) => f.path === file)!.content.toString('utf8');
      expect([text('roles.txt'), text('roles-again.txt')]).toEqual(['0 sachbearbeitung,extra\n', '0 sachbearbeitung\n']);
      expect(bundle.files.filter((f) => f.sensitive).map((f) => [f.path, f.mode.toString(8)])).toEqual([['smtp.env', '600']]);
      expect(text('smtp.env')).toBe(`SMTP_PASSWORD='secret-of-${site}'\n`);
    }
  });

  it('renders the same for concurrent targets as one by one', async () => {
    const sites = Array.from({ length: 30 }, (_, i) => `site-${i}`);
    const together = await Promise.all(sites.map((site) => renderBundle(inputFor(site, 'test'))));
    for (const [i, site] of sites.entries()) {
      expect(describeBundle(await renderBundle(inputFor(site, 'test')))).toEqual(describeBundle(together[i]!));
    }
  });

  it('digests a file every target shares once, not per target and use (bundle hash, store plan, release manifest)', async () => {
    const own: Procedure = { ...procedure };
    const sites = Array.from({ length: 30 }, (_, i) => `site-${i}`);
    const before = contentDigestStats.computed;
    const bundles = await Promise.all(sites.map((site) => renderBundle(inputFor(site, 'test', own))));
    for (const bundle of bundles) {
      planStore(bundle);
      const manifest = JSON.parse(renderManifest(bundle)) as Record<string, string>;
      // the remembered digests are the bytes' own
      for (const file of bundle.files) expect(manifest[file.path]).toBe(sha256Hex(file.content));
    }
    const templated = Object.keys(files).length - 1;
    // each target's templated files once (a fresh Buffer per render), static.txt once for all 30
    expect(contentDigestStats.computed - before).toBe(sites.length * templated + 1);
  });

  it('reads the templates once per loaded procedure: a procedure loaded again sees changed files', async () => {
    const own: Procedure = { ...procedure };
    const before = await renderBundle(inputFor('kiel', 'test', own));
    const file = path.join(procedure.dir, 'vm', 'static.txt');
    writeFileSync(file, 'changed on disk\n');
    try {
      expect((await renderBundle(inputFor('kiel', 'test', own))).hash).toBe(before.hash);
      const reloaded = await renderBundle(inputFor('kiel', 'test', { ...procedure }));
      expect(reloaded.files.find((f) => f.path === 'static.txt')!.content.toString('utf8')).toBe('changed on disk\n');
      expect(reloaded.hash).not.toBe(before.hash);
    } finally {
      writeFileSync(file, files['static.txt']!.content);
    }
  });
});
