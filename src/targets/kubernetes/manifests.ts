/**
 * A bundle's manifests, read and checked before anything is sent to a cluster: every document
 * must be a namespaced kind ozg supports and may only name the target's namespace. All
 * problems are reported at once, with file, line and document, like inventory errors.
 */
import { LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import { InvalidInputError, type Problem } from '../../errors.js';
import type { Bundle, BundleFile } from '../../procedure/types.js';
import { CLUSTER_SCOPED_KINDS, findKind, findKindByName, NAMESPACED_KINDS, type KindInfo } from './kinds.js';
import { omitHpaScaledReplicas } from './hpa-replicas.js';

/** A Kubernetes object as ozg handles it: plain JSON data. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeMetadata;
  [field: string]: unknown;
}

export interface KubeMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** One object of a bundle with where it came from. */
export interface ManifestObject {
  info: KindInfo;
  /** `deployment.yaml` or `all.yaml#2` (1-based document number when a file holds several) */
  source: string;
  object: KubeObject;
  /** line of its document in the file, when read from a bundle */
  line?: number;
}

/** Where an object came from, as input errors name it: `procedure/version/file`, document, line. */
export function manifestSource(procedure: string, version: string, o: ManifestObject): { file: string; document: number; line?: number } {
  const [file, number] = o.source.split('#');
  return { file: `${procedure}/${version}/${file}`, document: number ? Number(number) - 1 : 0, ...(o.line !== undefined ? { line: o.line } : {}) };
}

/** Label and annotation keys ozg owns. One prefix, so a data center can see at a glance what is ours. */
export const LABEL_PREFIX = 'ozg.example';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  site: `${LABEL_PREFIX}/site`,
  environment: `${LABEL_PREFIX}/environment`,
  procedure: `${LABEL_PREFIX}/procedure`,
  release: `${LABEL_PREFIX}/release`,
  /** on ozg's own bookkeeping objects: `release` (the record) or `archive` (kept manifests) */
  record: `${LABEL_PREFIX}/record`,
  /** on smoke check Jobs */
  smoke: `${LABEL_PREFIX}/smoke`,
} as const;
export const MANAGED_BY = 'ozg';
/** `ozg.example/prune: "false"` keeps an object (e.g. a claim holding data) that left the bundle. */
export const PRUNE_ANNOTATION = `${LABEL_PREFIX}/prune`;
/** Names ozg gives its own objects; a procedure may not use them. */
export const RESERVED_NAME_PREFIXES = ['ozg-release-', 'ozg-smoke-'] as const;

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
/** RFC 1123 subdomain, the rule for nearly every object name. */
const OBJECT_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface ManifestContext {
  /** the target's namespace: absent metadata.namespace is set to it, any other is refused */
  namespace: string;
}

/**
 * Every object of a Kubernetes bundle, namespace filled in, in apply order. Throws
 * InvalidInputError listing every problem; nothing has been sent anywhere at that point.
 */
export function readBundleManifests(bundle: Bundle, context: ManifestContext): ManifestObject[] {
  const problems: Problem[] = [];
  const objects: ManifestObject[] = [];
  const seen = new Map<string, string>();
  const display = (file: BundleFile): string => `${bundle.procedure}/${bundle.version}/${file.path}`;

  for (const file of [...bundle.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const where = display(file);
    if (!MANIFEST_FILE.test(file.path)) {
      problems.push({ file: where, line: 1, col: 1, path: '', message: 'is not a manifest: a Kubernetes bundle holds .yaml, .yml or .json files only' });
      continue;
    }
    const parsed = parseManifestFile(file, where, context, problems);
    const many = parsed.length > 1;
    for (const entry of parsed) {
      const source = many ? `${file.path}#${entry.index + 1}` : file.path;
      const key = `${entry.info.kind}/${entry.object.metadata.name}`;
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        problems.push({ ...entry.at, message: `${key} is defined twice (also in ${earlier})` });
        continue;
      }
      seen.set(key, source);
      objects.push({ info: entry.info, source, object: entry.object, line: entry.at.line });
    }
  }
  if (problems.length > 0) {
    throw new InvalidInputError(problems, {
      hint:
        `nothing was sent to namespace ${context.namespace}: a namespace-only target takes namespaced kinds ` +
        `(${NAMESPACED_KINDS.map((k) => k.kind).join(', ')}) in its own namespace; fix the procedure's manifest templates`,
    });
  }
  // An HPA of the bundle owns its target's replicas: applying them would conflict (hpa-replicas.ts).
  return omitHpaScaledReplicas(sortForApply(objects));
}

