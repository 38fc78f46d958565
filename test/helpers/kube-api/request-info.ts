import { findResourceType, SCALABLE_RESOURCES, SELF_SUBJECT_ACCESS_REVIEWS, type ResourceType, type Verb } from './resources.js';
import { badRequest, methodNotAllowed, pathNotFound } from './status.js';

/** A resource request, resolved from method and path the way the API server's RequestInfo does. */
export interface ResourceRequest {
  type: ResourceType;
  verb: Verb;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * `/api/v1/namespaces/ns/pods/p/log`, `/apis/apps/v1/deployments`, … → type, verb, namespace,
 * name, subresource. Throws a 404 for unknown paths and a 405 for verbs a type does not serve.
 */
export function resolveResourceRequest(method: string, pathname: string, query: URLSearchParams): ResourceRequest {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    [group, version, rest] = ['', parts[1], parts.slice(2)];
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
  } else {
    throw pathNotFound();
  }

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2])) rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (extra.length > 0) throw pathNotFound();
  const type =
    group === SELF_SUBJECT_ACCESS_REVIEWS.group && version === SELF_SUBJECT_ACCESS_REVIEWS.version && resource === SELF_SUBJECT_ACCESS_REVIEWS.resource
      ? SELF_SUBJECT_ACCESS_REVIEWS
      : findResourceType(group, version, resource);
  if (!type) throw pathNotFound();
  if (type.resource === 'namespaces' && rest[0] === 'namespaces' && rest.length >= 2) {
    // /api/v1/namespaces/<name>[/status]: the namespace object itself
    return finish(type, method, query, namespace, rest[1], rest[2]);
  }
  if (type.namespaced && namespace === undefined && name !== undefined) throw pathNotFound();
  if (!type.namespaced && namespace !== undefined) throw pathNotFound();
  if (
    subresource !== undefined &&
    !(subresource === 'status' && type.statusSubresource) &&
    !(subresource === 'log' && type.resource === 'pods') &&
    !(subresource === 'scale' && SCALABLE_RESOURCES.has(type.resource))
  ) {
    throw pathNotFound();
  }
  return finish(type, method, query, namespace, name, subresource);
}

function finish(type: ResourceType, method: string, query: URLSearchParams, namespace: string | undefined, name: string | undefined, subresource: string | undefined): ResourceRequest {
  const verb = verbFor(method, name !== undefined, query);
  if (!type.verbs.includes(verb) && !(subresource && ['get', 'update', 'patch'].includes(verb))) throw methodNotAllowed();
  if (subresource === 'log' && verb !== 'get') throw methodNotAllowed();
  if (name !== undefined && name.trim() === '') throw badRequest('name is required');
  return { type, verb, namespace, name, subresource };
}

function verbFor(method: string, hasName: boolean, query: URLSearchParams): Verb {
  const watch = query.get('watch') === 'true' || query.get('watch') === '1';
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (watch) return 'watch';
      return hasName ? 'get' : 'list';
    case 'POST':
      if (hasName) throw methodNotAllowed();
      return 'create';
    case 'PUT':
      if (!hasName) throw methodNotAllowed();
      return 'update';
    case 'PATCH':
      if (!hasName) throw methodNotAllowed();
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      throw methodNotAllowed();
  }
}
