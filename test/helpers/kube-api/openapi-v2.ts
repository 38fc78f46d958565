import { RESOURCE_TYPES, type ResourceType } from './resources.js';

/**
 * /openapi/v2 for older kubectl (< 1.26), which downloads it, as gnostic protobuf, before
 * `apply --dry-run=server` (its dry-run verifier looks for a PATCH operation with the
 * kind's `x-kubernetes-group-version-kind` and a `dryRun` parameter) and for client-side
 * validation (which skips kinds without a schema, and this document has none). Only the
 * message fields used here are encoded (field numbers from gnostic's OpenAPIv2.proto).
 */

export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let n = value;
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function message(field: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(field * 8 + 2), varint(body.length), body]);
}

function string(field: number, value: string): Buffer {
  return message(field, Buffer.from(value, 'utf8'));
}

function bool(field: number, value: boolean): Buffer {
  return Buffer.concat([varint(field * 8), varint(value ? 1 : 0)]);
}

/** ParametersItem { parameter = 1 { non_body_parameter = 2 { query_parameter_sub_schema = 3 } } } */
function queryParameter(name: string, type: string): Buffer {
  const subSchema = Buffer.concat([string(2, 'query'), string(4, name), string(6, type), bool(20, true)]);
  return message(8, message(1, message(2, message(3, subSchema))));
}

function gvkExtension(t: ResourceType): Buffer {
  // NamedAny { name = 1, value = 2 Any { yaml = 2 } }
  const yaml = `group: ${JSON.stringify(t.group)}\nkind: ${t.kind}\nversion: ${t.version}\n`;
  return message(13, string(1, 'x-kubernetes-group-version-kind'), message(2, string(2, yaml)));
}

function patchPath(t: ResourceType): Buffer {
  const base = `/${t.group ? `apis/${t.group}` : 'api'}/${t.version}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}/{name}`;
  const operation = Buffer.concat([
    string(5, `patch${t.kind}`),
    queryParameter('dryRun', 'string'),
    queryParameter('fieldManager', 'string'),
    queryParameter('force', 'boolean'),
    gvkExtension(t),
  ]);
  // NamedPathItem { name = 1, value = 2 PathItem { patch = 8 Operation } }
  return message(2, string(1, base), message(2, message(8, operation)));
}

/** The protobuf Document: swagger = 1, info = 2 { title = 1, version = 2 }, paths = 8 { path = 2 }. */
export function openApiV2Protobuf(gitVersion: string): Buffer {
  const paths = Buffer.concat(RESOURCE_TYPES.filter((t) => t.verbs.includes('patch')).map(patchPath));
  return Buffer.concat([string(1, '2.0'), message(2, string(1, 'Kubernetes'), string(2, gitVersion)), message(8, paths)]);
}

/** The same document as JSON, for clients that ask for JSON. */
export function openApiV2Json(gitVersion: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const t of RESOURCE_TYPES.filter((type) => type.verbs.includes('patch'))) {
    const base = `/${t.group ? `apis/${t.group}` : 'api'}/${t.version}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}/{name}`;
    paths[base] = {
      patch: {
        operationId: `patch${t.kind}`,
        parameters: ['dryRun', 'fieldManager', 'force'].map((name) => ({ in: 'query', name, type: name === 'force' ? 'boolean' : 'string', uniqueItems: true })),
        'x-kubernetes-group-version-kind': { group: t.group, kind: t.kind, version: t.version },
      },
    };
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: gitVersion }, paths };
}
