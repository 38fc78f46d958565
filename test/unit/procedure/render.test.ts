import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode, RenderError } from '../../../src/errors.js';
import type { Setup, Site } from '../../../src/inventory/types.js';
import { renderBundle, renderCloudInitFragment, type RenderInput } from '../../../src/procedure/render.js';
import type { Bundle, Procedure } from '../../../src/procedure/types.js';
import type { SmokeCheck } from '../../../src/smoke/types.js';

let catalogue: string;
let counter = 0;

beforeAll(() => {
  catalogue = mkdtempSync(path.join(tmpdir(), 'ozg-render-'));
});
afterAll(() => {
  rmSync(catalogue, { recursive: true, force: true });
});

type FileSpec = string | { content: string | Buffer; mode?: number } | { symlink: string };

interface ProcedureSpec {
  vm?: Record<string, FileSpec>;
  kubernetes?: Record<string, FileSpec>;
  hooks?: Procedure['vm'] extends infer V ? (V extends { hooks: infer H } ? H : never) : never;
  smoke?: SmokeCheck[];
  secrets?: string[];
  valuesSchema?: Record<string, unknown>;
  /** content of cloud-init.yaml next to procedure.yaml */
  cloudInit?: string;
}

/** Writes a procedure version into the temp catalogue and returns it as the loader would. */
function makeProcedure(spec: ProcedureSpec): Procedure {
  const name = `demo${++counter}`;
  const dir = path.join(catalogue, name, '1.0.0');
  for (const [kind, files] of [['vm', spec.vm], ['kubernetes', spec.kubernetes]] as const) {
    if (!files) continue;
    mkdirSync(path.join(dir, kind), { recursive: true });
    for (const [rel, file] of Object.entries(files)) {
      const target = path.join(dir, kind, rel);
      mkdirSync(path.dirname(target), { recursive: true });
      if (typeof file === 'object' && 'symlink' in file) {
        symlinkSync(file.symlink, target);
        continue;
      }
      writeFileSync(target, typeof file === 'string' ? file : file.content);
      chmodSync(target, typeof file === 'string' ? 0o644 : (file.mode ?? 0o644));
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'procedure.yaml'), `name: ${name}\nversion: 1.0.0\n`);
  if (spec.cloudInit !== undefined) writeFileSync(path.join(dir, 'cloud-init.yaml'), spec.cloudInit);
  return {
    name,
    version: '1.0.0',
    description: 'test procedure',
    dir,
    file: path.join(dir, 'procedure.yaml'),
    valuesSchema: spec.valuesSchema ?? { type: 'object' },
    secrets: spec.secrets ?? [],
    vm: spec.vm ? { files: 'vm', hooks: spec.hooks ?? {}, ...(spec.cloudInit !== undefined ? { cloudInit: 'cloud-init.yaml' } : {}) } : undefined,
    kubernetes: spec.kubernetes ? { manifests: 'kubernetes' } : undefined,
    smoke: spec.smoke ?? [],
  };
}

const site: Site = {
  name: 'kiel',
  labels: { region: 'nord', tier: 'gross' },
  dataCenter: 'local',
  hosts: { test: { host: '10.0.0.1' } },
  facts: { municipalityKey: '01002000', population: 247000 },
  setups: [],
};

function inputFor(procedure: Procedure, overrides: Partial<RenderInput> = {}): RenderInput {
  const setup: Setup = {
    procedure: procedure.name,
    version: '1.0.0',
    values: {},
    secrets: {},
    userConnection: { idp: 'https://idp.kiel.de/realms/buerger', roles: ['sachbearbeitung'] },
    processTransfers: [{ kind: 'xta', destination: 'urn:xta:kiel' }],
  };
  return {
    procedure,
    site,
    setup,
    environment: 'test',
    targetKind: 'vm',
    values: { title: 'Anträge' },
    secrets: { pw: 'hunter2' },
    ...overrides,
  };
}

function text(bundle: Bundle, file: string): string {
  const found = bundle.files.find((f) => f.path === file);
  if (!found) throw new Error(`no ${file} in bundle (has ${bundle.files.map((f) => f.path).join(', ')})`);
  return found.content.toString('utf8');
}

