import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidInputError, formatProblem } from '../../../src/errors.js';
import { createCatalogue, loadCatalogue, readCatalogue } from '../../../src/procedure/catalogue.js';
import { checkValues } from '../../../src/procedure/check-values.js';

/** antrag-formular 1.0.0, 1.1.0, 2.0.0 and 2.1.0-rc.1, all valid */
const fixture = path.resolve('test/fixtures/valid/defaults-and-ranges/templates');

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ozg-catalogue-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function copyFixture(to: string): Promise<string> {
  const dir = path.join(tmp, to);
  await cp(fixture, dir, { recursive: true });
  return dir;
}

async function readProblems(dirs: string[]): Promise<string[]> {
  const error = await loadCatalogue(dirs, { cwd: tmp }).catch((thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(InvalidInputError);
  return (error as InvalidInputError).problems.map(formatProblem);
}

describe('loadCatalogue', () => {
  it('lists procedures and their versions newest first (semver order)', async () => {
    const catalogue = await loadCatalogue([fixture]);
    expect(catalogue.names()).toEqual(['antrag-formular']);
    expect(catalogue.versions('antrag-formular')).toEqual(['2.1.0-rc.1', '2.0.0', '1.1.0', '1.0.0']);
    expect(catalogue.versions('unknown')).toEqual([]);
  });

  it('loads a procedure with absolute paths, defaults and its smoke checks', async () => {
    const procedure = (await loadCatalogue([fixture])).get('antrag-formular', '1.1.0');
    expect(procedure).toMatchObject({
      name: 'antrag-formular',
      version: '1.1.0',
      dir: path.join(fixture, 'antrag-formular/1.1.0'),
      file: path.join(fixture, 'antrag-formular/1.1.0/procedure.yaml'),
      secrets: ['smtpPassword'],
      vm: { files: 'vm', hooks: { install: 'hooks/install.sh', activate: 'hooks/activate.sh' } },
      kubernetes: { manifests: 'kubernetes' },
      smoke: [{ name: 'health', http: { url: 'http://127.0.0.1:{{ values.port }}/health', status: 200, contains: 'ok' } }],
    });
    expect(procedure?.valuesSchema).toMatchObject({ type: 'object', required: ['title'] });
  });

  it('checks values against the schema with defaults applied, without changing them', async () => {
    const procedure = (await loadCatalogue([fixture])).get('antrag-formular', '1.1.0')!;
    const values = { title: 'Kiel' };
    expect(checkValues(procedure, values)).toEqual([]);
    expect(values).toEqual({ title: 'Kiel' });
    expect(checkValues(procedure, { title: 'Kiel', port: 80 }).map((e) => e.message)).toEqual(['must be >= 1024']);
  });

  it('reports a version defined in two catalogues with both paths', async () => {
    await copyFixture('one');
    await copyFixture('two');
    const problems = await readProblems(['one', 'two']);
    expect(problems).toContain(
      'two/antrag-formular/1.1.0/procedure.yaml:2:10  version  antrag-formular 1.1.0 is defined in two catalogues: one/antrag-formular/1.1.0/procedure.yaml and two/antrag-formular/1.1.0/procedure.yaml; remove one',
    );
    expect(problems).toHaveLength(4);
  });

  it('reads the same directory named twice only once', async () => {
    await copyFixture('one');
    const catalogue = await loadCatalogue(['one', './one'], { cwd: tmp });
    expect(catalogue.versions('antrag-formular')).toHaveLength(4);
  });

  it('reports structural mistakes: missing directory, procedure.yaml outside a version folder, empty version folder', async () => {
    const dir = await copyFixture('cat');
    await writeFile(path.join(dir, 'antrag-formular/procedure.yaml'), 'name: antrag-formular\n');
    await mkdir(path.join(dir, 'antrag-formular/3.0.0'));
    await mkdir(path.join(dir, '.git'));
    expect(await readProblems(['cat', 'nope'])).toEqual([
      'cat/antrag-formular/3.0.0/procedure.yaml:1:1  (document)  no procedure.yaml in this version folder',
      'cat/antrag-formular/procedure.yaml:1:1  (document)  belongs in a version folder: cat/antrag-formular/<version>/procedure.yaml',
      'nope:1:1  (document)  catalogue directory not found',
    ]);
  });

  it('keeps broken versions known but out of the catalogue', async () => {
    const dir = await copyFixture('cat');
    await writeFile(path.join(dir, 'antrag-formular/2.0.0/procedure.yaml'), 'name: antrag-formular\nversion: 2.0.0\n');
    const result = await readCatalogue(['cat'], { cwd: tmp });
    expect(result.problems.map(formatProblem)).toEqual([
      'cat/antrag-formular/2.0.0/procedure.yaml:1:1  (document)  needs a vm: or a kubernetes: section (or both): it must render for some kind of target',
    ]);
    expect(result.catalogue.versions('antrag-formular')).toEqual(['2.1.0-rc.1', '1.1.0', '1.0.0']);
    expect(result.brokenVersions).toEqual(new Map([['antrag-formular', ['2.0.0']]]));
  });

  it('rejects a hook path that leaves the procedure folder', async () => {
    const dir = await copyFixture('cat');
    const file = path.join(dir, 'antrag-formular/1.0.0/procedure.yaml');
    await writeFile(file, ['name: antrag-formular', 'version: 1.0.0', 'vm:', '  files: vm', '  hooks: { install: ../../etc/passwd }', ''].join('\n'));
    expect(await readProblems(['cat'])).toEqual([
      'cat/antrag-formular/1.0.0/procedure.yaml:5:21  vm.hooks.install  must be a relative path that stays inside the procedure folder (no leading / and no ..)',
    ]);
  });

  it('rejects duplicate smoke check names and a missing cloud-init file', async () => {
    const dir = await copyFixture('cat');
    const file = path.join(dir, 'antrag-formular/1.0.0/procedure.yaml');
    await writeFile(
      file,
      ['name: antrag-formular', 'version: 1.0.0', 'vm:', '  files: vm', '  cloudInit: cloud-init.yaml', 'smoke:', '  - { name: a, command: "true" }', '  - { name: a, command: "false" }', ''].join('\n'),
    );
    expect(await readProblems(['cat'])).toEqual([
      'cat/antrag-formular/1.0.0/procedure.yaml:5:14  vm.cloudInit  file cloud-init.yaml not found next to procedure.yaml',
      'cat/antrag-formular/1.0.0/procedure.yaml:8:13  smoke[1].name  smoke check name "a" is used twice; results are reported by name',
    ]);
  });
});

describe('createCatalogue', () => {
  it('answers for procedures it does not have', () => {
    const catalogue = createCatalogue([]);
    expect(catalogue.names()).toEqual([]);
    expect(catalogue.get('x', '1.0.0')).toBeUndefined();
  });
});
