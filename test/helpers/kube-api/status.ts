import { qualifiedKind, qualifiedResource, type ResourceType } from './resources.js';

/** metav1.StatusCause */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** metav1.StatusDetails */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** An error the server answers with a metav1.Status body, like the real API server. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      // metav1.StatusReasonUnknown is "" and omitted, as for errors a handler did not type
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

type TypeRef = Pick<ResourceType, 'group' | 'resource' | 'kind'>;

function detailsFor(type: TypeRef, name?: string): StatusDetails {
  return { ...(name ? { name } : {}), ...(type.group ? { group: type.group } : {}), kind: type.resource };
}

export function notFound(type: TypeRef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, detailsFor(type, name));
}

export function alreadyExists(type: TypeRef, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, detailsFor(type, name));
}

export function updateConflict(type: TypeRef, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsFor(type, name),
  );
}

/** One field error of a 422 answer, rendered `field: Required value` and the like. */
export interface FieldError {
  field: string;
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueNotSupported' | 'FieldValueDuplicate';
  /** rendered detail, e.g. `Required value` or `Invalid value: "x": must be ...` */
  message: string;
}

export function invalid(type: TypeRef, name: string, errors: FieldError[]): ApiError {
  const rendered = errors.map((e) => `${e.field}: ${e.message}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${qualifiedKind(type)} "${name}" is invalid: ${summary}`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.kind,
    causes: errors.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(type: TypeRef | undefined, name: string | undefined, message: string): ApiError {
  const subject = type ? `${qualifiedResource(type)}${name ? ` "${name}"` : ''} is forbidden: ` : 'forbidden: ';
  return new ApiError(403, 'Forbidden', subject + message, type ? detailsFor(type, name) : {});
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format${contentType ? ` (${contentType})` : ''} - accepted media types include: ${accepted.join(', ')}`,
  );
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function requestEntityTooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}