async function renderError(input: RenderInput): Promise<RenderError> {
  try {
    await renderBundle(input);
  } catch (err) {
    if (err instanceof RenderError) return err;
    throw err;
  }
  throw new Error('expected a RenderError, but rendering succeeded');
}

describe('renderBundle: files', () => {
  it('renders every file, sorted by posix path, keeping the execute bit', async () => {
    const procedure = makeProcedure({
      vm: {
        'z.txt': 'last {{ site.name }}',
        'config/app.conf': 'title={{ values.title }}',
        'hooks/install.sh': { content: '#!/bin/sh\necho {{ site.name | shell }}\n', mode: 0o750 },
        'a/b/c/deep.txt': 'deep',
      },
    });
    const bundle = await renderBundle(inputFor(procedure));
    expect(bundle.files.map((f) => [f.path, f.mode, f.sensitive])).toEqual([
      ['a/b/c/deep.txt', 0o644, false],
      ['config/app.conf', 0o644, false],
      ['hooks/install.sh', 0o755, false],
      ['z.txt', 0o644, false],
    ]);
    expect(text(bundle, 'config/app.conf')).toBe('title=Anträge');
    expect(text(bundle, 'hooks/install.sh')).toBe("#!/bin/sh\necho 'kiel'\n");
    expect(bundle).toMatchObject({ site: 'kiel', environment: 'test', procedure: procedure.name, version: '1.0.0', targetKind: 'vm' });
  });

  it('renders the kubernetes manifests for a kubernetes target, without hooks', async () => {
    const procedure = makeProcedure({
      vm: { 'hooks/install.sh': 'x' },
      hooks: { install: 'hooks/install.sh' },
      kubernetes: { 'service.yaml': 'name: {{ procedure.name | yaml }}' },
    });
    const bundle = await renderBundle(inputFor(procedure, { targetKind: 'kubernetes' }));
    expect(bundle.files.map((f) => f.path)).toEqual(['service.yaml']);
    expect(text(bundle, 'service.yaml')).toBe(`name: "${procedure.name}"`);
    expect(bundle.hooks).toEqual({});
    expect(bundle.targetKind).toBe('kubernetes');
  });

  it('fails when the procedure has no section for the target kind', async () => {
    const procedure = makeProcedure({ vm: { a: 'a' } });
    const err = await renderError(inputFor(procedure, { targetKind: 'kubernetes' }));
    expect(err.message).toMatch(/has no kubernetes section/);
    expect(err.template).toBe(`${procedure.name}/1.0.0/procedure.yaml`);
  });

  it('passes the declared hooks through and refuses hooks that are not files', async () => {
    const ok = makeProcedure({ vm: { 'hooks/install.sh': 'i', 'hooks/activate.sh': 'a' }, hooks: { install: './hooks/install.sh', activate: 'hooks/activate.sh' } });
    expect((await renderBundle(inputFor(ok))).hooks).toEqual({ install: 'hooks/install.sh', activate: 'hooks/activate.sh' });

    const missing = makeProcedure({ vm: { 'hooks/install.sh': 'i' }, hooks: { activate: 'hooks/activate.sh' } });
    const err = await renderError(inputFor(missing));
    expect(err.message).toMatch(/vm\.hooks\.activate names hooks\/activate\.sh, which is not a file under vm\//);
  });

  it('refuses symlinks and binary files in the template directory', async () => {
    const linked = makeProcedure({ vm: { 'passwd': { symlink: '/etc/passwd' } } });
    expect((await renderError(inputFor(linked))).message).toMatch(/symbolic link/);
    const binary = makeProcedure({ vm: { 'logo.png': { content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00]) } } });
    const err = await renderError(inputFor(binary));
    expect(err.template).toBe(`${binary.name}/1.0.0/vm/logo.png`);
    expect(err.message).toMatch(/not UTF-8/);
  });

  it('reads nothing outside the template: include and render find no files', async () => {
    for (const tag of ['{% include "/etc/passwd" %}', '{% render "../procedure.yaml" %}', '{% include "config/other.txt" %}']) {
      const procedure = makeProcedure({ vm: { 'config/main.txt': `x\n${tag}`, 'config/other.txt': 'other' } });
      const err = await renderError(inputFor(procedure));
      expect(err.line).toBe(2);
      expect(err.hint).toMatch(/not supported/);
    }
  });

  it('refuses the current date, which would change the hash on every run', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': '{{ "now" | date: "%Y" }}' } });
    expect((await renderError(inputFor(procedure))).message).toMatch(/date: "now" differs on every render/);
    const fixed = makeProcedure({ vm: { 'a.txt': '{{ "2024-05-01T12:00:00Z" | date: "%Y" }}' } });
    expect(text(await renderBundle(inputFor(fixed)), 'a.txt')).toBe('2024');
  });
});

