/**
 * The narrow seam to a Kubernetes API server: one method, raw REST requests. The real one
 * reads a kubeconfig with @kubernetes/client-node (contexts, tokens, client certificates,
 * exec plugins) and sends requests over one keep-alive HTTPS agent; tests pass a fake.
 *
 * TLS is always verified. There is no switch to turn that off, and a kubeconfig that asks for
 * `insecure-skip-tls-verify` is refused rather than obeyed.
 */
import https from 'node:https';
import { InvalidInputError, OzgError, UnreachableError } from '../../errors.js';

export type KubeMethod = 'GET' | 'PATCH' | 'DELETE' | 'POST' | 'PUT';

export interface KubeRequest {
  method: KubeMethod;
  /** absolute API path, e.g. `/api/v1/namespaces/ozg-kiel-test/configmaps/x` */
  path: string;
  query?: Record<string, string | undefined>;
  body?: string;
  contentType?: string;
}

export interface KubeResponse {
  status: number;
  body: string;
  /** the `Retry-After` header, when the server sent one */
  retryAfter?: string;
}

/**
 * Retries after client-go (rest/request.go checkWait, rest/with_retry.go): a 429, or a 5xx
 * with `Retry-After`, is sent again after the seconds the server asked for, and nothing else
 * is. client-go tries up to 10 times; ozg at most MAX_RETRIES times, so an API server that
 * stays overloaded fails the run within about a minute instead of stalling it.
 */
export const MAX_RETRIES = 4;
/** A `Retry-After` longer than this is cut to it. */
export const MAX_RETRY_WAIT_MS = 15_000;

/**
 * How long to wait before sending `request` again after `response` (`retries` already made),
 * or undefined to stop. A 429 is an overload refusal before the request was served (the
 * max-in-flight and priority-and-fairness filters), so any request may go again; after a 5xx
 * the request may have been carried out, so only idempotent ones go again (GET, PUT with its
 * resourceVersion, DELETE, and PATCH, which ozg sends only as server-side apply), never POST.
 */
export function retryDelayMs(request: Pick<KubeRequest, 'method'>, response: KubeResponse, retries: number): number | undefined {
  if (retries >= MAX_RETRIES) return undefined;
  if (response.status !== 429 && !(response.status >= 500 && request.method !== 'POST')) return undefined;
  if (response.retryAfter === undefined || !/^\d+$/.test(response.retryAfter.trim())) return undefined;
  return Math.min(Number(response.retryAfter.trim()) * 1000, MAX_RETRY_WAIT_MS);
}

/** Raw access to one API server as one user. Rejects only when no HTTP answer came back. */
export interface KubeApi {
  /** the API server URL, for messages */
  readonly server: string;
  request(request: KubeRequest): Promise<KubeResponse>;
  close(): void;
}

export interface CreateKubeApiOptions {
  /** absolute path of the kubeconfig */
  kubeconfigPath: string;
  /** the inventory field that names it (`dataCenters.x.environments.test.kubeconfig`), for a missing file's hint */
  kubeconfigField?: string;
  /** context to use; default: the kubeconfig's current-context */
  context?: string;
  /** limit for one request (default 30 s) */
  requestTimeoutMs?: number;
}

type ClientNode = typeof import('@kubernetes/client-node');
let clientNode: Promise<ClientNode> | undefined;

/** client-node costs most of a second to import: only a run that talks to a cluster pays for it. */
function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import('@kubernetes/client-node');
  return clientNode;
}

