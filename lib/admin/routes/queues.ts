/**
 * Queues: GET /api/queues[/{vhost}[/{name}]], PUT and DELETE
 * /api/queues/{vhost}/{name} (?if-unused=true, ?if-empty=true), DELETE
 * .../contents (purge) and POST .../get (basic.get of up to `count`
 * messages, settled by `ackmode` once all are read, as RabbitMQ's
 * management plugin does it). Declares, deletes, purges and gets go
 * through the vhost operations with the HTTP user's permissions, so they
 * are checked and refused as for an AMQP client.
 *
 * A queue's JSON has the fields RabbitMQ's has where warren keeps the
 * data: no rates, memory or consumer details.
 */
import { isUtf8 } from 'node:buffer';
import type { BasicProperties } from '../../amqp/generated/properties.js';
import { withDeliveryCount } from '../../broker/message.js';
import type { Message } from '../../broker/message.js';
import type { Queue } from '../../broker/queue.js';
import type { QueueEntry } from '../../broker/ready-list.js';
import { declareQueue, deleteQueue, purgeQueue, queueForUse } from '../../broker/vhost-operations.js';
import { ApiResponse, badRequest, field, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';
import {
  HTTP_OWNER, accessOf, argumentsOf, bodyObject, change, jsonTable, listReply, nodeName, pickColumns, requireKeys,
  vhostNotFound, vhostRefused, vhostToChange, vhostToRead, vhostsToList,
} from './resource-json.js';

const DEFAULT_SORT = ['vhost', 'name'];

function queueJson(q: Queue): Record<string, unknown> {
  const ready = q.messageCount;
  const unacked = q.unacked;
  return {
    arguments: jsonTable(q.arguments),
    auto_delete: q.autoDelete,
    consumers: q.consumerCount,
    durable: q.durable,
    exclusive: q.owner !== null,
    messages: ready + unacked,
    messages_paged_out: q.pagedCount,
    messages_ready: ready,
    messages_unacknowledged: unacked,
    name: q.name,
    node: nodeName(),
    state: 'running',
    type: 'classic',
    vhost: q.vhost,
  };
}

function list(req: ApiRequest): unknown {
  const items = vhostsToList(req).flatMap((vh) => [...vh.queues.values()].map(queueJson));
  return listReply(req, items, DEFAULT_SORT);
}

function show(req: ApiRequest): unknown {
  const q = vhostToRead(req).queues.get(req.params.name!);
  if (!q) throw notFound();
  return pickColumns(req, queueJson(q));
}

/** PUT: declare (201) or redeclare (204, after the equivalence checks). */
async function put(req: ApiRequest): Promise<ApiResponse> {
  const vh = vhostToChange(req, vhostNotFound());
  const name = req.params.name!;
  if (name === '') throw notFound();
  const body = bodyObject(req.body);
  const durable = field(body, 'durable', 'boolean', false);
  const autoDelete = field(body, 'auto_delete', 'boolean', false);
  const args = argumentsOf(body);
  const declared = await change(req, vh, 'direct', () =>
    declareQueue(vh, { name, passive: false, durable, exclusive: false, autoDelete, arguments: args }, HTTP_OWNER, accessOf(req, vh)),
  );
  return declared.created ? new ApiResponse(201) : noContent();
}

async function remove(req: ApiRequest): Promise<ApiResponse> {
  const vh = vhostToChange(req, notFound());
  const name = req.params.name!;
  if (!vh.queues.has(name)) throw notFound();
  const ifUnused = req.query.get('if-unused') === 'true';
  const ifEmpty = req.query.get('if-empty') === 'true';
  await change(req, vh, 'direct', () => deleteQueue(vh, name, ifUnused, ifEmpty, HTTP_OWNER, accessOf(req, vh)));
  return noContent();
}

async function purge(req: ApiRequest): Promise<ApiResponse> {
  const vh = vhostToChange(req, notFound());
  const name = req.params.name!;
  if (!vh.queues.has(name)) throw notFound();
  await change(req, vh, 'direct', () => purgeQueue(vh, name, HTTP_OWNER, accessOf(req, vh)));
  return noContent();
}

// ---- POST .../get

const ACKMODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'] as const;
type AckMode = (typeof ACKMODES)[number];

/** An integer body field as RabbitMQ reads it: a number (truncated) or a string of digits, else ["not_integer", v]. */
function integer(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  throw badRequest(['not_integer', v ?? null]);
}

/** Properties as the management plugin shows them: RabbitMQ's order (the AMQP order reversed), [] when there are none. */
const PROPERTY_NAMES: readonly [keyof BasicProperties, string][] = [
  ['clusterId', 'cluster_id'], ['appId', 'app_id'], ['userId', 'user_id'], ['type', 'type'], ['timestamp', 'timestamp'],
  ['messageId', 'message_id'], ['expiration', 'expiration'], ['replyTo', 'reply_to'], ['correlationId', 'correlation_id'],
  ['priority', 'priority'], ['deliveryMode', 'delivery_mode'], ['headers', 'headers'], ['contentEncoding', 'content_encoding'],
  ['contentType', 'content_type'],
];

function propertiesJson(m: Message): unknown {
  const props = m.decodedProperties();
  const out: Record<string, unknown> = {};
  for (const [key, name] of PROPERTY_NAMES) {
    const v = props[key];
    if (v === undefined) continue;
    out[name] = key === 'headers' ? jsonTable(v as NonNullable<BasicProperties['headers']>) : v;
  }
  return Object.keys(out).length === 0 ? [] : out;
}

export function messageBody(m: Message): Buffer {
  if (m.bodyParts) return Buffer.concat(m.bodyParts, m.bodySize);
  const start = m.offset + m.propertiesSize;
  return m.data.subarray(start, start + m.bodySize);
}

function messageJson(q: Queue, e: QueueEntry, encoding: string, truncate: number | null): Record<string, unknown> {
  // a queue with a delivery limit shows x-delivery-count, as basic.get over AMQP does
  const m = q.deliveryLimit >= 0 ? withDeliveryCount(e.message, e.deliveryCount) : e.message;
  const body = messageBody(m);
  const part = truncate === null || truncate >= body.length ? body : body.subarray(0, Math.max(0, truncate));
  const text = encoding === 'auto' && isUtf8(part);
  return {
    payload_bytes: m.bodySize,
    redelivered: e.redelivered,
    exchange: m.exchange,
    routing_key: m.routingKey,
    message_count: q.messageCount,
    properties: propertiesJson(m),
    payload: text ? part.toString('utf8') : part.toString('base64'),
    payload_encoding: text ? 'string' : 'base64',
  };
}

async function get(req: ApiRequest): Promise<unknown> {
  const vh = vhostToChange(req, vhostRefused());
  const body = bodyObject(req.body);
  requireKeys(body, ['ackmode', 'count', 'encoding']);
  const count = integer(body.count);
  const ackmode = body.ackmode as AckMode;
  if (!ACKMODES.includes(ackmode)) throw badRequest(['unknown_ackmode', body.ackmode]);
  const encoding = body.encoding;
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest('Unsupported encoding. Please use auto or base64.');
  const truncate = body.truncate === undefined ? null : integer(body.truncate);
  const name = req.params.name!;
  return change(req, vh, 'channel', () => {
    accessOf(req, vh).check('read', 'queue', name);
    const q = queueForUse(vh, name, HTTP_OWNER);
    const noAck = ackmode === 'ack_requeue_false';
    const entries: QueueEntry[] = [];
    const out: unknown[] = [];
    // a negative count reads until the queue is empty, as RabbitMQ does
    for (let i = 0; count < 0 || i < count; i++) {
      const e = q.get(noAck);
      if (!e) break;
      entries.push(e);
      out.push(messageJson(q, e, encoding, truncate));
    }
    // settled once all are read (RabbitMQ rejects after reading, and requeues ack_requeue_true ones when its channel closes)
    if (ackmode === 'ack_requeue_true' || ackmode === 'reject_requeue_true') {
      if (entries.length > 0) q.requeue(entries);
    } else if (ackmode === 'reject_requeue_false') {
      for (const e of entries) q.reject(e);
    }
    return out;
  });
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/queues', tag: 'management', handler: list },
  { method: 'GET', path: '/api/queues/:vhost', tag: 'management', handler: list },
  { method: 'GET', path: '/api/queues/:vhost/:name', tag: 'management', handler: show },
  { method: 'PUT', path: '/api/queues/:vhost/:name', tag: 'management', handler: put },
  { method: 'DELETE', path: '/api/queues/:vhost/:name', tag: 'management', handler: remove },
  { method: 'DELETE', path: '/api/queues/:vhost/:name/contents', tag: 'management', handler: purge },
  { method: 'POST', path: '/api/queues/:vhost/:name/get', tag: 'management', handler: get },
];
