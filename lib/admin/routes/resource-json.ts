/**
 * What the queue, exchange and binding routes (queues.ts, exchanges.ts,
 * bindings.ts) share, as RabbitMQ's management plugin does it:
 *   - which vhosts a user sees and may change (management users only those
 *     they have permissions on; monitoring and administrator see all);
 *   - AMQP errors of the vhost operations turned into HTTP errors, in the
 *     three styles RabbitMQ answers them (declare/delete, basic.get, publish);
 *   - JSON values to field tables (integers become longs, as RabbitMQ's
 *     to_amqp_table makes them) and back;
 *   - list replies: the default sort, ?sort= and ?sort_reverse=, ?columns=,
 *     and the paged form for ?page= (with page_size, name and use_regex).
 */
import { hostname } from 'node:os';
import { AmqpError } from '../../amqp/amqp-error.js';
import { Typed } from '../../amqp/field-table.js';
import type { FieldTable, FieldValue } from '../../amqp/field-table.js';
import type { QueueOwner } from '../../broker/queue.js';
import type { VirtualHost } from '../../broker/vhost.js';
import { ResourceAccess } from '../../server/resource-access.js';
import { ApiError, badRequest, forbidden, notFound } from '../http-api.js';
import type { ApiRequest } from '../http-api.js';

/** The node name the API reports (as /api/overview does). */
let node: string | null = null;
export const nodeName = (): string => (node ??= `warren@${hostname()}`);

/** The owner HTTP requests act as: never the owner of an exclusive queue (exclusive declares over HTTP are not a thing). */
export const HTTP_OWNER: QueueOwner = Object.freeze({ owner: 'management HTTP API' });

/** administrator and monitoring users see every vhost; others only those they have permissions on. */
function seesAll(req: ApiRequest): boolean {
  return req.user.tags.includes('administrator') || req.user.tags.includes('monitoring');
}

const NOT_AUTHORISED_VHOST = 'User not authorised to access virtual host';

/** The vhosts a listing covers: the one named by :vhost (checked as vhostToRead), or all the user sees. */
export function vhostsToList(req: ApiRequest): VirtualHost[] {
  if (req.params.vhost !== undefined) return [vhostToRead(req)];
  const all = [...req.ctx.broker.vhosts.values()];
  return seesAll(req) ? all : all.filter((vh) => req.ctx.broker.users.canAccessVhost(req.user.name, vh.name));
}

/** The :vhost of a read: 404 when it does not exist, 403 when the user may not see it. */
export function vhostToRead(req: ApiRequest): VirtualHost {
  const vh = req.ctx.broker.vhosts.get(req.params.vhost!);
  if (!vh) throw notFound();
  if (!seesAll(req) && !req.ctx.broker.users.canAccessVhost(req.user.name, vh.name)) throw forbidden(NOT_AUTHORISED_VHOST);
  return vh;
}

/** The :vhost of a change: `missing` when it does not exist, 403 unless the user has permissions on it. */
export function vhostToChange(req: ApiRequest, missing: ApiError): VirtualHost {
  const vh = req.ctx.broker.vhosts.get(req.params.vhost!);
  if (!vh) throw missing;
  if (!req.ctx.broker.users.canAccessVhost(req.user.name, vh.name)) throw forbidden(seesAll(req) ? 'Access refused.' : NOT_AUTHORISED_VHOST);
  return vh;
}

/** 404 as RabbitMQ answers a declare in a vhost that does not exist. */
export const vhostNotFound = (): ApiError => new ApiError(404, 'not_found', 'vhost_not_found');
/** A basic.get or publish in a vhost that does not exist is refused (RabbitMQ cannot open a channel there). */
export const vhostRefused = (): ApiError => forbidden('Access refused.');

/** The HTTP user's permissions on a vhost, checked as for an AMQP connection of that user. */
export function accessOf(req: ApiRequest, vh: VirtualHost): ResourceAccess {
  return new ResourceAccess(req.ctx.broker.users, req.user.name, vh.name);
}

