/**
 * The VM target driver, written once over a shell transport: `local` (this machine) and `ssh`
 * (a VM) see the same scripts. Everything on the target happens through transport.exec; a
 * release travels as a tar archive on stdin.
 */
import { InternalError, UsageError } from '../../errors.js';
import type { EnvironmentName } from '../../inventory/types.js';
import type { Bundle } from '../../procedure/types.js';
import { fetchHttpWithGlobalFetch } from '../../smoke/fetch-http.js';
import type { FetchHttp } from '../../smoke/run-checks.js';
import type { SmokeCheck, SmokeResult } from '../../smoke/types.js';
import type { ApplyResult, KeptRelease, LiveRelease, RollbackResult, TargetDriver } from '../driver.js';
import { addParentDirectories, createTarArchive, type ArchiveEntry } from './archive.js';
import { findBundleProblems, findRootProblem } from './check-vm-target.js';
import {
  buildApplyScript,
  buildKeptReleasesScript,
  buildRollbackScript,
  MARKER_FILE,
  parseScriptReport,
  procedureDir,
  RELEASE_METADATA_FILE,
  renderReleaseMetadata,
  type ScriptContext,
  type ScriptReport,
} from './release-scripts.js';
import { formatMarker, parseMarker, readMarker, type MarkerRead } from './live-marker.js';
import type { ShellTransport } from './transport.js';
import { createVmShell, type VmShell } from './vm-shell.js';
import { runVmSmoke } from './vm-smoke.js';
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
  const shell: VmShell = createVmShell(transport, site, environment);
  const readMarkerOptions = { shell, readFile: transport.readFile?.bind(transport), timeoutMs: options.readTimeoutMs ?? 60_000 };

  const contextFor = (procedure: string): ScriptContext => ({ root, site, environment, procedure: validateProcedure(procedure) });

  /**
   * The marker each procedure's last live() read, kept for the next apply: the pipeline reads
   * every target before it applies, and reading again would cost a round trip per target. The
   * apply script checks that the marker is still this one, so a stale read cannot go unnoticed.
   */
  const lastRead = new Map<string, MarkerRead>();

  async function live(procedure: string): Promise<LiveRelease | undefined> {
    lastRead.delete(procedure);
    const read = await readMarker(contextFor(procedure), readMarkerOptions);
    lastRead.set(procedure, read);
    return read.live;
  }

  async function apply(bundle: Bundle, releaseId: string): Promise<ApplyResult> {
    checkBundle(bundle, releaseId);
    const context = contextFor(bundle.procedure);
    const read = lastRead.get(bundle.procedure) ?? (await readMarker(context, readMarkerOptions));
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
    const result = await shell.exec(script, { stdin: archive, timeoutMs: scriptTimeoutMs });
    const report = parseScriptReport(result.stdout);
    if (result.exitCode !== 0 || !report.done) {
      const step = report.step ?? 'prepare';
      const hook = step === 'install' ? bundle.hooks.install : step === 'activate' ? bundle.hooks.activate : undefined;
      shell.fail(step, describeStep(step, procedureDir(context), releaseId, hook), result, { hint: hintForFailedApply(step, report) });
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
    const result = await shell.exec(script, { timeoutMs: scriptTimeoutMs });
    const report = parseScriptReport(result.stdout);
    if (result.exitCode === 0 && report.nothing !== undefined) return { status: 'nothing-to-roll-back', reason: report.nothing };
    if (result.exitCode !== 0 || !report.done || report.live === undefined) {
      const step = report.step ?? 'prepare';
      const dir = procedureDir(context);
      const command = step === 'activate' ? `activate hook of release ${toRelease ?? 'previous'} in ${dir}` : describeStep(step, dir, toRelease ?? 'previous');
      shell.fail(step, command, result, { hint: hintForFailedRollback(step, report) });
    }
    const marker = parseMarker(report.live, procedure);
    if (typeof marker === 'string') throw new InternalError(`rollback wrote a marker ozg cannot read back: ${marker}`);
    return { status: 'rolled-back', live: marker };
  }

  async function keptReleases(procedure: string): Promise<KeptRelease[]> {
    const result = await shell.exec(buildKeptReleasesScript(contextFor(procedure)), { timeoutMs: scriptTimeoutMs });
    if (result.exitCode !== 0) shell.fail('prepare', `list ${procedureDir(contextFor(procedure))}/releases`, result, {});
    const kept: KeptRelease[] = [];
    for (const line of result.stdout.split('\n')) {
      if (!line.startsWith('ozg-kept ')) continue;
      try {
        const value = JSON.parse(line.slice('ozg-kept '.length)) as Partial<KeptRelease>;
        if (typeof value.release === 'string' && typeof value.version === 'string' && typeof value.hash === 'string') kept.push({ release: value.release, version: value.version, hash: value.hash });
      } catch {
        // a metadata file ozg did not write: not a release it can roll back to
      }
    }
    // release ids start with their UTC time stamp: newest first
    return kept.sort((a, b) => b.release.localeCompare(a.release));
  }

  async function smoke(procedure: string, checks: SmokeCheck[]): Promise<SmokeResult[]> {
    return runVmSmoke(contextFor(procedure), checks, { shell, fetchFromHere: options.runHttp ?? fetchHttpWithGlobalFetch, sleep: options.sleep });
  }

  return { description, live, apply, smoke, rollback, keptReleases, close: () => transport.close() };
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
