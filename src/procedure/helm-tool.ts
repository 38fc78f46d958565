/**
 * The `helm` program ozg renders charts with: found through `OZG_HELM` or on PATH, its version
 * checked once per run. helm runs with an environment of ozg's making, never the user's: no
 * KUBECONFIG (`helm template` needs no cluster), no proxy or registry settings, and helm's
 * config, cache and data homes in a private temporary folder, so it cannot read a repository
 * list or reach a registry. A chart's dependencies must be vendored in its `charts/` folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCommandWithExeca } from '../run-command.js';
import { ToolMissingError } from '../errors.js';

/** `helm template --include-crds` and `helm version --template` exist since 3.x; 3.8 is the oldest tested against. */
export const MIN_HELM_VERSION = '3.8.0';
export const HELM_INSTALL_HINT =
  'install helm: run scripts/install-helm.sh (helm v4 into /usr/local/bin; `scripts/install-helm.sh DIR` for another folder), or set OZG_HELM to the helm binary';

export interface HelmRunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A found and version-checked helm. */
export interface HelmTool {
  /** what ran: OZG_HELM's value or `helm` */
  file: string;
  /** as helm reports it, e.g. `v4.1.4` */
  version: string;
  /** runs helm with `args` (no shell) in ozg's own environment; never throws for a non-zero exit */
  run(args: readonly string[], options?: { timeoutMs?: number }): Promise<HelmRunResult>;
}

/** Runs a program with exactly `env` (nothing inherited); `notFound` when it cannot be started. */
export type SpawnProgram = (file: string, args: readonly string[], options: { env: Record<string, string>; timeoutMs?: number }) => Promise<HelmRunResult & { notFound?: boolean }>;

// helm output of a large chart may be big; the render limits cap each file later
export const spawnWithExeca: SpawnProgram = (file, args, options) => runCommandWithExeca(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 });

export interface LocateHelmOptions {
  /** the process environment as the command was given it: OZG_HELM and PATH are read */
  env: Record<string, string | undefined>;
  spawn?: SpawnProgram;
}

/** A function finding and checking helm on first use, then handing out the same tool. */
export function createHelmLocator(options: LocateHelmOptions): () => Promise<HelmTool> {
  let found: Promise<HelmTool> | undefined;
  return () => {
    found ??= locateHelm(options);
    // a failed lookup is not kept: every chart render reports it the same way
    found.catch(() => (found = undefined));
    return found;
  };
}

async function locateHelm(options: LocateHelmOptions): Promise<HelmTool> {
  const spawn = options.spawn ?? spawnWithExeca;
  const configured = options.env.OZG_HELM;
  const file = configured !== undefined && configured !== '' ? configured : 'helm';
  const from = file === 'helm' ? 'helm on PATH' : `OZG_HELM=${file}`;
  const run: HelmTool['run'] = async (args, runOptions = {}) => {
    // HOME and helm's own homes in a folder of ours: no repositories.yaml, registry login or plugin of the user's is read
    const home = await mkdtemp(path.join(os.tmpdir(), 'ozg-helm-home-'));
    try {
      const env: Record<string, string> = {
        PATH: options.env.PATH ?? '',
        HOME: home,
        HELM_CONFIG_HOME: path.join(home, 'config'),
        HELM_CACHE_HOME: path.join(home, 'cache'),
        HELM_DATA_HOME: path.join(home, 'data'),
      };
      const result = await spawn(file, args, { env, ...(runOptions.timeoutMs === undefined ? {} : { timeoutMs: runOptions.timeoutMs }) });
      if (result.notFound) throw new ToolMissingError(`helm could not be started (${from}): not found or not executable`, { hint: HELM_INSTALL_HINT });
      return result;
    } finally {
      await rm(home, { recursive: true, force: true }).catch(() => undefined);
    }
  };
  const probe = await run(['version', '--template', '{{.Version}}'], { timeoutMs: 30_000 });
  const version = probe.stdout.trim();
  if (probe.exitCode !== 0 || !/^v?\d+\.\d+\.\d+/.test(version)) {
    throw new ToolMissingError(`${from} did not report a version (\`helm version\` exit ${probe.exitCode ?? 'signal'}: ${(probe.stderr || probe.stdout).trim().split('\n')[0] ?? ''})`, {
      hint: HELM_INSTALL_HINT,
    });
  }
  if (compareVersions(version, MIN_HELM_VERSION) < 0) {
    throw new ToolMissingError(`${from} is helm ${version}; ozg needs helm ${MIN_HELM_VERSION} or newer to render charts`, { hint: HELM_INSTALL_HINT });
  }
  return { file, version, run };
}

/** Numeric comparison of `v1.2.3`-style versions (pre-release suffixes ignored). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string): number[] => v.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}