/**
 * How RabbitMQ turns an AMQP error into an HTTP one:
 *   - 'direct' (declare, delete, purge, bind, unbind): 403 -> "Access refused.",
 *     404 -> not_found with the explanation, anything else 400 with the explanation;
 *   - 'channel' (basic.get over a channel): 403 and 404 with the reply text,
 *     anything else 400 "CODE REPLY-TEXT";
 *   - 'publish': always 400 "CODE REPLY-TEXT".
 * (RabbitMQ 3.10 answers 401 where warren answers 403.)
 */
export type ErrorStyle = 'direct' | 'channel' | 'publish';

export function httpError(err: AmqpError, style: ErrorStyle): ApiError {
  if (style === 'publish') return badRequest(`${err.code} ${err.message}`);
  if (style === 'channel') {
    if (err.code === 403) return forbidden(err.message);
    if (err.code === 404) return new ApiError(404, 'not_found', err.message);
    return badRequest(`${err.code} ${err.message}`);
  }
  if (err.code === 403 || err.code === 530) return forbidden('Access refused.');
  if (err.code === 404) return new ApiError(404, 'not_found', err.explanation);
  return badRequest(err.explanation);
}

/**
 * Run a change to a vhost: AMQP errors become HTTP errors in the given
 * style, and when durable things changed the answer waits until the
 * definitions are on disk.
 */
export async function change<T>(req: ApiRequest, vh: VirtualHost, style: ErrorStyle, fn: () => T): Promise<T> {
  const before = vh.durableChanges;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    if (err instanceof AmqpError) throw httpError(err, style);
    throw err;
  }
  if (vh.durableChanges !== before) await req.ctx.broker.definitionsSaved();
  return result;
}

// ---- request bodies

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The body as an object ({} without one). */
export function bodyObject(body: unknown): Obj {
  return isObj(body) ? body : {};
}

/** RabbitMQ's 400 for missing body keys: "[{key_missing,a},{key_missing,b}]" (Erlang's ~p, wrapped past 80 columns). */
export function requireKeys(body: Obj, keys: readonly string[]): void {
  const missing = keys.filter((k) => body[k] === undefined).map((k) => `{key_missing,${k}}`);
  if (missing.length === 0) return;
  const line = `[${missing.join(',')}]`;
  throw badRequest(line.length <= 80 ? line : `[${missing.join(',\n ')}]`);
}

/** A JSON value as an AMQP field value, as RabbitMQ's to_amqp_table converts it: integers are longs, null is refused. */
export function fieldValue(v: unknown): FieldValue {
  if (v === null || v === undefined) throw badRequest('null_not_allowed');
  if (typeof v === 'number') return Number.isInteger(v) ? new Typed('l', v) : v;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(fieldValue);
  return fieldTable(v as Obj);
}

/** A JSON object as a field table, keys in order (as Erlang orders a small map's keys). */
export function fieldTable(obj: Obj): FieldTable {
  const out: FieldTable = {};
  for (const k of Object.keys(obj).sort(byBytes)) out[k] = fieldValue(obj[k]);
  return out;
}

/** A routing key of a body ("" when absent): a string, or a number as its decimal text, as RabbitMQ takes it. */
export function routingKeyOf(body: Obj): string {
  const v = body.routing_key;
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') throw badRequest(['not_string', v]);
  return v;
}

/** The `arguments` of a body as a table ({} when absent or an empty list, 400 when not an object). */
export function argumentsOf(body: Obj): FieldTable {
  const v = body.arguments;
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return {};
  if (!isObj(v)) throw badRequest(['not_table', v]);
  return fieldTable(v);
}

/** A field value as JSON (typed values as their plain value, timestamps as seconds, bytes as text). */
export function jsonValue(v: FieldValue | undefined): unknown {
  if (v === undefined) return null;
  if (v instanceof Typed) return v.toJSON();
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v !== null && typeof v === 'object') return jsonTable(v);
  return v;
}

export function jsonTable(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(t)) out[k] = jsonValue(t[k]);
  return out;
}

