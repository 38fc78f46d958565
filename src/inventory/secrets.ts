/**
 * Secret references → secret values. Values are read only here, on demand, and never end up
 * in a message: every failure names the reference (variable name or file path) instead.
 */
import path from 'node:path';
import { SecretUnavailableError } from '../errors.js';
import { MIN_SECRET_LENGTH } from './secret-redactor.js';
import type { SecretRef } from './types.js';

/** Where secret values come from; passed in so nothing reads the process environment by itself. */
export interface SecretDeps {
  env: Record<string, string | undefined>;
  readFile: (file: string) => Promise<string>;
  /** relative `file:` references resolve from here (the inventory's directory); default: as given */
  baseDir?: string;
}

/** The outcome of looking a secret up: its value, or why there is none (without the reference). */
export type SecretLookup = { ok: true; value: string } | { ok: false; reason: string };

/** The secret's value; throws SecretUnavailableError naming the reference when there is none. */
export async function resolveSecret(ref: SecretRef, deps: SecretDeps): Promise<string> {
  const lookup = await lookUpSecret(ref, deps);
  if (!lookup.ok) throw new SecretUnavailableError(describeSecretRef(ref), lookup.reason);
  return lookup.value;
}

/** The values of all of a setup's secret references, by secret name. */
export async function resolveSecrets(refs: Record<string, SecretRef>, deps: SecretDeps): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const [name, ref] of Object.entries(refs)) values[name] = await resolveSecret(ref, deps);
  return values;
}

export async function lookUpSecret(ref: SecretRef, deps: SecretDeps): Promise<SecretLookup> {
  if ('env' in ref) {
    const value = deps.env[ref.env];
    if (value === undefined) return { ok: false, reason: 'is not set' };
    if (value === '') return { ok: false, reason: 'is empty' };
    return checkLength(value);
  }
  const file = deps.baseDir === undefined ? ref.file : path.resolve(deps.baseDir, ref.file);
  let text: string;
  try {
    text = await deps.readFile(file);
  } catch (error) {
    return { ok: false, reason: describeReadFailure(error) };
  }
  // Files written by `echo` or an editor end in a newline that is never part of the secret.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') return { ok: false, reason: 'is empty' };
  return checkLength(value);
}

/** Output is redacted by value (secret-redactor.ts); a very short value cannot be, usefully. */
function checkLength(value: string): SecretLookup {
  if (value.length < MIN_SECRET_LENGTH) {
    return { ok: false, reason: `is shorter than ${MIN_SECRET_LENGTH} characters, too short to be kept out of output` };
  }
  return { ok: true, value };
}

/** `environment variable KIEL_SMTP_PASSWORD` or `secret file ./secrets/kiel-smtp` */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `secret file ${ref.file}`;
}

function describeReadFailure(error: unknown): string {
  // Only the code: an error message could in principle quote what was read.
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `cannot be read${code ? ` (${code})` : ''}`;
}
