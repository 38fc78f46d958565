/**
 * The Kubernetes target driver: one site's procedures in one namespace, with namespace-only
 * rights. Every object is applied server-side as its procedure's own field manager `ozg-<procedure>`
 * (never forcing, except once to take over what the former shared manager `ozg` held), objects
 * that left the bundle are pruned, Deployments and StatefulSets must roll out, and only then
 * does the release record (see release-record.ts) name the new release as live.
 *
 * Nothing is sent before the bundle passed the scope check (manifests.ts), and no request
 * leaves the namespace: no cluster-scope lists or watches, no discovery.
 */
import { ClusterError, InternalError, UsageError } from '../../errors.js';
import type { EnvironmentName } from '../../inventory/types.js';
import type { Bundle } from '../../procedure/types.js';
import { isCommandCheck, runCheck, type CommandOutcome, type HttpResponse } from '../../smoke/run-checks.js';
import type { SmokeCheck, SmokeResult } from '../../smoke/types.js';
import type { ApplyResult, BundleDiff, DiffingDriver, LiveRelease, RollbackResult, TargetDriver } from '../driver.js';
import { createKubeApi, type KubeApi } from './kube-api.js';
import { createKubeClient, fieldManagerFor, LEGACY_FIELD_MANAGER, type KubeClient } from './kube-client.js';
import { findKind, kindKey, type KindInfo } from './kinds.js';
import {
  describeObject,
  isRecord,
  labelObject,
  LABELS,
  PRUNE_ANNOTATION,
  readBundleManifests,
  sortForApply,
  type KubeObject,
  type ManifestObject,
} from './manifests.js';
import {
  decodeArchive,
  decodeRecord,
  encodeArchive,
  encodeRecord,
  liveReleaseOf,
  nextRevision,
  recordName,
  selectKeptReleases,
  type KeptRelease,
  type ReleaseRecord,
} from './release-record.js';
import { checkRollout, describeUnreadyPods, describeWorkloadConditions, selectorOf } from './rollout-status.js';
import { buildSmokeJob, createSmokeJobName, DEFAULT_SMOKE_IMAGE, parseWgetLog, smokeTargetsOf } from './smoke-job.js';
import { DNS_LABEL } from '../../inventory/dns-label.js';

export interface CreateKubernetesDriverOptions {
  /** absolute path of the kubeconfig */
  kubeconfigPath: string;
  /** kubeconfig context; default: its current-context */
  context?: string;
  /** the site's namespace (the environment's pattern with `{site}` replaced) */
  namespace: string;
  site: string;
  environment: EnvironmentName;
  /** human name of the target, e.g. `kiel/test @ namespace ozg-kiel-test` */
  description: string;
  /** the API to talk to; default: one built from the kubeconfig on first use (tests pass a fake) */
  api?: KubeApi;
  /** releases whose objects are kept for rollback (at least 2; default 5) */
  keepReleases?: number;
  /** how long Deployments and StatefulSets may take to become ready (default 5 minutes) */
  rolloutTimeoutMs?: number;
  /** pause between status reads of workloads and smoke Jobs (default 2 s) */
  pollIntervalMs?: number;
  /** image smoke check Jobs run when a check names none (default busybox:1.36) */
  smokeImage?: string;
  /** time a smoke Job's pod may take to be scheduled and pull its image (default 120 s) */
  smokeStartupSeconds?: number;
  sleep?: (ms: number) => Promise<void>;
  /** wall clock: deployedAt, deadlines and durations */
  now?: () => Date;
  /** suffix of smoke Job names (tests make it predictable) */
  createJobId?: () => string;
}

export type { BundleDiff };

export interface KubernetesDriver extends DiffingDriver {
  readonly namespace: string;
}

/** Release ids become label values: at most 63 characters, alphanumeric at both ends. */
const RELEASE_ID = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const CONFIG_MAP: KindInfo = findKind('v1', 'ConfigMap')!;
const SECRET: KindInfo = findKind('v1', 'Secret')!;
const JOB: KindInfo = findKind('batch/v1', 'Job')!;
const PODS = { apiVersion: 'v1', plural: 'pods' };
const LOG_TAIL_LINES = 200;

interface Target {
  release: string;
  version: string;
  hash: string;
}

