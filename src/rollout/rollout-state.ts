import path from 'node:path';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { RolloutStage } from './canary.js';

/** The options a rollout was started with: `--resume` continues with exactly these. */
export interface RolloutPlan {
  sites: string[];
  selector?: string;
  procedure?: string[];
  shard?: string;
  waves?: string;
  maxFailures?: string;
  onlyTest?: boolean;
  /** `deploy --reinstall`: kept, so a resumed reinstall still reinstalls */
  reinstall?: boolean;
  /** the stage of a sharded pipeline: the canary, or the waves after it */
  stage?: RolloutStage;
}

/** What `--resume` continues from, kept beside the ledger and rewritten after every site. */
export interface RolloutState {
  run: string;
  startedAt: string;
  finishedAt?: string;
  plan: RolloutPlan;
  /** sites at their target release (applied or unchanged): a resume does not touch them again */
  done: string[];
}

const STATE_FILE = 'rollout.json';

export function stateFile(ledgerDir: string): string {
  return path.join(ledgerDir, STATE_FILE);
}

export async function readRolloutState(ledgerDir: string): Promise<RolloutState | undefined> {
  const text = await readFile(stateFile(ledgerDir), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as RolloutState;
  } catch {
    throw new UsageError(`${stateFile(ledgerDir)} is not readable JSON`, { hint: 'remove it and run the deploy again without --resume' });
  }
}

/** Written to a temporary file and renamed over the old one: a killed run leaves the old or the new state. */
export async function writeRolloutState(ledgerDir: string, state: RolloutState): Promise<void> {
  await mkdir(ledgerDir, { recursive: true });
  const file = stateFile(ledgerDir);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(state, null, 2) + '\n');
    await rename(temporary, file);
  } catch (error) {
    // a full disk leaves a half-written temporary file: not ours to keep
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

export interface StateWrites {
  /** the state changed: write it (now, or as part of a write that has not started yet) */
  request(): void;
  /** resolves when every requested write is done (failures went to onError) */
  settled(): Promise<void>;
}

/**
 * One write at a time, in order, and requests that arrive while a write waits for its turn
 * share that write: it serialises the state when it starts, so it holds every change made
 * before. Each finished site used to write the whole state once: O(sites²) bytes per run
 * (11,000 sites: ~2 GB) and a file rewrite per site; now at most one write runs and one waits.
 * A kill loses at most the sites since the last write, as before: `--resume` finds them at
 * their release and leaves them unchanged.
 */
export function coalesceStateWrites(write: () => Promise<void>, onError: (error: unknown) => void): StateWrites {
  let chain = Promise.resolve();
  let waiting = false;
  return {
    request() {
      if (waiting) return;
      waiting = true;
      chain = chain
        .then(() => {
          waiting = false;
          return write();
        })
        .catch(onError);
    },
    settled: () => chain,
  };
}

/** The state of the rollout to resume, or a usage error saying why there is none. */
export async function loadResumableState(ledgerDir: string): Promise<RolloutState> {
  const state = await readRolloutState(ledgerDir);
  if (!state) throw new UsageError('there is no rollout to resume', { hint: 'run `ozg deploy` without --resume' });
  if (state.finishedAt) {
    throw new UsageError(`the last rollout (run ${state.run}) finished at ${state.finishedAt}; there is nothing to resume`, {
      hint: 'run `ozg deploy` without --resume to start a new rollout',
    });
  }
  return state;
}
