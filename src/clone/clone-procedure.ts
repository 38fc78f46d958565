/**
 * `clone-procedure`: one site adopts the setup another site runs. Plans the new setup as
 * data, puts it into sites.yaml as a text edit, shows the diff, and (when asked) writes it
 * under the ledger lock and deploys the target through the normal test gate.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, InvalidInputError, UsageError } from '../errors.js';
import type { Problem } from '../errors.js';
import { formatSuggestion } from '../input/suggest.js';
import { createProblem, formatPath, parseYamlSource } from '../input/yaml-source.js';
import { loadProject } from '../inventory/load-project.js';
import type { LoadProjectResult } from '../inventory/load-project.js';
import { isRecord } from '../inventory/merge-values.js';
import type { RawInventory, RawSecretRef, RawSetup, RawSite } from '../inventory/raw-types.js';
import { lookUpSecret } from '../inventory/secrets.js';
import type { ResolvedSetup, SecretRef } from '../inventory/types.js';
import type { Procedure } from '../procedure/types.js';
import { deployRollout } from '../rollout/deploy-rollout.js';
import { exitCodeForRollout } from '../rollout/rollout.js';
import type { RolloutResult } from '../rollout/rollout.js';
import { openWorkspace, type WorkspaceOptions } from '../workspace/workspace.js';
import { quoteShell } from '../shell-quote.js';
import { findEntryLines, writeSetup } from './edit-inventory.js';
import { planClone } from './plan-clone.js';
import type { ClonePlan, SiteValueSource } from './plan-clone.js';
import { formatUnifiedDiff } from './unified-diff.js';
import { writeInventory } from './write-inventory.js';

export interface CloneRequest {
  from: string;
  to: string;
  /** one procedure; or `all` for every procedure of the source site */
  procedure?: string;
  all?: boolean;
  /** apply the change to the inventory (otherwise only show it) */
  write?: boolean;
  /** replace setups the target already has */
  force?: boolean;
  /** write, then deploy the target's cloned procedures (test gate, then prod) */
  deploy?: boolean;
  /** with deploy: confirms deploys to data centers that ask for it (`confirm: true`) */
  yes?: boolean;
}

/** What a clone needs from its caller: the workspace's options, and a terminal to ask on if there is one. */
export interface CloneOptions extends WorkspaceOptions {
  /** asks a yes/no question on a terminal; absent without one */
  confirm?(question: string): Promise<boolean>;
}

export interface ClonedSetup {
  procedure: string;
  /** the version the setup resolves to (the source's) */
  version: string;
  /** the target had a setup of this procedure that is replaced */
  replaced: boolean;
}

export interface CloneSiteValue {
  procedure: string;
  field: string;
  source: SiteValueSource;
  fact?: string;
}

/** A placeholder left in the target's setup, where `validate` will point at it. */
export interface ClonePlaceholder extends Problem {
  procedure: string;
  field: string;
  placeholder: string;
}

export interface SecretToProvide {
  procedure: string;
  secret: string;
  /** the reference the target's setup names (never a value) */
  ref: SecretRef;
  /** JSON path in the inventory */
  path: string;
  /** the reference resolves on this machine now */
  provided: boolean;
}

export interface CloneResult {
  from: string;
  to: string;
  /** the inventory as the user named it */
  inventory: string;
  procedures: ClonedSetup[];
  /** the unified diff of the inventory; empty when nothing changes */
  diff: string;
  changed: boolean;
  written: boolean;
  siteValues: CloneSiteValue[];
  placeholders: ClonePlaceholder[];
  secretsToProvide: SecretToProvide[];
  /** what to run next; null after a deploy that passed */
  nextCommand: string | null;
  /** the deploy's result with --deploy, when it ran */
  deploy: RolloutResult | null;
  /** with --deploy: why it did not run */
  deploySkipped?: string;
}

