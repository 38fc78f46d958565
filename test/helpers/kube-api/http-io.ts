import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { isPlainObject, type KubeObject } from './objects.js';
import { decodeProtobuf, PROTOBUF } from './protobuf.js';
import { ApiError, badRequest, requestEntityTooLarge } from './status.js';

const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw requestEntityTooLarge(MAX_BODY_BYTES);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function mediaTypeOf(headers: IncomingHttpHeaders): string {
  return (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/** A JSON document (or YAML for YAML media types, or the few protobuf kinds protobuf.ts reads). */
export function parseDocument(body: Buffer, mediaType: string): unknown {
  if (mediaType === PROTOBUF) return decodeProtobuf(body);
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('the body of the request was empty');
  try {
    return mediaType.includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`error decoding ${mediaType.includes('yaml') ? 'YAML' : 'JSON'}: ${(error as Error).message}`);
  }
}

/** A document that must be one object with metadata (create, replace, apply). */
export function asObject(document: unknown): KubeObject {
  if (!isPlainObject(document)) throw badRequest("Object 'Kind' is missing in the request body");
  if (document.metadata !== undefined && !isPlainObject(document.metadata)) throw badRequest('metadata must be an object');
  const object = document as KubeObject;
  object.metadata ??= {};
  return object;
}

export function sendJson(response: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

export function sendText(response: ServerResponse, code: number, text: string): void {
  response.writeHead(code, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

export function sendError(response: ServerResponse, error: ApiError): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, error.code, error.toStatus());
}
