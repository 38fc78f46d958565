/**
 * The marker file a VM target keeps per procedure (`<root>/<procedure>/release.json`): one
 * JSON line naming the live release, written by the apply and rollback scripts.
 */
import type { LiveRelease } from '../driver.js';
import { decodeLiveRelease } from '../live-release.js';
import { buildLiveScript, MARKER_FILE, procedureDir, type ScriptContext } from './release-scripts.js';
import type { ExecResult, ShellTransport } from './transport.js';
import type { VmShell } from './vm-shell.js';

/** A marker as read from the target: its exact text ('' for none) and what it says. */
export interface MarkerRead {
  text: string;
  live: LiveRelease | undefined;
}

export interface ReadMarkerOptions {
  shell: VmShell;
  /** the transport's file fast path, if it has one */
  readFile?: ShellTransport['readFile'];
  timeoutMs: number;
}

export async function readMarker(context: ScriptContext, options: ReadMarkerOptions): Promise<MarkerRead> {
  const shell: VmShell = options.shell;
  const readFile = options.readFile;
  const file = `${procedureDir(context)}/${MARKER_FILE}`;
  const result = readFile ? await readDirectly(readFile, file) : await shell.exec(buildLiveScript(context), { timeoutMs: options.timeoutMs });
  if (result.exitCode !== 0) shell.fail('read marker', `cat ${file}`, result);
  if (result.stdout.trim() === '') return { text: '', live: undefined };
  const marker = parseMarker(result.stdout, context.procedure);
  if (typeof marker === 'string') {
    shell.fail('read marker', `cat ${file}`, { ...result, stderr: marker }, {
      hint: `inspect ${file} on ${shell.where}; the next apply rewrites it`,
    });
  }
  return { text: result.stdout, live: marker };
}

/** The marker through the transport's file fast path, shaped like the output of the cat script. */
async function readDirectly(readFile: NonNullable<ShellTransport['readFile']>, file: string): Promise<ExecResult> {
  const started = Date.now();
  try {
    const text = (await readFile(file)) ?? '';
    return { exitCode: 0, stdout: text, stderr: '', durationMs: Date.now() - started };
  } catch (error) {
    return { exitCode: 1, stdout: '', stderr: (error as Error).message, durationMs: Date.now() - started };
  }
}

/** The marker as one JSON line, members in the order the rollback script writes them too. */
export function formatMarker(live: LiveRelease): string {
  const { procedure, version, hash, release, deployedAt, previous } = live;
  return JSON.stringify({ procedure, version, hash, release, deployedAt, ...(previous ? { previous } : {}) });
}

/** A marker read from a target, or a message saying what is wrong with it. */
export function parseMarker(text: string, procedure: string): LiveRelease | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `${MARKER_FILE} is not JSON: ${(error as Error).message}`;
  }
  return decodeLiveRelease(value, procedure, MARKER_FILE);
}