/** Strings compared as Erlang compares binaries: by their UTF-8 bytes. */
export function byBytes(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// ---- list replies

type Item = Record<string, unknown>;

function at(item: unknown, path: readonly string[]): unknown {
  let v = item;
  for (const p of path) v = isObj(v) ? v[p] : undefined;
  return v;
}

/** Erlang's term order for JSON values: numbers < atoms (true, false, null, missing) < maps < lists < binaries. */
function rank(v: unknown): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 4;
  if (Array.isArray(v)) return 3;
  if (isObj(v)) return 2;
  return 1;
}

function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return byBytes(a, b);
  if (ra === 1) return byBytes(String(a ?? 'undefined'), String(b ?? 'undefined'));
  return byBytes(JSON.stringify(a), JSON.stringify(b));
}

/** Only the ?columns= of an item (as RabbitMQ, "a.b" keeps all of a); the item itself without the parameter. */
export function pickColumns(req: ApiRequest, item: Item): Item {
  const columns = req.query.get('columns');
  if (!columns) return item;
  const out: Item = {};
  for (const column of columns.split(',')) {
    const key = column.split('.')[0]!;
    if (item[key] !== undefined) out[key] = item[key];
  }
  return out;
}

const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 100;
const invalidPaging = (): ApiError => badRequest('Pagination parameters are invalid');

/**
 * A list as RabbitMQ replies it: sorted by ?sort= then the default keys
 * (reversed with sort_reverse=true), reduced to ?columns=; with ?page= a
 * page of it (page_size, at most 500; name filtered case-insensitively,
 * as a regular expression with use_regex=true) in RabbitMQ's envelope,
 * unless the list has no pages (RabbitMQ pages no binding lists).
 */
export function listReply(req: ApiRequest, items: Item[], defaultSort: readonly string[], pages = true): unknown {
  const q = req.query;
  const keys = [...(q.get('sort') ? [q.get('sort')!] : []), ...defaultSort].map((k) => k.split('.'));
  const sorted = items.slice().sort((a, b) => {
    for (const k of keys) {
      const c = compareValues(at(a, k), at(b, k));
      if (c !== 0) return c;
    }
    return 0;
  });
  if (q.get('sort_reverse') === 'true') sorted.reverse();
  const pageParam = q.get('page');
  if (pageParam === null || !pages) return sorted.map((i) => pickColumns(req, i));
  const sizeParam = q.get('page_size');
  if (!/^-?\d+$/.test(pageParam) || (sizeParam !== null && !/^-?\d+$/.test(sizeParam))) throw invalidPaging();
  const page = Number(pageParam);
  const pageSize = sizeParam === null ? DEFAULT_PAGE_SIZE : Number(sizeParam);
  if (page < 1 || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new ApiError(400, 'invalid_pagination_parameters', `Invalid pagination parameters: page number ${page}, page size ${sizeParam ?? 'undefined'}`);
  }
  let filtered = sorted;
  const name = q.get('name');
  if (name) {
    let match: (s: string) => boolean;
    if (q.get('use_regex') === 'true') {
      let re: RegExp;
      try {
        re = new RegExp(name, 'i');
      } catch {
        throw invalidPaging();
      }
      match = (s) => re.test(s);
    } else {
      const lower = name.toLowerCase();
      match = (s) => s.toLowerCase().includes(lower);
    }
    filtered = sorted.filter((i) => typeof i.name === 'string' && match(i.name));
  }
  const start = (page - 1) * pageSize;
  if (page > 1 && start >= filtered.length) {
    throw new ApiError(400, 'page_out_of_range', `Page out of range, page: ${page} page size: ${pageSize}, len: ${filtered.length}`);
  }
  const pageItems = filtered.slice(start, start + pageSize).map((i) => pickColumns(req, i));
  return {
    filtered_count: filtered.length,
    item_count: pageItems.length,
    items: pageItems,
    page,
    page_count: Math.ceil(filtered.length / pageSize),
    page_size: pageSize,
    total_count: items.length,
  };
}
