/**
 * Puts one setup into sites.yaml as a text edit: only the bytes of the target's setup (or of
 * the `procedures:` entry that will hold it) change; comments, key order, quoting and blank
 * lines everywhere else stay byte for byte. The yaml package finds where things are (node
 * ranges); the new block is rendered by it and spliced in at that place, never by dumping
 * the whole document. The result is parsed again and must mean exactly the old inventory
 * with the new setup, or nothing is returned.
 */
import { Document, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Node, Pair, YAMLMap } from 'yaml';
import { InternalError, UsageError } from '../errors.js';
import { formatPath } from '../input/yaml-source.js';
import type { JsonPath } from '../input/yaml-source.js';
import { isRecord } from '../inventory/merge-values.js';
import type { RawSetup } from '../inventory/raw-types.js';
import { isSameData } from './same-data.js';

export interface WriteSetupOptions {
  /** the inventory as the user named it, for messages */
  file: string;
  site: string;
  procedure: string;
  setup: RawSetup;
  /** a node whose formatting the new setup copies (flow or block collections, quoting of equal strings) */
  styleFrom?: JsonPath;
}

export interface WriteSetupResult {
  text: string;
  /** false when the inventory already holds exactly this setup (the text is returned as it was) */
  changed: boolean;
}

/** The same options the loader parses with, so both read the same data. */
const PARSE_OPTIONS = { merge: true, uniqueKeys: false } as const;
const TO_JS = { maxAliasCount: 1000 };

export function writeSetup(text: string, options: WriteSetupOptions): WriteSetupResult {
  const doc = parseDocument(text, PARSE_OPTIONS);
  if (doc.errors.length > 0) throw new InternalError(`${options.file} does not parse: ${doc.errors[0].message}`);
  const before = doc.toJS(TO_JS) as Record<string, unknown>;
  const expected = withSetup(before, options.site, options.procedure, options.setup);
  if (isSameData(before, expected)) return { text, changed: false };

  const edit = planEdit(text, doc, options, before);
  const edited = text.slice(0, edit.start) + edit.insert + text.slice(edit.end);
  const check = parseDocument(edited, PARSE_OPTIONS);
  if (check.errors.length > 0 || !isSameData(check.toJS(TO_JS), expected)) {
    throw new InternalError(`could not put the setup into ${options.file} without changing anything else (nothing was written)`, {
      hint: 'this is a bug in ozg; please report it with the inventory (secrets are not in it)',
    });
  }
  return { text: edited, changed: true };
}

/** Replace text[start, end) with `insert`. */
interface TextEdit {
  start: number;
  end: number;
  insert: string;
}

function planEdit(text: string, doc: Document, options: WriteSetupOptions, before: Record<string, unknown>): TextEdit {
  const layout: Layout = { text, eol: text.includes('\r\n') ? '\r\n' : '\n', step: detectIndentStep(text, doc) };
  const sitePath = ['sites', options.site];
  const siteMap = findOwnMap(doc, sitePath, options.file, text);
  const setupNode = renderSetupNode(doc, options);
  const proceduresPair = findOwnPair(siteMap, 'procedures');
  if (!proceduresPair) {
    const merged = (before.sites as Record<string, Record<string, unknown>>)[options.site].procedures;
    if (merged !== undefined) refuseMerge(options.file, text, siteMap, [...sitePath, 'procedures']);
    return insertPair(layout, siteMap, 'procedures', wrap(setupNode, options.procedure));
  }
  const procedures = proceduresPair.value as Node | null;
  if (isAlias(procedures)) refuseMerge(options.file, text, procedures, [...sitePath, 'procedures']);
  if (procedures === null || (isScalar(procedures) && procedures.value === null) || (isMap(procedures) && procedures.items.length === 0)) {
    return replacePair(layout, siteMap, proceduresPair, wrap(setupNode, options.procedure), doc);
  }
  if (!isMap(procedures)) throw new InternalError(`${formatPath([...sitePath, 'procedures'])} is not a mapping`);
  const setupPair = findOwnPair(procedures, options.procedure);
  if (!setupPair) return insertPair(layout, procedures, options.procedure, setupNode);
  return replacePair(layout, procedures, setupPair, setupNode, doc);
}

