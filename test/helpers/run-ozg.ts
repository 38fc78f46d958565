import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ozgBin = path.join(repoRoot, 'bin/ozg.js');

export interface OzgRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the real CLI (bin/ozg.js → dist/, built by `npm test` before jest runs). */
export function spawnOzg(args: string[], options: { cwd: string; env?: Record<string, string> }): { child: ChildProcess; done: Promise<OzgRun> } {
  const env: Record<string, string | undefined> = { ...process.env, CI: 'true', NO_COLOR: '1' };
  delete env.OZG_INVENTORY; // only a test that sets it gets it
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [ozgBin, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<OzgRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runOzg(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<OzgRun> {
  return spawnOzg(args, options).done;
}

/** A throw-away copy of a fixture folder (or of the repository's example), removed by the caller. */
export async function copyToTemp(parts: { from: string; to?: string }[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-'));
  for (const part of parts) await cp(part.from, path.join(dir, part.to ?? ''), { recursive: true });
  return dir;
}

/** The built-in example (its inventory as `inventory`, templates/, examples/) in a temp folder of its own. */
export function copyExampleToTemp(inventory = 'sites.yaml'): Promise<string> {
  return copyToTemp([
    { from: path.join(repoRoot, 'sites.example.yaml'), to: inventory },
    { from: path.join(repoRoot, 'templates'), to: 'templates' },
    { from: path.join(repoRoot, 'examples'), to: 'examples' },
  ]);
}

export async function removeTemp(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Parses `--json` output: every line must be one JSON object. */
export function parseJsonLines(stdout: string): Record<string, any>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

export function resultOf(run: OzgRun): any {
  const lines = parseJsonLines(run.stdout);
  const result = lines.find((l) => l.type === 'result');
  if (!result) throw new Error(`no result line in stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return result.result;
}
