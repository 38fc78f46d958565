/**
 * Running smoke checks as Jobs in the namespace (the Job itself: smoke-job.ts): one Job per
 * attempt, waited for, its pod's log read as the check's output, then deleted.
 */
import { runCheck, type CommandOutcome, type HttpResponse } from '../../smoke/run-checks.js';
import type { SmokeCheck, SmokeResult } from '../../smoke/types.js';
import { fieldManagerFor, type KubeClient } from './kube-client.js';
import { findKind, type KindInfo } from './kinds.js';
import { isRecord, type KubeObject } from './manifests.js';
import type { NamespaceScope, Polling } from './namespace-scope.js';
import { describeFailedCreates, describeUnreadyPods } from './rollout-status.js';
import { buildSmokeJob, createSmokeJobName, parseWgetLog, SMOKE_CONTAINER, smokeTargetsOf } from './smoke-job.js';
import { EVENTS, PODS } from './wait-for-rollout.js';

const JOB: KindInfo = findKind('batch/v1', 'Job')!;
/** A command check's output: its last lines, as a VM check keeps the last lines of its output. */
const LOG_TAIL_LINES = 200;
/**
 * An HTTP check's log starts with wget's status lines, then its body, which may run to any
 * length: read from the start, so the status is always there however long the page.
 */
const HTTP_LOG_LIMIT_BYTES = 1024 * 1024;

export interface RunSmokeJobsOptions extends Polling {
  /** image of a check that names none */
  image: string;
  /** time a Job's pod may take to be scheduled and pull its image */
  startupSeconds: number;
  /** suffix of Job names (tests make it predictable) */
  createJobId?: () => string;
}

/** A procedure's smoke checks on a namespace; checks for other target kinds are reported as skipped. */
export async function runSmokeJobs(scope: () => Promise<NamespaceScope>, procedure: string, checks: SmokeCheck[], options: RunSmokeJobsOptions): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const check of checks) {
    const targets = smokeTargetsOf(check);
    if (!targets.includes('kubernetes')) {
      results.push({ name: check.name, passed: true, skipped: true, attempts: 0, durationMs: 0, detail: `skipped: runs on ${targets.join(', ')} targets only` });
      continue;
    }
    const job = { scope: await scope(), procedure, check, options };
    results.push(
      await runCheck(check, {
        runCommand: (_command, timeoutMs) => runCommandJob(job, timeoutMs),
        fetchHttp: (_url, timeoutMs) => runHttpJob(job, timeoutMs),
        sleep: options.sleep,
        now: options.clock,
      }),
    );
  }
  return results;
}

interface SmokeJob {
  scope: NamespaceScope;
  procedure: string;
  check: SmokeCheck;
  options: RunSmokeJobsOptions;
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
async function runJob({ scope, procedure, check, options }: SmokeJob, timeoutMs: number, logPart: { tailLines: number } | { limitBytes: number }): Promise<JobRun> {
  const c = scope.client;
  const name = createSmokeJobName(procedure, options.createJobId?.());
  const image = check.image ?? options.image;
  const { site, environment } = scope;
  await c.apply(JOB, buildSmokeJob({ name, namespace: c.namespace, site, environment, procedure, check, image, startupSeconds: options.startupSeconds }), { fieldManager: fieldManagerFor(procedure) });
  try {
    const finished = await waitForJob(c, name, timeoutMs + options.startupSeconds * 1000, options);
    const pods = await c.list<KubeObject>(PODS, `job-name=${name}`);
    const pod = newest(pods);
    const log = pod ? ((await c.podLog(pod.metadata.name, { ...logPart, container: SMOKE_CONTAINER })) ?? '') : '';
    const exitCode = pod ? exitCodeOf(pod) : undefined;
    const podLines = finished.state === 'timed-out' ? (pods.length > 0 ? describeUnreadyPods(pods) : await whyNoPods(c, name)) : [];
    return { ...finished, ...(exitCode !== undefined ? { exitCode } : {}), log, podLines };
  } finally {
    // The result stands even if the Job cannot be deleted; ttlSecondsAfterFinished removes it later.
    await c.delete(JOB, name).catch(() => false);
  }
}

/** A Job without pods: the API refused them (Pod Security, quota, LimitRange) and the job controller says why in events. */
async function whyNoPods(c: KubeClient, name: string): Promise<string[]> {
  try {
    const events = await c.list(EVENTS, undefined, `involvedObject.kind=Job,involvedObject.name=${name}`);
    const lines = describeFailedCreates(events);
    return lines.length > 0 ? lines : ['the Job created no pod'];
  } catch {
    return ['the Job created no pod (its events could not be read)'];
  }
}

async function waitForJob(c: KubeClient, name: string, limitMs: number, polling: Polling): Promise<Pick<JobRun, 'state' | 'reason'>> {
  const deadline = polling.clock() + limitMs;
  for (;;) {
    const finished = jobOutcome(await c.get<KubeObject>(JOB, name));
    if (finished) return { state: finished.reason === 'DeadlineExceeded' ? 'timed-out' : finished.state, ...(finished.reason ? { reason: finished.reason } : {}) };
    // A sidecar a mesh injected anyway (a regular container, not a native one) keeps running after
    // the check exits, so the pod stays Running and the Job never completes: the check's own
    // container having terminated settles the attempt.
    const exited = exitCodeOf(newest(await c.list<KubeObject>(PODS, `job-name=${name}`)));
    if (exited !== undefined) return { state: exited === 0 ? 'complete' : 'failed' };
    if (polling.clock() >= deadline) return { state: 'timed-out' };
    await polling.sleep(polling.pollIntervalMs);
  }
}

async function runCommandJob(job: SmokeJob, timeoutMs: number): Promise<CommandOutcome> {
  const run = await runJob(job, timeoutMs, { tailLines: LOG_TAIL_LINES });
  const output = [run.log.replace(/\s+$/, ''), ...run.podLines].filter(Boolean).join('\n');
  // With a stuck pod (or none: refused by admission), why it is stuck is the verdict, as for HTTP checks.
  if (run.state === 'timed-out') return { exitCode: null, output, timedOut: true, ...(run.podLines.length > 0 ? { stuck: `the check's Job did not finish: ${run.podLines.join('; ')}` } : {}) };
  if (run.exitCode !== undefined) return { exitCode: run.exitCode, output, timedOut: false };
  // A Job that says Failed without an exit code (its pod gone, evicted): count it as exit 1.
  return { exitCode: run.state === 'complete' ? 0 : 1, output: `${output}\nozg: the Job ${run.state}${run.reason ? ` (${run.reason})` : ''} without a container exit code`.trim(), timedOut: false };
}

async function runHttpJob(job: SmokeJob, timeoutMs: number): Promise<HttpResponse> {
  const run = await runJob(job, timeoutMs, { limitBytes: HTTP_LOG_LIMIT_BYTES });
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

/** The exit code of the check's container once it terminated (never an injected sidecar's). */
function exitCodeOf(pod: KubeObject | undefined): number | undefined {
  const status = pod && isRecord(pod.status) ? pod.status : {};
  const containers = (Array.isArray(status.containerStatuses) ? status.containerStatuses : []) as Array<{ name?: string; state?: { terminated?: { exitCode?: number } } }>;
  const check = containers.find((c) => c.name === SMOKE_CONTAINER);
  return typeof check?.state?.terminated?.exitCode === 'number' ? check.state.terminated.exitCode : undefined;
}

function newest(pods: readonly KubeObject[]): KubeObject | undefined {
  return [...pods]
    .filter((p) => isRecord(p.metadata) && typeof p.metadata.name === 'string')
    .sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))[0];
}
