import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorize, type KubeUser } from './auth.js';
import type { Faults } from './faults.js';
import { coreVersions, group, groupList, openApiDocument, openApiRoot, resourceList, versionDocument, type ServerVersion } from './discovery.js';
import { handleResourceCall, type ServerState } from './handlers.js';
import { readBody, sendError, sendJson, sendText } from './http-io.js';
import { OPENAPI_V2_PROTOBUF, openApiV2Json, openApiV2Protobuf } from './openapi-v2.js';
import { resolveResourceRequest } from './request-info.js';
import { resolveResourceType, type Verb } from './resources.js';
import { ApiError, internalError, methodNotAllowed, pathNotFound, unauthorized } from './status.js';

const NAMESPACES = resolveResourceType('namespaces');

/** One request as the server saw it, for assertions. */
export interface KubeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** authenticated user name; undefined for anonymous or unknown tokens */
  user?: string;
  verb?: Verb;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  contentType?: string;
  userAgent?: string;
  /** HTTP status sent (0 while a watch is still open) */
  code: number;
  at: number;
}

export interface RouteOptions {
  state: ServerState;
  version: ServerVersion;
  serverAddress: () => string;
  requests: KubeRequestRecord[];
  faults: Faults;
}

const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);

function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

/** /version, discovery and OpenAPI: allowed for every authenticated user (system:discovery). */
function nonResource(pathname: string, options: RouteOptions): unknown {
  if (pathname === '/version') return versionDocument(options.version);
  if (pathname === '/api') return coreVersions(options.serverAddress());
  if (pathname === '/apis') return groupList();
  if (pathname === '/openapi/v3') return openApiRoot();
  if (pathname.startsWith('/openapi/v3/')) return openApiDocument(pathname.slice('/openapi/v3/'.length), options.version);
  const parts = pathname.split('/').filter((p) => p !== '');
  if (parts[0] === 'api' && parts.length === 2) return resourceList('', parts[1]);
  if (parts[0] === 'apis' && parts.length === 2) return group(parts[1]);
  if (parts[0] === 'apis' && parts.length === 3) return resourceList(parts[1], parts[2]);
  return undefined;
}

function isNonResourcePath(pathname: string): boolean {
  const parts = pathname.split('/').filter((p) => p !== '');
  return pathname === '/version' || pathname.startsWith('/openapi/') || (parts[0] === 'api' && parts.length <= 2) || (parts[0] === 'apis' && parts.length <= 3);
}

export function createRequestHandler(options: RouteOptions): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const url = new URL(request.url ?? '/', 'https://kube.invalid');
    const record: KubeRequestRecord = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: request.headers['content-type'],
      userAgent: request.headers['user-agent'],
      code: 0,
      at: Date.now(),
    };
    options.requests.push(record);
    const settle = (): void => {
      record.code = response.statusCode;
    };
    response.on('finish', settle);
    response.on('close', settle);
    serve(request, response, url, record, options).catch((error: unknown) => {
      sendError(response, error instanceof ApiError ? error : internalError((error as Error)?.message ?? String(error)));
    });
  };
}

async function serve(request: IncomingMessage, response: ServerResponse, url: URL, record: KubeRequestRecord, options: RouteOptions): Promise<void> {
  const { pathname } = url;
  if (HEALTH_PATHS.has(pathname)) {
    sendText(response, 200, 'ok');
    return;
  }
  const token = bearerToken(request);
  const user: KubeUser | undefined = token ? options.state.users.byToken(token) : undefined;
  if (!user) throw unauthorized();
  record.user = user.name;
  if (await options.faults.intercept(request.method ?? 'GET', pathname, user.name, response)) return;

  if (isNonResourcePath(pathname)) {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw methodNotAllowed();
    if (pathname === '/openapi/v2') {
      if (!(request.headers.accept ?? '').includes(OPENAPI_V2_PROTOBUF)) {
        sendJson(response, 200, openApiV2Json(options.version.gitVersion));
        return;
      }
      const document = openApiV2Protobuf(options.version.gitVersion);
      // Go's mime parser rejects the '@' of the requested type; the body is what counts
      response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': document.length });
      response.end(document);
      return;
    }
    const document = nonResource(pathname, options);
    if (document === undefined) throw pathNotFound();
    sendJson(response, 200, document);
    return;
  }

  const target = resolveResourceRequest(request.method ?? 'GET', pathname, url.searchParams);
  Object.assign(record, { verb: target.verb, group: target.type.group, resource: target.type.resource, subresource: target.subresource, namespace: target.namespace, name: target.name });
  if (target.type.resource !== 'selfsubjectaccessreviews') {
    const namespaceExists = target.namespace === undefined || options.state.store.get(NAMESPACES, undefined, target.namespace) !== undefined;
    const denied = authorize(user, { verb: target.verb, type: target.type, subresource: target.subresource, namespace: target.namespace, name: target.name }, namespaceExists);
    if (denied) throw denied;
  }
  const body = await readBody(request);
  const result = handleResourceCall({ state: options.state, target, user, query: url.searchParams, headers: request.headers, body, response });
  if (result) sendJson(response, result.code, result.body, result.headers);
}