/** Apply order: what others refer to first; stable within a kind. */
export function sortForApply<T extends { info: KindInfo }>(objects: readonly T[]): T[] {
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => a.o.info.order - b.o.info.order || a.i - b.i)
    .map(({ o }) => o);
}

interface ParsedEntry {
  index: number;
  info: KindInfo;
  object: KubeObject;
  at: Omit<Problem, 'message'>;
}

function parseManifestFile(file: BundleFile, where: string, context: ManifestContext, problems: Problem[]): ParsedEntry[] {
  const text = file.content.toString('utf8');
  const lineCounter = new LineCounter();
  // YAML 1.1, as the API server's own decoder reads it: `0644` is octal, `yes` a boolean.
  // Timestamps stay strings: a Date would serialise differently from what kubectl sends.
  const documents = parseAllDocuments(text, {
    lineCounter,
    version: '1.1',
    uniqueKeys: true,
    customTags: (tags) => tags.filter((t) => typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:timestamp'),
  });
  const entries: ParsedEntry[] = [];
  const list = Array.isArray(documents) ? documents : [];
  list.forEach((document, index) => {
    const position = (path: string[], fieldPath: string): Omit<Problem, 'message'> => {
      const node = (path.length ? document.getIn(path, true) : document.contents) as Node | undefined;
      const offset = node?.range?.[0] ?? document.contents?.range?.[0] ?? 0;
      const { line, col } = lineCounter.linePos(offset);
      return { file: where, line, col, path: `documents[${index}]${fieldPath ? '.' + fieldPath : ''}` };
    };
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        // The first line only: later lines quote the source, which may hold a secret value.
        const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        problems.push({ file: where, line, col, path: `documents[${index}]`, message: `YAML: ${describeYamlError(message, file)}` });
      }
      return;
    }
    let value: unknown;
    try {
      value = toPlainData(document);
    } catch (error) {
      // an alias without its anchor (`*x` where a value starting with `*` was not quoted) or too many aliases
      const offset = findUnresolvedAlias(document) ?? document.contents?.range?.[0] ?? 0;
      const { line, col } = lineCounter.linePos(offset);
      problems.push({ file: where, line, col, path: `documents[${index}]`, message: `YAML: ${describeYamlError((error as Error).message, file)}` });
      return;
    }
    if (value === null || value === undefined) return; // an empty document (`---` alone, or a template that rendered nothing)
    const checked = checkDocument(value, context, (path, fieldPath) => position(path, fieldPath));
    if ('problems' in checked) problems.push(...checked.problems);
    else entries.push({ index, info: checked.info, object: checked.object, at: position([], '') });
  });
  return entries;
}

/**
 * The parser's message; for a file that uses a secret, without the part after the first
 * `: `, where the parser quotes the source (`Unresolved alias …: <value>`). Such a quote can
 * be a fragment of a secret, which whole-value redaction would not catch.
 */
function describeYamlError(message: string, file: BundleFile): string {
  if (!file.sensitive) return message;
  const colon = message.indexOf(': ');
  return colon === -1 ? message : `${message.slice(0, colon)} (not quoted: this file uses secrets; quote values with | yaml)`;
}

