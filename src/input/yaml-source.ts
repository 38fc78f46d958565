/**
 * YAML files that remember where every node came from, so a problem found in the plain data
 * (by a schema or a cross-field rule) can still name the file, line and column.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { Problem } from '../errors.js';

/** One step into a document: a mapping key or a sequence index. */
export type PathSegment = string | number;
export type JsonPath = readonly PathSegment[];

/** Which node a problem points at: the value, or the key that names it. */
export type NodeSide = 'key' | 'value';

/** Where in a document a problem should point. */
export interface Anchor {
  path: JsonPath;
  side: NodeSide;
}

/** A parsed YAML file that still knows the source position of each node. */
export interface YamlSource {
  /** the file as the user named it; used verbatim in problems */
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** the plain data (null for an empty document) */
  data: unknown;
}

export interface ParseYamlResult {
  source: YamlSource;
  /** syntax errors and duplicate keys; when non-empty, `data` must not be trusted */
  problems: Problem[];
}

// Merge keys (`<<: *common`) let one sites.yaml share blocks between sites; an alias bomb is
// still cut off.
const MAX_ALIAS_COUNT = 1000;

export function parseYamlSource(text: string, file: string): ParseYamlResult {
  const lineCounter = new LineCounter();
  // uniqueKeys is off so duplicates are reported by our own walk, which knows their path.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, merge: true, prettyErrors: true });
  const source: YamlSource = { file, doc, lineCounter, data: null };
  const problems: Problem[] = doc.errors.map((error) => {
    const offset = error.pos[0];
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col, path: formatPath(findPathAtOffset(doc, offset)), message: describeYamlError(error.message) };
  });
  problems.push(...findDuplicateKeys(source));
  if (problems.length === 0) {
    try {
      source.data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? null;
    } catch (error) {
      problems.push({ file, line: 1, col: 1, path: '', message: `cannot read YAML: ${(error as Error).message}` });
    }
  }
  return { source, problems };
}

/** `sites.kiel.procedures.antrag-formular.values.port`, `smoke[1].http.url` */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** A problem at `anchor` (default: the value at `path`), reported under `path`. */
export function createProblem(source: YamlSource, path: JsonPath, message: string, anchor?: Anchor): Problem {
  const { line, col } = locate(source, anchor ?? { path, side: 'value' });
  return { file: source.file, line, col, path: formatPath(path), message };
}

/**
 * Line and column of the node at `anchor.path`. When the path does not exist (a missing
 * field) the deepest existing ancestor's key is used, which is where the field belongs.
 */
export function locate(source: YamlSource, anchor: Anchor): { line: number; col: number } {
  const found = findNode(source.doc, anchor.path);
  let node: Node | null | undefined;
  if (found.complete) {
    // `field:` with nothing after it has an empty value node at the line's end: the key is what to show
    const value = isEmptyScalar(found.value) ? undefined : found.value;
    node = anchor.side === 'key' ? (found.key ?? value) : (value ?? found.key);
  } else {
    node = found.key ?? found.value;
  }
  const offset = node?.range?.[0] ?? source.doc.contents?.range?.[0] ?? 0;
  return source.lineCounter.linePos(offset);
}

interface FoundNode {
  /** true when every segment of the path was found */
  complete: boolean;
  /** key node of the last pair found on the way (undefined for sequence items and the root) */
  key?: Node;
  value?: Node | null;
}

function findNode(doc: Document, path: JsonPath): FoundNode {
  let value: Node | null | undefined = doc.contents;
  let key: Node | undefined;
  for (const segment of path) {
    const current = resolveAlias(doc, value);
    if (isMap(current)) {
      const pair = findPair(doc, current.items as Pair[], String(segment), 0);
      if (!pair) return { complete: false, key, value };
      key = pair.key as Node;
      value = pair.value as Node | null;
    } else if (isSeq(current) && typeof segment === 'number' && segment < current.items.length) {
      key = undefined;
      value = current.items[segment] as Node;
    } else {
      return { complete: false, key, value };
    }
  }
  return { complete: true, key, value };
}

/** The pair for `name`, looking through merge keys (`<<: *anchor`) the way toJS does. */
function findPair(doc: Document, items: Pair[], name: string, depth: number): Pair | undefined {
  const own = items.find((pair) => readKeyText(pair) === name);
  if (own || depth > 10) return own;
  for (const pair of items) {
    if (readKeyText(pair) !== '<<') continue;
    const merged = resolveAlias(doc, pair.value as Node);
    const sources = isSeq(merged) ? merged.items.map((item) => resolveAlias(doc, item as Node)) : [merged];
    for (const candidate of sources) {
      if (!isMap(candidate)) continue;
      const found = findPair(doc, candidate.items as Pair[], name, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

function isEmptyScalar(node: Node | null | undefined): boolean {
  return isScalar(node) && node.value === null && !!node.range && node.range[0] === node.range[1];
}

function resolveAlias(doc: Document, node: Node | null | undefined): Node | null | undefined {
  return isAlias(node) ? (node.resolve(doc) as Node | undefined) : node;
}

function readKeyText(pair: Pair): string | undefined {
  const key = pair.key as unknown;
  // with merge keys on, `<<` parses to a symbol
  if (isScalar(key)) return typeof key.value === 'symbol' ? (key.value.description ?? '') : String(key.value);
  if (key === null || key === undefined) return undefined;
  return typeof key === 'object' ? undefined : String(key);
}

function findDuplicateKeys(source: YamlSource): Problem[] {
  const problems: Problem[] = [];
  // one path, pushed and popped on the way: this walks every node of a 1,000-site inventory
  const path: PathSegment[] = [];
  const visit = (node: unknown): void => {
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items as Pair[]) {
        const name = readKeyText(pair);
        if (name === undefined || name === '<<') continue;
        const first = seen.get(name);
        if (first) {
          const at = source.lineCounter.linePos((pair.key as Node).range?.[0] ?? 0);
          const firstAt = source.lineCounter.linePos(first.range?.[0] ?? 0);
          problems.push({
            file: source.file,
            line: at.line,
            col: at.col,
            path: formatPath([...path, name]),
            message: `duplicate key "${name}" (first defined at line ${firstAt.line})`,
          });
        } else {
          seen.set(name, pair.key as Node);
        }
        path.push(name);
        visit(pair.value);
        path.pop();
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        path.push(index);
        visit(item);
        path.pop();
      });
    }
  };
  visit(source.doc.contents);
  return problems;
}

/** Best-effort path of the node holding `offset`, so a syntax error still names its field. */
function findPathAtOffset(doc: Document, offset: number): JsonPath {
  const path: PathSegment[] = [];
  const contains = (node: unknown): boolean => {
    const range = (node as Node | null)?.range;
    return !!range && range[0] <= offset && offset <= range[2];
  };
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = (node.items as Pair[]).find((item) => contains(item.key) || contains(item.value));
      const name = pair && readKeyText(pair);
      if (!pair || name === undefined) break;
      path.push(name);
      if (!contains(pair.value)) break;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item));
      if (index < 0) break;
      path.push(index);
      node = node.items[index];
    } else {
      break;
    }
  }
  return path;
}

// The yaml package appends " at line L, column C:" and a code excerpt; the position is
// reported separately, so only the sentence is kept.
function describeYamlError(message: string): string {
  const sentence = message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim();
  return `YAML syntax error: ${sentence}`;
}
