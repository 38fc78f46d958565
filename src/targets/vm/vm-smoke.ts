import { runChecks, type FetchHttp } from '../../smoke/run-checks.js';
import type { SmokeCheck, SmokeResult } from '../../smoke/types.js';
import { buildHttpProbeScript, buildSmokeCommandScript, HTTP_STATUS_PREFIX, type ScriptContext } from './release-scripts.js';
import type { VmShell } from './vm-shell.js';

export interface RunVmSmokeOptions {
  shell: VmShell;
  /** fetches URLs that are not the target's own loopback */
  fetchFromHere: FetchHttp;
  sleep?: (ms: number) => Promise<void>;
}

/** A procedure's smoke checks on a VM target: commands in its release directory, HTTP from where users would reach it. */
export function runVmSmoke(context: ScriptContext, checks: SmokeCheck[], options: RunVmSmokeOptions): Promise<SmokeResult[]> {
  const { shell, fetchFromHere } = options;
  return runChecks(checks, {
    runCommand: async (command, timeoutMs) => {
      const result = await shell.exec(buildSmokeCommandScript(context, command), { timeoutMs });
      return { exitCode: result.exitCode, output: result.stdout + result.stderr, timedOut: result.timedOut === true };
    },
    // A loopback URL names the target's own service, so it is fetched on the target;
    // any other URL is fetched from here, as users would reach it.
    fetchHttp: (url, timeoutMs) => (isLoopbackUrl(url) ? fetchOnTarget(shell, url, timeoutMs) : fetchFromHere(url, timeoutMs)),
    sleep: options.sleep,
  });
}

async function fetchOnTarget(shell: VmShell, url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const result = await shell.exec(buildHttpProbeScript(url, timeoutMs / 1000), { timeoutMs: timeoutMs + 5000 });
  const at = result.stdout.lastIndexOf(`\n${HTTP_STATUS_PREFIX}`);
  const status = at < 0 ? 0 : Number.parseInt(result.stdout.slice(at + HTTP_STATUS_PREFIX.length + 1), 10);
  if (result.exitCode !== 0 && !(status > 0)) {
    throw new Error(`GET ${url} on ${shell.where} failed: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`}`);
  }
  return { status: Number.isFinite(status) ? status : 0, body: at < 0 ? result.stdout : result.stdout.slice(0, at) };
}

function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}
