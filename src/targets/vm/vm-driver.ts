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
import type { ApplyOptions, ApplyResult, KeptRelease, LiveRelease, RollbackResult, TargetDriver, VerifyResult } from '../driver.js';
import type { Readable } from 'node:stream';
import { addParentDirectories, ArchiveSourceError, createTarArchive, streamTarArchive, type ArchiveEntry } from './archive.js';
import { findBundleProblems, findRootProblem } from './check-vm-target.js';
import {
  buildApplyScript,
  buildKeptReleasesScript,
  buildRollbackScript,
  buildVerifyScript,
  INCOMING_DIR,
  LINKS_FILE,
  MANIFEST_FILE,
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
import { planStore } from './store-plan.js';
import { runVmSmoke } from './vm-smoke.js';
import { digestManifest, judgeVerifyOutput, renderManifest } from './verify-files.js';
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
  store: (dir) => `move the blobs that came in the archive into the store beside ${dir}`,
  link: (dir, release) => `hard-link store blobs into ${dir}/releases/${release}`,
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

  /**
   * With the bundle about to be applied (the pipeline passes it), the same exec also asks the
   * store which of its blobs the target lacks, so the apply after it streams only those.
   */
  async function live(procedure: string, bundle?: Bundle): Promise<LiveRelease | undefined> {
    lastRead.delete(procedure);
    const keys = bundle && bundle.procedure === procedure && bundle.targetKind === 'vm' ? storeKeysOf(bundle) : [];
    const read = await readMarker(contextFor(procedure), readMarkerOptions, keys);
    lastRead.set(procedure, read);
    return read.live;
  }

  async function apply(bundle: Bundle, releaseId: string, applyOptions: ApplyOptions = {}): Promise<ApplyResult> {
    checkBundle(bundle, releaseId);
    const context = contextFor(bundle.procedure);
    const keys = storeKeysOf(bundle);
    let read = lastRead.get(bundle.procedure);
    // used once: after this apply (or its failure) the target holds something else
    lastRead.delete(bundle.procedure);
    // a read that did not ask about this bundle's blobs: ask now, still one exec
    if (!read || (keys.length > 0 && !asked(read, keys))) read = await readMarker(context, readMarkerOptions, keys);
    const previous = read.live;
    if (previous?.hash === bundle.hash && !applyOptions.reinstall) return { status: 'unchanged', live: previous };

    const deployedAt = now();
    // A blob the read saw can vanish before the apply links it (removed by hand, or collected by
    // another procedure's apply): the script then fails before touching anything live, and one
    // fresh read + apply sends it.
    for (let attempt = 1; ; attempt++) {
      const release = prepareStreamedRelease(bundle, releaseId, {
        ...context,
        keepReleases: options.keepReleases,
        deployedAt,
        previous,
        expectedMarker: read.text,
        missing: read.store?.missing ?? new Set(keys),
      });
      const result = await execStreaming(release.script, release.archive);
      const report = parseScriptReport(result.stdout);
      if (result.exitCode === 0 && report.done) return { status: 'applied', live: release.live, ...(previous ? { previous } : {}) };
      const step = report.step ?? 'prepare';
      if (step === 'link' && report.missingBlob !== undefined && attempt === 1) {
        const again = await readMarker(context, readMarkerOptions, keys);
        if (again.text === read.text) {
          read = again;
          continue;
        }
      }
      const hook = step === 'install' ? bundle.hooks.install : step === 'activate' ? bundle.hooks.activate : undefined;
      shell.fail(step, describeStep(step, procedureDir(context), releaseId, hook), result, { hint: hintForFailedApply(step, report) });
    }
  }

  /** The apply script with its archive streamed in; a blob unreadable on this machine is named as such. */
  async function execStreaming(script: string, archive: Readable) {
    try {
      return await shell.exec(script, { stdin: archive, timeoutMs: scriptTimeoutMs });
    } catch (error) {
      if (error instanceof ArchiveSourceError) {
        throw new InternalError(`a blob of the release changed on this machine after it was verified: ${error.message}`, {
          cause: error,
          hint: 'the live release on the target was not touched; run the deploy again (a changed artefact is fetched and verified anew)',
        });
      }
      throw error;
    }
  }

  async function rollback(procedure: string, toRelease?: string): Promise<RollbackResult> {
    lastRead.delete(procedure);
    return rollbackOn(shell, contextFor(procedure), { toRelease, deployedAt: now(), timeoutMs: scriptTimeoutMs });
  }

  async function keptReleases(procedure: string): Promise<KeptRelease[]> {
    const result = await shell.exec(buildKeptReleasesScript(contextFor(procedure)), { timeoutMs: scriptTimeoutMs });
    if (result.exitCode !== 0) shell.fail('prepare', `list ${procedureDir(contextFor(procedure))}/releases`, result, {});
    return parseKeptReleases(result.stdout);
  }

  async function smoke(procedure: string, checks: SmokeCheck[]): Promise<SmokeResult[]> {
    return runVmSmoke(contextFor(procedure), checks, { shell, fetchFromHere: options.runHttp ?? fetchHttpWithGlobalFetch, sleep: options.sleep });
  }

  /** A separate read: a no-op deploy keeps its one exec per host. */
  async function verify(procedure: string): Promise<VerifyResult> {
    const result = await shell.exec(buildVerifyScript(contextFor(procedure)), { timeoutMs: scriptTimeoutMs });
    if (result.exitCode !== 0) shell.fail('verify', `sha256sum the files of ${procedureDir(contextFor(procedure))}/current`, result);
    return judgeVerifyOutput(result.stdout, procedure);
  }

  return { description, live, apply, smoke, rollback, keptReleases, verify, close: () => transport.close() };
}

