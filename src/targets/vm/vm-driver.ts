/**
 * The VM target driver, written once over a shell transport: `local` (this machine) and `ssh`
 * (a VM) see the same scripts. Everything on the target happens through transport.exec; a
 * release travels as a tar archive on stdin.
 */
import { InternalError, OzgError, RemoteCommandError, UnreachableError, UsageError, type OzgErrorOptions } from '../../errors.js';
import type { EnvironmentName } from '../../inventory/types.js';
import type { Bundle } from '../../procedure/types.js';
import { fetchHttpWithGlobalFetch } from '../../smoke/fetch-http.js';
import { runChecks, type FetchHttp } from '../../smoke/run-checks.js';
import type { SmokeCheck, SmokeResult } from '../../smoke/types.js';
import type { ApplyResult, LiveRelease, RollbackResult, TargetDriver } from '../driver.js';
import { addParentDirectories, createTarArchive, type ArchiveEntry } from './archive.js';
import { findBundleProblems, findRootProblem } from './check-vm-target.js';
import {
  buildApplyScript,
  buildLiveScript,
  buildRollbackScript,
  buildHttpProbeScript,
  buildSmokeCommandScript,
  HTTP_STATUS_PREFIX,
  MARKER_FILE,
  parseScriptReport,
  procedureDir,
  RELEASE_METADATA_FILE,
  renderReleaseMetadata,
  type ScriptContext,
  type ScriptReport,
} from './release-scripts.js';
import type { ExecOptions, ExecResult, ShellTransport } from './transport.js';
import { DNS_LABEL } from '../../inventory/dns-label.js';

export interface CreateVmDriverOptions {
  transport: ShellTransport;
  /** absolute directory on the target holding one directory per procedure */
  root: string;
  site: string;
  environment: EnvironmentName;
  /** releases kept per procedure for rollback; the live and the previous one are always kept */
  keepReleases: number;
  /** human name of the target, e.g. `kiel/test @ /srv/ozg/test/kiel` */
  description: string;
  /** runs HTTP smoke checks; default: global fetch from the machine running ozg */
  runHttp?: FetchHttp;
  /** pause between smoke attempts (tests pass one that does not wait) */
  sleep?: (ms: number) => Promise<void>;
  /** clock for `deployedAt` and file times */
  now?: () => Date;
  /** limit for one apply or rollback script, hooks included (default 15 minutes) */
  scriptTimeoutMs?: number;
  /** limit for reading a marker (default 60 s) */
  readTimeoutMs?: number;
}

const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Human descriptions of what each step of the apply and rollback scripts runs, for errors. */
const STEP_COMMANDS: Record<string, (dir: string, release: string, hook?: string) => string> = {
  prepare: (dir, release) => `mkdir ${dir}/releases/${release}`,
  extract: (dir, release) => `tar -x -p into ${dir}/releases/${release}`,
  install: (dir, release, hook) => `${hook ?? 'install hook'} in ${dir}/releases/${release}`,
  switch: (dir, release) => `ln -s releases/${release} current.tmp && mv -T current.tmp current in ${dir}`,
  activate: (dir, release, hook) => `${hook ?? 'activate hook'} in ${dir}/releases/${release}`,
  marker: (dir) => `write ${dir}/${MARKER_FILE}`,
};

