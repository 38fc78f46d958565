/**
 * Pinning a new VM's host keys in the known_hosts file ozg connects with. A different key
 * already pinned for the same host means the VM is being re-seeded (or someone mixed up
 * addresses): that is only accepted when the caller says so.
 */
import { createHmac } from 'node:crypto';
import { UsageError } from '../errors.js';

export type KnownHostsStatus = 'added' | 'unchanged' | 'replaced';

export interface MergeKnownHostsResult {
  text: string;
  status: KnownHostsStatus;
}

/**
 * `existing` known_hosts text with `lines` (all for one host field, e.g. `[10.0.0.5]:2222`)
 * pinned: present lines are kept, missing ones appended. Other keys for that host are an
 * error, or are removed when `replace` is set. Every other line is kept byte for byte.
 */
export function mergeKnownHosts(existing: string, lines: readonly string[], options: { replace: boolean; file: string }): MergeKnownHostsResult {
  const wanted = lines.map(parseLine);
  const host = wanted[0]?.hosts[0];
  if (!host || wanted.some((entry) => entry.hosts.length !== 1 || entry.hosts[0] !== host)) {
    throw new UsageError('known_hosts lines to add must all be for one host');
  }
  const wantedKeys = new Set(wanted.map((entry) => entry.keyId));
  const present = new Set<string>();
  const conflicts: number[] = [];
  const kept: string[] = [];

  const source = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  source.forEach((raw, index) => {
    const entry = parseExistingLine(raw);
    const matching = entry?.hosts.filter((pattern) => matchesHost(pattern, host)) ?? [];
    if (!entry || matching.length === 0) {
      kept.push(raw);
      return;
    }
    if (wantedKeys.has(entry.keyId)) {
      present.add(entry.keyId);
      kept.push(raw);
      return;
    }
    conflicts.push(index + 1);
    // Keep the line for any other hosts it names; only our host's pin goes.
    const others = entry.hosts.filter((pattern) => !matching.includes(pattern));
    if (others.length > 0) kept.push([others.join(','), ...entry.rest].join(' '));
  });

  if (conflicts.length > 0 && !options.replace) {
    throw new UsageError(
      `${options.file} already pins a different host key for ${host} (line ${conflicts.join(', ')}): ` +
        'this VM is being re-seeded, or the address belongs to another machine',
      {
        hint:
          'if the VM really is being set up anew from this seed, run again with --replace to swap the pinned key; ' +
          'otherwise keep the existing seed (its keys are the ones the VM has)',
      },
    );
  }
  const added = lines.filter((_, i) => !present.has(wanted[i]!.keyId));
  const status: KnownHostsStatus = conflicts.length > 0 ? 'replaced' : added.length > 0 ? 'added' : 'unchanged';
  const all = [...kept, ...added];
  return { text: all.length > 0 ? all.join('\n') + '\n' : '', status };
}

interface Entry {
  hosts: string[];
  /** `algorithm key`, what identifies the pinned key */
  keyId: string;
  rest: string[];
}

function parseLine(line: string): Entry {
  const entry = parseExistingLine(line);
  if (!entry) throw new UsageError(`not a known_hosts line: ${line.slice(0, 60)}`);
  return entry;
}

/** A plain host-key line; comments, blanks and @cert-authority/@revoked lines are left alone. */
function parseExistingLine(line: string): Entry | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('@')) return undefined;
  const fields = trimmed.split(/\s+/);
  if (fields.length < 3) return undefined;
  return { hosts: fields[0]!.split(','), keyId: `${fields[1]} ${fields[2]}`, rest: fields.slice(1) };
}

/** Exact (case-insensitive) or hashed (`|1|salt|hmac`, HashKnownHosts) match; wildcards are not ours. */
function matchesHost(pattern: string, host: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(host).digest('base64') === hash;
  }
  return pattern.toLowerCase() === host.toLowerCase();
}
