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
import { DNS_LABEL } from '../../inventory/dns-label.js';
import type { EnvironmentName } from '../../inventory/types.js';
import type { Bundle } from '../../procedure/types.js';
import type { SmokeCheck, SmokeResult } from '../../smoke/types.js';
import type { ApplyOptions, ApplyResult, BundleDiff, DiffingDriver, KeptRelease, LiveRelease, RollbackResult, VerifyResult } from '../driver.js';
import { deployRelease, stripRevision, type DeployReleaseOptions } from './deploy-release.js';
import { diffObjects } from './diff-bundle.js';
import { createKubeApi, type KubeApi } from './kube-api.js';
import { createKubeClient } from './kube-client.js';
import { labelObject, readBundleManifests, type ManifestObject } from './manifests.js';
import type { NamespaceScope } from './namespace-scope.js';
import { encodeArchive, liveReleaseOf } from './release-record.js';
import { readRecord } from './release-store.js';
import { rollbackRelease } from './rollback-release.js';
import { runSmokeJobs } from './run-smoke-jobs.js';
import { DEFAULT_SMOKE_IMAGE } from './smoke-job.js';

export interface CreateKubernetesDriverOptions {
  /** absolute path of the kubeconfig */
  kubeconfigPath: string;
  /** the inventory field that names it, for errors */
  kubeconfigField?: string;
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
  /** this run's id (its ledger lock token), written into the change it starts so a later run can tell it died */
  run?: string;
  /** ids of dead runs whose ledger lock this run took over: their unfinished changes are not waited for */
  deadRuns?: readonly string[];
  /** suffix of smoke Job names (tests make it predictable) */
  createJobId?: () => string;
}

export type { BundleDiff };

export interface KubernetesDriver extends DiffingDriver {
  readonly namespace: string;
}

/** Release ids become label values: at most 63 characters, alphanumeric at both ends. */
const RELEASE_ID = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

export function createKubernetesDriver(options: CreateKubernetesDriverOptions): KubernetesDriver {
  const { site, environment, description } = options;
  const namespace = validateLabel(options.namespace, 'namespace');
  validateLabel(site, 'site name');
  const now = options.now ?? (() => new Date());
  const polling = {
    pollIntervalMs: options.pollIntervalMs ?? 2000,
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    clock: (): number => now().getTime(),
  };
  const deployOptions: DeployReleaseOptions = {
    ...polling,
    keepReleases: Math.max(2, Math.floor(options.keepReleases ?? 5)),
    rolloutTimeoutMs: options.rolloutTimeoutMs ?? 5 * 60_000,
    now,
    ...(options.run ? { run: options.run } : {}),
    ...(options.deadRuns ? { deadRuns: options.deadRuns } : {}),
  };

  let api: Promise<KubeApi> | undefined;
  let connected: Promise<NamespaceScope> | undefined;
  /** The API is built on first use: creating a driver costs nothing and sends nothing. */
  function scope(): Promise<NamespaceScope> {
    if (!connected) {
      const created = options.api ? Promise.resolve(options.api) : createKubeApi({ kubeconfigPath: options.kubeconfigPath, context: options.context, ...(options.kubeconfigField ? { kubeconfigField: options.kubeconfigField } : {}) });
      api = created;
      connected = created.then((a) => ({ client: createKubeClient(a, namespace), site, environment }));
      // A failed construction (bad kubeconfig) is not kept: the next call reports it afresh.
      connected.catch(() => {
        if (api === created) api = connected = undefined;
      });
    }
    return connected;
  }

  async function live(procedure: string): Promise<LiveRelease | undefined> {
    validateLabel(procedure, 'procedure name');
    const { record } = await readRecord((await scope()).client, procedure);
    return record ? liveReleaseOf(record) : undefined;
  }

  async function apply(bundle: Bundle, releaseId: string, applyOptions: ApplyOptions = {}): Promise<ApplyResult> {
    checkBundle(bundle, site, environment, releaseId);
    // Before any request: a bundle that reaches outside the namespace is refused whole.
    const objects = labelAll(bundle, site, environment, readBundleManifests(bundle, { namespace }), releaseId);
    const archiveCheck = encodeArchive(objects.map((o) => o.object), { revision: 1, release: releaseId, version: bundle.version, hash: bundle.hash }, { site, environment, procedure: bundle.procedure }, namespace);
    if (typeof archiveCheck === 'string') throw new ClusterError(namespace, archiveCheck, undefined, { hint: 'keep large data out of the manifests (mount it from a volume instead)' });

    const s = await scope();
    const stored = await readRecord(s.client, bundle.procedure);
    const { record } = stored;
    const current = record ? liveReleaseOf(record) : undefined;
    if (record?.live && current && record.live.hash === bundle.hash && !record.incomplete && !applyOptions.reinstall) return { status: 'unchanged', live: current };

    const target = { release: releaseId, version: bundle.version, hash: bundle.hash };
    const next = await deployRelease(s, { procedure: bundle.procedure, objects, target, action: 'apply', stored, ...(applyOptions.reinstall ? { forceConflicts: true } : {}) }, deployOptions);
    const previous = record?.live ? stripRevision(record.live) : undefined;
    return { status: 'applied', live: next, ...(previous ? { previous } : {}) };
  }

  async function rollback(procedure: string, toRelease?: string): Promise<RollbackResult> {
    validateLabel(procedure, 'procedure name');
    // the operator's --to: the same answer as on a VM target for something that is no release id
    if (toRelease !== undefined && !RELEASE_ID.test(toRelease)) {
      throw new UsageError(`--to ${JSON.stringify(toRelease)} is not a release id (1-63 letters, digits, '.', '_' or '-')`, {
        hint: `\`ozg history -s ${site} -p ${procedure} -e ${environment}\` lists its releases`,
      });
    }
    return rollbackRelease(await scope(), procedure, toRelease, deployOptions);
  }

  async function keptReleases(procedure: string): Promise<KeptRelease[]> {
    validateLabel(procedure, 'procedure name');
    const { record } = await readRecord((await scope()).client, procedure);
    return [...(record?.kept ?? [])].sort((a, b) => b.revision - a.revision).map(({ release, version, hash }) => ({ release, version, hash }));
  }

  async function smoke(procedure: string, checks: SmokeCheck[]): Promise<SmokeResult[]> {
    validateLabel(procedure, 'procedure name');
    return runSmokeJobs(scope, procedure, checks, {
      ...polling,
      image: options.smokeImage ?? DEFAULT_SMOKE_IMAGE,
      startupSeconds: options.smokeStartupSeconds ?? 120,
      createJobId: options.createJobId,
    });
  }

  async function diffBundle(bundle: Bundle): Promise<BundleDiff> {
    checkBundle(bundle, site, environment, 'dry-run');
    const parsed = readBundleManifests(bundle, { namespace });
    const s = await scope();
    const { record } = await readRecord(s.client, bundle.procedure);
    return diffObjects(s, bundle.procedure, labelAll(bundle, site, environment, parsed, record?.live?.release ?? 'dry-run'), record?.kinds ?? [], bundle.version);
  }

  /** Only the fields ozg applies count (see verifyAgainstLive). */
  async function verify(procedure: string, bundle: Bundle): Promise<VerifyResult> {
    const current = await live(procedure);
    if (!current) return { status: 'unverifiable', reason: 'no release is live' };
    return verifyAgainstLive(await scope(), bundle, current, { site, environment, namespace });
  }

  async function close(): Promise<void> {
    const pending = api;
    api = undefined;
    connected = undefined;
    if (pending) (await pending.catch(() => undefined))?.close();
  }

  return { description, namespace, live, apply, smoke, rollback, keptReleases, diffBundle, verify, close };
}