describe('renderBundle: errors name file, line, column and variable', () => {
  it('an undefined variable', async () => {
    const procedure = makeProcedure({ vm: { 'config/app.conf': 'title={{ values.title }}\n\nport={{ values.prot | shell }}\n' } });
    const err = await renderError(inputFor(procedure));
    expect(err).toBeInstanceOf(RenderError);
    expect(err.exitCode).toBe(ExitCode.invalidInput);
    expect(err.template).toBe(`${procedure.name}/1.0.0/vm/config/app.conf`);
    expect(err.line).toBe(3);
    expect(err.col).toBe(9);
    expect(err.message).toBe(`${procedure.name}/1.0.0/vm/config/app.conf:3:9  undefined variable: values.prot`);
    expect(err.hint).toMatch(/values/);
  });

  it('names the template relative to cwd when one is given', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': '{{ nope }}' } });
    const err = await renderError(inputFor(procedure, { cwd: path.dirname(catalogue) }));
    expect(err.template).toBe(`${path.basename(catalogue)}/${procedure.name}/1.0.0/vm/a.txt`);
  });

  it('never prints an undefined variable as an empty string, also inside loops and filters', async () => {
    for (const source of ['{% for x in values.list %}{{ x }}{% endfor %}', '{{ values.title | append: values.suffix }}', '{{ site.dataCenter }}', '{{ site.hosts.test.host }}', '{{ values.title.constructor }}', '{{ values.__proto__ }}']) {
      const procedure = makeProcedure({ vm: { 'a.txt': source } });
      expect((await renderError(inputFor(procedure))).message).toMatch(/undefined variable/);
    }
  });

  it('lets templates test for absence with if and default', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': '{% if values.optional %}yes{% else %}no{% endif %} {{ values.optional | default: "d" }}' } });
    expect(text(await renderBundle(inputFor(procedure)), 'a.txt')).toBe('no d');
  });

  it('a syntax error', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': 'ok\n  {% if values.title %}\nno end' } });
    const err = await renderError(inputFor(procedure));
    expect(err.line).toBe(2);
    expect(err.col).toBe(3);
    expect(err.message).toMatch(/not closed/);
  });

  it('an undefined filter', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': '{{ values.title | shel }}' } });
    const err = await renderError(inputFor(procedure));
    expect(err.message).toMatch(/undefined filter: shel/);
    expect(err.line).toBe(1);
  });

  it('a value a filter cannot carry (NUL into a shell word)', async () => {
    const procedure = makeProcedure({ vm: { 'run.sh': 'set -eu\nname={{ values.title | shell }}\n' } });
    const err = await renderError(inputFor(procedure, { values: { title: 'a\0b' } }));
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/shell: value contains a NUL/);
    expect(err.message).not.toContain('a\0b');
  });
});

