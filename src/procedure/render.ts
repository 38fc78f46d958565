/**
 * The renderer: one procedure version + one site's setup → a bundle for one target.
 *
 * Every file under the target kind's template directory is a Liquid template (strict: an
 * undefined variable or filter is a RenderError naming file, line, column and variable).
 * There are no includes: templates cannot read anything but their own text.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Context, Drop, Liquid, LiquidError, toValue, toValueSync, type Emitter, type FilterImplOptions, type Template } from 'liquidjs';
import type { EnvironmentName, Setup, Site } from '../inventory/types.js';
import { InternalError, RenderError } from '../errors.js';
import { createSecretRedactor, formatRedactedSecret, type SecretRedactor } from '../inventory/secret-redactor.js';
import type { SmokeCheck } from '../smoke/types.js';
import { resolveContainedPath } from './contained-path.js';
import { FilterInputError, formatJson, formatYaml, quoteShellWord } from './filters.js';
import { compareStrings, hashBundle } from './hash.js';
import type { HelmTool } from './helm-tool.js';
import { renderChart } from './render-chart.js';
import { readTemplateFiles, type TemplateFile } from './template-files.js';
import { readStaticFiles, type StaticFile } from './static-files.js';
import type { BlobSource, Bundle, BundleFile, KubernetesChart, Procedure } from './types.js';
import { applyValueDefaults } from './value-defaults.js';

export interface RenderInput {
  procedure: Procedure;
  site: Site;
  /** the site's setup of this procedure: userConnection and processTransfers come from here */
  setup: Setup;
  environment: EnvironmentName;
  targetKind: 'vm' | 'kubernetes';
  /** the site's values; schema defaults are applied again here (idempotent) */
  values: Record<string, unknown>;
  /** resolved secret values by name; only the names the procedure declares are visible */
  secrets: Record<string, string>;
  /** render every secret as `«secret:NAME»` (review output); such a bundle's hash differs */
  redactSecrets?: boolean;
  /** directory template paths in errors are relative to; default: the procedure's catalogue */
  cwd?: string;
  /** a chart procedure on a Kubernetes target: the site's namespace and how to reach helm */
  chart?: ChartRenderContext;
  /** vm: the procedure's artefacts, verified in the cache, by artefact name */
  artifacts?: ReadonlyMap<string, BlobSource>;
}

/** What rendering a Helm chart needs beyond the templates (render-chart.ts). */
export interface ChartRenderContext {
  namespace: string;
  helm: () => Promise<HelmTool>;
}

/** What a template sees (docs/procedure-format.md); file templates also get `secrets`. */
export interface TemplateContext {
  site: { name: string; labels: Record<string, string>; facts: Record<string, unknown> };
  environment: EnvironmentName;
  procedure: { name: string; version: string };
  values: Record<string, unknown>;
  userConnection: Record<string, unknown>;
  processTransfers: unknown[];
}

export { formatRedactedSecret };

export async function renderBundle(input: RenderInput): Promise<Bundle> {
  const { procedure, targetKind } = input;
  const display = createDisplayPath(input);
  const procedureFile = display(procedure.file);
  if (targetKind === 'kubernetes' && procedure.kubernetes?.chart !== undefined) return renderChartBundle(input, procedure.kubernetes, display, procedureFile);
  const templateDir = selectTemplateDir(procedure, targetKind, procedureFile);
  const secrets = resolveSecretValues(input, procedureFile);
  // One copy per bundle, frozen and shared by its files and smoke checks (see freezeDeep).
  const context = freezeDeep(createTemplateContext(input));
  const parsed = await parseTemplateDir(procedure, templateDir, input.cwd, display);

  const files: BundleFile[] = [];
  // each template and smoke check is independent of the others: all their problems in one run
  const renderErrors: RenderError[] = [...parsed.parseErrors];
  for (const template of parsed.templates) {
    try {
      files.push(renderFile(parsed.engine, template, context, secrets));
    } catch (err) {
      // Liquid quotes evaluated values in its messages (`{% include secrets.x %}` names the file it looked for)
      const redacted = redactRenderError(err, secrets, input.redactSecrets);
      if (!(redacted instanceof RenderError)) throw redacted;
      renderErrors.push(redacted);
    }
  }
  if (renderErrors.length > 0) {
    // a bundle with missing files cannot be checked further (hooks, verbatim files), but its smoke checks can
    try {
      renderSmokeChecks(parsed, procedure.smoke, context, procedureFile);
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      renderErrors.push(...err.all());
    }
    throw RenderError.combine(renderErrors);
  }
  if (targetKind === 'vm') {
    files.push(...(await addVerbatimFiles(input, files, parsed.templates, display)));
    files.sort((a, b) => compareStrings(a.path, b.path));
  }
  const hooks = targetKind === 'vm' ? checkHooks(procedure, files, procedureFile) : {};
  const smoke = renderSmokeChecks(parsed, procedure.smoke, context, procedureFile);
  const hash = hashBundle({ procedure: procedure.name, version: procedure.version, targetKind, files, hooks, smoke });
  return {
    site: input.site.name,
    environment: input.environment,
    procedure: procedure.name,
    version: procedure.version,
    targetKind,
    files,
    hooks,
    smoke,
    hash,
  };
}

