/**
 * The artefact part of `npm run bench` (issue 12, must-show 2): a large artefact (default
 * 50 MB) to every sshd host through ozg's blob store, cold, against its floor, then a
 * config-only upgrade. Prints bytes sent per target, wall times and peak memory of each run.
 *
 * The floor sends the same artefact bytes the plainest way: per host one verified connection
 * and one exec that `cat`s stdin (streamed from disk) into a file, same parallelism. ozg does
 * more per host: its marker read asking the store (one more exec), sha256 of the blob on the
 * target (sha256sum), the release switch and the hard links.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FloorRequest, FloorResult } from './floor.js';
import type { StorePhaseRequest, StorePhaseResult } from './store-phase.js';
import { VM_DEPLOY_ROOT, type SshHosts } from '../test/helpers/sshd-harness.js';

const PROCEDURE = 'bench-artefact';
/** goals of issue 12 */
const UPGRADE_BYTES_GOAL = 64 * 1024;
const RSS_GOAL_MB = 250;

export interface RunStoreBenchOptions {
  vms: SshHosts;
  workDir: string;
  parallel: number;
  blobMb: number;
  /** runs bench/<script> in a fresh Node process (run.ts's runChild); name labels its CPU profile */
  runChild: <T>(script: string, request: unknown, name: string) => Promise<T>;
  log: (text: string) => void;
  out: (text: string) => void;
}

export async function runStoreBench(options: RunStoreBenchOptions): Promise<void> {
  const { vms, workDir, parallel, log, out } = options;
  const hosts = vms.hosts.map((h) => ({ address: h.address, port: h.port }));
  const blobPath = path.join(workDir, 'artefact.bin');
  let t = performance.now();
  const blob = writeArtefact(blobPath, options.blobMb * 1024 * 1024);
  log(`artefact: ${mb(blob.size)} at ${blobPath} (written in ${seconds(performance.now() - t)}), sha256 ${blob.sha256.slice(0, 12)}…`);

  const floorRequest: FloorRequest = {
    mode: 'blob',
    hosts,
    user: vms.user,
    identityFile: vms.identityFile,
    knownHostsFile: vms.knownHostsFile,
    archiveFile: blobPath,
    dir: `${VM_DEPLOY_ROOT}/floor-blob`,
    parallel,
  };
  const floor = await options.runChild<FloorResult>('floor.js', floorRequest, 'floor-blob');
  if (floor.failures.length > 0) throw new Error(`floor blob failed on ${floor.failures.length} host(s):\n  ${floor.failures.slice(0, 5).join('\n  ')}`);
  log(`floor artefact: ${seconds(floor.wallMs)}`);
  // the floor's copies are not needed any more: 100 × 50 MB of disk
  await Promise.all(vms.hosts.map((h) => rm(path.join(h.root, 'floor-blob'), { recursive: true, force: true })));

  const request = (version: string, config: string): StorePhaseRequest => ({
    hosts,
    user: vms.user,
    identityFile: vms.identityFile,
    knownHostsFile: vms.knownHostsFile,
    root: VM_DEPLOY_ROOT,
    parallel,
    blob,
    config,
    version,
  });
  t = performance.now();
  const cold = await options.runChild<StorePhaseResult>('store-phase.js', request('1.0.0', 'title=Bench\nworkers=4\n'), 'store-cold');
  check('cold', cold, hosts.length);
  log(`ozg artefact cold: ${seconds(cold.wallMs)}`);
  const upgrade = await options.runChild<StorePhaseResult>('store-phase.js', request('1.0.1', 'title=Bench\nworkers=8\n'), 'store-upgrade');
  check('config-only upgrade', upgrade, hosts.length);
  log(`ozg config-only upgrade: ${seconds(upgrade.wallMs)}`);
  await checkLinked(vms, blob);

  const rows = [
    ['run', 'wall', 'vs floor', 'client CPU', 'sent/target (mean)', 'sent/target (max)', 'execs/target', 'conns/target', 'peak RSS'],
    ['floor: artefact by ssh + cat (1 conn + 1 exec)', seconds(floor.wallMs), '1.00×', seconds(floor.cpuMs), mb(blob.size), mb(blob.size), '1', '1', `${(floor.maxRssKb / 1024).toFixed(0)} MB`],
    describe('ozg artefact, cold (store empty)', cold, floor.wallMs),
    describe('ozg config-only upgrade (store has it)', upgrade, floor.wallMs),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out('');
  out(`artefact ${mb(blob.size)} to ${hosts.length} sshd hosts, parallelism ${parallel}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}`);
  out(line(rows[0]!));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) out(line(row));
  const maxUpgrade = Math.max(...upgrade.transports.map((s) => s.bytesSent));
  const peakMb = Math.max(cold.maxRssKb, upgrade.maxRssKb) / 1024;
  out(
    `goals (issue 12): config-only upgrade under ${kb(UPGRADE_BYTES_GOAL)} per target: max ${kb(maxUpgrade)} ${maxUpgrade < UPGRADE_BYTES_GOAL ? 'met' : 'NOT met'}; ` +
      `peak RSS under ${RSS_GOAL_MB} MB: ${peakMb.toFixed(0)} MB ${peakMb < RSS_GOAL_MB ? 'met' : 'NOT met'}; ` +
      `cold ${(cold.wallMs / floor.wallMs).toFixed(2)}× the floor (ozg also checks the sha256 on every target)`,
  );
}