interface Layout {
  text: string;
  eol: string;
  /** spaces per nesting level in this file */
  step: number;
}

/** `key: value` after the last entry of a mapping. */
function insertPair(layout: Layout, map: YAMLMap, key: string, value: Node): TextEdit {
  const { text, eol } = layout;
  const last = map.items[map.items.length - 1] as Pair | undefined;
  if (map.flow) {
    const rendered = renderFlow(value);
    if (!last) {
      const at = (map as Node).range![0] + 1;
      return { start: at, end: at, insert: ` ${key}: ${rendered} ` };
    }
    const at = findContentEnd(text, last);
    return { start: at, end: at, insert: `, ${key}: ${rendered}` };
  }
  const col = findColumn(text, (map.items[0].key as Node).range![0]);
  const at = skipTrailingComments(text, findLineEnd(text, trimBack(text, findContentEnd(text, last!))), col);
  return { start: at, end: at, insert: eol + ' '.repeat(col) + renderPair(layout, key, value, col) };
}

/** The whole entry, key included, from the key to the end of the value's last line. */
function replacePair(layout: Layout, map: YAMLMap, pair: Pair, value: Node, doc: Document): TextEdit {
  const { text } = layout;
  const keyNode = pair.key as Node;
  const start = keyNode.range![0];
  const key = text.slice(start, keyNode.range![1]);
  if (map.flow) {
    const end = findContentEnd(text, pair);
    refuseSharedAnchors(doc, pair, start, end, text);
    return { start, end, insert: `${key}: ${renderFlow(value)}` };
  }
  const end = findLineEnd(text, trimBack(text, findContentEnd(text, pair)));
  refuseSharedAnchors(doc, pair, start, end, text);
  return { start, end, insert: renderPair(layout, key, value, findColumn(text, start)) };
}

/** `key:` and the value: inline when it renders on one line (a flow mapping, `{}`), else as a block below. */
function renderPair(layout: Layout, key: string, value: Node, col: number): string {
  const { eol, step } = layout;
  if (!isCollection(value) || value.flow || value.items.length === 0) return `${key}: ${renderFlow(value)}`;
  const block = new Document();
  block.contents = value;
  const lines = block.toString({ indent: step, lineWidth: 0, flowCollectionPadding: true }).replace(/\n$/, '').split('\n');
  const pad = ' '.repeat(col + step);
  return `${key}:${eol}${lines.map((line) => (line === '' ? line : pad + line)).join(eol)}`;
}

/** One line of flow YAML: strings with line breaks double-quoted, nothing folded. */
function renderFlow(value: Node): string {
  const flow = new Document();
  flow.contents = value;
  if (isCollection(value)) value.flow = true;
  visit(flow, {
    Scalar(_, scalar) {
      if (typeof scalar.value === 'string' && /[\r\n]/.test(scalar.value)) scalar.type = 'QUOTE_DOUBLE';
    },
  });
  return flow.toString({ lineWidth: 0, flowCollectionPadding: true, doubleQuotedAsJSON: true }).replace(/\n$/, '');
}

/** The setup as a node, formatted like the source setup where they agree, secret references as `{ env: … }`. */
function renderSetupNode(doc: Document, options: WriteSetupOptions): Node {
  const out = new Document();
  const node = out.createNode(options.setup) as Node;
  const secrets = isMap(node) ? node.get('secrets', true) : undefined;
  if (isMap(secrets)) for (const pair of secrets.items) if (isMap(pair.value)) pair.value.flow = true;
  if (options.styleFrom) copyStyle(node, findNode(doc, options.styleFrom), doc);
  return node;
}