/**
 * A chart procedure's bundle: the values template rendered like a file (secrets make it
 * sensitive), `helm template` run on the chart, its output as the bundle's files, its test
 * hooks added to the procedure's smoke checks.
 */
async function renderChartBundle(input: RenderInput, chart: KubernetesChart, display: (file: string) => string, procedureFile: string): Promise<Bundle> {
  const { procedure } = input;
  if (!input.chart) throw new InternalError(`${procedure.name} ${procedure.version} renders a Helm chart, but no namespace and helm were given to the renderer`);
  const secrets = resolveSecretValues(input, procedureFile);
  const context = freezeDeep(createTemplateContext(input));
  const engine = createEngine();
  let values: { text: string; sensitive: boolean } | undefined;
  if (chart.values !== undefined) {
    const where = display(path.resolve(procedure.dir, chart.values));
    const found = await resolveContainedPath(procedure.dir, chart.values);
    if (found.status === 'outside') throw new RenderError(where, `leads outside the procedure version folder (to ${found.real}) through a symbolic link`);
    const source = await readFile(path.resolve(procedure.dir, chart.values), 'utf8').catch((err: unknown) => {
      throw new RenderError(where, `cannot read the values template: ${(err as Error).message}`, {}, { cause: err });
    });
    const template = parseTemplate(engine, source, where);
    const mentionsSecrets = 'secrets' in engine.analyzeSync(template, { partials: false }).globals;
    let read = false;
    try {
      const text = renderTemplate(engine, template, { ...context, secrets: new SecretsDrop(secrets, () => (read = true)) }, where);
      values = { text, sensitive: read || mentionsSecrets };
    } catch (err) {
      throw redactRenderError(err, secrets, input.redactSecrets);
    }
  }
  const parsed: ParsedTemplateDir = { engine, templates: [], parseErrors: [], smokeTemplates: new Map() };
  const declared = renderSmokeChecks(parsed, procedure.smoke, context, procedureFile);
  const helm = await input.chart.helm();
  const rendered = await renderChart({
    procedure,
    chart,
    release: procedure.name,
    namespace: input.chart.namespace,
    helm,
    ...(values ? { values } : {}),
    secrets,
    display,
    smokeNames: new Set(declared.map((c) => c.name)),
  });
  const smoke = [...declared, ...rendered.tests];
  const hash = hashBundle({ procedure: procedure.name, version: procedure.version, targetKind: 'kubernetes', files: rendered.files, hooks: {}, smoke });
  return {
    site: input.site.name,
    environment: input.environment,
    procedure: procedure.name,
    version: procedure.version,
    targetKind: 'kubernetes',
    files: rendered.files,
    hooks: {},
    smoke,
    hash,
  };
}

/**
 * The procedure's cloud-init user-data fragment (`vm.cloudInit`, relative to procedure.yaml)
 * rendered for one site, or undefined when it declares none. Same context as the files but
 * without secrets: user-data stays readable on the VM (metadata service, seed ISO).
 */
