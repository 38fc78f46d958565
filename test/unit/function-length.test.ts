import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * A function longer than this holds more than one concern (STYLE.md: small units). It counts
 * every line from the function's first token to its closing brace, nested functions included,
 * so a long factory does not pass by hiding its body in closures.
 */
const MAX_FUNCTION_LINES = 120;

const srcDir = path.resolve('src');

function listSourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    // src/input/generated/: ajv's precompiled validators (scripts/generate-validators.mjs), not written by hand
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : listSourceFiles(file);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [file] : [];
  });
}

type FunctionNode = ts.FunctionDeclaration | ts.FunctionExpression | ts.ArrowFunction | ts.MethodDeclaration | ts.ConstructorDeclaration | ts.AccessorDeclaration;

function isFunctionWithBody(node: ts.Node): node is FunctionNode {
  return (
    (ts.isFunctionDeclaration(node) ||
      ts.isFunctionExpression(node) ||
      ts.isArrowFunction(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node)) &&
    node.body !== undefined
  );
}

/** The name a reader would search for: the declaration's own, or the variable or property it is assigned to. */
function nameOf(node: FunctionNode, source: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name) return parent.name.getText(source);
  return '<anonymous>';
}

interface FunctionLength {
  where: string;
  name: string;
  lines: number;
}

function measureFunctions(file: string, text = readFileSync(file, 'utf8')): FunctionLength[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunctionWithBody(node)) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ where: `${path.relative(process.cwd(), file)}:${first + 1}`, name: nameOf(node, source), lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('functions in src/', () => {
  const functions = listSourceFiles(srcDir).flatMap((file) => measureFunctions(file));

  it('are all found by the walk (declarations, expressions, arrows, methods)', () => {
    // a walk that found nothing would pass the length check below vacuously
    expect(functions.length).toBeGreaterThan(500);
    expect(functions.some((f) => f.where.startsWith(path.join('src', 'cli.ts')))).toBe(true);
  });

  it(`are at most ${MAX_FUNCTION_LINES} lines long each`, () => {
    const tooLong = functions
      .filter((f) => f.lines > MAX_FUNCTION_LINES)
      .sort((a, b) => b.lines - a.lines)
      .map((f) => `${f.where} ${f.name}: ${f.lines} lines`);
    expect(tooLong).toEqual([]);
  });
});

describe('measureFunctions', () => {
  it('counts every kind of function, named after what it is assigned to, nested ones included in their parent', () => {
    const text = [
      'export function outer() {',
      '  const inner = () => {',
      '    return 1;',
      '  };',
      '  return inner;',
      '}',
      'const o = { m() { return 2; }, p: function () {} };',
      'class C { constructor() {} get g() { return 3; } }',
      'declare function bodiless(): void;',
    ].join('\n');
    expect(measureFunctions('sample.ts', text).map((f) => `${f.name}:${f.lines}`)).toEqual(['outer:6', 'inner:3', 'm:1', 'p:1', 'constructor:1', 'g:1']);
  });
});