/** Deterministic bytes that do not compress (xorshift32), written 1 MiB at a time; returns the blob. */
function writeArtefact(file: string, bytes: number): { path: string; size: number; sha256: string } {
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    let state = 0x2545f491;
    const words = new Uint32Array(256 * 1024);
    for (let offset = 0; offset < bytes; ) {
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state >>> 0;
      }
      const chunk = Buffer.from(words.buffer, 0, Math.min(words.byteLength, bytes - offset));
      writeSync(fd, chunk);
      hash.update(chunk);
      offset += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return { path: file, size: bytes, sha256: hash.digest('hex') };
}

function check(label: string, result: StorePhaseResult, hosts: number): void {
  if (result.failures.length > 0) throw new Error(`ozg artefact ${label} failed on ${result.failures.length} host(s):\n  ${result.failures.slice(0, 5).join('\n  ')}`);
  if (result.statuses.applied !== hosts) throw new Error(`ozg artefact ${label}: expected ${hosts} applied, got ${JSON.stringify(result.statuses)}`);
}

/** Every host's live release holds the artefact as a hard link to its store blob, of the right size. */
async function checkLinked(vms: SshHosts, blob: { size: number; sha256: string }): Promise<void> {
  const bad: string[] = [];
  await Promise.all(
    vms.hosts.map(async (host) => {
      const released = await stat(path.join(host.root, PROCEDURE, 'current', 'lib', 'app.jar')).catch(() => undefined);
      const stored = await stat(path.join(host.root, '.ozg-store', 'sha256', `${blob.sha256}-644`)).catch(() => undefined);
      if (!released || !stored || released.ino !== stored.ino || released.size !== blob.size) bad.push(`${host.address}:${host.port}`);
    }),
  );
  if (bad.length > 0) throw new Error(`${bad.length} host(s) lack the artefact as a store hard link: ${bad.slice(0, 3).join(', ')}`);
}

function describe(name: string, result: StorePhaseResult, floorMs: number): string[] {
  const sent = result.transports.map((s) => s.bytesSent);
  const mean = sent.reduce((a, b) => a + b, 0) / Math.max(1, sent.length);
  const spread = (values: number[]): string => (Math.min(...values) === Math.max(...values) ? String(values[0]) : `${Math.min(...values)}–${Math.max(...values)}`);
  return [
    name,
    seconds(result.wallMs),
    `${(result.wallMs / floorMs).toFixed(2)}×`,
    seconds(result.cpuMs),
    bytes(mean),
    bytes(Math.max(...sent)),
    spread(result.transports.map((s) => s.execs)),
    spread(result.transports.map((s) => s.connects)),
    `${(result.maxRssKb / 1024).toFixed(0)} MB`,
  ];
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
const bytes = (n: number): string => (n >= 1024 * 1024 ? mb(n) : kb(n));