export async function renderCloudInitFragment(input: Omit<RenderInput, 'secrets' | 'targetKind' | 'redactSecrets'>): Promise<string | undefined> {
  const relative = input.procedure.vm?.cloudInit;
  if (relative === undefined) return undefined;
  const display = createDisplayPath(input);
  const file = path.resolve(input.procedure.dir, relative);
  const where = display(file);
  const found = await resolveContainedPath(input.procedure.dir, relative);
  if (found.status === 'outside') {
    throw new RenderError(where, `leads outside the procedure version folder (to ${found.real}) through a symbolic link`);
  }
  const source = await readFile(found.status === 'inside' ? found.real : file, 'utf8').catch((err: unknown) => {
    throw new RenderError(where, `cannot read the cloud-init fragment: ${(err as Error).message}`, {}, { cause: err });
  });
  const engine = createEngine();
  const template = parseTemplate(engine, source, where);
  try {
    return renderTemplate(engine, template, createTemplateContext(input), where);
  } catch (err) {
    throw explainMissingSecrets(err as RenderError, 'cloud-init user-data', 'it stays readable on the VM', 'deliver secrets in a release file (written 0600) instead');
  }
}

/** The template context without secrets; values get the schema defaults. Fresh copies every call. */
export function createTemplateContext(input: Omit<RenderInput, 'secrets' | 'targetKind'>): TemplateContext {
  return structuredClone({
    site: { name: input.site.name, labels: input.site.labels, facts: input.site.facts },
    environment: input.environment,
    procedure: { name: input.procedure.name, version: input.procedure.version },
    values: applyValueDefaults(input.procedure.valuesSchema, input.values),
    userConnection: input.setup.userConnection ?? {},
    processTransfers: input.setup.processTransfers ?? [],
  });
}

/**
 * `secrets` inside a file template. Values are only reachable through
 * liquidMethodMissing, so every read — `secrets.x`, `secrets[name]`, through an `assign` —
 * passes here and marks the file sensitive. Using the object as a whole is an error, so it
 * cannot be dumped or iterated.
 */
class SecretsDrop extends Drop {
  // private fields: nothing here is reachable as `secrets.<name>` except the secret values
  readonly #values: ReadonlyMap<string, string>;
  readonly #onRead: () => void;

  constructor(values: ReadonlyMap<string, string>, onRead: () => void = () => {}) {
    super();
    this.#values = values;
    this.#onRead = onRead;
  }

  override liquidMethodMissing(key: string | number): string | undefined {
    this.#onRead();
    return typeof key === 'string' ? this.#values.get(key) : undefined;
  }

  override valueOf(): never {
    throw new FilterInputError('secrets', 'use one secret by name, e.g. {{ secrets.NAME | shell }}');
  }
}

/**
 * Freezes `value` and everything inside it. A bundle's files and smoke checks share one
 * context instead of each getting a deep copy (which cost more than rendering): Liquid's own
 * tags and filters never write into the variables they are given (assign and increment write
 * to the top-level scope object, which stays per template), and freezing turns a future one
 * that did into a render error instead of one file's change leaking into the next.
 */
function freezeDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) freezeDeep(inner);
  }
  return value;
}

/** A template file read and parsed once, rendered for every target. */
interface ParsedTemplateFile {
  file: TemplateFile;
  template: Template[];
  /** the file as errors name it */
  where: string;
  /** static analysis found `secrets` somewhere in it, on any branch */
  mentionsSecrets: boolean;
  /**
   * The file's bytes when it holds no Liquid markup at all (a bundled asset, say): every
   * bundle shares this one Buffer instead of a copy per target, which a deploy keeps in
   * memory for the whole run.
   */
  staticContent?: Buffer;
}

interface ParsedTemplateDir {
  engine: Liquid;
  templates: ParsedTemplateFile[];
  /** templates that do not parse (left out of `templates`): reported with the others' render problems */
  parseErrors: RenderError[];
  /** smoke check strings parsed by this engine, by source text (see renderStrings) */
  smokeTemplates: Map<string, Template[]>;
}

/**
 * A rollout renders the same templates for hundreds of targets; reading and tokenising them
 * (a bundled asset can be hundreds of KB) cost more than rendering. So each template directory
 * is read and parsed once per loaded procedure: keyed by the Procedure object, a catalogue
 * loaded again reads the files again.
 */
const parsedTemplateDirs = new WeakMap<Procedure, Map<string, Promise<ParsedTemplateDir>>>();

