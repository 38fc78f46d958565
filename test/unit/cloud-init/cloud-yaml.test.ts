import { parse } from 'yaml';
import { UsageError } from '../../../src/errors.js';
import { stringifyCloudYaml } from '../../../src/cloud-init/cloud-yaml.js';

describe('stringifyCloudYaml', () => {
  it('never leaves a string plain that YAML 1.1 would read as something else', () => {
    const tricky = ['yes', 'No', 'ON', 'off', 'y', 'n', 'true', 'null', '~', '', '0644', '0o644', '1:20', '1.', '.inf', '.NaN', '2001-01-01', '=', '<<', '-', '?', '@x', '*a', '&b', '!t', '%d', '#c', ' x', 'x '];
    const text = stringifyCloudYaml({ list: tricky }, 'test');
    expect(parse(text, { version: '1.1' })).toEqual({ list: tricky });
    expect(parse(text, { version: '1.2' })).toEqual({ list: tricky });
    for (const value of ['yes', '0644', '=', '<<', '1:20']) expect(text).toContain(`"${value}"`);
  });

  it('keeps simple words and paths plain and multi-line text readable', () => {
    const text = stringifyCloudYaml({ b: ['/opt/ozg', 'ca-certificates', 'ozg'], a: 'line 1\nline 2\n' }, 'test', '#cloud-config');
    expect(text).toBe('#cloud-config\na: |\n  line 1\n  line 2\nb:\n  - /opt/ozg\n  - ca-certificates\n  - ozg\n');
  });

  it('refuses characters PyYAML would read as line breaks, without echoing the value', () => {
    let error: unknown;
    try {
      stringifyCloudYaml({ users: [{ name: 'x', secret: 'top\u2028secret' }] }, 'user-data');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('user-data: the value at users[0].secret');
    expect((error as Error).message).not.toContain('top');
  });
});