function findUnresolvedAlias(document: Document): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias(_key, node) {
      if (node.resolve(document) === undefined) {
        offset = node.range?.[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return offset;
}

function toPlainData(document: Document): unknown {
  return document.toJS({ maxAliasCount: 100 });
}

type Locate = (path: string[], fieldPath: string) => Omit<Problem, 'message'>;

/** One document → a supported namespaced object in the target namespace, or the problems with it. */
export function checkDocument(
  value: unknown,
  context: ManifestContext,
  locate: Locate,
): { info: KindInfo; object: KubeObject } | { problems: Problem[] } {
  const problems: Problem[] = [];
  const fail = (path: string[], message: string): { problems: Problem[] } => {
    problems.push({ ...locate(path, path.join('.')), message });
    return { problems };
  };
  if (!isRecord(value)) return fail([], 'is not an object (a manifest document is a mapping with apiVersion, kind and metadata)');
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') return fail(['apiVersion'], 'needs apiVersion');
  if (typeof kind !== 'string' || kind === '') return fail(['kind'], 'needs kind');
  if (kind === 'List' || kind.endsWith('List')) return fail(['kind'], `${kind} is not deployed as such: write one document per object`);
  if (CLUSTER_SCOPED_KINDS.has(kind)) {
    return fail(['kind'], `${kind} is cluster-scoped: a namespace-only target cannot hold it (no cluster roles, CRDs or namespaces)`);
  }
  const info = findKind(apiVersion, kind);
  if (!info) {
    const known = findKindByName(kind);
    if (known) return fail(['apiVersion'], `${kind} ${apiVersion} is not supported: use apiVersion ${known.apiVersion}`);
    return fail(['kind'], `${apiVersion} ${kind} is not a kind ozg deploys into a namespace (supported: ${NAMESPACED_KINDS.map((k) => k.kind).join(', ')})`);
  }
  const metadata = value.metadata;
  if (!isRecord(metadata)) return fail(['metadata'], 'needs metadata with a name');
  const name = metadata.name;
  if (typeof name !== 'string' || name === '') {
    return fail(['metadata'], `${kind} needs metadata.name (generateName is not supported: ozg must find the object again)`);
  }
  if (!OBJECT_NAME.test(name)) fail(['metadata', 'name'], `${kind} name ${JSON.stringify(name)} is not a valid object name (lower-case letters, digits, '-' and '.')`);
  if (RESERVED_NAME_PREFIXES.some((p) => name.startsWith(p))) {
    fail(['metadata', 'name'], `${kind} name ${JSON.stringify(name)} starts with ${RESERVED_NAME_PREFIXES.join(' or ')}, which ozg reserves for its records and smoke checks`);
  }
  const namespace = metadata.namespace;
  if (namespace !== undefined && namespace !== null && namespace !== context.namespace) {
    fail(
      ['metadata', 'namespace'],
      `${kind}/${name} names namespace ${JSON.stringify(namespace)}, but this target is namespace ${context.namespace} only ` +
        '(leave metadata.namespace out: ozg sets it)',
    );
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = metadata[field];
    if (map === undefined || map === null) continue;
    if (!isRecord(map) || Object.values(map).some((v) => typeof v !== 'string')) {
      fail(['metadata', field], `${kind}/${name}: metadata.${field} must map names to strings (quote numbers and booleans)`);
    }
  }
  if (problems.length > 0) return { problems };
  const object = structuredClone(value) as KubeObject;
  object.metadata.namespace = context.namespace;
  return { info, object };
}

/** What ozg writes on every object it applies. */
export interface OzgLabels {
  site: string;
  environment: string;
  procedure: string;
  release: string;
}

/**
 * The object with ozg's labels on its own metadata. Pod templates are left alone on purpose:
 * a release label there would restart every pod on every release.
 */
export function labelObject(object: KubeObject, labels: OzgLabels): KubeObject {
  const copy = structuredClone(object);
  // ozg's values win over the template's: pruning and the release record rely on them.
  copy.metadata.labels = { ...(copy.metadata.labels ?? {}), ...ozgLabels(labels) };
  return copy;
}

export function ozgLabels(labels: OzgLabels): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.site]: labels.site,
    [LABELS.environment]: labels.environment,
    [LABELS.procedure]: labels.procedure,
    [LABELS.release]: labels.release,
  };
}

export function describeObject(object: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${object.kind.toLowerCase()}/${object.metadata.name}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