function parseTemplateDir(procedure: Procedure, templateDir: string, cwd: string | undefined, display: (file: string) => string): Promise<ParsedTemplateDir> {
  let byDir = parsedTemplateDirs.get(procedure);
  if (!byDir) parsedTemplateDirs.set(procedure, (byDir = new Map()));
  // cwd changes how errors name files, so it is part of the key
  const key = `${templateDir}\0${cwd ?? ''}`;
  let parsed = byDir.get(key);
  if (!parsed) {
    parsed = (async () => {
      const engine = createEngine();
      const files = await readTemplateFiles(procedure.dir, templateDir, display);
      // every template is parsed, so one run names each one that does not parse
      const parseErrors: RenderError[] = [];
      const templates = files.flatMap((file) => {
        const where = display(file.file);
        let template: ReturnType<typeof parseTemplate>;
        try {
          template = parseTemplate(engine, file.source, where);
        } catch (err) {
          if (!(err instanceof RenderError)) throw err;
          parseErrors.push(err);
          return [];
        }
        const mentionsSecrets = 'secrets' in engine.analyzeSync(template, { partials: false }).globals;
        // without `{{` or `{%` there is no tag or output, so rendering returns the source unchanged
        const staticContent = file.source.includes('{{') || file.source.includes('{%') ? undefined : Buffer.from(file.source, 'utf8');
        return [{ file, template, where, mentionsSecrets, ...(staticContent ? { staticContent } : {}) }];
      });
      return { engine, templates, parseErrors, smokeTemplates: new Map() };
    })();
    byDir.set(key, parsed);
  }
  return parsed;
}

const staticDirs = new WeakMap<Procedure, Map<string, Promise<StaticFile[]>>>();

/** Static files are read (and large ones hashed) once per loaded procedure, like templates. */
function readStaticDir(procedure: Procedure, relative: string, cwd: string | undefined, display: (file: string) => string): Promise<StaticFile[]> {
  let byDir = staticDirs.get(procedure);
  if (!byDir) staticDirs.set(procedure, (byDir = new Map()));
  const key = `${relative}\0${cwd ?? ''}`;
  let files = byDir.get(key);
  if (!files) {
    files = readStaticFiles(procedure.dir, relative, display);
    byDir.set(key, files);
    files.catch(() => byDir.delete(key));
  }
  return files;
}

/**
 * The files a VM release gets without rendering: `vm.static` and the artefacts. Each lands
 * at one path; a second file there (a template, a static file, an artefact) is an error
 * naming both, never one silently winning.
 */
async function addVerbatimFiles(input: RenderInput, rendered: BundleFile[], templates: ParsedTemplateFile[], display: (file: string) => string): Promise<BundleFile[]> {
  const { procedure } = input;
  const owners = new Map<string, string>();
  // a folder of the release, and the first file below it: a file may not take its place
  const folders = new Map<string, string>();
  const claim = (releasePath: string, where: string): void => {
    const other = owners.get(releasePath);
    if (other !== undefined) {
      throw new RenderError(where, `lands at ${releasePath} in the release, as does ${other}; rename or move one of them`);
    }
    const below = folders.get(releasePath);
    if (below !== undefined) {
      throw new RenderError(where, `lands at ${releasePath} in the release, which ${below} needs as a folder; rename or move one of them`);
    }
    const parts = releasePath.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      const file = owners.get(folder);
      if (file !== undefined) throw new RenderError(where, `needs ${folder} as a folder in the release, where ${file} lands; rename or move one of them`);
      if (!folders.has(folder)) folders.set(folder, where);
    }
    owners.set(releasePath, where);
  };
  templates.forEach((t, i) => claim(rendered[i]!.path, t.where));
  const files: BundleFile[] = [];
  if (procedure.vm?.static !== undefined) {
    for (const file of await readStaticDir(procedure, procedure.vm.static, input.cwd, display)) {
      claim(file.path, file.file);
      const mode = file.executable ? 0o755 : 0o644;
      files.push(file.blob ? { path: file.path, content: EMPTY, blob: file.blob, mode, sensitive: false } : { path: file.path, content: file.content!, mode, sensitive: false });
    }
  }
  const procedureFile = display(procedure.file);
  for (const [index, artifact] of (procedure.artifacts ?? []).entries()) {
    const blob = input.artifacts?.get(artifact.name);
    if (!blob) throw new RenderError(procedureFile, `artifact ${artifact.name} was not fetched before rendering`);
    claim(artifact.dest, `${procedureFile}#artifacts[${index}] (${artifact.name})`);
    files.push({ path: artifact.dest, content: EMPTY, blob, mode: artifact.mode, sensitive: false });
  }
  return files;
}

const EMPTY = Buffer.alloc(0);

