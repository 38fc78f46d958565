import { randomBytes } from 'node:crypto';
import type { ResourceType, Verb } from './resources.js';
import { forbidden, type ApiError } from './status.js';

/** A user the server knows, by bearer token. */
export interface KubeUser {
  name: string;
  token: string;
  groups: string[];
  /** namespaces where a RoleBinding grants everything; cluster scope and other namespaces are forbidden */
  namespaces: readonly string[];
  /** like a ClusterRoleBinding to cluster-admin: everything is allowed */
  clusterAdmin: boolean;
  /** requests refused even inside `namespaces` (a narrower Role than admin) */
  forbid: readonly ForbidRule[];
  /**
   * the rights in `namespaces` come from RoleBindings inside them (a namespace-only account):
   * in a namespace that does not exist it holds none, so it gets 403 there, never 404.
   * Default: true for service accounts, false for other users.
   */
  rightsFromRoleBindings: boolean;
}

/** RBAC's verbs: the request verbs, and `bind`/`escalate`, which only the RBAC registry checks. */
export type RbacVerb = Verb | 'bind' | 'escalate';

/** verbs on resources (plural names, `pods/log` for subresources) that are forbidden; omitted = all */
export interface ForbidRule {
  verbs?: readonly RbacVerb[];
  resources?: readonly string[];
}

export interface AddUserOptions {
  name: string;
  namespaces?: readonly string[];
  clusterAdmin?: boolean;
  /** default: random */
  token?: string;
  groups?: string[];
  forbid?: readonly ForbidRule[];
  rightsFromRoleBindings?: boolean;
}

export function serviceAccountUserName(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export class UserRegistry {
  private readonly users = new Map<string, KubeUser>();

  add(options: AddUserOptions): KubeUser {
    if (this.users.has(options.name)) throw new Error(`user ${options.name} exists already`);
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(options.name);
    const user: KubeUser = {
      name: options.name,
      token: options.token ?? `ozg-test-${randomBytes(18).toString('base64url')}`,
      groups: options.groups ?? [...(sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : []), 'system:authenticated'],
      namespaces: [...(options.namespaces ?? (sa ? [sa[1]] : []))],
      clusterAdmin: options.clusterAdmin ?? false,
      forbid: options.forbid ?? [],
      rightsFromRoleBindings: options.rightsFromRoleBindings ?? Boolean(sa),
    };
    this.users.set(user.name, user);
    return user;
  }

  byName(name: string): KubeUser | undefined {
    return this.users.get(name);
  }

  byToken(token: string): KubeUser | undefined {
    for (const user of this.users.values()) if (user.token === token) return user;
    return undefined;
  }

  all(): KubeUser[] {
    return [...this.users.values()];
  }
}

/** What a resource request asks for, as the authorizer sees it. */
export interface RequestAttributes {
  verb: RbacVerb;
  type: Pick<ResourceType, 'group' | 'resource' | 'kind'>;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export function isAllowed(user: KubeUser, attributes: RequestAttributes): boolean {
  if (user.clusterAdmin) return true;
  if (attributes.namespace === undefined || !user.namespaces.includes(attributes.namespace)) return false;
  // a namespace admin may read its own Namespace object, not change or delete it
  if (attributes.type.resource === 'namespaces' && attributes.verb !== 'get' && attributes.verb !== 'watch') return false;
  const resource = attributes.subresource ? `${attributes.type.resource}/${attributes.subresource}` : attributes.type.resource;
  return !user.forbid.some((rule) => (rule.verbs ?? [attributes.verb]).includes(attributes.verb) && (rule.resources ?? [resource]).includes(resource));
}

/**
 * undefined when allowed, else the 403 the real RBAC authorizer produces. `namespaceExists`:
 * a namespace-only account's rights come from RoleBindings inside the namespace, so in a
 * namespace that does not exist it holds none, and the answer is 403, never 404.
 */
export function authorize(user: KubeUser, attributes: RequestAttributes, namespaceExists = true): ApiError | undefined {
  if (isAllowed(user, attributes) && (namespaceExists || !user.rightsFromRoleBindings || user.clusterAdmin)) return undefined;
  const resource = attributes.subresource ? `${attributes.type.resource}/${attributes.subresource}` : attributes.type.resource;
  const scope = attributes.namespace !== undefined ? `in the namespace "${attributes.namespace}"` : 'at the cluster scope';
  return forbidden(
    attributes.type,
    attributes.name,
    `User "${user.name}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.type.group}" ${scope}`,
  );
}