export function createKubernetesDriver(options: CreateKubernetesDriverOptions): KubernetesDriver {
  const { site, environment, description } = options;
  const namespace = validateLabel(options.namespace, 'namespace');
  validateLabel(site, 'site name');
  const keepReleases = Math.max(2, Math.floor(options.keepReleases ?? 5));
  const rolloutTimeoutMs = options.rolloutTimeoutMs ?? 5 * 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 2000;
  const smokeImage = options.smokeImage ?? DEFAULT_SMOKE_IMAGE;
  const smokeStartupSeconds = options.smokeStartupSeconds ?? 120;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? (() => new Date());
  const clock = (): number => now().getTime();

  let api: Promise<KubeApi> | undefined;
  let kubeClient: Promise<KubeClient> | undefined;
  /** The API is built on first use: creating a driver costs nothing and sends nothing. */
  function client(): Promise<KubeClient> {
    if (!kubeClient) {
      const created = options.api ? Promise.resolve(options.api) : createKubeApi({ kubeconfigPath: options.kubeconfigPath, context: options.context });
      api = created;
      kubeClient = created.then((a) => createKubeClient(a, namespace));
      // A failed construction (bad kubeconfig) is not kept: the next call reports it afresh.
      kubeClient.catch(() => {
        if (api === created) api = kubeClient = undefined;
      });
    }
    return kubeClient;
  }

  async function readRecord(c: KubeClient, procedure: string): Promise<{ record?: ReleaseRecord; resourceVersion?: string }> {
    const configMap = await c.get<KubeObject>(CONFIG_MAP, recordName(procedure));
    if (!configMap) return {};
    const record = decodeRecord(configMap, procedure);
    if (typeof record === 'string') {
      throw new ClusterError(namespace, `the release record cannot be read: ${record}`, undefined, {
        hint: `inspect ConfigMap ${recordName(procedure)}; if it is damaged, delete it and deploy again (the procedure then counts as new)`,
      });
    }
    const resourceVersion = typeof configMap.metadata.resourceVersion === 'string' ? configMap.metadata.resourceVersion : undefined;
    return { record, resourceVersion };
  }

  async function writeRecord(c: KubeClient, record: ReleaseRecord, resourceVersion: string | undefined): Promise<string | undefined> {
    let written: KubeObject;
    try {
      // the record is this procedure's by name: what the former shared manager held of it is taken over
      written = await c.apply(CONFIG_MAP, encodeRecord(record, namespace, resourceVersion), { fieldManager: fieldManagerFor(record.procedure), takeOverFrom: LEGACY_FIELD_MANAGER });
    } catch (error) {
      if (error instanceof ClusterError && error.status === 409) {
        throw new ClusterError(namespace, `the release record of ${record.procedure} changed while this run was working on it`, 409, {
          cause: error,
          hint: 'another ozg run is deploying this procedure to the same namespace: let it finish, then run again',
        });
      }
      throw error;
    }
    const rv = written.metadata?.resourceVersion;
    return typeof rv === 'string' ? rv : undefined;
  }

  async function live(procedure: string): Promise<LiveRelease | undefined> {
    validateLabel(procedure, 'procedure name');
    const { record } = await readRecord(await client(), procedure);
    return record ? liveReleaseOf(record) : undefined;
  }

  function labelAll(bundle: Bundle, objects: readonly ManifestObject[], release: string): ManifestObject[] {
    const labels = { site, environment, procedure: bundle.procedure, release };
    return objects.map((o) => ({ ...o, object: labelObject(o.object, labels) }));
  }

  async function apply(bundle: Bundle, releaseId: string): Promise<ApplyResult> {
    checkBundle(bundle, releaseId);
    // Before any request: a bundle that reaches outside the namespace is refused whole.
    const objects = labelAll(bundle, readBundleManifests(bundle, { namespace }), releaseId);
    const archiveCheck = encodeArchive(objects.map((o) => o.object), { revision: 1, release: releaseId, version: bundle.version, hash: bundle.hash }, { site, environment, procedure: bundle.procedure }, namespace);
    if (typeof archiveCheck === 'string') throw new ClusterError(namespace, archiveCheck, undefined, { hint: 'keep large data out of the manifests (mount it from a volume instead)' });

    const c = await client();
    const { record, resourceVersion } = await readRecord(c, bundle.procedure);
    const current = record ? liveReleaseOf(record) : undefined;
    if (record?.live && current && record.live.hash === bundle.hash && !record.incomplete) return { status: 'unchanged', live: current };

    const target: Target = { release: releaseId, version: bundle.version, hash: bundle.hash };
    const next = await deploy(c, bundle.procedure, objects, target, 'apply', record, resourceVersion);
    const previous = record?.live ? stripRevision(record.live) : undefined;
    return { status: 'applied', live: next, ...(previous ? { previous } : {}) };
  }

  /**
   * The one path that changes a namespace (apply and rollback): mark the change as incomplete
   * in the record, apply, prune, wait for the rollout, then record the new live release.
   */
  async function deploy(
    c: KubeClient,
    procedure: string,
    objects: ManifestObject[],
    target: Target & { revision?: number },
    action: 'apply' | 'rollback',
    record: ReleaseRecord | undefined,
    resourceVersion: string | undefined,
  ): Promise<LiveRelease> {
    const ours = await checkOwnership(c, procedure, objects);
    const kinds = [...new Set([...(record?.kinds ?? []), ...objects.map((o) => kindKey(o.info.apiVersion, o.info.kind))])].sort();
    const working: ReleaseRecord = {
      procedure,
      site,
      environment,
      ...(record?.live ? { live: record.live } : {}),
      incomplete: { action, release: target.release, version: target.version, hash: target.hash, startedAt: now().toISOString() },
      kept: record?.kept ?? [],
      kinds,
    };
    // Written first, so a run that dies half-way leaves a record saying so.
    const rv = await writeRecord(c, working, resourceVersion);
    try {
      for (const o of objects) {
        await c.apply(o.info, o.object, { fieldManager: fieldManagerFor(procedure), ...(ours.has(objectKey(o)) ? { takeOverFrom: LEGACY_FIELD_MANAGER } : {}) });
      }
      await prune(c, procedure, objects, kinds);
      await waitForRollout(c, objects, record?.live);
    } catch (error) {
      working.incomplete = { ...working.incomplete!, failed: firstLine(error) };
      await writeRecord(c, working, rv).catch(() => undefined); // the original failure is the one to report
      throw error;
    }

    let kept = working.kept;
    let revision = target.revision;
    if (revision === undefined) {
      revision = nextRevision(record);
      const entry = { revision, release: target.release, version: target.version, hash: target.hash };
      const archive = encodeArchive(objects.map((o) => o.object), entry, { site, environment, procedure }, namespace);
      if (typeof archive === 'string') throw new InternalError(archive); // checked before anything was applied
      await c.apply(SECRET, archive, { fieldManager: fieldManagerFor(procedure), takeOverFrom: LEGACY_FIELD_MANAGER });
      kept = [{ ...entry, archive: archive.metadata.name }, ...kept.filter((k) => k.revision !== revision)];
    }
    const previous = action === 'rollback' && record?.live?.release === target.release ? record.live.previous : record?.live ? identity(record.live) : undefined;
    const nextLive = {
      procedure,
      version: target.version,
      hash: target.hash,
      release: target.release,
      deployedAt: now().toISOString(),
      revision,
      ...(previous ? { previous } : {}),
    };
    const selection = selectKeptReleases(kept, keepReleases, [nextLive.release, ...(previous ? [previous.release] : [])]);
    const done: ReleaseRecord = { procedure, site, environment, live: nextLive, kept: selection.kept, kinds };
    await writeRecord(c, done, rv);
    // Housekeeping: an archive that cannot be deleted now is tried again by the next release.
    for (const old of selection.drop) await c.delete(SECRET, old.archive).catch(() => false);
    return stripRevision(nextLive);
  }

  /**
   * An object belongs to one procedure of the site: one that another procedure's label marks
   * is refused before anything is written, so neither procedure takes over, relabels or later
   * prunes the other's object. Returns the objects that are already this procedure's.
   */
  async function checkOwnership(c: KubeClient, procedure: string, objects: readonly ManifestObject[]): Promise<Set<string>> {
    const ours = new Set<string>();
    const foreign: string[] = [];
    for (const o of objects) {
      const live = await c.get<KubeObject>(o.info, o.object.metadata.name);
      const owner = live?.metadata?.labels?.[LABELS.procedure];
      if (owner === undefined) continue;
      if (owner === procedure) ours.add(objectKey(o));
      else foreign.push(`${describeObject(o.object)} (${o.source}) belongs to procedure ${owner}`);
    }
    if (foreign.length > 0) throw foreignObjectsError(procedure, foreign);
    return ours;
  }

  function foreignObjectsError(procedure: string, foreign: readonly string[]): ClusterError {
    return new ClusterError(namespace, `${procedure}: ${foreign.join('; ')} (label ${LABELS.procedure}); nothing was applied`, undefined, {
      hint: 'an object belongs to one procedure of a site: rename it in one of the two procedures, or remove it from the procedure that should not have it',
    });
  }

  /** Delete what ozg applied for this procedure earlier and the new set no longer has. */
  async function prune(c: KubeClient, procedure: string, objects: readonly ManifestObject[], kinds: readonly string[]): Promise<void> {
    const desired = new Set(objects.map((o) => `${o.info.kind}/${o.object.metadata.name}`));
    for (const key of kinds) {
      const info = infoForKey(key);
      if (!info) continue;
      const items = await c.list<KubeObject>(info, `${LABELS.managedBy}=ozg,${LABELS.site}=${site},${LABELS.procedure}=${procedure}`);
      for (const item of selectPrunable(info, items, desired)) await c.delete(info, item.metadata.name);
    }
  }

  async function waitForRollout(c: KubeClient, objects: readonly ManifestObject[], live: LiveRelease | undefined): Promise<void> {
    const pending = new Map(objects.filter((o) => o.info.workload).map((o) => [describeObject(o.object), o]));
    const deadline = clock() + rolloutTimeoutMs;
    const waiting = new Map<string, { reason: string; object: unknown }>();
    while (pending.size > 0) {
      waiting.clear();
      for (const [key, o] of pending) {
        const object = await c.get(o.info, o.object.metadata.name);
        const state = checkRollout(o.info.workload!, object);
        if (state.done) {
          pending.delete(key);
          continue;
        }
        waiting.set(key, { reason: state.waiting, object });
        if (state.failed) throw await rolloutError(c, new Map([[key, waiting.get(key)!]]), live, 'failed');
      }
      if (pending.size === 0) return;
      if (clock() >= deadline) throw await rolloutError(c, waiting, live, `not ready after ${formatSeconds(rolloutTimeoutMs)}`);
      await sleep(pollIntervalMs);
    }
  }

  async function rolloutError(c: KubeClient, waiting: Map<string, { reason: string; object: unknown }>, live: LiveRelease | undefined, verdict: string): Promise<ClusterError> {
    const lines: string[] = [];
    for (const [key, { reason, object }] of waiting) {
      lines.push(`${key} ${verdict} (${reason})`);
      for (const condition of describeWorkloadConditions(object)) lines.push(`  ${condition}`);
      const selector = selectorOf(object);
      if (!selector) continue;
      try {
        const pods = await c.list(PODS, selector);
        const described = describeUnreadyPods(pods);
        if (described.length > 0) lines.push(...described.map((l) => `  ${l}`));
        else if (pods.length === 0) lines.push('  no pods');
      } catch (error) {
        lines.push(`  (its pods could not be listed: ${firstLine(error)})`);
      }
    }
    const message = lines.join('\n');
    const hint = live
      ? `release ${live.release} (${live.version}) is still recorded as live: \`ozg rollback\` restores it, a fixed deploy replaces this one`
      : 'nothing was live before: fix the procedure (image, probes, resources) and deploy again';
    return new ClusterError(namespace, message, undefined, { hint });
  }

  async function rollback(procedure: string, toRelease?: string): Promise<RollbackResult> {
    validateLabel(procedure, 'procedure name');
    // the operator's --to: the same answer as on a VM target for something that is no release id
    if (toRelease !== undefined && !RELEASE_ID.test(toRelease)) {
      throw new UsageError(`--to ${JSON.stringify(toRelease)} is not a release id (1-63 letters, digits, '.', '_' or '-')`, {
        hint: `\`ozg history -s ${site} -p ${procedure} -e ${environment}\` lists its releases`,
      });
    }
    const c = await client();
    const { record, resourceVersion } = await readRecord(c, procedure);
    const liveNow = record?.live;
    if (!record || !liveNow) {
      return { status: 'nothing-to-roll-back', reason: record?.incomplete ? `no release was live before release ${record.incomplete.release}, which did not finish` : 'no release is live' };
    }
    const wanted = toRelease ?? (record.incomplete ? liveNow.release : liveNow.previous?.release);
    if (wanted === undefined) return { status: 'nothing-to-roll-back', reason: 'the live release records no previous release' };
    if (wanted === liveNow.release && !record.incomplete) return { status: 'nothing-to-roll-back', reason: `release ${wanted} is already live` };
    const entry = record.kept.find((k) => k.release === wanted);
    if (!entry) return { status: 'nothing-to-roll-back', reason: `release ${wanted} is no longer kept in namespace ${namespace}` };
    const secret = await c.get(SECRET, entry.archive);
    if (!secret) return { status: 'nothing-to-roll-back', reason: `the archive of release ${wanted} (Secret ${entry.archive}) is gone` };
    const decoded = decodeArchive(secret);
    if (typeof decoded === 'string') throw new ClusterError(namespace, `Secret ${entry.archive}: ${decoded}`, undefined, { hint: 'roll back to another kept release with --to, or deploy again' });
    const objects = decoded.map((object) => archivedObject(object, entry));
    const next = await deploy(c, procedure, sortForApply(objects), entry, 'rollback', record, resourceVersion);
    return { status: 'rolled-back', live: next };
  }

  /** An archived object, checked again: archives live in the namespace and could have been edited. */
  function archivedObject(object: KubeObject, entry: KeptRelease): ManifestObject {
    const info = findKind(String(object.apiVersion), String(object.kind));
    if (!info || (object.metadata.namespace !== undefined && object.metadata.namespace !== namespace)) {
      throw new ClusterError(namespace, `the archive of release ${entry.release} holds ${object.kind}/${object.metadata?.name}, which ozg would not apply here`);
    }
    return { info, source: entry.archive, object: { ...object, metadata: { ...object.metadata, namespace } } };
  }

  async function smoke(procedure: string, checks: SmokeCheck[]): Promise<SmokeResult[]> {
    validateLabel(procedure, 'procedure name');
    const results: SmokeResult[] = [];
    for (const check of checks) {
      const targets = smokeTargetsOf(check);
      if (!targets.includes('kubernetes')) {
        results.push({ name: check.name, passed: true, skipped: true, attempts: 0, durationMs: 0, detail: `skipped: runs on ${targets.join(', ')} targets only` });
        continue;
      }
      const c = await client();
      results.push(
        await runCheck(check, {
          runCommand: (_command, timeoutMs) => runCommandJob(c, procedure, check, timeoutMs),
          fetchHttp: (_url, timeoutMs) => runHttpJob(c, procedure, check, timeoutMs),
          sleep,
          now: clock,
        }),
      );
    }
    return results;
  }

  interface JobRun {
    state: 'complete' | 'failed' | 'timed-out';
    reason?: string;
    exitCode?: number;
    log: string;
    /** why the pod is not done, for timeouts */
    podLines: string[];
  }

  /** One attempt: create the Job, wait for it, read its pod's log, delete it. */
  async function runJob(c: KubeClient, procedure: string, check: SmokeCheck, timeoutMs: number): Promise<JobRun> {
    const name = createSmokeJobName(procedure, options.createJobId?.());
    const image = check.image ?? smokeImage;
    await c.apply(JOB, buildSmokeJob({ name, namespace, site, environment, procedure, check, image, startupSeconds: smokeStartupSeconds }), { fieldManager: fieldManagerFor(procedure) });
    try {
      const deadline = clock() + timeoutMs + smokeStartupSeconds * 1000;
      let state: JobRun['state'] | undefined;
      let reason: string | undefined;
      for (;;) {
        const job = await c.get<KubeObject>(JOB, name);
        const finished = jobOutcome(job);
        if (finished) {
          state = finished.reason === 'DeadlineExceeded' ? 'timed-out' : finished.state;
          reason = finished.reason;
          break;
        }
        if (clock() >= deadline) {
          state = 'timed-out';
          break;
        }
        await sleep(pollIntervalMs);
      }
      const pods = await c.list<KubeObject>(PODS, `job-name=${name}`);
      const pod = newest(pods);
      const log = pod ? ((await c.podLog(pod.metadata.name, { tailLines: LOG_TAIL_LINES })) ?? '') : '';
      const exitCode = pod ? exitCodeOf(pod) : undefined;
      const podLines = state === 'timed-out' ? describeUnreadyPods(pods) : [];
      return { state, ...(reason ? { reason } : {}), ...(exitCode !== undefined ? { exitCode } : {}), log, podLines };
    } finally {
      // The result stands even if the Job cannot be deleted; ttlSecondsAfterFinished removes it later.
      await c.delete(JOB, name).catch(() => false);
    }
  }

  async function runCommandJob(c: KubeClient, procedure: string, check: SmokeCheck, timeoutMs: number): Promise<CommandOutcome> {
    const run = await runJob(c, procedure, check, timeoutMs);
    const output = [run.log.replace(/\s+$/, ''), ...run.podLines].filter(Boolean).join('\n');
    if (run.state === 'timed-out') return { exitCode: null, output, timedOut: true };
    if (run.exitCode !== undefined) return { exitCode: run.exitCode, output, timedOut: false };
    // A Job that says Failed without an exit code (its pod gone, evicted): count it as exit 1.
    return { exitCode: run.state === 'complete' ? 0 : 1, output: `${output}\nozg: the Job ${run.state}${run.reason ? ` (${run.reason})` : ''} without a container exit code`.trim(), timedOut: false };
  }

  async function runHttpJob(c: KubeClient, procedure: string, check: SmokeCheck, timeoutMs: number): Promise<HttpResponse> {
    const run = await runJob(c, procedure, check, timeoutMs);
    if (run.state === 'timed-out') {
      // With a stuck pod, why it is stuck says more than "timed out".
      if (run.podLines.length > 0) throw new Error(`the check's Job did not finish: ${run.podLines.join('; ')}`);
      throw Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    }
    if (run.state === 'failed') throw new Error(`the check's Job failed${run.reason ? ` (${run.reason})` : ''}${run.log ? ': ' + run.log.trim().split('\n').at(-1) : ''}`);
    const outcome = parseWgetLog(run.log);
    if (outcome.status === undefined) throw new Error(outcome.error ?? 'no answer');
    return { status: outcome.status, body: outcome.body };
  }

  async function diffBundle(bundle: Bundle): Promise<BundleDiff> {
    checkBundle(bundle, 'dry-run');
    const parsed = readBundleManifests(bundle, { namespace });
    const c = await client();
    const { record } = await readRecord(c, bundle.procedure);
    const objects = labelAll(bundle, parsed, record?.live?.release ?? 'dry-run');
    const diff: BundleDiff = { create: [], change: [], unchanged: [], prune: [] };
    const foreign: string[] = [];
    for (const o of objects) {
      const before = await c.get<KubeObject>(o.info, o.object.metadata.name);
      const owner = before?.metadata?.labels?.[LABELS.procedure];
      if (owner !== undefined && owner !== bundle.procedure) {
        foreign.push(`${describeObject(o.object)} (${o.source}) belongs to procedure ${owner}`);
        continue;
      }
      const ours = owner === bundle.procedure;
      const after = await c.apply(o.info, o.object, { fieldManager: fieldManagerFor(bundle.procedure), dryRun: true, ...(ours ? { takeOverFrom: LEGACY_FIELD_MANAGER } : {}) });
      const name = describeObject(o.object);
      if (!before) diff.create.push(name);
      else if (comparable(before) !== comparable(after)) diff.change.push(name);
      else diff.unchanged.push(name);
    }
    // a deploy would refuse this bundle: the preview says so instead of a change it would never make
    if (foreign.length > 0) throw foreignObjectsError(bundle.procedure, foreign);
    const desired = new Set(objects.map((o) => `${o.info.kind}/${o.object.metadata.name}`));
    for (const key of record?.kinds ?? []) {
      const info = infoForKey(key);
      if (!info) continue;
      const items = await c.list<KubeObject>(info, `${LABELS.managedBy}=ozg,${LABELS.site}=${site},${LABELS.procedure}=${bundle.procedure}`);
      for (const item of selectPrunable(info, items, desired)) diff.prune.push(`${info.kind.toLowerCase()}/${item.metadata.name}`);
    }
    return diff;
  }

  function checkBundle(bundle: Bundle, releaseId: string): void {
    if (bundle.targetKind !== 'kubernetes') throw new InternalError(`bundle of ${bundle.procedure} is for ${bundle.targetKind}, not a Kubernetes target`);
    if (bundle.site !== site || bundle.environment !== environment) {
      throw new InternalError(`bundle for ${bundle.site}/${bundle.environment} handed to the driver of ${site}/${environment}`);
    }
    validateLabel(bundle.procedure, 'procedure name');
    if (!RELEASE_ID.test(releaseId)) {
      throw new InternalError(`release id ${JSON.stringify(releaseId)} must be 1-63 letters, digits, '.', '_' or '-', alphanumeric at both ends`);
    }
  }

  return {
    description,
    namespace,
    live,
    apply,
    smoke,
    rollback,
    diffBundle,
    async close() {
      const pending = api;
      api = undefined;
      kubeClient = undefined;
      if (pending) (await pending.catch(() => undefined))?.close();
    },
  };
}

