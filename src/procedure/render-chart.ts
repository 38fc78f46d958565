/**
 * A procedure's Helm chart → bundle files and smoke checks. The real `helm template` renders
 * the chart with the site's values; its output becomes the bundle's manifest files, one per
 * `# Source:` template, so the Kubernetes driver checks, applies, prunes and records them
 * exactly like ozg's own manifests, and errors name the chart file. Hooks are never applied as
 * plain objects: test hooks become smoke checks run as ozg's Jobs, every other hook is refused.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { RenderError } from '../errors.js';
import { createSecretRedactor } from '../inventory/secret-redactor.js';
import type { CommandSmokeCheck, SmokeContainer } from '../smoke/types.js';
import type { HelmTool } from './helm-tool.js';
import type { BundleFile, KubernetesChart, Procedure } from './types.js';

const HOOK_ANNOTATION = 'helm.sh/hook';
const TEST_HOOKS = new Set(['test', 'test-success']);
/** a test hook Pod waits for the service it tests; helm's own default is 5 minutes */
export const CHART_TEST_TIMEOUT_SECONDS = 60;
/** a chart that renders for minutes is stuck, not large */
const HELM_TIMEOUT_MS = 120_000;

export interface RenderChartInput {
  procedure: Procedure;
  chart: KubernetesChart;
  /** the release name helm sees (`.Release.Name`): the procedure name */
  release: string;
  /** the site's namespace in this environment (`.Release.Namespace`) */
  namespace: string;
  helm: HelmTool;
  /** the rendered values file, when the procedure has a values template */
  values?: { text: string; sensitive: boolean };
  /** secret values by name: helm's messages are redacted with them, test hooks may not carry them */
  secrets: ReadonlyMap<string, string>;
  /** names a file of the procedure as errors do (catalogue-relative) */
  display: (file: string) => string;
  /** smoke check names the procedure already uses */
  smokeNames: ReadonlySet<string>;
}

export interface RenderChartResult {
  files: BundleFile[];
  /** the chart's test hooks as smoke checks (Kubernetes only) */
  tests: CommandSmokeCheck[];
}

export async function renderChart(input: RenderChartInput): Promise<RenderChartResult> {
  const chartRel = path.posix.normalize(input.chart.chart.split(path.sep).join('/')).replace(/\/+$/, '');
  const chartFile = input.display(path.resolve(input.procedure.dir, input.chart.chart));
  const stdout = await runHelmTemplate(input, chartFile);
  const sensitive = input.values?.sensitive ?? false;
  // `<chart name>/templates/x.yaml` → the path in the procedure folder, `chart/templates/x.yaml`
  const toBundlePath = (source: string): string => source.replace(/^[^/]*/, chartRel);
  const groups = new Map<string, string[]>();
  const tests: CommandSmokeCheck[] = [];
  const names = new Set(input.smokeNames);
  for (const doc of splitHelmOutput(stdout)) {
    const bundlePath = toBundlePath(doc.source);
    const where = `${path.posix.join(input.procedure.name, input.procedure.version, bundlePath)}`;
    const hook = findHook(doc.text);
    if (hook === undefined) {
      groups.set(bundlePath, [...(groups.get(bundlePath) ?? []), doc.text]);
      continue;
    }
    const kinds = hook.value.split(',').map((k) => k.trim()).filter(Boolean);
    const refused = kinds.filter((k) => !TEST_HOOKS.has(k));
    if (refused.length > 0) {
      throw new RenderError(where, `${hook.kind}/${hook.name}: helm.sh/hook "${hook.value}" is not supported; ozg applies no hook objects (only test hooks, run as smoke checks)`, {}, {
        hint: 'make the work part of the release (an init container, or a Job the chart renders as a plain object), or drop the hook annotation; see "Helm charts" in docs/procedure-format.md',
      });
    }
    const check = convertTestHook(hook, where);
    if (names.has(check.name)) throw new RenderError(where, `test hook ${hook.name} has the name of another smoke check; results are reported by name`);
    names.add(check.name);
    const strings = collectStrings(check);
    for (const [name, value] of input.secrets) {
      const encoded = Buffer.from(value).toString('base64');
      if (value !== '' && strings.some((text) => text.includes(value) || text.includes(encoded))) {
        throw new RenderError(where, `test hook ${hook.name} carries the value of secret ${name}; smoke checks are shown and recorded`, {}, {
          hint: 'give the test container the secret through env valueFrom.secretKeyRef instead of a literal value',
        });
      }
    }
    tests.push(check);
  }
  const files: BundleFile[] = [...groups].map(([file, texts]) => ({
    path: file,
    content: Buffer.from(texts.join('---\n'), 'utf8'),
    // helm output is not traceable to the values it used: all of it is owner-only when any value was a secret
    mode: sensitive ? 0o600 : 0o644,
    sensitive,
  }));
  return { files, tests };
}

