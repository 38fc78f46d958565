/**
 * Smoke checks on a namespace-only target run inside the namespace, as one Job per attempt:
 * ozg may not be able to reach a cluster-internal Service, and port-forwarding needs rights a
 * namespace-only account often lacks. A command check runs `sh -c <command>`; an HTTP check
 * runs busybox `wget -S` and prints the server's status line, so ozg judges status and body
 * from the Job's log exactly as it would from its own request.
 */
import { randomBytes } from 'node:crypto';
import type { SmokeCheck, SmokeTargetKind } from '../../smoke/types.js';
import { isCommandCheck } from '../../smoke/run-checks.js';
import { LABELS, MANAGED_BY, type KubeObject } from './manifests.js';

export const DEFAULT_SMOKE_IMAGE = 'busybox:1.36';
/** The check's container; named on every log read, since a mesh may inject a second one. */
export const SMOKE_CONTAINER = 'check';
/**
 * Opt the smoke pod out of a service mesh's sidecar injection (Istio, Linkerd): an injected
 * proxy keeps running after the check exits, so the Job would never complete. A mesh that
 * injects anyway is handled by judging the check container on its own (run-smoke-jobs.ts).
 */
const NO_SIDECAR_ANNOTATIONS = { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' };
/** Job names become label values (`job-name`), which hold at most 63 characters. */
const JOB_NAME_MAX = 63;
/** Marks where wget's headers end and the body begins in the Job's log. */
export const BODY_MARKER = '--- ozg: body ---';
const EXIT_MARKER = '--- ozg: wget exit ';

/**
 * The target kinds a check runs on. Absent `targets`: HTTP checks everywhere, command checks
 * on VMs only, since they were written for a release directory that a namespace does not have.
 */
export function smokeTargetsOf(check: SmokeCheck): SmokeTargetKind[] {
  if (check.targets) return check.targets;
  return isCommandCheck(check) ? ['vm'] : ['vm', 'kubernetes'];
}

/** `ozg-smoke-<procedure>-<6 random>`, the procedure shortened so the name stays a valid label value. */
export function createSmokeJobName(procedure: string, id: string = randomId()): string {
  const room = JOB_NAME_MAX - 'ozg-smoke-'.length - 1 - id.length;
  const short = procedure.slice(0, room).replace(/-+$/, '');
  return `ozg-smoke-${short}-${id}`;
}

function randomId(): string {
  // base 36 digits only: the name must stay lower-case alphanumeric
  return [...randomBytes(6)].map((b) => (b % 36).toString(36)).join('');
}

export interface SmokeJobOptions {
  name: string;
  namespace: string;
  site: string;
  environment: string;
  procedure: string;
  check: SmokeCheck;
  image: string;
  /** how long the pod may take to be scheduled and pull its image, on top of the check's own timeout */
  startupSeconds: number;
}

/** A Job that runs one attempt of one check, built to pass the `restricted` Pod Security Standard. */
export function buildSmokeJob(options: SmokeJobOptions): KubeObject {
  const { check } = options;
  const timeoutSeconds = Math.max(1, Math.ceil(check.timeoutSeconds ?? 10));
  const labels = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.site]: options.site,
    [LABELS.environment]: options.environment,
    [LABELS.procedure]: options.procedure,
    [LABELS.smoke]: 'check',
  };
  const env = [
    { name: 'OZG_SITE', value: options.site },
    { name: 'OZG_ENVIRONMENT', value: options.environment },
    { name: 'OZG_PROCEDURE', value: options.procedure },
    { name: 'OZG_NAMESPACE', value: options.namespace },
  ];
  const container = isCommandCheck(check)
    ? check.container
      ? // a chart test hook's container as the chart declared it; ozg's variables first, the chart's win on a clash
        {
          ...(check.container.command ? { command: check.container.command } : {}),
          ...(check.container.args ? { args: check.container.args } : {}),
          env: [...env.filter((e) => !check.container!.env?.some((c) => c.name === e.name)), ...(check.container.env ?? [])],
          ...(check.container.envFrom ? { envFrom: check.container.envFrom } : {}),
        }
      : { command: ['sh', '-c', check.command], env }
    : {
        // The URL travels in the environment, never through shell quoting.
        command: ['sh', '-c', buildWgetScript()],
        env: [...env, { name: 'OZG_URL', value: check.http.url }, { name: 'OZG_TIMEOUT', value: String(timeoutSeconds) }],
      };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: options.name,
      namespace: options.namespace,
      labels,
      annotations: { [`${LABELS.smoke}-check`]: check.name },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: timeoutSeconds + options.startupSeconds,
      // A safety net: ozg deletes the Job itself, but not if it is killed first.
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels, annotations: NO_SIDECAR_ANNOTATIONS },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: SMOKE_CONTAINER,
              image: options.image,
              ...container,
              workingDir: '/tmp',
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '500m', memory: '64Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '16Mi' } }],
        },
      },
    },
  };
}

/**
 * busybox wget: `-S` prints the status line (every one, when redirected) to stderr, and for an
 * error status wget stops before the body. Headers first, then a marker, then the body.
 */
export function buildWgetScript(): string {
  return [
    'd=${TMPDIR:-/tmp}',
    'wget -q -S -O "$d/ozg-body" -T "$OZG_TIMEOUT" "$OZG_URL" 2>"$d/ozg-headers"',
    'code=$?',
    'cat "$d/ozg-headers"',
    `echo "${EXIT_MARKER}$code ---"`,
    `echo "${BODY_MARKER}"`,
    'cat "$d/ozg-body" 2>/dev/null',
    'exit 0',
  ].join('\n');
}

export interface WgetOutcome {
  /** the last status line's code (after redirects), when the server answered */
  status?: number;
  body: string;
  /** wget's own complaint when no answer came (bad address, connection refused, timeout) */
  error?: string;
}

/** Reads the log of a wget Job back into status, body and error. */
export function parseWgetLog(log: string): WgetOutcome {
  const markerAt = log.indexOf(BODY_MARKER);
  const head = markerAt >= 0 ? log.slice(0, markerAt) : log;
  const body = markerAt >= 0 ? log.slice(markerAt + BODY_MARKER.length).replace(/^\r?\n/, '') : '';
  let status: number | undefined;
  const complaints: string[] = [];
  for (const line of head.split('\n')) {
    const statusLine = /^\s*HTTP\/\d(?:\.\d)?\s+(\d{3})\b/.exec(line) ?? /server returned error: HTTP\/\d(?:\.\d)?\s+(\d{3})\b/.exec(line);
    if (statusLine) status = Number(statusLine[1]);
    else if (/^wget: |wget: not found/.test(line.trim())) complaints.push(line.trim());
  }
  const result: WgetOutcome = { body };
  if (status !== undefined) result.status = status;
  else if (complaints.length > 0) result.error = complaints.at(-1);
  else if (markerAt < 0) result.error = "the check's Job printed no wget result (does its image have busybox wget?)";
  else result.error = 'no answer';
  return result;
}
