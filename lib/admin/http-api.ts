/**
 * The contract between the management HTTP server (http-server.ts) and the
 * route groups (routes/*.ts): what a handler gets (the authenticated user,
 * path parameters, query, parsed JSON body, the running broker) and how it
 * answers (a JSON value, or an ApiError with RabbitMQ's error body).
 *
 * Paths, field names and error bodies are those of RabbitMQ's management
 * plugin (rabbitmq_management, 3.10), so rabbitmqadmin and other tools
 * written for it work. One deliberate difference: a user who is
 * authenticated but lacks the tag or the permission gets 403 (RabbitMQ
 * answers 401 with the same body).
 */
import type { User } from '../auth/users.js';
import type { Broker } from '../broker/broker.js';
import type { AmqpListener } from '../server/amqp-listener.js';

/** User tags that open parts of the API, as RabbitMQ's management plugin reads them. */
export type ApiTag = 'management' | 'policymaker' | 'monitoring' | 'administrator';

export interface ApiContext {
  readonly broker: Broker;
  readonly listener: AmqpListener;
}

export interface ApiRequest {
  readonly method: string;
  /** path parameters by name (':vhost' -> params.vhost), percent-decoded */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** the parsed JSON body (undefined without one) */
  readonly body: unknown;
  readonly user: User;
  readonly ctx: ApiContext;
  /** the request's headers, lower-cased names (X-Reason...) */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** What a handler returns: a JSON value for 200, or an explicit status (201, 204...) with an optional body. */
export type ApiResult = unknown | ApiResponse;

export class ApiResponse {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export type Handler = (req: ApiRequest) => ApiResult | Promise<ApiResult>;

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** '/api/queues/:vhost/:name': ':x' matches one percent-encoded path segment */
  path: string;
  /** the least tag that may call it */
  tag: ApiTag;
  handler: Handler;
}

/** An error answered with RabbitMQ's body: {"error": ..., "reason": ...}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: unknown,
  ) {
    super(typeof reason === 'string' ? reason : JSON.stringify(reason));
  }
}

export const notFound = (): ApiError => new ApiError(404, 'Object Not Found', 'Not Found');
export const badRequest = (reason: unknown): ApiError => new ApiError(400, 'bad_request', reason);
/** authenticated, but the user's tags or permissions do not allow it */
export const forbidden = (reason: string): ApiError => new ApiError(403, 'not_authorised', reason);

/** 201 Created / 204 No Content, as RabbitMQ answers PUT (new / existing) and DELETE. */
export const created = (): ApiResponse => new ApiResponse(201);
export const noContent = (): ApiResponse => new ApiResponse(204);

/** Whether a user's tags include the tag a route needs (administrator has them all; monitoring and policymaker include management). */
export function hasTag(tags: readonly string[], needed: ApiTag): boolean {
  if (tags.includes('administrator')) return true;
  switch (needed) {
    case 'management':
      return tags.includes('management') || tags.includes('monitoring') || tags.includes('policymaker');
    case 'monitoring':
    case 'policymaker':
      return tags.includes(needed);
    case 'administrator':
      return false;
  }
}

/** A body's field of an expected type, or 400 as RabbitMQ words it (["not_boolean", value]...). */
export function field<T extends 'string' | 'boolean' | 'object' | 'number'>(
  body: unknown, name: string, type: T, fallback?: T extends 'string' ? string : T extends 'boolean' ? boolean : T extends 'number' ? number : Record<string, unknown>,
): T extends 'string' ? string : T extends 'boolean' ? boolean : T extends 'number' ? number : Record<string, unknown> {
  const obj = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const v = obj[name];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw badRequest(`${name} missing`);
  }
  if (type === 'boolean' && (v === 'true' || v === 'false')) return (v === 'true') as never;
  const ok = type === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === type;
  if (!ok) throw badRequest([`not_${type === 'object' ? 'table' : type}`, v]);
  return v as never;
}
