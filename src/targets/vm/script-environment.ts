/**
 * The environment a script on a `local` target gets: only what a shell needs to find programs
 * and a home, never ozg's own environment, which holds every `{ env: }` secret and whatever
 * tokens the CI job has. The scripts export their own `OZG_*` variables (release-scripts.ts).
 * Over SSH nothing of ozg's environment is sent at all: commands run in the login
 * environment sshd gives the deploy user.
 */
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR'] as const;

/** A fallback when ozg itself runs without PATH (a bare `env -i`). */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

export function createScriptEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = env[name];
    if (value !== undefined && value !== '') out[name] = value;
  }
  out.PATH ??= DEFAULT_PATH;
  return out;
}