export function createVmDriver(options: CreateVmDriverOptions): TargetDriver {
  const { transport, site, environment, description } = options;
  const root = validateRoot(options.root);
  const now = options.now ?? (() => new Date());
  const scriptTimeoutMs = options.scriptTimeoutMs ?? 15 * 60_000;
  const readTimeoutMs = options.readTimeoutMs ?? 60_000;
  const fetchFromHere = options.runHttp ?? fetchHttpWithGlobalFetch;

  const contextFor = (procedure: string): ScriptContext => ({ root, site, environment, procedure: validateProcedure(procedure) });

  /** The transport, with faults that are not ours yet turned into UnreachableError. */
  async function exec(script: string, execOptions: ExecOptions): Promise<ExecResult> {
    try {
      return await transport.exec(script, execOptions);
    } catch (error) {
      if (error instanceof OzgError) throw error;
      throw new UnreachableError(transport.where, `cannot run a command: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  }

  function fail(step: string, command: string, result: ExecResult, errorOptions: OzgErrorOptions = {}): never {
    const stderr = result.timedOut ? `${result.stderr}\nozg: timed out after ${result.durationMs} ms` : result.stderr;
    throw new RemoteCommandError({ site, environment, where: transport.where, step }, command, { ...result, stderr }, errorOptions);
  }

  /**
   * The marker each procedure's last live() read, kept for the next apply: the pipeline reads
   * every target before it applies, and reading again would cost a round trip per target. The
   * apply script checks that the marker is still this one, so a stale read cannot go unnoticed.
   */
  const lastRead = new Map<string, MarkerRead>();

  async function readMarker(procedure: string): Promise<MarkerRead> {
    const context = contextFor(procedure);
    const file = `${procedureDir(context)}/${MARKER_FILE}`;
    const result = transport.readFile ? await readDirectly(file) : await exec(buildLiveScript(context), { timeoutMs: readTimeoutMs });
    if (result.exitCode !== 0) fail('read marker', `cat ${file}`, result);
    if (result.stdout.trim() === '') return { text: '', live: undefined };
    const marker = parseMarker(result.stdout, procedure);
    if (typeof marker === 'string') {
      fail('read marker', `cat ${file}`, { ...result, stderr: marker }, {
        hint: `inspect ${file} on ${transport.where}; the next apply rewrites it`,
      });
    }
    return { text: result.stdout, live: marker };
  }

  /** The marker through the transport's file fast path, shaped like the output of the cat script. */
  async function readDirectly(file: string): Promise<ExecResult> {
    const started = Date.now();
    try {
      const text = (await transport.readFile!(file)) ?? '';
      return { exitCode: 0, stdout: text, stderr: '', durationMs: Date.now() - started };
    } catch (error) {
      return { exitCode: 1, stdout: '', stderr: (error as Error).message, durationMs: Date.now() - started };
    }
  }

  async function live(procedure: string): Promise<LiveRelease | undefined> {
    lastRead.delete(procedure);
    const read = await readMarker(procedure);
    lastRead.set(procedure, read);
    return read.live;
  }

  async function apply(bundle: Bundle, releaseId: string): Promise<ApplyResult> {
    checkBundle(bundle, releaseId);
    const context = contextFor(bundle.procedure);
    const read = lastRead.get(bundle.procedure) ?? (await readMarker(bundle.procedure));
    // used once: after this apply (or its failure) the target holds something else
    lastRead.delete(bundle.procedure);
    const previous = read.live;
    if (previous?.hash === bundle.hash) return { status: 'unchanged', live: previous };

    const { script, archive, live: next } = prepareRelease(bundle, releaseId, {
      ...context,
      keepReleases: options.keepReleases,
      deployedAt: now(),
      previous,
      expectedMarker: read.text,
    });
    const result = await exec(script, { stdin: archive, timeoutMs: scriptTimeoutMs });
    const report = parseScriptReport(result.stdout);
    if (result.exitCode !== 0 || !report.done) {
      const step = report.step ?? 'prepare';
      const hook = step === 'install' ? bundle.hooks.install : step === 'activate' ? bundle.hooks.activate : undefined;
      fail(step, describeStep(step, procedureDir(context), releaseId, hook), result, { hint: hintForFailedApply(step, report) });
    }
    return { status: 'applied', live: next, ...(previous ? { previous } : {}) };
  }

  async function rollback(procedure: string, toRelease?: string): Promise<RollbackResult> {
    const context = contextFor(procedure);
    lastRead.delete(procedure);
    // the operator's --to: a wrong one is a usage error, and never reaches a path on the target
    if (toRelease !== undefined && !RELEASE_ID.test(toRelease)) {
      throw new UsageError(`--to ${JSON.stringify(toRelease)} is not a release id (letters, digits, '.', '_' or '-', at most 128)`, {
        hint: `\`ozg history -s ${site} -p ${procedure} -e ${environment}\` lists its releases`,
      });
    }
    const script = buildRollbackScript({ ...context, toRelease, deployedAt: now().toISOString() });
    const result = await exec(script, { timeoutMs: scriptTimeoutMs });
    const report = parseScriptReport(result.stdout);
    if (result.exitCode === 0 && report.nothing !== undefined) return { status: 'nothing-to-roll-back', reason: report.nothing };
    if (result.exitCode !== 0 || !report.done || report.live === undefined) {
      const step = report.step ?? 'prepare';
      const dir = procedureDir(context);
      const command = step === 'activate' ? `activate hook of release ${toRelease ?? 'previous'} in ${dir}` : describeStep(step, dir, toRelease ?? 'previous');
      fail(step, command, result, { hint: hintForFailedRollback(step, report) });
    }
    const marker = parseMarker(report.live, procedure);
    if (typeof marker === 'string') throw new InternalError(`rollback wrote a marker ozg cannot read back: ${marker}`);
    return { status: 'rolled-back', live: marker };
  }

  async function smoke(procedure: string, checks: SmokeCheck[]): Promise<SmokeResult[]> {
    const context = contextFor(procedure);
    return runChecks(checks, {
      runCommand: async (command, timeoutMs) => {
        const result = await exec(buildSmokeCommandScript(context, command), { timeoutMs });
        return { exitCode: result.exitCode, output: result.stdout + result.stderr, timedOut: result.timedOut === true };
      },
      // A loopback URL names the target's own service, so it is fetched on the target;
      // any other URL is fetched from here, as users would reach it.
      fetchHttp: (url, timeoutMs) => (isLoopbackUrl(url) ? fetchOnTarget(url, timeoutMs) : fetchFromHere(url, timeoutMs)),
      sleep: options.sleep,
    });
  }

  async function fetchOnTarget(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    const result = await exec(buildHttpProbeScript(url, timeoutMs / 1000), { timeoutMs: timeoutMs + 5000 });
    const at = result.stdout.lastIndexOf(`\n${HTTP_STATUS_PREFIX}`);
    const status = at < 0 ? 0 : Number.parseInt(result.stdout.slice(at + HTTP_STATUS_PREFIX.length + 1), 10);
    if (result.exitCode !== 0 && !(status > 0)) {
      throw new Error(`GET ${url} on ${transport.where} failed: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`}`);
    }
    return { status: Number.isFinite(status) ? status : 0, body: at < 0 ? result.stdout : result.stdout.slice(0, at) };
  }

  return { description, live, apply, smoke, rollback, close: () => transport.close() };
}

export interface PrepareReleaseOptions extends ScriptContext {
  keepReleases: number;
  deployedAt: Date;
  /** the release live on the target now, if any */
  previous?: LiveRelease;
  /** the marker text `previous` was read from ('' for none); the script refuses to run if it changed */
  expectedMarker?: string;
}

/**
 * The apply script and the archive it reads on stdin, exactly as `apply` sends them. A
 * cloud-init seed runs the same pair on first boot, so a seeded VM starts with a release
 * that ozg's next deploy recognises by its marker.
 */
export function prepareRelease(bundle: Bundle, releaseId: string, options: PrepareReleaseOptions): { script: string; archive: Buffer; live: LiveRelease } {
  checkBundle(bundle, releaseId);
  const { previous } = options;
  const live: LiveRelease = {
    procedure: bundle.procedure,
    version: bundle.version,
    hash: bundle.hash,
    release: releaseId,
    deployedAt: options.deployedAt.toISOString(),
    ...(previous ? { previous: { version: previous.version, hash: previous.hash, release: previous.release } } : {}),
  };
  const script = buildApplyScript({ ...options, release: releaseId, marker: formatMarker(live), keepReleases: options.keepReleases });
  const archive = createTarArchive(addParentDirectories(archiveEntries(bundle, releaseId)), { mtime: options.deployedAt });
  return { script, archive, live };
}

/** A marker as read from the target: its exact text ('' for none) and what it says. */
interface MarkerRead {
  text: string;
  live: LiveRelease | undefined;
}

/** The bundle's files plus the release metadata; files holding secrets lose group and other bits. */
function archiveEntries(bundle: Bundle, releaseId: string): ArchiveEntry[] {
  const files: ArchiveEntry[] = bundle.files.map((f) => ({
    path: f.path,
    type: 'file',
    mode: f.sensitive ? f.mode & 0o700 : f.mode,
    content: f.content,
  }));
  const metadata = renderReleaseMetadata({ version: bundle.version, hash: bundle.hash, release: releaseId, hooks: bundle.hooks });
  files.push({ path: RELEASE_METADATA_FILE, type: 'file', mode: 0o644, content: Buffer.from(metadata) });
  return files;
}

/** The checks `validate` ran already (checkBundleForTarget): failing here means a caller skipped them. */
function checkBundle(bundle: Bundle, releaseId: string): void {
  validateRelease(releaseId);
  validateProcedure(bundle.procedure);
  const problems = findBundleProblems(bundle);
  if (problems.length > 0) throw new InternalError(`bundle of ${bundle.procedure} refused: ${problems.map((p) => p.message).join('; ')}`);
}

function describeStep(step: string, dir: string, release: string, hook?: string): string {
  return (STEP_COMMANDS[step] ?? (() => `${step} of release ${release} in ${dir}`))(dir, release, hook);
}

function hintForFailedApply(step: string, report: ScriptReport): string | undefined {
  if (step === 'prepare') return 'the live release was not touched';
  if (step === 'extract' || step === 'install' || step === 'switch') {
    return 'the live release was not touched and the new release directory was removed';
  }
  if (step === 'activate') {
    if (report.revertFailed) return 'switching back to the previous release failed too: check `current` on the target by hand';
    if (report.reverted) return `current was switched back to release ${report.reverted}`;
    if (report.reverted === '') return 'no release was live before, so none is live now';
  }
  if (step === 'marker') return 'the new release is live but its marker was not written: apply again';
  return undefined;
}

function hintForFailedRollback(step: string, report: ScriptReport): string | undefined {
  if (step === 'activate' && report.reverted) return `current was switched back to release ${report.reverted}`;
  if (step === 'activate' && report.revertFailed) return 'switching back failed too: check `current` on the target by hand';
  if (step === 'marker') return 'the release was switched but its marker was not rewritten: run rollback again';
  return undefined;
}

/** The marker as one JSON line, members in the order the rollback script writes them too. */
function formatMarker(live: LiveRelease): string {
  const { procedure, version, hash, release, deployedAt, previous } = live;
  return JSON.stringify({ procedure, version, hash, release, deployedAt, ...(previous ? { previous } : {}) });
}

/** A marker read from a target, or a message saying what is wrong with it. */
function parseMarker(text: string, procedure: string): LiveRelease | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `${MARKER_FILE} is not JSON: ${(error as Error).message}`;
  }
  const m = value as Record<string, unknown> | null;
  const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (!m || typeof m !== 'object' || !['procedure', 'version', 'hash', 'release', 'deployedAt'].every((k) => isString(m[k]))) {
    return `${MARKER_FILE} lacks procedure, version, hash, release or deployedAt`;
  }
  if (m.procedure !== procedure) return `${MARKER_FILE} is for procedure ${String(m.procedure)}, not ${procedure}`;
  const live: LiveRelease = {
    procedure,
    version: m.version as string,
    hash: m.hash as string,
    release: m.release as string,
    deployedAt: m.deployedAt as string,
  };
  const p = m.previous as Record<string, unknown> | undefined;
  if (p && typeof p === 'object' && isString(p.version) && isString(p.hash) && isString(p.release)) {
    live.previous = { version: p.version, hash: p.hash, release: p.release };
  }
  return live;
}

function validateRoot(root: string): string {
  const trimmed = root.length > 1 ? root.replace(/\/+$/, '') : root;
  const problem = findRootProblem(trimmed);
  if (problem) throw new InternalError(`target root ${JSON.stringify(root)} ${problem}`);
  return trimmed === '/' ? '' : trimmed;
}

function validateProcedure(procedure: string): string {
  if (!DNS_LABEL.test(procedure)) throw new InternalError(`procedure name ${JSON.stringify(procedure)} is not a DNS label`);
  return procedure;
}

function validateRelease(release: string): string {
  if (!RELEASE_ID.test(release)) {
    throw new InternalError(`release id ${JSON.stringify(release)} must be letters, digits, '.', '_' or '-' (at most 128)`);
  }
  return release;
}

function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}
