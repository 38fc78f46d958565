import { createHash } from 'node:crypto';
import { groupVersionOf, RESOURCE_TYPES, SELF_SUBJECT_ACCESS_REVIEWS, subresourcesOf, type ResourceType } from './resources.js';

/**
 * Discovery the legacy (non-aggregated) way: /version, /api, /apis, /api/v1, /apis/<group>,
 * /apis/<group>/<version>. kubectl also asks for the aggregated form; answering with plain
 * `application/json` makes it fall back to these documents, as against an older server.
 *
 * OpenAPI: /openapi/v3 lists one document per group version; each document has a PATCH
 * operation per kind carrying the `fieldValidation` parameter and nothing else (no schemas).
 * That is what kubectl's apply looks for before it sends `fieldValidation=Strict`; without it
 * kubectl would need the full schemas for client-side validation. /openapi/v2 (for older
 * kubectl) is in openapi-v2.ts.
 */

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

export const DEFAULT_VERSION: ServerVersion = { major: '1', minor: '32', gitVersion: 'v1.32.4' };

const SERVED_TYPES: readonly ResourceType[] = [...RESOURCE_TYPES, SELF_SUBJECT_ACCESS_REVIEWS];

export function versionDocument(version: ServerVersion): Record<string, unknown> {
  return {
    ...version,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-04-22T00:00:00Z',
    goVersion: 'go1.23.8',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function groups(): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const t of SERVED_TYPES) {
    if (t.group === '') continue;
    const versions = byGroup.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    byGroup.set(t.group, versions);
  }
  return byGroup;
}

function groupDocument(name: string, versions: string[]): Record<string, unknown> {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function coreVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function groupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups()].map(([name, versions]) => groupDocument(name, versions)) };
}

export function group(name: string): Record<string, unknown> | undefined {
  const versions = groups().get(name);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(name, versions) } : undefined;
}

function storageVersionHash(t: ResourceType): string {
  return createHash('sha256').update(`${groupVersionOf(t)}/${t.kind}`).digest('base64').slice(0, 11);
}

export function resourceList(group: string, version: string): Record<string, unknown> | undefined {
  const types = SERVED_TYPES.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const t of types) {
    resources.push({
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: [...t.verbs],
      ...(t.shortNames ? { shortNames: [...t.shortNames] } : {}),
      ...(t.categories ? { categories: [...t.categories] } : {}),
      storageVersionHash: storageVersionHash(t),
    });
    for (const sub of subresourcesOf(t)) {
      resources.push({
        name: `${t.resource}/${sub.name}`,
        singularName: '',
        namespaced: t.namespaced,
        ...(sub.group ? { group: sub.group, version: sub.version } : {}),
        kind: sub.kind,
        verbs: [...sub.verbs],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function openApiPath(t: ResourceType): string {
  return `${t.group ? `apis/${t.group}` : 'api'}/${t.version}`;
}

export function openApiRoot(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of SERVED_TYPES) {
    const path = openApiPath(t);
    paths[path] ??= { serverRelativeURL: `/openapi/v3/${path}?hash=${createHash('sha256').update(path).digest('hex').slice(0, 32).toUpperCase()}` };
  }
  return { paths };
}

const FIELD_VALIDATION = {
  name: 'fieldValidation',
  in: 'query',
  description: 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.',
  schema: { type: 'string', uniqueItems: true },
};

function operationId(verb: string, t: ResourceType): string {
  const group = t.group ? t.group.split('.')[0].replace(/^./, (c) => c.toUpperCase()) : 'Core';
  return `${verb}${group}${t.version.replace(/^./, (c) => c.toUpperCase())}${t.namespaced ? 'Namespaced' : ''}${t.kind}`;
}

/** One group version's OpenAPI v3 document, e.g. for `/openapi/v3/apis/apps/v1`. */
export function openApiDocument(path: string, version: ServerVersion): Record<string, unknown> | undefined {
  const types = SERVED_TYPES.filter((t) => openApiPath(t) === path);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const t of types) {
    const base = `/${openApiPath(t)}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}`;
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    if (t.verbs.includes('patch')) {
      paths[`${base}/{name}`] = {
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } },
          ...(t.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }] : []),
        ],
        patch: {
          operationId: operationId('patch', t),
          parameters: [
            { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
            { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
            FIELD_VALIDATION,
            { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
          ],
          responses: { '200': { description: 'OK' } },
          'x-kubernetes-action': 'patch',
          'x-kubernetes-group-version-kind': gvk,
        },
      };
    }
    if (t.verbs.includes('create')) {
      paths[base] = {
        post: {
          operationId: operationId('create', t),
          parameters: [FIELD_VALIDATION],
          responses: { '201': { description: 'Created' } },
          'x-kubernetes-action': 'post',
          'x-kubernetes-group-version-kind': gvk,
        },
      };
    }
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: version.gitVersion }, paths, components: { schemas: {} } };
}