function renderFile(engine: Liquid, parsed: ParsedTemplateFile, context: TemplateContext, secrets: ReadonlyMap<string, string>): BundleFile {
  const { file, template, where } = parsed;
  if (parsed.staticContent) return { path: file.path, content: parsed.staticContent, mode: file.executable ? 0o755 : 0o644, sensitive: false };
  let read = false;
  const drop = new SecretsDrop(secrets, () => (read = true));
  const text = renderTemplate(engine, template, { ...context, secrets: drop }, where);
  // Runtime tracking sees every read that happened; static analysis also catches a
  // reference on a branch this site did not take, so a file's sensitivity does not
  // depend on which values the site happens to have.
  const sensitive = read || parsed.mentionsSecrets;
  const mode = file.executable ? 0o755 : 0o644;
  // owner-only for secrets; a script keeps its execute bit (0o700)
  return { path: file.path, content: Buffer.from(text, 'utf8'), mode: sensitive ? mode & 0o700 : mode, sensitive };
}

function renderSmokeChecks(parsed: ParsedTemplateDir, checks: SmokeCheck[], context: TemplateContext, procedureFile: string): SmokeCheck[] {
  const rendered: SmokeCheck[] = [];
  const errors: RenderError[] = [];
  for (const [i, check] of checks.entries()) {
    try {
      rendered.push(renderStrings(parsed, check, context, `${procedureFile}#smoke[${i}]`) as SmokeCheck);
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      errors.push(err);
    }
  }
  if (errors.length > 0) throw RenderError.combine(errors);
  return rendered;
}

/** Every string inside a smoke check is a template; numbers and booleans stay as they are. */
function renderStrings(parsed: ParsedTemplateDir, value: unknown, context: TemplateContext, where: string): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{')) return value;
    // Parsed once per engine; a string that does not parse is not kept and fails every time.
    // The parse tree does not depend on `where`: only error messages do, and only parse errors.
    let template = parsed.smokeTemplates.get(value);
    if (!template) parsed.smokeTemplates.set(value, (template = parseTemplate(parsed.engine, value, where)));
    try {
      // a top level of its own: increment and decrement write there, the shared context is frozen
      return renderTemplate(parsed.engine, template, { ...context }, where);
    } catch (err) {
      throw explainMissingSecrets(err as RenderError, 'smoke checks', 'their commands and results are shown and recorded', 'let a hook script read the secret from its 0600 file instead');
    }
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const [i, item] of value.entries()) out.push(renderStrings(parsed, item, context, `${where}[${i}]`));
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = renderStrings(parsed, item, context, `${where}.${key}`);
    return out;
  }
  return value;
}

function redactRenderError(err: unknown, secrets: ReadonlyMap<string, string>, alreadyRedacted: boolean | undefined): unknown {
  if (!(err instanceof RenderError) || alreadyRedacted || secrets.size === 0) return err;
  const redactor: SecretRedactor = createSecretRedactor();
  for (const [name, value] of secrets) redactor.add(name, value);
  const message = bareMessageOf(err);
  const redacted = redactor.redact(message);
  const hint = err.hint === undefined ? undefined : redactor.redact(err.hint);
  if (redacted === message && hint === err.hint) return err;
  // the cause would carry the unredacted message along: it is left out on purpose
  return new RenderError(err.template, redacted, { line: err.line, col: err.col }, hint === undefined ? {} : { hint });
}

function explainMissingSecrets(err: RenderError, place: string, reason: string, hint: string): RenderError {
  const match = /^undefined variable: (secrets\b.*)$/.exec(bareMessageOf(err));
  if (!match) return err;
  return new RenderError(
    err.template,
    `${match[1]} is not available in ${place}: ${reason}`,
    { line: err.line, col: err.col },
    { hint, cause: err },
  );
}

/**
 * What one template may cost. A runaway template (`{% for i in (1..1000000000) %}`) must be a
 * RenderError naming its file and line, never V8 running out of heap, which kills ozg with no
 * message and leaves the lock behind. liquidjs charges ranges, array filters and joins to its
 * memory limit; ozg charges every piece of output there too (captures included) and caps the
 * output of one file.
 */
export const RENDER_LIMITS = {
  /** characters of one template source */
  parseChars: 16 * 1024 * 1024,
  /** liquidjs allocation units (array elements, characters) in one render of one template */
  memoryUnits: 32 * 1024 * 1024,
  /** characters one rendered file may have */
  outputChars: 8 * 1024 * 1024,
  /** a runaway loop, not a slow machine: generous even under heavy concurrency */
  renderMs: 60_000,
} as const;