function wrap(setup: Node, procedure: string): Node {
  const out = new Document();
  const map = out.createNode({}) as YAMLMap;
  map.flow = false;
  map.add(out.createPair(procedure, setup));
  return map as unknown as Node;
}

function copyStyle(target: unknown, source: unknown, doc: Document): void {
  const from = isAlias(source) ? source.resolve(doc) : source;
  if (isMap(target) && isMap(from)) {
    target.flow = Boolean(from.flow);
    for (const pair of target.items as Pair[]) copyStyle(pair.value, findOwnPair(from, readKey(pair) ?? '')?.value, doc);
  } else if (isSeq(target) && isSeq(from)) {
    target.flow = Boolean(from.flow);
    target.items.forEach((item, index) => copyStyle(item, from.items[index], doc));
  } else if (isScalar(target) && isScalar(from) && typeof target.value === 'string' && target.value === from.value) {
    target.type = from.type;
  }
}

/** The mapping at `path`, reached through own keys only (an alias or merge key there cannot be edited in place). */
function findOwnMap(doc: Document, path: string[], file: string, text: string): YAMLMap {
  let node: Node | null | undefined = doc.contents;
  for (const [index, segment] of path.entries()) {
    if (!isMap(node)) throw new InternalError(`${formatPath(path.slice(0, index))} is not a mapping`);
    const pair = findOwnPair(node, segment);
    if (!pair) {
      if (hasMergeKey(node)) refuseMerge(file, text, node, path.slice(0, index + 1));
      throw new InternalError(`${formatPath(path.slice(0, index + 1))} not found`);
    }
    node = pair.value as Node | null;
    if (isAlias(node)) refuseMerge(file, text, node, path.slice(0, index + 1));
  }
  if (!isMap(node)) throw new InternalError(`${formatPath(path)} is not a mapping`);
  return node;
}

/** The node at `path`, following aliases (for reading only). */
function findNode(doc: Document, path: JsonPath): Node | undefined {
  let node: unknown = doc.contents;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) node = findOwnPair(node, String(segment))?.value;
    else if (isSeq(node) && typeof segment === 'number') node = node.items[segment];
    else return undefined;
  }
  return (isAlias(node) ? node.resolve(doc) : node) as Node | undefined;
}

function findOwnPair(map: YAMLMap, key: string): Pair<unknown, unknown> | undefined {
  return (map.items as Pair[]).find((pair) => readKey(pair) === key);
}

function hasMergeKey(map: YAMLMap): boolean {
  return (map.items as Pair[]).some((pair) => readKey(pair) === '<<');
}

function readKey(pair: Pair): string | undefined {
  const key = pair.key as unknown;
  if (isScalar(key)) return typeof key.value === 'symbol' ? (key.value.description ?? '') : String(key.value);
  return key === null || key === undefined || typeof key === 'object' ? undefined : String(key);
}

function refuseMerge(file: string, text: string, node: Node, path: JsonPath): never {
  throw new UsageError(`${file}:${findLine(text, node.range?.[0] ?? 0)}: ${formatPath(path)} comes through a YAML alias or merge key (<<), so clone-procedure cannot change it without changing every site that shares it`, {
    hint: `write ${formatPath(path)} out in full for this site, then run clone-procedure again`,
  });
}

/** An anchor defined in the replaced text and used outside it would be left dangling. */
function refuseSharedAnchors(doc: Document, pair: Pair, start: number, end: number, text: string): void {
  const anchors = new Set<string>();
  visit(pair.value as Node, {
    Node(_, node) {
      if (node.anchor) anchors.add(node.anchor);
    },
  });
  if (anchors.size === 0) return;
  visit(doc, {
    Alias(_, alias) {
      const at = alias.range?.[0] ?? 0;
      if (anchors.has(alias.source) && (at < start || at >= end)) {
        throw new UsageError(`line ${findLine(text, alias.range?.[0] ?? 0)}: the setup being replaced defines &${alias.source}, which this alias uses`, {
          hint: `write out *${alias.source} in full where it is used, then run clone-procedure again`,
        });
      }
    },
  });
}