/**
 * Objects of one kind, listed by ozg's labels, that the new set no longer has. ozg's own
 * records and smoke Jobs are never pruned, nor anything annotated `ozg.example/prune: "false"`.
 */
export function selectPrunable(info: Pick<KindInfo, 'kind'>, items: readonly KubeObject[], desired: ReadonlySet<string>): KubeObject[] {
  return items.filter((item) => {
    const metadata = isRecord(item.metadata) ? item.metadata : undefined;
    if (!metadata || typeof metadata.name !== 'string') return false;
    const labels = metadata.labels ?? {};
    if (labels[LABELS.managedBy] !== 'ozg') return false;
    if (labels[LABELS.record] !== undefined || labels[LABELS.smoke] !== undefined) return false;
    if (metadata.annotations?.[PRUNE_ANNOTATION] === 'false') return false;
    if (typeof metadata.deletionTimestamp === 'string') return false; // already going
    return !desired.has(`${info.kind}/${metadata.name}`);
  });
}

/** `Complete` or `Failed` from a Job's conditions (or counters), undefined while it runs. */
export function jobOutcome(job: unknown): { state: 'complete' | 'failed'; reason?: string } | undefined {
  const status = isRecord(job) && isRecord(job.status) ? job.status : {};
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Array<{ type?: string; status?: string; reason?: string }>;
  const failed = conditions.find((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True');
  if (failed) return { state: 'failed', ...(failed.reason ? { reason: failed.reason } : {}) };
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return { state: 'complete' };
  if (typeof status.succeeded === 'number' && status.succeeded > 0) return { state: 'complete' };
  if (typeof status.failed === 'number' && status.failed > 0) return { state: 'failed' };
  return undefined;
}

/** The exit code of the pod's first container that terminated. */
function exitCodeOf(pod: KubeObject): number | undefined {
  const status = isRecord(pod.status) ? pod.status : {};
  const containers = (Array.isArray(status.containerStatuses) ? status.containerStatuses : []) as Array<{ state?: { terminated?: { exitCode?: number } } }>;
  for (const c of containers) if (typeof c.state?.terminated?.exitCode === 'number') return c.state.terminated.exitCode;
  return undefined;
}

function newest(pods: readonly KubeObject[]): KubeObject | undefined {
  return [...pods]
    .filter((p) => isRecord(p.metadata) && typeof p.metadata.name === 'string')
    .sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))[0];
}