describe('renderBundle: secrets', () => {
  const secretsSpec = { secrets: ['pw', 'other'] };
  const secrets = { pw: "p'w\"$(x)\n", other: 'o' };

  it('marks exactly the files that use a secret: 0600, or 0700 for scripts', async () => {
    const procedure = makeProcedure({
      ...secretsSpec,
      vm: {
        'plain.txt': 'no secret here',
        'smtp.env': 'PW={{ secrets.pw | shell }}\n',
        'run.sh': { content: '#!/bin/sh\nTOKEN={{ secrets.other | shell }}\n', mode: 0o755 },
      },
    });
    const bundle = await renderBundle(inputFor(procedure, { secrets }));
    expect(bundle.files.map((f) => [f.path, f.mode, f.sensitive])).toEqual([
      ['plain.txt', 0o644, false],
      ['run.sh', 0o700, true],
      ['smtp.env', 0o600, true],
    ]);
    expect(text(bundle, 'smtp.env')).toBe(`PW='p'\\''w"$(x)\n'\n`);
  });

  it('detects every way of reaching a secret', async () => {
    const sources = [
      '{{ secrets.pw }}',
      '{{ secrets["pw"] }}',
      '{% assign key = "p" | append: "w" %}{{ secrets[key] }}',
      '{% assign s = secrets %}{{ s.pw | yaml }}',
      '{% capture c %}{{ secrets.pw }}{% endcapture %}{{ c | size }}',
      '{% if secrets.pw == "x" %}x{% endif %}',
      // a branch this site does not take still makes the file sensitive, for every site alike
      '{% if false %}{{ secrets.pw }}{% endif %}',
    ];
    for (const source of sources) {
      const procedure = makeProcedure({ ...secretsSpec, vm: { 'f.txt': source } });
      const [file] = (await renderBundle(inputFor(procedure, { secrets }))).files;
      expect([source, file!.sensitive, file!.mode]).toEqual([source, true, 0o600]);
    }
  });

  it('refuses to dump or iterate the secrets object', async () => {
    for (const source of ['{{ secrets }}', '{{ secrets | json }}', '{{ secrets | yaml }}', '{% for s in secrets %}{{ s }}{% endfor %}{{ secrets.size }}']) {
      const procedure = makeProcedure({ ...secretsSpec, vm: { 'f.txt': source } });
      const err = await renderError(inputFor(procedure, { secrets }));
      expect(err.message).not.toContain('p\'w');
    }
  });

  it('exposes only declared secrets', async () => {
    const procedure = makeProcedure({ secrets: ['pw'], vm: { 'f.txt': '{{ secrets.undeclared }}' } });
    const err = await renderError(inputFor(procedure, { secrets: { pw: 'x', undeclared: 'y' } }));
    expect(err.message).toMatch(/undefined variable: secrets\.undeclared/);
  });

  it('requires a value for every declared secret, naming it', async () => {
    const procedure = makeProcedure({ secrets: ['pw', 'missing'], vm: { 'f.txt': 'x' } });
    const err = await renderError(inputFor(procedure, { secrets: { pw: 'x' } }));
    expect(err.message).toMatch(/secret "missing" has no value for site kiel/);
    expect(err.hint).toMatch(/sites\.yaml/);
  });

  it('redacts secrets for review output; such a bundle hashes differently', async () => {
    const procedure = makeProcedure({ ...secretsSpec, vm: { 'smtp.env': 'PW={{ secrets.pw | shell }}' } });
    const redacted = await renderBundle(inputFor(procedure, { secrets: {}, redactSecrets: true }));
    expect(text(redacted, 'smtp.env')).toBe("PW='«secret:pw»'");
    expect(redacted.files[0]!.sensitive).toBe(true);
    const real = await renderBundle(inputFor(procedure, { secrets }));
    expect(real.hash).not.toBe(redacted.hash);
  });

  it('keeps concurrent renders apart', async () => {
    const procedure = makeProcedure({ ...secretsSpec, vm: { 'a.env': '{{ secrets.pw }}', 'b.txt': '{{ site.name }}' } });
    const bundles = await Promise.all(
      Array.from({ length: 20 }, (_, i) => renderBundle(inputFor(procedure, { secrets: { pw: `pw-${i}`, other: 'o' } }))),
    );
    bundles.forEach((b, i) => {
      expect(text(b, 'a.env')).toBe(`pw-${i}`);
      expect(b.files.map((f) => f.sensitive)).toEqual([true, false]);
    });
    expect(new Set(bundles.map((b) => b.hash)).size).toBe(20);
  });
});