/**
 * Where a pair's content ends: the end of its last scalar, or the closing bracket of a flow
 * collection. A block collection's own range runs on to the next key, over comments and
 * blank lines that belong to whatever follows.
 */
function findContentEnd(text: string, pair: Pair): number {
  const value = pair.value as Node | null;
  if (value === null || value === undefined) return (pair.key as Node).range![1];
  return findNodeEnd(value);
}

function findNodeEnd(node: Node): number {
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1] as unknown;
    if (isMap(node)) {
      const pair = last as Pair;
      return pair.value === null || pair.value === undefined ? (pair.key as Node).range![1] : findNodeEnd(pair.value as Node);
    }
    return findNodeEnd(last as Node);
  }
  return node.range![1];
}

/** Back over the line breaks and blank lines a block scalar's range ends with. */
function trimBack(text: string, at: number): number {
  while (at > 0 && /\s/.test(text[at - 1])) at--;
  return at;
}

/** The end of the line holding `at` (before its line break), past any comment on it. */
function findLineEnd(text: string, at: number): number {
  const newline = text.indexOf('\n', at);
  if (newline < 0) return text.length;
  return text[newline - 1] === '\r' ? newline - 1 : newline;
}

/**
 * Past the comment lines after an entry that are indented deeper than its key: they belong
 * to that entry, so a new entry goes after them.
 */
function skipTrailingComments(text: string, at: number, col: number): number {
  let end = at;
  let line = at;
  while (line < text.length) {
    const start = text.indexOf('\n', line);
    if (start < 0) break;
    const next = findLineEnd(text, start + 1);
    const content = text.slice(start + 1, next);
    if (/^\s*#/.test(content) && content.search(/\S/) > col) end = next;
    else if (content.trim() !== '') break;
    line = next;
  }
  return end;
}

function findColumn(text: string, offset: number): number {
  return offset - (text.lastIndexOf('\n', offset - 1) + 1);
}

/** 1-based line of an offset. */
function findLine(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** Spaces per level: how far the first site is indented below `sites:` (2 if that cannot tell). */
function detectIndentStep(text: string, doc: Document): number {
  const sites = isMap(doc.contents) ? findOwnPair(doc.contents, 'sites') : undefined;
  const map = sites?.value;
  if (!sites || !isMap(map) || map.flow || map.items.length === 0) return 2;
  const step = findColumn(text, (map.items[0].key as Node).range![0]) - findColumn(text, (sites.key as Node).range![0]);
  return step > 0 ? step : 2;
}

function withSetup(data: Record<string, unknown>, site: string, procedure: string, setup: RawSetup): Record<string, unknown> {
  const copy = structuredClone(data);
  const sites = copy.sites as Record<string, Record<string, unknown>>;
  const procedures = isRecord(sites[site].procedures) ? sites[site].procedures : (sites[site].procedures = {});
  Object.defineProperty(procedures, procedure, { value: structuredClone(setup), enumerable: true, writable: true, configurable: true });
  return copy;
}

/** First and last line (1-based) of the entry at `path` in `text`: its key through the end of its value. */
export function findEntryLines(text: string, path: readonly string[]): { first: number; last: number } | undefined {
  const doc = parseDocument(text, PARSE_OPTIONS);
  let node: unknown = doc.contents;
  let pair: Pair | undefined;
  for (const segment of path) {
    if (!isMap(node)) return undefined;
    pair = findOwnPair(node, segment);
    if (!pair) return undefined;
    node = pair.value;
  }
  if (!pair) return undefined;
  return { first: findLine(text, (pair.key as Node).range![0]), last: findLine(text, trimBack(text, findContentEnd(text, pair))) };
}