export async function createKubeApi(options: CreateKubeApiOptions): Promise<KubeApi> {
  const { KubeConfig } = await loadClientNode();
  const file = options.kubeconfigPath;
  const problem = (message: string, hint?: string): InvalidInputError =>
    new InvalidInputError([{ file, line: 1, col: 1, path: '', message }], hint ? { hint } : {});

  const config = new KubeConfig();
  try {
    config.loadFromFile(file);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const named = options.kubeconfigField ? `it is named by ${options.kubeconfigField} in the inventory; \`ozg validate\` reports it there` : undefined;
    throw problem(e.code === 'ENOENT' ? 'kubeconfig does not exist' : `cannot read the kubeconfig: ${e.message}`, named);
  }
  if (options.context !== undefined) {
    if (!config.getContextObject(options.context)) {
      const names = config.getContexts().map((c) => c.name);
      throw problem(`has no context ${JSON.stringify(options.context)} (it has: ${names.join(', ') || 'none'})`, 'fix `context:` of this environment in sites.yaml');
    }
    config.setCurrentContext(options.context);
  } else if (!config.getCurrentContext() || !config.getContextObject(config.getCurrentContext())) {
    throw problem('names no usable current-context', 'set `context:` for this environment in sites.yaml');
  }
  const contextName = config.getCurrentContext();
  const cluster = config.getCurrentCluster();
  if (!cluster) throw problem(`context ${contextName} names a cluster the kubeconfig does not define`);
  if (cluster.skipTLSVerify) {
    throw problem(
      `cluster ${cluster.name} sets insecure-skip-tls-verify: ozg always verifies the API server's certificate`,
      `remove insecure-skip-tls-verify and give cluster ${cluster.name} its certificate-authority (or certificate-authority-data)`,
    );
  }
  if (!cluster.server.startsWith('https://')) {
    throw problem(`cluster ${cluster.name} has server ${cluster.server}: ozg talks to API servers over https only`);
  }
  const server = cluster.server;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  let agent: https.Agent | undefined;

  /** Credentials and TLS material as client-node resolves them (tokens, exec plugins, files). */
  async function requestOptions(): Promise<https.RequestOptions> {
    const resolved: https.RequestOptions = { headers: {} };
    try {
      await config.applyToHTTPSOptions(resolved);
    } catch (error) {
      throw new UnreachableError(server, `cannot get credentials from the kubeconfig (context ${contextName}): ${(error as Error).message}`, {
        cause: error,
        hint: `check user ${config.getCurrentUser()?.name ?? '?'} in ${file}`,
      });
    }
    if (cluster!.proxyUrl) return resolved; // client-node's own agent speaks the proxy
    // One keep-alive agent per API server: hundreds of requests should not mean hundreds of handshakes.
    agent ??= new https.Agent({
      ca: resolved.ca,
      cert: resolved.cert,
      key: resolved.key,
      servername: cluster!.tlsServerName,
      rejectUnauthorized: true,
      keepAlive: true,
      maxSockets: 8,
    });
    return { ...resolved, agent };
  }

  async function request(req: KubeRequest): Promise<KubeResponse> {
    for (let retries = 0; ; retries++) {
      const response = await send(req);
      const wait = retryDelayMs(req, response, retries);
      if (wait === undefined) return response;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async function send(req: KubeRequest): Promise<KubeResponse> {
    const url = new URL(server + req.path);
    for (const [key, value] of Object.entries(req.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const base = await requestOptions();
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string | number | string[]> = {
      ...(base.headers as Record<string, string | number | string[]>),
      Accept: 'application/json',
      ...(body ? { 'Content-Type': req.contentType ?? 'application/json', 'Content-Length': body.length } : {}),
    };
    return new Promise<KubeResponse>((resolve, reject) => {
      const r = https.request(url, { ...base, method: req.method, headers, timeout: timeoutMs, rejectUnauthorized: true }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        const retryAfter = response.headers['retry-after'];
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(retryAfter !== undefined ? { retryAfter } : {}) }));
        response.on('error', (error) => reject(describeNetworkError(error, server, file, cluster!.name)));
      });
      r.on('timeout', () => r.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      r.on('error', (error) => reject(describeNetworkError(error, server, file, cluster!.name)));
      r.end(body);
    });
  }

  return {
    server,
    request,
    close: () => agent?.destroy(),
  };
}

/**
 * OpenSSL's verification failures of the server's certificate, as Node reports them in
 * `error.code`. `ERR_SSL_*` codes are alerts the server sent (e.g. it wants a client
 * certificate): not a verification failure on our side.
 */
const CERTIFICATE_ERROR = /^(?!ERR_SSL_).*(CERT|SELF_SIGNED|ISSUER|SIGNATURE|INVALID_CA|ALTNAME|UNABLE_TO_VERIFY|HOSTNAME_MISMATCH|PATH_LENGTH|INVALID_PURPOSE)/;

/** A failed connection as an UnreachableError that says what to check; TLS failures say so plainly. */
export function describeNetworkError(error: unknown, server: string, kubeconfig: string, clusterName: string): OzgError {
  if (error instanceof OzgError) return error;
  const e = error as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  if (CERTIFICATE_ERROR.test(code)) {
    const altName = code === 'ERR_TLS_CERT_ALTNAME_INVALID';
    return new UnreachableError(server, `the server's certificate could not be verified (x509: ${e.message}) [${code}]`, {
      cause: error,
      hint: altName
        ? `the certificate does not name this host: check the server URL (or tls-server-name) of cluster ${clusterName} in ${kubeconfig}`
        : `check certificate-authority / certificate-authority-data of cluster ${clusterName} in ${kubeconfig}: ` +
          "it must hold the CA that signed the API server's certificate (ozg never skips verification)",
    });
  }
  const reason = code ? `${code}: ${e.message}` : String(e?.message ?? error);
  return new UnreachableError(server, `cannot reach the Kubernetes API (${reason})`, {
    cause: error,
    hint: `check the server URL of cluster ${clusterName} in ${kubeconfig} and that this machine can reach it`,
  });
}