export async function cloneProcedure(context: CloneOptions, request: CloneRequest): Promise<CloneResult> {
  checkRequest(request);
  const file = path.resolve(context.cwd, context.inventoryPath);
  const display = context.inventoryPath;
  let text = '';
  const project = await loadProject({
    inventoryPath: display,
    env: context.env,
    cwd: context.cwd,
    // the source's secrets are never copied, so they need not resolve here
    checkSecrets: false,
    // problems elsewhere (the setup being replaced, placeholders of an earlier clone) are not this command's business
    collectProblems: true,
    readFile: async (name) => {
      const read = await readFile(name, 'utf8');
      if (name === file) text = read;
      return read;
    },
  });
  const raw = parseYamlSource(text, display).source.data as RawInventory;
  const from = findSite(raw, request.from, project);
  const to = findSite(raw, request.to, project);
  const procedures = chooseProcedures(request, from);
  const existing = procedures.filter((name) => to.procedures?.[name] !== undefined);
  if (existing.length > 0 && !request.force) {
    throw new UsageError(`site ${request.to} already has a setup of ${existing.join(', ')}`, {
      hint: `pass --force to replace it with ${request.from}'s (${request.to}'s own site-specific values and secret references are kept)`,
    });
  }

  let after = text;
  const plans: { plan: ClonePlan; setup: ClonedSetup }[] = [];
  for (const name of procedures) {
    const source = findSourceSetup(project, request.from, name, display);
    checkTargetKind(project, to, request.to, source.procedure);
    const plan = planClone({
      procedure: source.procedure,
      from: { site: request.from, setup: from.procedures![name] },
      to: { site: request.to, facts: isRecord(to.facts) ? to.facts : {}, setup: to.procedures?.[name] },
      defaults: raw.defaults?.procedures?.[name],
    });
    after = writeSetup(after, { file: display, site: request.to, procedure: name, setup: plan.setup, styleFrom: ['sites', request.from, 'procedures', name] }).text;
    plans.push({ plan, setup: { procedure: name, version: source.procedure.version, replaced: existing.includes(name) } });
  }

  warnAboutOtherProblems(context, project, request.to, procedures);
  const changed = after !== text;
  const result: CloneResult = {
    from: request.from,
    to: request.to,
    inventory: display,
    procedures: plans.map((entry) => entry.setup),
    diff: formatUnifiedDiff(display, text, after, { contextLines: findEntryLines(text, ['sites', request.to]) }),
    changed,
    written: false,
    siteValues: plans.flatMap(({ plan }) => plan.siteValues.map(({ field, source, fact }) => ({ procedure: plan.procedure, field, source, ...(fact ? { fact } : {}) }))),
    placeholders: findPlaceholdersLeft(after, display, request.to, plans.map((entry) => entry.plan)),
    secretsToProvide: await listSecrets(plans.map((entry) => entry.plan), request.to, context, project.inventory.dir),
    nextCommand: null,
    deploy: null,
  };

  if ((request.write || request.deploy) && changed) {
    await writeInventory({ file, display, ledgerDir: project.inventory.ledgerDir, before: text, after, command: 'clone-procedure', warn: (message) => context.reporter.emit({ type: 'warning', message }) });
    result.written = true;
  }
  const deployCommand = formatCommand(['ozg', 'deploy', '-i', display, request.to]);
  result.nextCommand = request.write || request.deploy || !changed ? deployCommand : formatCommand(['ozg', ...describeRequest(request, display), '--write']);
  if (!request.deploy) return result;

  const left = result.placeholders.length + result.secretsToProvide.filter((secret) => !secret.provided).length;
  if (left > 0) {
    result.deploySkipped = `${left} value(s) and secret reference(s) are left to fill in`;
    return result;
  }
  result.deploy = await deployTarget(context, request, procedures).catch((error: unknown) => {
    // refused before any target was contacted (not confirmed, say): the file is written all the same
    if (!(error instanceof UsageError)) throw error;
    const deployNow = formatCommand(['ozg', 'deploy', '-i', display, request.to, '-p', ...procedures]);
    throw new UsageError(error.message, { cause: error, hint: `${display} is written; to deploy it: ${deployNow}${error.hint ? ` (${error.hint})` : ''}` });
  });
  if (result.deploy.ok) result.nextCommand = null;
  return result;
}

/** 0, or with --deploy the deploy's exit code (3 when it could not start because something is left to fill in). */
export function exitCodeForClone(result: CloneResult): number {
  if (result.deploy) return exitCodeForRollout(result.deploy);
  return result.deploySkipped ? ExitCode.invalidInput : ExitCode.ok;
}

function checkRequest(request: CloneRequest): void {
  if (request.all && request.procedure) throw new UsageError('name a procedure or pass --all, not both', { hint: 'ozg clone-procedure --all --from SITE --to SITE' });
  if (!request.all && !request.procedure) throw new UsageError('missing procedure: name one, or pass --all for every procedure of the source site');
  if (request.from === request.to) throw new UsageError(`--from and --to both name ${request.from}`, { hint: 'clone from one site to another' });
}

function findSite(raw: RawInventory, name: string, project: LoadProjectResult): RawSite {
  const sites = isRecord(raw?.sites) ? raw.sites : {};
  const site = Object.hasOwn(sites, name) ? sites[name] : undefined;
  if (isRecord(site)) return site;
  throw new UsageError(`unknown site "${name}"${formatSuggestion(name, Object.keys(sites))}`, { hint: `sites are defined in ${project.inventory.file}` });
}

function chooseProcedures(request: CloneRequest, from: RawSite): string[] {
  const offered = isRecord(from.procedures) ? Object.keys(from.procedures) : [];
  if (request.all) {
    if (offered.length === 0) throw new UsageError(`site ${request.from} has no procedures to clone`);
    return offered;
  }
  const name = request.procedure!;
  if (offered.includes(name)) return [name];
  const has = offered.length > 0 ? `it has: ${offered.join(', ')}` : 'it has none';
  throw new UsageError(`site ${request.from} has no setup of "${name}" (${has})${formatSuggestion(name, offered)}`);
}