function createEngine(): Liquid {
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    // `{% if values.x %}` and `| default:` may test for absence; printing an absent value still fails
    lenientIf: true,
    // an empty in-memory file system: include/render/layout find nothing, so nothing outside the template is read
    templates: {},
    cache: false,
    parseLimit: RENDER_LIMITS.parseChars,
    memoryLimit: RENDER_LIMITS.memoryUnits,
    renderLimit: RENDER_LIMITS.renderMs,
  });
  chargeNestedOutput(engine);
  engine.registerFilter('shell', (value: unknown) => quoteShellWord(value));
  engine.registerFilter('yaml', (value: unknown) => formatYaml(value));
  engine.registerFilter('json', (value: unknown, indent?: unknown) => formatJson(value, indent));
  const date = handlerOf(engine.filters['date']);
  if (date) {
    engine.registerFilter('date', function (this: unknown, value: unknown, ...args: unknown[]) {
      // a bundle must be a function of its inputs, or every run would see a new hash and redeploy
      if (value === 'now' || value === 'today') {
        throw new FilterInputError('date', `"${value}" differs on every render; pass the date in as a value`);
      }
      return date.call(this, value, ...args);
    });
  }
  return engine;
}

function handlerOf(filter: FilterImplOptions | undefined): ((this: unknown, ...args: unknown[]) => unknown) | undefined {
  if (typeof filter === 'function') return filter as (this: unknown, ...args: unknown[]) => unknown;
  return filter?.handler as ((this: unknown, ...args: unknown[]) => unknown) | undefined;
}

function parseTemplate(engine: Liquid, source: string, where: string): Template[] {
  try {
    return engine.parse(source, where);
  } catch (err) {
    throw toRenderError(err, where);
  }
}

/**
 * Synchronous: no tag or filter here does I/O (the file system is empty, the filters are
 * plain functions), and the async path cost a promise per tag and filter on every target.
 */
function renderTemplate(engine: Liquid, template: Template[], scope: object, where: string): string {
  try {
    // engine.renderSync, but with an emitter that charges and caps what the template writes
    const context = new Context(scope, engine.options, { sync: true }, { liquid: engine });
    const emitter = new LimitedEmitter(context.memoryLimit, RENDER_LIMITS.outputChars);
    toValueSync(engine.renderer.renderTemplates(template, context, emitter));
    return emitter.buffer;
  } catch (err) {
    throw toRenderError(err, where);
  }
}

/**
 * Output collected inside a template (`{% capture %}`, a `for` inside it) goes to an emitter
 * liquidjs makes itself and charges to nothing; this makes those charge the memory limit too,
 * so a capture in a loop cannot grow without bound either.
 */
function chargeNestedOutput(engine: Liquid): void {
  const renderer = engine.renderer;
  const renderTemplates = renderer.renderTemplates.bind(renderer);
  renderer.renderTemplates = (templates, context, emitter) => renderTemplates(templates, context, emitter ?? new LimitedEmitter(context.memoryLimit, Infinity));
}

/** liquidjs's string emitter, charging each write to `memory` and refusing output past `cap` characters. */
class LimitedEmitter implements Emitter {
  buffer = '';

  constructor(
    private readonly memory: Context['memoryLimit'],
    private readonly cap: number,
  ) {}

  write(html: unknown): void {
    const text = stringifyOutput(html);
    if (this.buffer.length + text.length > this.cap) {
      throw new Error(`rendered output exceeds ${formatChars(this.cap)} (a runaway loop?); one file may have at most that`);
    }
    this.memory.use(text.length);
    this.buffer += text;
  }
}

/** What liquidjs's own emitter writes for a value (its stringify is not exported). */
function stringifyOutput(value: unknown): string {
  const plain: unknown = toValue(value);
  if (typeof plain === 'string') return plain;
  if (plain === null || plain === undefined) return '';
  if (Array.isArray(plain)) return plain.map((item) => stringifyOutput(item)).join('');
  return String(plain);
}

function formatChars(count: number): string {
  return count % (1024 * 1024) === 0 ? `${count / (1024 * 1024)} Mi characters` : `${count} characters`;
}

