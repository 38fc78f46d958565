import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './run-ozg.js';

/**
 * A documented JSON shape, as the README's "JSON results" blocks write it: an object of keys
 * (`key?` may be absent), a one-element list, or a type string (`string | null`, `'test' |
 * 'prod'`, `true`, `<name>` for a shape defined under that name).
 */
export type Shape = string | Shape[] | { [key: string]: Shape };

export interface DocumentedShapes {
  /** by command, as in `ozg <command> --json` */
  commands: Map<string, Shape>;
  /** `<name>` shapes the others refer to */
  named: Map<string, Shape>;
}

/** The blocks of the README's "JSON results" section, each under the line that names it. */
export function readDocumentedShapes(readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')): DocumentedShapes {
  const start = readme.indexOf('\n### JSON results\n');
  if (start < 0) throw new Error('README.md has no "### JSON results" section');
  const end = readme.indexOf('\n## ', start + 1);
  const lines = readme.slice(start, end < 0 ? undefined : end).split('\n');
  const shapes: DocumentedShapes = { commands: new Map(), named: new Map() };
  let label: { kind: 'commands' | 'named'; name: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const command = /^`ozg ([a-z -]+?) --json`/.exec(line);
    const named = /^`<([a-z-]+)>`/.exec(line);
    if (command) label = { kind: 'commands', name: command[1]! };
    else if (named) label = { kind: 'named', name: named[1]! };
    if (line !== '```json') continue;
    const close = lines.indexOf('```', i + 1);
    if (!label) throw new Error(`README.md JSON results: a block without a \`ozg <command> --json\` or \`<name>\` line before it`);
    if (shapes[label.kind].has(label.name)) throw new Error(`README.md JSON results: ${label.name} is documented twice`);
    shapes[label.kind].set(label.name, JSON.parse(lines.slice(i + 1, close).join('\n')) as Shape);
    label = undefined;
    i = close;
  }
  return shapes;
}

/**
 * Every way `value` departs from `shape`: a key the README does not name, a key it names
 * that is missing, a value of another type. `seen` collects the documented key paths the
 * value holds, so a caller can tell which optional keys its runs covered.
 */
export function compareWithShape(value: unknown, shape: Shape, named: Map<string, Shape>, where: string, seen = new Set<string>()): string[] {
  if (typeof shape === 'string') return compareWithType(value, shape, named, where, seen);
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${where}: ${describe(value)} is not a list`];
    return value.flatMap((element, index) => compareWithShape(element, shape[0]!, named, `${where}[${index}]`, seen));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: ${describe(value)} is not an object`];
  const problems: string[] = [];
  const documented = new Set<string>();
  for (const [key, inner] of Object.entries(shape)) {
    const name = key.replace(/\?$/, '');
    documented.add(name);
    const path = `${where}.${name}`;
    if (!(name in value)) {
      if (!key.endsWith('?')) problems.push(`${path}: missing (the README documents it)`);
      continue;
    }
    seen.add(path.replace(/\[\d+\]/g, '[]'));
    problems.push(...compareWithShape((value as Record<string, unknown>)[name], inner, named, path, seen));
  }
  for (const key of Object.keys(value)) if (!documented.has(key)) problems.push(`${where}.${key}: not documented in the README`);
  return problems;
}

function compareWithType(value: unknown, type: string, named: Map<string, Shape>, where: string, seen: Set<string>): string[] {
  const alternatives = type.split('|').map((a) => a.trim());
  const failures: string[][] = [];
  for (const alternative of alternatives) {
    const reference = /^<([a-z-]+)>$/.exec(alternative);
    if (reference) {
      const shape = named.get(reference[1]!);
      if (shape === undefined) return [`${where}: the README refers to <${reference[1]}> but defines no such shape`];
      const inner = new Set<string>();
      const problems = compareWithShape(value, shape, named, `<${reference[1]}>`, inner);
      if (problems.length === 0) {
        for (const key of inner) seen.add(key);
        return [];
      }
      failures.push(problems);
    } else if (matchesType(value, alternative)) {
      return [];
    }
  }
  // one documented shape it should have been: its own problems say more than "not <rollout>"
  if (failures.length === 1 && value !== null) return failures[0]!.map((p) => `${where}: ${p}`);
  return [`${where}: ${describe(value)} is not ${type}`];
}

function matchesType(value: unknown, type: string): boolean {
  const literal = /^'(.*)'$/.exec(type);
  if (literal) return value === literal[1];
  // `{ [key]: number }`: an object of any keys, every value of that type (labels, counts by outcome)
  const map = /^\{ \[\w+\]: (string|number) \}$/.exec(type);
  if (map) return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((inner) => typeof inner === map[1]);
  switch (type) {
    case 'string':
    case 'number':
    case 'boolean':
      return typeof value === type;
    case 'null':
      return value === null;
    case 'true':
      return value === true;
    case 'false':
      return value === false;
    default:
      throw new Error(`README.md JSON results: unknown type ${JSON.stringify(type)}`);
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The paths of a shape's optional keys (`key?`), as `compareWithShape` names them in `seen`; named shapes not followed. */
export function listOptionalKeys(shape: Shape, where: string): string[] {
  if (typeof shape === 'string') return [];
  if (Array.isArray(shape)) return listOptionalKeys(shape[0]!, `${where}[]`);
  return Object.entries(shape).flatMap(([key, inner]) => {
    const path = `${where}.${key.replace(/\?$/, '')}`;
    return [...(key.endsWith('?') ? [path] : []), ...listOptionalKeys(inner, path)];
  });
}
