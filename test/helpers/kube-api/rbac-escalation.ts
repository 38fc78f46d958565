import { isAllowed, type KubeUser, type RbacVerb } from './auth.js';
import { isPlainObject, type KubeObject } from './objects.js';
import { resolveResourceType, type ResourceType } from './resources.js';
import { forbidden } from './status.js';
import type { ObjectStore } from './store.js';

/**
 * RBAC's escalation prevention, as the rbac registry runs it on create and update of a Role or
 * RoleBinding (pkg/registry/rbac/role/policybased/storage.go, rolebinding/policybased/storage.go,
 * escalation_check.go, validation/rule.go `ConfirmNoEscalation`): a Role may grant only rights
 * its author holds, unless the author may `escalate` roles; a RoleBinding may bind only a role
 * whose rights the author holds, unless the author may `bind` that role. Refusals are 403:
 * `user "u" (groups=["g"]) is attempting to grant RBAC permissions not currently held:` and one
 * compact rule a line.
 */

const EXPANDED_VERBS: readonly RbacVerb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

function typeRef(group: string, resource: string): Pick<ResourceType, 'group' | 'resource' | 'kind'> {
  return { group, resource, kind: '' };
}

/** Whether the user holds `verb` on group/resource in the namespace (a `*` resource needs the user to be unrestricted). */
function holds(user: KubeUser, namespace: string, group: string, resource: string, verb: string): boolean {
  if (resource === '*' || group === '*') return user.clusterAdmin || (user.namespaces.includes(namespace) && user.forbid.length === 0);
  const [base, subresource] = resource.split('/', 2);
  return isAllowed(user, { verb: verb as RbacVerb, type: typeRef(group, base!), subresource, namespace });
}

const quoted = (values: readonly string[]): string => `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;

/** The rights in `rules` the user does not hold, compact (`{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}`), sorted. */
function missingRights(user: KubeUser, namespace: string, rules: readonly PolicyRule[]): string[] {
  const missing = new Set<string>();
  for (const rule of rules) {
    const verbs = (rule.verbs ?? []).includes('*') ? EXPANDED_VERBS : (rule.verbs ?? []);
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const lacking = verbs.filter((verb) => !holds(user, namespace, group, resource, verb));
        if (lacking.length > 0) missing.add(`{APIGroups:${quoted([group])}, Resources:${quoted([resource])}, Verbs:${quoted(lacking)}}`);
      }
    }
  }
  return [...missing].sort();
}

function refusal(type: ResourceType, object: KubeObject, user: KubeUser, missing: string[]) {
  return forbidden(type, object.metadata.name, `user ${JSON.stringify(user.name)} (groups=${quoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.join('\n')}`);
}

/** Throws the 403 when `user` may not store this Role or RoleBinding; other kinds pass. */
export function checkEscalation(store: ObjectStore, user: KubeUser, type: ResourceType, object: KubeObject): void {
  const namespace = object.metadata.namespace ?? '';
  if (user.clusterAdmin) return;
  if (type.kind === 'Role') {
    if (isAllowed(user, { verb: 'escalate', type: typeRef('rbac.authorization.k8s.io', 'roles'), namespace })) return;
    const missing = missingRights(user, namespace, (object.rules ?? []) as PolicyRule[]);
    if (missing.length > 0) throw refusal(type, object, user, missing);
    return;
  }
  if (type.kind !== 'RoleBinding' || !isPlainObject(object.roleRef)) return;
  const roleRef = object.roleRef as { kind?: string; name?: string };
  const roleType = resolveResourceType(roleRef.kind === 'ClusterRole' ? 'clusterroles' : 'roles');
  if (isAllowed(user, { verb: 'bind', type: roleType, namespace, name: roleRef.name })) return;
  const role = store.get(roleType, roleType.namespaced ? namespace : undefined, roleRef.name ?? '');
  if (!role) throw forbidden(type, object.metadata.name, `${roleType.resource}.${roleType.group} ${JSON.stringify(roleRef.name ?? '')} not found`);
  const missing = missingRights(user, namespace, (role.rules ?? []) as PolicyRule[]);
  if (missing.length > 0) throw refusal(type, object, user, missing);
}
