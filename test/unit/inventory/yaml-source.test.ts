import { createAjv } from '../../../src/input/compile-schema.js';
import { checkAgainstSchema } from '../../../src/input/schema-check.js';
import { createProblem, formatPath, locate, parseYamlSource } from '../../../src/input/yaml-source.js';
import { suggestName } from '../../../src/input/suggest.js';

const text = `x-common: &common
  dataCenter: local-dc
sites:
  kiel:
    <<: *common
    labels: { ring: canary }
    list:
      - a
      - { b: 1 }
  empty:
`;

describe('parseYamlSource', () => {
  const { source, problems } = parseYamlSource(text, 'sites.yaml');

  it('parses merge keys and keeps the data', () => {
    expect(problems).toEqual([]);
    expect(source.data).toEqual({
      'x-common': { dataCenter: 'local-dc' },
      sites: { kiel: { dataCenter: 'local-dc', labels: { ring: 'canary' }, list: ['a', { b: 1 }] }, empty: null },
    });
  });

  it('locates values and keys, through sequences and merge keys', () => {
    expect(locate(source, { path: ['sites', 'kiel', 'labels', 'ring'], side: 'value' })).toEqual({ line: 6, col: 21 });
    expect(locate(source, { path: ['sites', 'kiel', 'labels', 'ring'], side: 'key' })).toEqual({ line: 6, col: 15 });
    expect(locate(source, { path: ['sites', 'kiel', 'list', 1, 'b'], side: 'value' })).toEqual({ line: 9, col: 14 });
    expect(locate(source, { path: ['sites', 'kiel', 'dataCenter'], side: 'value' })).toEqual({ line: 2, col: 15 });
  });

  it('points at the key of a field without a value, and at the deepest existing key for a missing path', () => {
    expect(locate(source, { path: ['sites', 'empty'], side: 'value' })).toEqual({ line: 10, col: 3 });
    expect(locate(source, { path: ['sites', 'kiel', 'hosts', 'test'], side: 'value' })).toEqual({ line: 4, col: 3 });
    expect(locate(source, { path: [], side: 'key' })).toEqual({ line: 1, col: 1 });
  });

  it('formats paths with dots and list indices', () => {
    expect(formatPath(['sites', 'kiel', 'list', 1, 'b'])).toBe('sites.kiel.list[1].b');
    expect(formatPath([])).toBe('');
    expect(createProblem(source, ['sites', 'kiel', 'labels'], 'x')).toEqual({ file: 'sites.yaml', line: 6, col: 13, path: 'sites.kiel.labels', message: 'x' });
  });

  it('reports duplicate keys at any depth with their path', () => {
    const result = parseYamlSource('sites:\n  kiel:\n    a: 1\n    a: 2\n  kiel: {}\n', 'sites.yaml');
    expect(result.problems).toEqual([
      { file: 'sites.yaml', line: 4, col: 5, path: 'sites.kiel.a', message: 'duplicate key "a" (first defined at line 3)' },
      { file: 'sites.yaml', line: 5, col: 3, path: 'sites.kiel', message: 'duplicate key "kiel" (first defined at line 2)' },
    ]);
  });

  it('reports syntax errors with position, the field they are in and a short message', () => {
    const result = parseYamlSource('sites:\n  kiel: { a: 1\n  other: 2\n', 'sites.yaml');
    expect(result.problems.length).toBeGreaterThan(0);
    expect(result.problems[0]).toMatchObject({ file: 'sites.yaml', path: 'sites.kiel' });
    expect(result.problems[0].message).toMatch(/^YAML syntax error: [^\n]+$/);
    expect(result.problems[0].message).not.toContain('at line');
  });

  it('treats an empty file as null data', () => {
    expect(parseYamlSource('', 'sites.yaml')).toMatchObject({ problems: [], source: { data: null } });
  });
});

describe('checkAgainstSchema', () => {
  const validate = createAjv().compile({
    type: 'object',
    required: ['kind'],
    additionalProperties: false,
    properties: {
      kind: { enum: ['local', 'vm'] },
      hosts: { type: 'object' },
      version: { type: 'string' },
      name: { type: 'string', pattern: '^[a-z]+$', 'x-ozg-message': 'must be lowercase letters' },
      names: { type: 'object', propertyNames: { pattern: '^[a-z]+$', 'x-ozg-message': 'must be lowercase letters' } },
      size: { type: 'integer', 'x-ozg-site-specific': true },
    },
  });

  it('turns every ajv error into a human problem at the right node', () => {
    const { source } = parseYamlSource('kind: kvm\nhots: {}\nversion: 1.1\nname: Kiel\nnames: { Bad: 1 }\nsize: big\n', 'f.yaml');
    expect(checkAgainstSchema(source, validate).problems.map((p) => `${p.line}:${p.col} ${p.path} ${p.message}`)).toEqual([
      '1:7 kind must be one of local, vm (got "kvm")',
      '2:1 hots unknown field "hots" (allowed: kind, hosts, version, name, names, size); did you mean "hosts"?',
      '3:10 version must be a string (got 1.1); quote it to keep it a string',
      '4:7 name must be lowercase letters',
      '5:10 names.Bad name "Bad" must be lowercase letters',
      '6:7 size must be an integer (got "big")',
    ]);
  });

  it('points a missing required field at its parent and names the field in the path', () => {
    const { source } = parseYamlSource('hosts: {}\n', 'f.yaml');
    expect(checkAgainstSchema(source, validate).problems).toEqual([{ file: 'f.yaml', line: 1, col: 1, path: 'kind', message: 'missing required field "kind"' }]);
  });
});

describe('suggestName', () => {
  it('suggests close names, counting swapped letters as one edit', () => {
    expect(suggestName('hots', ['hosts', 'labels'])).toBe('hosts');
    expect(suggestName('prot', ['port', 'title'])).toBe('port');
    expect(suggestName('xyz', ['hosts', 'labels'])).toBeUndefined();
  });
});