async function runHelmTemplate(input: RenderChartInput, chartFile: string): Promise<string> {
  const redactor = createSecretRedactor();
  for (const [name, value] of input.secrets) if (value !== '') redactor.add(name, value);
  const chartPath = path.resolve(input.procedure.dir, input.chart.chart);
  // the values file holds secrets: owner-only, in a folder of its own, removed whatever happens
  const dir = input.values ? await mkdtemp(path.join(os.tmpdir(), 'ozg-chart-values-')) : undefined;
  try {
    const args = ['template', input.release, chartPath, '--namespace', input.namespace, '--include-crds'];
    if (dir && input.values) {
      const file = path.join(dir, 'values.yaml');
      await writeFile(file, input.values.text, { mode: 0o600, flag: 'wx' });
      args.push('--values', file);
    }
    const result = await input.helm.run(args, { timeoutMs: HELM_TIMEOUT_MS });
    // helm drops hooks of a kind it does not know (Helm 2's crd-install) with only a log line: refused, not silently lost
    const unknownHook = /skipping unknown hooks?\b[^\n]*?(?:hookTypes=\[?|: ")([\w,-]+)/.exec(result.stderr);
    if (result.exitCode === 0 && unknownHook) {
      throw new RenderError(chartFile, `a template has helm.sh/hook "${unknownHook[1]}", a hook kind helm no longer knows and leaves out; ozg refuses it rather than deploy without it`, {}, {
        hint: 'remove the hook (CRDs are cluster-scoped and cannot go into a namespace-only target anyway)',
      });
    }
    if (result.exitCode === 0) return result.stdout;
    throw explainHelmFailure(redactor.redact(result.stderr || result.stdout), input, chartFile);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** helm's complaint, its `<chart>/templates/x.yaml:L:C` turned into the file in the procedure folder. */
function explainHelmFailure(stderr: string, input: RenderChartInput, chartFile: string): RenderError {
  const chartRel = path.posix.normalize(input.chart.chart.split(path.sep).join('/')).replace(/\/+$/, '');
  const base = path.posix.join(input.procedure.name, input.procedure.version, chartRel);
  const lines = stderr.replace(/\s+$/, '').split('\n').filter((l) => !/^Use --debug flag/.test(l) && l.trim() !== '');
  const text = lines.slice(-12).join('\n').replace(/^Error: /, '').replace(/(^|[\s"'(<])[A-Za-z0-9_.-]+\/(templates|charts|crds)\//g, `$1${base}/$2/`);
  const at = new RegExp(`${escapeRegExp(base)}/[^\\s:"]+:(\\d+)(?::(\\d+))?`).exec(text);
  const file = at ? at[0].replace(/:\d+(?::\d+)?$/, '') : chartFile;
  const pos = at ? { line: Number(at[1]), ...(at[2] ? { col: Number(at[2]) } : {}) } : {};
  // said in the message: a list of problems keeps messages, not hints
  const advice = /missing in charts\/ directory|dependency build/.test(text)
    ? ' (vendor its dependencies into charts/: `helm dependency build` where a registry is reachable, then commit them; ozg never lets helm reach a registry)'
    : '';
  return new RenderError(file, `helm template failed: ${text}${advice}`, pos, { hint: 'fix the chart or the procedure\'s values template (`ozg render` writes the chart output, secrets redacted)' });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** helm's output as documents with the template each came from (`# Source:` after every `---`). */
export function splitHelmOutput(stdout: string): { source: string; text: string }[] {
  const docs: { source: string; lines: string[] }[] = [];
  let current: { source: string; lines: string[] } | undefined;
  let afterSeparator = true;
  for (const line of stdout.split('\n')) {
    if (/^---\s*$/.test(line)) {
      current = undefined;
      afterSeparator = true;
      continue;
    }
    const source = afterSeparator ? /^# Source: (.+?)\s*$/.exec(line) : null;
    afterSeparator = false;
    if (source) {
      current = { source: source[1]!, lines: [line] };
      docs.push(current);
      continue;
    }
    if (!current) {
      // helm always names the source; text before one (there is none today) is kept with an honest name
      current = { source: 'helm-output/unnamed.yaml', lines: [] };
      docs.push(current);
    }
    current.lines.push(line);
  }
  return docs
    .map((d) => ({ source: d.source, text: d.lines.join('\n').replace(/\s*$/, '\n') }))
    .filter((d) => d.text.split('\n').some((l) => l.trim() !== '' && !l.startsWith('#')));
}

interface HookObject {
  kind: string;
  name: string;
  value: string;
  object: Record<string, unknown>;
}

/** The document's hook annotation, when it is an object carrying one (a document that does not parse is left to the manifest checks). */
function findHook(text: string): HookObject | undefined {
  let data: unknown;
  try {
    data = parseDocument(text, { version: '1.1' }).toJS();
  } catch {
    return undefined;
  }
  if (!isRecord(data) || !isRecord(data.metadata) || !isRecord(data.metadata.annotations)) return undefined;
  const value = data.metadata.annotations[HOOK_ANNOTATION];
  if (value === undefined || value === null) return undefined;
  return { kind: String(data.kind ?? 'object'), name: String(data.metadata.name ?? ''), value: String(value), object: data };
}

/**
 * A test hook Pod (or Job) → a command smoke check run as ozg's Job: its one container's image,
 * command, args, env and envFrom; ozg's restricted security context replaces the pod's.
 * What ozg could not carry over faithfully (several containers, volumes) is refused.
 */
function convertTestHook(hook: HookObject, where: string): CommandSmokeCheck {
  const refuse = (why: string): RenderError =>
    new RenderError(where, `test hook ${hook.kind}/${hook.name}: ${why}`, {}, {
      hint: 'a chart test becomes an ozg smoke Job from one container (image, command, args, env, envFrom); see "Helm charts" in docs/procedure-format.md',
    });
  let podSpec: unknown;
  if (hook.kind === 'Pod') podSpec = hook.object.spec;
  else if (hook.kind === 'Job') podSpec = isRecord(hook.object.spec) && isRecord(hook.object.spec.template) ? hook.object.spec.template.spec : undefined;
  else throw refuse(`a test hook must be a Pod or a Job, not ${hook.kind}`);
  if (!isRecord(podSpec) || !Array.isArray(podSpec.containers) || podSpec.containers.length !== 1) throw refuse('needs exactly one container');
  if (Array.isArray(podSpec.initContainers) && podSpec.initContainers.length > 0) throw refuse('init containers are not carried over');
  if (Array.isArray(podSpec.volumes) && podSpec.volumes.length > 0) throw refuse('volumes are not carried over');
  const container = podSpec.containers[0] as unknown;
  if (!isRecord(container) || typeof container.image !== 'string' || container.image === '') throw refuse('its container needs an image');
  if (Array.isArray(container.volumeMounts) && container.volumeMounts.length > 0) throw refuse('volume mounts are not carried over');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(hook.name)) throw refuse('needs a metadata.name');
  const strings = (field: string): string[] | undefined => {
    const value = container[field];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw refuse(`container ${field} must be a list of strings`);
    return value as string[];
  };
  const records = (field: string): Record<string, unknown>[] | undefined => {
    const value = container[field];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every(isRecord)) throw refuse(`container ${field} must be a list of objects`);
    return value;
  };
  const spec: SmokeContainer = { source: where };
  const command = strings('command');
  const args = strings('args');
  const env = records('env');
  const envFrom = records('envFrom');
  if (command) spec.command = command;
  if (args) spec.args = args;
  if (env) spec.env = env;
  if (envFrom) spec.envFrom = envFrom;
  const line = [...(command ?? []), ...(args ?? [])].join(' ');
  return {
    name: hook.name,
    command: line === '' ? `(${container.image} entrypoint)` : line,
    targets: ['kubernetes'],
    image: container.image,
    timeoutSeconds: CHART_TEST_TIMEOUT_SECONDS,
    container: spec,
  };
}

function collectStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(collectStrings);
  if (isRecord(value)) return Object.values(value).flatMap(collectStrings);
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
