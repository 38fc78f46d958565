/**
 * Artefact downloads through the system `curl`. Node 20's fetch honours neither the proxy
 * variables (https_proxy, no_proxy) nor the system CA store; curl honours both, as every
 * other tool on a municipal admin's machine does, and streams any size.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ArtifactFetchError, ToolMissingError } from '../errors.js';

/** An artefact's bytes as they arrive; `done` settles when the transfer ended, with its outcome. */
export interface DownloadStream {
  body: Readable;
  done: Promise<void>;
  /** stops the transfer (a write on this side failed) */
  cancel(): void;
}

export type Download = (url: string) => DownloadStream;

/** What `done` rejects with after `cancel()`: the reason lies on the caller's side. */
export class DownloadCancelled extends Error {}

export interface CurlDownloadOptions {
  /** the environment curl runs with: proxy variables, SSL_CERT_FILE, CURL_CA_BUNDLE */
  env: Record<string, string | undefined>;
  /** default 30 */
  connectTimeoutSeconds?: number;
  /** a transfer that moves no byte for this long is given up; default 60 */
  stallSeconds?: number;
  /** the program; default `curl` on PATH */
  curl?: string;
  /** aborted (Ctrl-C): running downloads are stopped */
  signal?: AbortSignal;
}

export function createCurlDownload(options: CurlDownloadOptions): Download {
  const program = options.curl ?? 'curl';
  return (url) => {
    const args = [
      '-q', // no ~/.curlrc: what ozg fetches must not depend on a user's settings
      '--silent',
      '--show-error',
      '--fail',
      '--location',
      '--proto',
      '=http,https',
      '--proto-redir',
      '=http,https',
      '--connect-timeout',
      String(options.connectTimeoutSeconds ?? 30),
      // a stall, not a total time: a 200 MB release over a slow line is fine while it moves
      '--speed-limit',
      '1',
      '--speed-time',
      String(options.stallSeconds ?? 60),
      '--url',
      url,
    ];
    const child = spawn(program, args, { env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'], ...(options.signal ? { signal: options.signal } : {}) });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      if (stderr.length < 16_384) stderr += text;
    });
    const shown = redactUrl(url);
    let cancelled = false;
    const done = new Promise<void>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') {
          reject(new ToolMissingError(`${program} is not installed on this machine; ozg fetches artefacts with it (it honours proxy variables and the system CA store)`, { hint: 'install it: apt-get install curl' }));
        } else {
          reject(new ArtifactFetchError(shown, `cannot run ${program}: ${error.message}`, { cause: error }));
        }
      });
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else if (cancelled) reject(new DownloadCancelled('cancelled'));
        else reject(describeCurlFailure(shown, code, signal, redactText(stderr, url, shown)));
      });
    });
    // the body ends with curl's stdout; done says whether it was the whole file
    done.catch(() => {});
    return {
      body: child.stdout,
      done,
      cancel: () => {
        cancelled = true;
        child.kill();
      },
    };
  };
}

function cleanEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}

const TLS_CODES = new Set([35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91]);

function describeCurlFailure(url: string, code: number | null, signal: NodeJS.Signals | null, stderr: string): ArtifactFetchError {
  const said = stderr.trim().split('\n').pop()?.replace(/^curl: \(\d+\) /, '') ?? '';
  const detail = said ? `: ${said}` : '';
  if (code === null) return new ArtifactFetchError(url, `download stopped by signal ${signal ?? 'unknown'}`);
  if (code === 22) return new ArtifactFetchError(url, `the server answered with an error${detail}`, { hint: 'check the artefact URL in procedure.yaml' });
  if (code === 28) return new ArtifactFetchError(url, `timed out${detail}`, { hint: 'check the network, or the proxy (https_proxy, http_proxy, no_proxy)' });
  if (TLS_CODES.has(code)) {
    return new ArtifactFetchError(url, `TLS failure${detail}`, {
      hint: 'ozg trusts the system CA store; add a private CA there (update-ca-certificates) or point SSL_CERT_FILE or CURL_CA_BUNDLE at it',
    });
  }
  if (code === 5 || code === 6) return new ArtifactFetchError(url, `cannot resolve the host${detail}`, { hint: 'check the URL, DNS, or the proxy variables' });
  if (code === 7) return new ArtifactFetchError(url, `cannot connect${detail}`, { hint: 'check that the server runs and is reachable from this machine (or the proxy variables)' });
  return new ArtifactFetchError(url, `download failed (curl exit ${code})${detail}`);
}

/** The URL without its userinfo: a password in a URL must never reach a terminal or a log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}

function redactText(text: string, url: string, shown: string): string {
  if (url === shown) return text;
  const userinfo = /\/\/([^/@]*)@/.exec(url)?.[1];
  return userinfo ? text.split(url).join(shown).split(userinfo).join('***') : text.split(url).join(shown);
}
