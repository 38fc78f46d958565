import { existsSync } from 'node:fs';
import path from 'node:path';
import { createMiniProject, localInventoryYaml } from '../helpers/mini-project.js';
import { removeTemp, resultOf, runOzg } from '../helpers/run-ozg.js';

/**
 * Issue 13: a procedure version's independent problems once surfaced one layer per run (six
 * runs to see them all), and each template problem twice (test and prod). Now one run shows
 * every independent problem, each once. What still stops later checks, because they would
 * mean nothing: a procedure.yaml problem other than an unknown field hides that file's other
 * checks; a values schema that is not valid hides the site's values check; a broken version is
 * never rendered; a site value that does not fit stops rendering that procedure for the site.
 */
const sitesYaml = localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites: [{ name: 'kiel', procedures: { demo: { version: '1.0.0', values: '{ title: Kiel }' } } }] });

const count = (text: string, part: string) => text.split(part).length - 1;

describe('procedure problems: all at once, once each', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await removeTemp(dir);
  });

  it('procedure.yaml: an unknown field, a values-schema problem and a missing hook file in one run, exit 3, nothing deployed', async () => {
    const { dir } = await createMiniProject(
      {
        'procedure.yaml': [
          'name: demo',
          'version: 1.0.0',
          'descripton: a typo', // line 3
          'values:',
          '  type: object',
          '  properties:',
          '    title: { type: string }',
          '    port: { type: integr }', // line 8
          'vm:',
          '  files: files',
          '  hooks:',
          '    install: hooks/missing.sh', // line 12
        ].join('\n') + '\n',
        'files/app.conf': 'title={{ values.title }}\n',
      },
      { sitesYaml },
    );
    dirs.push(dir);
    const expected = [
      'catalogue/demo/1.0.0/procedure.yaml:3:1  descripton  unknown field "descripton"',
      'catalogue/demo/1.0.0/procedure.yaml:8:19  values.properties.port.type  not a valid JSON Schema',
      'catalogue/demo/1.0.0/procedure.yaml:12:14  vm.hooks.install  install hook hooks/missing.sh not found',
    ];

    const validate = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect(validate.code).toBe(3);
    for (const line of expected) expect(count(validate.stderr, line)).toBe(1);

    const deploy = await runOzg(['deploy', '-i', 'sites.yaml', '--yes'], { cwd: dir });
    expect(deploy.code).toBe(3);
    for (const line of expected) expect(deploy.stdout + deploy.stderr).toContain(line);
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);
  });

  it("a broken version whose values schema is sound still checks the site's values in the same run", async () => {
    const { dir } = await createMiniProject(
      {
        'procedure.yaml': ['name: demo', 'version: 1.0.0', 'descripton: a typo', 'values:', '  type: object', '  properties:', '    title: { type: string }', 'vm:', '  files: missing-folder'].join('\n') + '\n',
      },
      { sitesYaml: sitesYaml.replace('{ title: Kiel }', '{ title: 42 }') },
    );
    dirs.push(dir);
    const validate = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect(validate.code).toBe(3);
    for (const line of [
      'catalogue/demo/1.0.0/procedure.yaml:3:1  descripton  unknown field "descripton"',
      'catalogue/demo/1.0.0/procedure.yaml:9:10  vm.files  ',
      'sites.yaml:15:26  sites.kiel.procedures.demo.values.title  must be a string (got 42)',
    ]) {
      expect(count(validate.stderr, line)).toBe(1);
    }
  });

  it('templates: a syntax error, an unknown value and a smoke check with an unknown value in one run, each once for test and prod, exit 3', async () => {
    const { dir } = await createMiniProject(
      {
        'procedure.yaml': [
          'name: demo',
          'version: 1.0.0',
          'values:',
          '  type: object',
          '  properties:',
          '    title: { type: string }',
          'vm:',
          '  files: files',
          'smoke:',
          '  - name: up',
          '    command: "echo {{ values.nothere }}"',
        ].join('\n') + '\n',
        'files/a-broken.conf': 'a {{ site.name \n',
        'files/b-unknown.conf': 'title={{ values.title }}\nb={{ values.unknown }}\n',
        'files/c-fine.conf': 'site={{ site.name }}\n',
      },
      { sitesYaml },
    );
    dirs.push(dir);
    const expected = [
      ['demo/1.0.0/files/a-broken.conf:1:3', 'not closed'],
      ['demo/1.0.0/files/b-unknown.conf:2:6', 'undefined variable: values.unknown'],
      ['demo/1.0.0/procedure.yaml#smoke[0].command:1:9', 'undefined variable: values.nothere'],
    ];

    const validate = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect(validate.code).toBe(3);
    expect(validate.stderr).toContain('invalid input (3 problems)');
    for (const [where, message] of expected) {
      // the problem line starts with file:line:col; the message repeats it after the environments
      const line = validate.stderr.split('\n').filter((l) => l.trim().startsWith(`${where}  `));
      expect(line).toEqual([expect.stringContaining(`test, prod: `)]);
      expect(line[0]).toContain(message!);
    }

    const deploy = await runOzg(['deploy', '-i', 'sites.yaml', '--yes', '--json'], { cwd: dir });
    expect(deploy.code).toBe(3);
    const problems = resultOf(deploy).sites[0].problems.map((p: { file: string; line: number; col: number }) => `${p.file}:${p.line}:${p.col}`);
    expect(problems).toEqual(expected.map(([where]) => where));
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);
  });
});