function objectKey(o: ManifestObject): string {
  return `${kindKey(o.info.apiVersion, o.info.kind)}/${o.object.metadata.name}`;
}

function infoForKey(key: string): KindInfo | undefined {
  const at = key.lastIndexOf('/');
  return at > 0 ? findKind(key.slice(0, at), key.slice(at + 1)) : undefined;
}

/** An object without what the server changes on every write, for comparing a dry run with the live object. */
function comparable(object: KubeObject): string {
  const { status: _status, ...rest } = object;
  const metadata = { ...(rest.metadata ?? {}) } as Record<string, unknown>;
  for (const key of ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink']) delete metadata[key];
  if (isRecord(metadata.labels)) {
    const { [LABELS.release]: _release, ...labels } = metadata.labels;
    metadata.labels = labels;
  }
  return stableStringify({ ...rest, metadata });
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function identity(live: LiveRelease): { version: string; hash: string; release: string } {
  return { version: live.version, hash: live.hash, release: live.release };
}

function stripRevision(live: LiveRelease & { revision?: number }): LiveRelease {
  const { revision: _revision, ...rest } = live;
  return rest;
}

function validateLabel(value: string, what: string): string {
  if (!DNS_LABEL.test(value)) throw new InternalError(`${what} ${JSON.stringify(value)} is not a DNS label`);
  return value;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!.slice(0, 500);
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
