/** A smoke check as a procedure declares it (strings already rendered for the site). */
export interface SmokeCheckBase {
  name: string;
  /** per attempt, default 10 */
  timeoutSeconds?: number;
  /** extra attempts after the first, default 0 */
  retries?: number;
  /** pause between attempts, default 1 */
  intervalSeconds?: number;
  /**
   * target kinds the check runs on; absent: HTTP checks run everywhere, command checks on VM
   * (and local) targets only, because they run in a release directory that only VMs have.
   * On Kubernetes a check runs as a Job in the target namespace.
   */
  targets?: SmokeTargetKind[];
  /** Kubernetes: the image the check's Job runs (default: the environment's smoke image, busybox) */
  image?: string;
}
export type SmokeTargetKind = 'vm' | 'kubernetes';
export interface CommandSmokeCheck extends SmokeCheckBase {
  /** shell command run on the target in the live release directory; exit code compared */
  command: string;
  expectExitCode?: number;
  /**
   * Kubernetes only: the container a chart's test hook declared, run as given instead of
   * `sh -c command` (then `command` is its command line, for display). Set by ozg, never in
   * procedure.yaml.
   */
  container?: SmokeContainer;
}
/** What ozg takes from a chart test hook's container (docs/procedure-format.md, Helm charts). */
export interface SmokeContainer {
  /** the chart template it came from, as errors name it */
  source: string;
  command?: string[];
  args?: string[];
  env?: Record<string, unknown>[];
  envFrom?: Record<string, unknown>[];
}
export interface HttpSmokeCheck extends SmokeCheckBase {
  http: { url: string; status?: number; contains?: string };
}
export type SmokeCheck = CommandSmokeCheck | HttpSmokeCheck;

export interface SmokeResult {
  name: string;
  passed: boolean;
  attempts: number;
  durationMs: number;
  /** short, secret-free explanation: "exit 1 (expected 0)", "status 503 (expected 200)" */
  detail: string;
  /** last lines of output, for the JUnit report */
  output?: string;
  /** the check is not meant for this kind of target and did not run (passed stays true) */
  skipped?: boolean;
}