/** `rollback` on one target: the operator's `--to` checked here, the switch and marker by the script. */
async function rollbackOn(shell: VmShell, context: ScriptContext, options: { toRelease?: string; deployedAt: Date; timeoutMs: number }): Promise<RollbackResult> {
  const { toRelease } = options;
  const { site, environment, procedure } = context;
  // the operator's --to: a wrong one is a usage error, and never reaches a path on the target
  if (toRelease !== undefined && !RELEASE_ID.test(toRelease)) {
    throw new UsageError(`--to ${JSON.stringify(toRelease)} is not a release id (letters, digits, '.', '_' or '-', at most 128)`, {
      hint: `\`ozg history -s ${site} -p ${procedure} -e ${environment}\` lists its releases`,
    });
  }
  const script = buildRollbackScript({ ...context, toRelease, deployedAt: options.deployedAt.toISOString() });
  const result = await shell.exec(script, { timeoutMs: options.timeoutMs });
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

/** The `ozg-kept {…}` lines of the kept-releases script, newest first. */
function parseKeptReleases(stdout: string): KeptRelease[] {
  const kept: KeptRelease[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('ozg-kept ')) continue;
    try {
      const value = JSON.parse(line.slice('ozg-kept '.length)) as Partial<KeptRelease>;
      if (typeof value.release === 'string' && typeof value.version === 'string' && typeof value.hash === 'string') kept.push({ release: value.release, version: value.version, hash: value.hash });
    } catch {
      // a metadata file ozg did not write: not a release it can roll back to
    }
  }
  // release ids start with their UTC time stamp (to the second): newest first; within one
  // second the script's order (the folders' times, newest first) stands, as sort is stable
  const stamp = (release: string) => release.slice(0, 16);
  return kept.sort((a, b) => stamp(b.release).localeCompare(stamp(a.release)));
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
 * The apply script and the archive it reads on stdin, as `apply` sends them to a target whose
 * store holds nothing: every file inside the archive. A cloud-init seed runs the same pair on
 * first boot, so a seeded VM starts with a release that ozg's next deploy recognises by its
 * marker (and with its first store blobs).
 */
export function prepareRelease(bundle: Bundle, releaseId: string, options: PrepareReleaseOptions): { script: string; archive: Buffer; live: LiveRelease } {
  const { script, entries, live } = prepareParts(bundle, releaseId, { ...options, missing: new Set(storeKeysOf(bundle)) });
  return { script, archive: createTarArchive(entries, { mtime: options.deployedAt }), live };
}

export interface PrepareStreamedReleaseOptions extends PrepareReleaseOptions {
  /** store keys the target lacks: those blobs travel in the archive, the others are linked from its store */
  missing: ReadonlySet<string>;
}

/** What `apply` sends: the archive as a stream, blob files read from disk in chunks as it goes out. */
export function prepareStreamedRelease(bundle: Bundle, releaseId: string, options: PrepareStreamedReleaseOptions): { script: string; archive: Readable; live: LiveRelease } {
  const { script, entries, live } = prepareParts(bundle, releaseId, options);
  return { script, archive: streamTarArchive(entries, { mtime: options.deployedAt }), live };
}

function prepareParts(bundle: Bundle, releaseId: string, options: PrepareStreamedReleaseOptions): { script: string; entries: ArchiveEntry[]; live: LiveRelease } {
  checkBundle(bundle, releaseId);
  const { previous } = options;
  const manifest = renderManifest(bundle);
  const live: LiveRelease = {
    procedure: bundle.procedure,
    version: bundle.version,
    hash: bundle.hash,
    release: releaseId,
    deployedAt: options.deployedAt.toISOString(),
    files: digestManifest(manifest),
    ...(previous ? { previous: { version: previous.version, hash: previous.hash, release: previous.release } } : {}),
  };
  const { previous: _previous, expectedMarker, missing, ...context } = options;
  const script = buildApplyScript({ ...context, expectedMarker, release: releaseId, marker: formatMarker(live), keepReleases: options.keepReleases });
  return { script, entries: archiveEntries(bundle, releaseId, missing, manifest), live };
}

/**
 * The bundle's files plus the release metadata; files holding secrets lose group and other
 * bits. Files of the store plan are not members: the `links` list names them, and the blobs
 * the target lacks come along under INCOMING_DIR.
 */
function archiveEntries(bundle: Bundle, releaseId: string, missing: ReadonlySet<string>, manifest: string): ArchiveEntry[] {
  const plan = planStore(bundle);
  // directories of linked files too, so `tar -x` makes every folder with the mode ozg chose
  const all: ArchiveEntry[] = bundle.files.map((f) => ({ path: f.path, type: 'file', mode: 0 }));
  const directories = addParentDirectories(all).filter((e) => e.type === 'directory');
  const files: ArchiveEntry[] = bundle.files
    .filter((f) => !plan.links.has(f.path))
    .map((f) => ({
      path: f.path,
      type: 'file',
      mode: f.sensitive ? f.mode & 0o700 : f.mode,
      ...(f.blob ? { source: { path: f.blob.path, size: f.blob.size } } : { content: f.content }),
    }));
  const metadata = renderReleaseMetadata({ version: bundle.version, hash: bundle.hash, release: releaseId, hooks: bundle.hooks });
  files.push({ path: RELEASE_METADATA_FILE, type: 'file', mode: 0o644, content: Buffer.from(metadata) });
  // 0600: it holds the sha256 of files with secrets too
  files.push({ path: MANIFEST_FILE, type: 'file', mode: 0o600, content: Buffer.from(manifest) });
  if (plan.links.size > 0) {
    directories.push({ path: INCOMING_DIR, type: 'directory', mode: 0o700 });
    const links = [...plan.links].map(([path, key]) => `${key} ${path}\n`).join('');
    files.push({ path: LINKS_FILE, type: 'file', mode: 0o600, content: Buffer.from(links) });
    for (const blob of plan.blobs.values()) {
      if (!missing.has(blob.key)) continue;
      const path = `${INCOMING_DIR}/${blob.key}`;
      files.push(Buffer.isBuffer(blob.source) ? { path, type: 'file', mode: blob.mode, content: blob.source } : { path, type: 'file', mode: blob.mode, source: blob.source });
    }
  }
  return [...directories, ...files];
}

/** The bundle's store keys, in a stable order. */
function storeKeysOf(bundle: Bundle): string[] {
  return [...planStore(bundle).blobs.keys()];
}

function asked(read: MarkerRead, keys: string[]): boolean {
  const asked = new Set(read.store?.asked ?? []);
  return keys.every((k) => asked.has(k));
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
  if (step === 'link' && report.missingBlob !== undefined) {
    return `the live release was not touched and the new release directory was removed; blob ${report.missingBlob} left the store while ozg deployed (even after one retry): run again`;
  }
  if (step === 'extract' || step === 'store' || step === 'link' || step === 'install' || step === 'switch') {
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