/** The source's setup, resolved; a source with problems is not cloned (its problems are listed). */
function findSourceSetup(project: LoadProjectResult, site: string, procedure: string, display: string): ResolvedSetup {
  const item = project.items.find((candidate) => candidate.site.name === site && candidate.setup.procedure === procedure);
  if (item) return item;
  const own = [formatPath(['sites', site]), formatPath(['defaults', 'procedures', procedure])];
  const relevant = project.problems.filter((problem) => problem.file !== display || own.some((prefix) => problem.path === prefix || problem.path.startsWith(`${prefix}.`)));
  throw new InvalidInputError(relevant.length > 0 ? relevant : project.problems, {
    hint: `clone-procedure copies only a valid setup: fix ${formatPath(['sites', site, 'procedures', procedure])}, then run it again`,
  });
}

/** Problems elsewhere do not stop a clone, but they will stop the deploy after it. */
function warnAboutOtherProblems(context: CloneOptions, project: LoadProjectResult, site: string, procedures: string[]): void {
  const replaced = procedures.map((name) => formatPath(['sites', site, 'procedures', name]));
  const others = project.problems.filter((problem) => !replaced.some((prefix) => problem.path === prefix || problem.path.startsWith(`${prefix}.`)));
  if (others.length === 0) return;
  context.reporter.emit({
    type: 'warning',
    message: `${context.inventoryPath} has ${others.length === 1 ? '1 other problem' : `${others.length} other problems`} (not in what is cloned); \`ozg validate\` lists them`,
  });
}

/** The setup is about the procedure, not the infrastructure, but the procedure must be able to run there. */
function checkTargetKind(project: LoadProjectResult, to: RawSite, name: string, procedure: Procedure): void {
  const dataCenter = project.inventory.dataCenters.get(to.dataCenter);
  if (!dataCenter) return; // reported by validate
  const needed = dataCenter.kind === 'kubernetes' ? 'kubernetes' : 'vm';
  if (procedure[needed]) return;
  throw new UsageError(`${procedure.name} ${procedure.version} cannot run at ${name}: it has no ${needed} section, and data center ${dataCenter.name} is of kind ${dataCenter.kind}`);
}

function findPlaceholdersLeft(text: string, display: string, site: string, plans: ClonePlan[]): ClonePlaceholder[] {
  const { source } = parseYamlSource(text, display);
  return plans.flatMap((plan) =>
    plan.siteValues
      .filter((value) => value.source === 'placeholder')
      .map((value) => {
        const problem = createProblem(source, ['sites', site, 'procedures', plan.procedure, ...value.path], `fill in ${site}'s own "${value.field}"`);
        return { ...problem, procedure: plan.procedure, field: value.field, placeholder: readString(plan.setup, value.path) };
      }),
  );
}

async function listSecrets(plans: ClonePlan[], site: string, context: CloneOptions, baseDir: string): Promise<SecretToProvide[]> {
  const deps = { env: context.env, readFile: (name: string) => readFile(name, 'utf8'), baseDir };
  const secrets: SecretToProvide[] = [];
  for (const plan of plans) {
    for (const planned of plan.secrets) {
      const ref = toSecretRef(planned.ref);
      // read to see that it resolves; the value is dropped right here
      const provided = (await lookUpSecret(ref, deps)).ok;
      secrets.push({ procedure: plan.procedure, secret: planned.secret, ref, path: formatPath(['sites', site, 'procedures', plan.procedure, ...planned.path]), provided });
    }
  }
  return secrets;
}

/**
 * `ozg deploy <site> -p <procedures>` on a workspace loaded from the written file: the same
 * path, so the same render-everything-first check and the same confirmation gate.
 */
async function deployTarget(context: CloneOptions, request: CloneRequest, procedures: string[]): Promise<RolloutResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'clone-procedure --deploy' });
  try {
    const { result } = await deployRollout(workspace, {
      sites: [request.to],
      procedure: procedures,
      ...(request.yes ? { yes: true } : {}),
      ...(context.confirm ? { confirm: context.confirm } : {}),
    });
    return result;
  } finally {
    await workspace.close();
  }
}

function toSecretRef(ref: RawSecretRef): SecretRef {
  return ref.env !== undefined ? { env: ref.env } : { file: ref.file ?? '' };
}

function readString(setup: RawSetup, at: readonly (string | number)[]): string {
  let current: unknown = setup;
  for (const segment of at) current = isRecord(current) ? current[String(segment)] : undefined;
  return String(current);
}

function describeRequest(request: CloneRequest, display: string): string[] {
  return [
    'clone-procedure',
    ...(request.all ? ['--all'] : [request.procedure!]),
    '--from',
    request.from,
    '--to',
    request.to,
    '-i',
    display,
    ...(request.force ? ['--force'] : []),
  ];
}

/** A command line to copy: words quoted for a POSIX shell where they need it. */
function formatCommand(words: string[]): string {
  return words.map((word) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : quoteShell(word))).join(' ');
}
