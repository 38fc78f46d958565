/**
 * The marker file a VM target keeps per procedure (`<root>/<procedure>/release.json`): one
 * JSON line naming the live release, written by the apply and rollback scripts.
 */
import type { LiveRelease } from '../driver.js';
import { decodeLiveRelease } from '../live-release.js';
import { buildLiveScript, MARKER_FILE, procedureDir, STORE_REPORT_PREFIX, storeDir, type ScriptContext } from './release-scripts.js';
import type { ExecResult, ShellTransport } from './transport.js';
import type { VmShell } from './vm-shell.js';

/** A marker as read from the target: its exact text ('' for none) and what it says. */
export interface MarkerRead {
  text: string;
  live: LiveRelease | undefined;
  /** when the read asked about store keys: the keys asked, and those the store lacks */
  store?: { asked: string[]; missing: Set<string> };
}

export interface ReadMarkerOptions {
  shell: VmShell;
  /** the transport's file fast path, if it has one */
  readFile?: ShellTransport['readFile'];
  timeoutMs: number;
}

/**
 * Reads the marker; with `storeKeys`, in the same exec, which of those blobs the target's store
 * lacks (the transport's file fast path is then passed over: it reads files, not folders).
 */
export async function readMarker(context: ScriptContext, options: ReadMarkerOptions, storeKeys: string[] = []): Promise<MarkerRead> {
  const shell: VmShell = options.shell;
  const askStore = storeKeys.length > 0;
  const readFile = askStore ? undefined : options.readFile;
  const file = `${procedureDir(context)}/${MARKER_FILE}`;
  const result = readFile
    ? await readDirectly(readFile, file)
    : await shell.exec(buildLiveScript(context, askStore), { timeoutMs: options.timeoutMs, ...(askStore ? { stdin: storeKeys.join('\n') + '\n' } : {}) });
  if (result.exitCode !== 0) shell.fail('read marker', `cat ${file}`, result);
  let store: MarkerRead['store'];
  let text = result.stdout;
  if (askStore) {
    const split = splitStoreReport(text, storeKeys);
    if (typeof split === 'string') shell.fail('read marker', `cat ${file} and look up ${storeKeys.length} blob(s) in ${storeDir(context)}`, { ...result, stderr: split });
    store = { asked: storeKeys, missing: split.missing };
    text = split.rest;
  }
  if (text.trim() === '') return { text: '', live: undefined, ...(store ? { store } : {}) };
  const marker = parseMarker(text, context.procedure);
  if (typeof marker === 'string') {
    shell.fail('read marker', `cat ${file}`, { ...result, stderr: marker }, {
      hint: `inspect ${file} on ${shell.where}; the next apply rewrites it`,
    });
  }
  return { text, live: marker, ...(store ? { store } : {}) };
}

/** The live script's first line (the missing keys' indexes) apart from the marker after it. */
function splitStoreReport(stdout: string, keys: string[]): { missing: Set<string>; rest: string } | string {
  const newline = stdout.indexOf('\n');
  const first = newline < 0 ? stdout : stdout.slice(0, newline);
  const [word, ...indexes] = first.split(' ');
  if (word !== STORE_REPORT_PREFIX) return `expected a first line ${STORE_REPORT_PREFIX} …, got ${JSON.stringify(first.slice(0, 80))}`;
  const missing = new Set<string>();
  for (const index of indexes) {
    const key = /^\d+$/.test(index) ? keys[Number(index)] : undefined;
    if (key === undefined) return `${STORE_REPORT_PREFIX} names ${JSON.stringify(index)}, not one of the ${keys.length} keys asked`;
    missing.add(key);
  }
  return { missing, rest: newline < 0 ? '' : stdout.slice(newline + 1) };
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
  const { procedure, version, hash, release, deployedAt, files, previous } = live;
  // `previous` stays last: the rollback script finds its release id at the end of the line
  return JSON.stringify({ procedure, version, hash, release, deployedAt, ...(files ? { files } : {}), ...(previous ? { previous } : {}) });
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