describe('renderBundle: context', () => {
  it('provides exactly the documented context', async () => {
    const procedure = makeProcedure({
      vm: {
        'ctx.txt': [
          '{{ site.name }} {{ site.labels.region }} {{ site.facts.municipalityKey }} {{ site.facts.population }}',
          '{{ environment }} {{ procedure.name }} {{ procedure.version }}',
          '{{ values.title }} {{ userConnection.idp }} {{ userConnection.roles | join: "," }}',
          '{% for t in processTransfers %}{{ t.kind }}:{{ t.destination }}{% endfor %}',
        ].join('\n'),
      },
    });
    const bundle = await renderBundle(inputFor(procedure, { environment: 'prod' }));
    expect(text(bundle, 'ctx.txt')).toBe(
      `kiel nord 01002000 247000\nprod ${procedure.name} 1.0.0\nAnträge https://idp.kiel.de/realms/buerger sachbearbeitung\nxta:urn:xta:kiel`,
    );
  });

  it('gives an empty user connection and process transfer list when the setup has none', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': '{{ userConnection | json }} {{ processTransfers | json }} {{ userConnection.idp | default: "none" }}' } });
    const input = inputFor(procedure);
    const setup: Setup = { procedure: procedure.name, version: '1.0.0', values: {}, secrets: {} };
    expect(text(await renderBundle({ ...input, setup }), 'a.txt')).toBe('{} [] none');
  });

  it('applies schema defaults, also nested, without overriding given values or mutating the input', async () => {
    const procedure = makeProcedure({
      valuesSchema: {
        type: 'object',
        properties: {
          title: { type: 'string', default: 'unused default' },
          port: { type: 'integer', default: 8080 },
          smtp: { type: 'object', default: {}, properties: { host: { default: 'localhost' }, port: { default: 587 } } },
          forms: { type: 'array', default: [], items: { type: 'object', properties: { enabled: { default: true } } } },
        },
      },
      vm: { 'a.txt': '{{ values.title }} {{ values.port }} {{ values.smtp.host }}:{{ values.smtp.port }} {{ values.forms | json }}' },
    });
    const values = { title: 'given', smtp: { port: 25 }, forms: [{ id: 'a' }, { id: 'b', enabled: false }] };
    const snapshot = structuredClone(values);
    const bundle = await renderBundle(inputFor(procedure, { values }));
    expect(text(bundle, 'a.txt')).toBe('given 8080 localhost:25 [{"id":"a","enabled":true},{"id":"b","enabled":false}]');
    expect(values).toEqual(snapshot);
  });
});

describe('renderBundle: smoke checks', () => {
  it('renders every string field and keeps numbers', async () => {
    const smoke: SmokeCheck[] = [
      { name: 'config-{{ environment }}', command: 'sh hooks/check.sh {{ site.name | shell }}', retries: 2, expectExitCode: 0 },
      { name: 'health', http: { url: 'http://127.0.0.1:{{ values.port }}/health', status: 200, contains: '{{ site.name }}' }, timeoutSeconds: 5 },
    ];
    const procedure = makeProcedure({ vm: { a: 'a' }, smoke });
    const bundle = await renderBundle(inputFor(procedure, { values: { port: 8081 } }));
    expect(bundle.smoke).toEqual([
      { name: 'config-test', command: "sh hooks/check.sh 'kiel'", retries: 2, expectExitCode: 0 },
      { name: 'health', http: { url: 'http://127.0.0.1:8081/health', status: 200, contains: 'kiel' }, timeoutSeconds: 5 },
    ]);
    expect(procedure.smoke[0]).toEqual(smoke[0]);
  });

  it('refuses secrets in smoke checks', async () => {
    const procedure = makeProcedure({ secrets: ['pw'], vm: { a: 'a' }, smoke: [{ name: 'x', command: 'check {{ secrets.pw | shell }}' }] });
    const err = await renderError(inputFor(procedure));
    expect(err.template).toBe(`${procedure.name}/1.0.0/procedure.yaml#smoke[0].command`);
    expect(err.message).toMatch(/1:10  secrets is not available in smoke checks/);
    expect(err.message).not.toContain('hunter2');
  });

  it('reports an undefined variable with the field it is in', async () => {
    const procedure = makeProcedure({ vm: { a: 'a' }, smoke: [{ name: 'h', http: { url: 'http://x:{{ values.nope }}/' } }] });
    const err = await renderError(inputFor(procedure));
    expect(err.template).toBe(`${procedure.name}/1.0.0/procedure.yaml#smoke[0].http.url`);
    expect(err.line).toBe(1);
    expect(err.col).toBe(13);
    expect(err.message).toMatch(/undefined variable: values\.nope/);
  });
});

