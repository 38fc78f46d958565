/**
 * Shared by the benches that run `bin/ozg.js` as a CI job would (plan-1000, local-rollout,
 * germany-scale): one fresh Node process per command, its own peak RSS and CPU reported by a
 * small exit hook loaded with --import, and the local data center their inventories use.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ozgBin = path.join(repoRoot, 'bin', 'ozg.js');

// Main-thread CPU (from /proc, Linux only) is what bounds the wall time on an idle machine;
// process CPU adds V8's background compiler and GC threads and the libuv pool.
const EXIT_HOOK = `
import { appendFileSync, readFileSync } from 'node:fs';
process.on('exit', (code) => {
  const usage = process.resourceUsage();
  let mainThreadMs;
  try {
    const fields = readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8').split(') ')[1].split(' ');
    mainThreadMs = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {}
  const line = { code, maxRssMB: Math.round(usage.maxRSS / 1024), cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000), mainThreadMs };
  appendFileSync(process.env.OZG_BENCH_STATS, JSON.stringify(line) + '\\n');
});
`;

/** Writes the exit hook into `work`; returns its path for runMeasured. */
export async function writeExitHook(work) {
  const hook = path.join(work, 'exit-hook.mjs');
  await writeFile(hook, EXIT_HOOK);
  return hook;
}

/** The start of a sites.yaml: templates in ./templates, one local data center (test + prod). */
export function localInventoryHead(concurrency = 16) {
  return [
    'catalogues: [./templates]',
    `concurrency: ${concurrency}`,
    'dataCenters:',
    '  local-dc:',
    '    kind: local',
    '    environments:',
    '      test: { root: ./targets/test }',
    '      prod: { root: ./targets/prod }',
    'sites:',
  ];
}

/**
 * Runs `node [nodeArgs] --import hook bin/ozg.js ozgArgs` in `cwd` with CI=true. With
 * `timeCpu`, under GNU time: `totalCpuMs` then counts every process ozg waited for (hooks,
 * checks). With `countStdout`, stdout is counted, not kept (a Germany-scale --json plan).
 */
export async function runMeasured(ozgArgs, { cwd, hook, work, nodeArgs = [], timeCpu = false, countStdout = false }) {
  const stamp = process.hrtime.bigint();
  const statsFile = path.join(work, `stats-${stamp}.jsonl`);
  const timeFile = path.join(work, `time-${stamp}.txt`);
  const node = [process.execPath, ...nodeArgs, '--import', hook, ozgBin, ...ozgArgs];
  const [file, ...args] = timeCpu ? ['/usr/bin/time', '-o', timeFile, '-f', '%U %S', ...node] : node;
  const started = performance.now();
  const child = spawn(file, args, { cwd, env: { ...process.env, CI: 'true', OZG_BENCH_STATS: statsFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdoutBytes += chunk.length;
    if (!countStdout) stdout += chunk;
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exitCode = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const wallMs = performance.now() - started;
  const stats = existsSync(statsFile) ? JSON.parse((await readFile(statsFile, 'utf8')).trim().split('\n').pop()) : {};
  let totalCpuMs;
  if (timeCpu && existsSync(timeFile)) {
    const [user, system] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop().split(' ').map(Number);
    if (Number.isFinite(user) && Number.isFinite(system)) totalCpuMs = Math.round((user + system) * 1000);
  }
  return { exitCode, wallMs, stats, totalCpuMs, stdout, stdoutBytes, stderr };
}
