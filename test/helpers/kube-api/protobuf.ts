import { badRequest, unsupportedMediaType } from './status.js';

/**
 * Just enough of the Kubernetes protobuf encoding for the requests kubectl's typed clients
 * send as protobuf only (they have no JSON fallback): SelfSubjectAccessReview
 * (`kubectl auth can-i`), ConfigMap and Secret (`kubectl create configmap|secret`).
 * Envelope: the magic `k8s\0`, then runtime.Unknown { typeMeta = 1 { apiVersion = 1,
 * kind = 2 }, raw = 2 }. Other kinds are answered with 415.
 */

export const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Value = Buffer | number;
type Fields = Map<number, Value[]>;

function readVarint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (offset >= buffer.length) throw badRequest('protobuf: truncated varint');
    const byte = buffer[offset++];
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, offset];
    shift += 7;
  }
}

function readFields(buffer: Buffer): Fields {
  const fields: Fields = new Map();
  const add = (field: number, value: Value): void => {
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  };
  let offset = 0;
  while (offset < buffer.length) {
    let key: number;
    [key, offset] = readVarint(buffer, offset);
    const wireType = key & 7;
    const field = Math.floor(key / 8);
    if (wireType === 0) {
      let value: number;
      [value, offset] = readVarint(buffer, offset);
      add(field, value);
    } else if (wireType === 2) {
      let length: number;
      [length, offset] = readVarint(buffer, offset);
      add(field, buffer.subarray(offset, offset + length));
      offset += length;
    } else if (wireType === 1) {
      offset += 8;
    } else if (wireType === 5) {
      offset += 4;
    } else {
      throw badRequest(`protobuf: unsupported wire type ${wireType}`);
    }
  }
  return fields;
}

function bytes(fields: Fields, field: number): Buffer | undefined {
  const value = fields.get(field)?.[0];
  return Buffer.isBuffer(value) ? value : undefined;
}
function text(fields: Fields, field: number): string | undefined {
  return bytes(fields, field)?.toString('utf8');
}
function bool(fields: Fields, field: number): boolean | undefined {
  const value = fields.get(field)?.[0];
  return typeof value === 'number' ? value !== 0 : undefined;
}
function texts(fields: Fields, field: number): string[] | undefined {
  const values = fields.get(field)?.filter(Buffer.isBuffer).map((b) => b.toString('utf8'));
  return values && values.length > 0 ? values : undefined;
}
/** map<string, string|bytes>: repeated entries { key = 1, value = 2 } */
function map(fields: Fields, field: number, asBase64: boolean): Record<string, string> | undefined {
  const entries = fields.get(field)?.filter(Buffer.isBuffer);
  if (!entries || entries.length === 0) return undefined;
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const kv = readFields(entry);
    const value = bytes(kv, 2) ?? Buffer.alloc(0);
    result[text(kv, 1) ?? ''] = asBase64 ? value.toString('base64') : value.toString('utf8');
  }
  return result;
}

/** Drop absent fields; proto2 writes empty strings for unset ones. */
function compact(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined && v !== ''));
}

function objectMeta(buffer: Buffer | undefined): Record<string, unknown> {
  const f = readFields(buffer ?? Buffer.alloc(0));
  return compact({ name: text(f, 1), generateName: text(f, 2), namespace: text(f, 3), labels: map(f, 11, false), annotations: map(f, 12, false), finalizers: texts(f, 14) });
}

function unwrap(body: Buffer): { apiVersion: string; kind: string; raw: Fields } {
  if (!body.subarray(0, 4).equals(MAGIC)) throw badRequest('protobuf: missing k8s envelope');
  const unknown = readFields(body.subarray(4));
  const typeMeta = readFields(bytes(unknown, 1) ?? Buffer.alloc(0));
  return { apiVersion: text(typeMeta, 1) ?? '', kind: text(typeMeta, 2) ?? '', raw: readFields(bytes(unknown, 2) ?? Buffer.alloc(0)) };
}

function resourceAttributes(buffer: Buffer): Record<string, unknown> {
  const a = readFields(buffer);
  return compact({ namespace: text(a, 1), verb: text(a, 2), group: text(a, 3), version: text(a, 4), resource: text(a, 5), subresource: text(a, 6), name: text(a, 7) });
}

/** The JSON form of a protobuf request body. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  const { apiVersion, kind, raw } = unwrap(body);
  switch (kind) {
    case 'SelfSubjectAccessReview': {
      const spec = readFields(bytes(raw, 2) ?? Buffer.alloc(0));
      const resource = bytes(spec, 1);
      const nonResource = bytes(spec, 2);
      const nonResourceFields = nonResource ? readFields(nonResource) : undefined;
      return {
        apiVersion,
        kind,
        metadata: {},
        spec: compact({
          resourceAttributes: resource ? resourceAttributes(resource) : undefined,
          nonResourceAttributes: nonResourceFields ? compact({ path: text(nonResourceFields, 1), verb: text(nonResourceFields, 2) }) : undefined,
        }),
      };
    }
    case 'ConfigMap':
      return compact({ apiVersion, kind, metadata: objectMeta(bytes(raw, 1)), data: map(raw, 2, false), binaryData: map(raw, 3, true), immutable: bool(raw, 4) });
    case 'Secret':
      return compact({ apiVersion, kind, metadata: objectMeta(bytes(raw, 1)), data: map(raw, 2, true), type: text(raw, 3), stringData: map(raw, 4, false), immutable: bool(raw, 5) });
    default:
      throw unsupportedMediaType(`${PROTOBUF} for ${kind}`, ['application/json', 'application/yaml']);
  }
}