/**
 * The live objects against a server-side dry run of the bundle the live release applied:
 * only the fields ozg applies can differ (an HPA's replicas, defaulted fields do not count).
 */
async function verifyAgainstLive(s: NamespaceScope, bundle: Bundle, current: LiveRelease, where: { site: string; environment: EnvironmentName; namespace: string }): Promise<VerifyResult> {
  const { site, environment, namespace } = where;
  const procedure = bundle.procedure;
  if (current.hash !== bundle.hash || current.incomplete) {
    return { status: 'unverifiable', release: current.release, reason: `the live release ${current.release} (${current.version}) is not the desired bundle: \`ozg plan\` shows the change` };
  }
  checkBundle(bundle, site, environment, 'dry-run');
  const { record } = await readRecord(s.client, procedure);
  const fields = new Map<string, string[]>();
  const objects = labelAll(bundle, site, environment, readBundleManifests(bundle, { namespace }), current.release);
  // forced: a field someone else took over (kubectl edit) is what verify is looking for
  const diff = await diffObjects(s, procedure, objects, record?.kinds ?? [], bundle.version, { forceConflicts: true, fields });
  const checked = diff.change.length + diff.create.length + diff.unchanged.length;
  if (diff.change.length + diff.create.length + diff.prune.length === 0) return { status: 'clean', release: current.release, checked };
  return { status: 'drifted', release: current.release, checked, changed: diff.change, missing: diff.create, extra: diff.prune, fields: [...fields].map(([object, paths]) => ({ object, paths })) };
}

function validateLabel(value: string, what: string): string {
  if (!DNS_LABEL.test(value)) throw new InternalError(`${what} ${JSON.stringify(value)} is not a DNS label`);
  return value;
}

function labelAll(bundle: Bundle, site: string, environment: EnvironmentName, objects: readonly ManifestObject[], release: string): ManifestObject[] {
  const labels = { site, environment, procedure: bundle.procedure, release };
  return objects.map((o) => ({ ...o, object: labelObject(o.object, labels) }));
}

function checkBundle(bundle: Bundle, site: string, environment: EnvironmentName, releaseId: string): void {
  if (bundle.targetKind !== 'kubernetes') throw new InternalError(`bundle of ${bundle.procedure} is for ${bundle.targetKind}, not a Kubernetes target`);
  if (bundle.site !== site || bundle.environment !== environment) {
    throw new InternalError(`bundle for ${bundle.site}/${bundle.environment} handed to the driver of ${site}/${environment}`);
  }
  validateLabel(bundle.procedure, 'procedure name');
  if (!RELEASE_ID.test(releaseId)) {
    throw new InternalError(`release id ${JSON.stringify(releaseId)} must be 1-63 letters, digits, '.', '_' or '-', alphanumeric at both ends`);
  }
}