function toRenderError(err: unknown, where: string): RenderError {
  if (err instanceof RenderError) return err;
  if (!LiquidError.is(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new RenderError(where, LIMIT_MESSAGES[message] ?? message, {}, { cause: err });
  }
  const [line, col] = err.token?.getPosition() ?? [];
  const original = err.originalError;
  // liquidjs appends ", file:…, line:…, col:…"; the position goes into RenderError instead
  const bare = (original?.message ?? err.message).replace(/,\s*(?:file:.*?,\s*)?line:\d+, col:\d+$/s, '');
  const message = LIMIT_MESSAGES[bare] ?? bare;
  return new RenderError(where, message, { line, col }, { hint: hintFor(message), cause: err });
}

/** liquidjs's terse limit messages, said in terms of the template (see RENDER_LIMITS). */
const LIMIT_MESSAGES: Record<string, string> = {
  'memory alloc limit exceeded': `needs more than ${RENDER_LIMITS.memoryUnits} array elements and output characters (a runaway loop or range?); one template may use at most that`,
  'template render limit exceeded': `took longer than ${RENDER_LIMITS.renderMs / 1000} s to render (a runaway loop?)`,
  'parse length limit exceeded': `is longer than ${formatChars(RENDER_LIMITS.parseChars)}; one template may have at most that`,
};

function hintFor(message: string): string | undefined {
  if (message.startsWith('undefined variable:')) {
    return 'templates see site, environment, procedure, values, secrets (files only), userConnection and processTransfers; check the name and the site\'s values';
  }
  if (message.startsWith('undefined filter:')) return 'use shell, yaml, json or a standard Liquid filter';
  if (message.includes('Failed to lookup')) return 'include, render and layout are not supported: every template is self-contained';
  return undefined;
}

/** The bare message of a RenderError (its message is prefixed with the position). */
function bareMessageOf(err: RenderError): string {
  const where = err.line ? `${err.template}:${err.line}:${err.col ?? 1}` : err.template;
  return err.message.startsWith(`${where}  `) ? err.message.slice(where.length + 2) : err.message;
}

function selectTemplateDir(procedure: Procedure, targetKind: 'vm' | 'kubernetes', procedureFile: string): string {
  const dir = targetKind === 'vm' ? procedure.vm?.files : procedure.kubernetes?.manifests;
  if (dir === undefined) {
    // a chart procedure does reach here for vm: its kubernetes part is a chart, not a folder
    throw new RenderError(procedureFile, `${procedure.name} ${procedure.version} has no ${targetKind} section`, {}, {
      hint: `choose a data center of a kind this procedure supports, or add a ${targetKind}: section`,
    });
  }
  return dir;
}

function resolveSecretValues(input: RenderInput, procedureFile: string): Map<string, string> {
  const values = new Map<string, string>();
  const probe = new SecretsDrop(values);
  for (const name of input.procedure.secrets) {
    if (name in probe) {
      throw new RenderError(procedureFile, `secret name "${name}" is reserved; rename it`);
    }
    if (input.redactSecrets) {
      values.set(name, formatRedactedSecret(name));
      continue;
    }
    const value = Object.hasOwn(input.secrets, name) ? input.secrets[name] : undefined;
    if (typeof value !== 'string') {
      throw new RenderError(procedureFile, `secret "${name}" has no value for site ${input.site.name}`, {}, {
        hint: `add secrets.${name} (env: or file:) to the ${input.procedure.name} setup of ${input.site.name} in sites.yaml`,
      });
    }
    values.set(name, value);
  }
  return values;
}

function checkHooks(procedure: Procedure, files: BundleFile[], procedureFile: string): Bundle['hooks'] {
  const present = new Set(files.map((f) => f.path));
  const hooks: Bundle['hooks'] = {};
  for (const phase of ['install', 'activate'] as const) {
    const declared = procedure.vm?.hooks[phase];
    if (declared === undefined) continue;
    const normalized = path.posix.normalize(declared).replace(/^\.\//, '');
    if (!present.has(normalized)) {
      throw new RenderError(procedureFile, `vm.hooks.${phase} names ${declared}, which is not a file under ${procedure.vm?.files}/`);
    }
    hooks[phase] = normalized;
  }
  return hooks;
}

/** Names files relative to `cwd` when given, else to the catalogue (`<procedure>/<version>/…`). */
function createDisplayPath(input: { procedure: Procedure; cwd?: string }): (file: string) => string {
  const base = input.cwd ?? path.dirname(path.dirname(input.procedure.dir));
  return (file) => {
    const rel = path.relative(base, file);
    const shown = rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
    return shown.split(path.sep).join('/');
  };
}