describe('renderBundle: hash', () => {
  it('is stable for the same inputs and follows every change', async () => {
    const procedure = makeProcedure({
      secrets: ['pw'],
      vm: { 'a.txt': '{{ values.title }}', 'b.env': '{{ secrets.pw }}', 'c.txt': '{{ environment }}' },
    });
    const base = await renderBundle(inputFor(procedure));
    expect((await renderBundle(inputFor(procedure))).hash).toBe(base.hash);
    const changed = await Promise.all([
      renderBundle(inputFor(procedure, { values: { title: 'Anträge!' } })),
      renderBundle(inputFor(procedure, { secrets: { pw: 'rotated' } })),
      renderBundle(inputFor(procedure, { environment: 'prod' })),
    ]);
    for (const bundle of changed) expect(bundle.hash).not.toBe(base.hash);
  });

  it('is the same for two sites whose rendered content is identical', async () => {
    const procedure = makeProcedure({ vm: { 'a.txt': '{{ values.title }}' } });
    const kiel = await renderBundle(inputFor(procedure));
    const luebeck = await renderBundle(inputFor(procedure, { site: { ...site, name: 'luebeck' } }));
    expect(luebeck.site).toBe('luebeck');
    expect(luebeck.hash).toBe(kiel.hash);
  });

  it('changes with the file mode alone', async () => {
    const a = makeProcedure({ vm: { 'x.sh': { content: 'same', mode: 0o644 } } });
    const b = makeProcedure({ vm: { 'x.sh': { content: 'same', mode: 0o755 } } });
    // different procedure names would differ anyway: compare against a renamed copy
    const hashA = (await renderBundle(inputFor(a))).hash;
    const hashB = (await renderBundle(inputFor({ ...b, name: a.name }))).hash;
    expect(hashB).not.toBe(hashA);
  });
});

describe('renderCloudInitFragment', () => {
  it('renders vm.cloudInit with the file context, and nothing when there is none', async () => {
    const procedure = makeProcedure({ vm: { a: 'a' }, cloudInit: '#cloud-config\nhostname: {{ site.name | yaml }}\nport: {{ values.port }}\n', valuesSchema: { type: 'object', properties: { port: { default: 8080 } } } });
    expect(await renderCloudInitFragment(inputFor(procedure))).toBe('#cloud-config\nhostname: "kiel"\nport: 8080\n');
    expect(await renderCloudInitFragment(inputFor(makeProcedure({ vm: { a: 'a' } })))).toBeUndefined();
  });

  it('refuses secrets and undefined variables, naming the fragment', async () => {
    const withSecret = makeProcedure({ secrets: ['pw'], vm: { a: 'a' }, cloudInit: '#cloud-config\npassword: {{ secrets.pw | yaml }}\n' });
    const err = await renderCloudInitFragment(inputFor(withSecret)).catch((e: unknown) => e as RenderError);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).template).toBe(`${withSecret.name}/1.0.0/cloud-init.yaml`);
    expect((err as RenderError).message).toMatch(/2:\d+  secrets is not available in cloud-init user-data/);

    const typo = makeProcedure({ vm: { a: 'a' }, cloudInit: '#cloud-config\nhostname: {{ site.nmae }}\n' });
    await expect(renderCloudInitFragment(inputFor(typo))).rejects.toThrow(/cloud-init\.yaml:2:\d+  undefined variable: site\.nmae/);
  });
});
