/**
 * Exchanges: GET /api/exchanges[/{vhost}[/{name}]] (the default exchange
 * listed with name "", named amq.default in paths), PUT and DELETE
 * /api/exchanges/{vhost}/{name} (?if-unused=true), and POST
 * .../publish: a message published with the HTTP user's permissions and
 * routed as a basic.publish with mandatory would be, answering
 * {"routed": true|false}; persistent messages reaching durable queues are
 * on disk before the answer, as RabbitMQ waits for its publisher confirm.
 */
import { AmqpError, accessRefused, preconditionFailed } from '../../amqp/amqp-error.js';
import type { FieldTable } from '../../amqp/field-table.js';
import { encodeBasicProperties } from '../../amqp/generated/properties.js';
import type { BasicProperties } from '../../amqp/generated/properties.js';
import { WireWriter } from '../../amqp/wire-writer.js';
import type { Exchange } from '../../broker/exchange.js';
import { parseExpiration } from '../../broker/expiry.js';
import { Message, publishRecord } from '../../broker/message.js';
import type { Queue } from '../../broker/queue.js';
import { senderSelectedKeys, withoutBcc } from '../../broker/sender-selected.js';
import { declareExchange, deleteExchange, exchangeOrDie } from '../../broker/vhost-operations.js';
import type { VirtualHost } from '../../broker/vhost.js';
import { ApiResponse, badRequest, field, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';
import { exchangeName } from './bindings.js';
import {
  accessOf, argumentsOf, bodyObject, change, fieldTable, httpError, jsonTable, listReply, pickColumns, requireKeys, routingKeyOf,
  vhostNotFound, vhostRefused, vhostToChange, vhostToRead, vhostsToList,
} from './resource-json.js';

const DEFAULT_SORT = ['vhost', 'name'];

function exchangeJson(x: Exchange): Record<string, unknown> {
  return {
    arguments: jsonTable(x.arguments),
    auto_delete: x.autoDelete,
    durable: x.durable,
    internal: x.internal,
    name: x.name,
    type: x.type,
    vhost: x.vhost,
  };
}

function list(req: ApiRequest): unknown {
  const items = vhostsToList(req).flatMap((vh) => [...vh.exchanges.values()].map(exchangeJson));
  return listReply(req, items, DEFAULT_SORT);
}

function show(req: ApiRequest): unknown {
  const x = vhostToRead(req).exchanges.get(exchangeName(req.params.name!));
  if (!x) throw notFound();
  return pickColumns(req, exchangeJson(x));
}

/** PUT: declare (201) or redeclare (204); amq.default and new amq.* names are refused (403) as over AMQP. */
async function put(req: ApiRequest): Promise<ApiResponse> {
  const vh = vhostToChange(req, vhostNotFound());
  const name = exchangeName(req.params.name!);
  const body = bodyObject(req.body);
  const type = field(body, 'type', 'string', 'direct');
  const durable = field(body, 'durable', 'boolean', false);
  const autoDelete = field(body, 'auto_delete', 'boolean', false);
  const internal = field(body, 'internal', 'boolean', false);
  const args = argumentsOf(body);
  const existed = vh.exchanges.has(name);
  await change(req, vh, 'direct', () =>
    declareExchange(vh, { name, type, passive: false, durable, autoDelete, internal, arguments: args }, accessOf(req, vh)),
  );
  return existed ? noContent() : new ApiResponse(201);
}

async function remove(req: ApiRequest): Promise<ApiResponse> {
  const vh = vhostToChange(req, notFound());
  const name = exchangeName(req.params.name!);
  if (!vh.exchanges.has(name)) throw notFound();
  const ifUnused = req.query.get('if-unused') === 'true';
  await change(req, vh, 'direct', () => deleteExchange(vh, name, ifUnused, accessOf(req, vh)));
  return noContent();
}

// ---- POST .../publish

const STRING_PROPERTIES: readonly [string, keyof BasicProperties][] = [
  ['content_type', 'contentType'], ['content_encoding', 'contentEncoding'], ['correlation_id', 'correlationId'],
  ['reply_to', 'replyTo'], ['expiration', 'expiration'], ['message_id', 'messageId'], ['type', 'type'],
  ['user_id', 'userId'], ['app_id', 'appId'], ['cluster_id', 'clusterId'],
];
const INT_PROPERTIES: readonly [string, keyof BasicProperties, number][] = [
  ['delivery_mode', 'deliveryMode', 0xff], ['priority', 'priority', 0xff], ['timestamp', 'timestamp', Number.MAX_SAFE_INTEGER],
];

/** The body's properties as RabbitMQ's to_basic_properties reads them (unknown keys ignored). */
function basicProperties(v: unknown): BasicProperties {
  if (Array.isArray(v) && v.length === 0) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest(['not_table', v]);
  const p = v as Record<string, unknown>;
  const props: BasicProperties = {};
  for (const [name, key, max] of INT_PROPERTIES) {
    const n = p[name];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) throw badRequest(['not_int', name]);
    (props as Record<string, unknown>)[key] = n;
  }
  for (const [name, key] of STRING_PROPERTIES) {
    const s = p[name];
    if (s === undefined) continue;
    if (typeof s !== 'string') throw badRequest(['not_string', name]);
    (props as Record<string, unknown>)[key] = s;
  }
  if (p.headers !== undefined) {
    if (typeof p.headers !== 'object' || p.headers === null || Array.isArray(p.headers)) throw badRequest(['not_table', 'headers']);
    props.headers = fieldTable(p.headers as Record<string, unknown>);
  }
  return props;
}

function payloadOf(body: Record<string, unknown>): Buffer {
  const payload = body.payload;
  if (typeof payload !== 'string') throw badRequest('payload_not_string');
  if (body.payload_encoding === 'string') return Buffer.from(payload, 'utf8');
  if (body.payload_encoding !== 'base64') throw badRequest(['unsupported_encoding', body.payload_encoding]);
  const compact = payload.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw badRequest(['not_base64', payload]);
  return Buffer.from(compact, 'base64');
}

const propertiesWriter = new WireWriter(1024);

async function publish(req: ApiRequest): Promise<unknown> {
  const vh = vhostToChange(req, vhostRefused());
  const body = bodyObject(req.body);
  requireKeys(body, ['routing_key', 'properties', 'payload', 'payload_encoding']);
  const routingKey = routingKeyOf(body);
  const props = basicProperties(body.properties);
  const payload = payloadOf(body);
  let stored: { queues: Queue[]; refused: boolean; durable: string[] | null; message: Message };
  try {
    stored = route(req, vh, exchangeName(req.params.name!), routingKey, props, payload);
  } catch (err) {
    if (err instanceof AmqpError) throw httpError(err, 'publish');
    throw err;
  }
  const { queues, refused, durable, message } = stored;
  if (queues.length === 0 && !refused) return { routed: false };
  if (durable !== null) {
    // persistent on durable queues: logged first, answered once on disk
    const { broker } = req.ctx;
    message.logId = broker.messageLog.newMessageId();
    const committed = new Promise<Error | null>((resolve) => broker.messageLog.appendPublish(publishRecord(message, vh.name, durable), resolve));
    for (const q of queues) q.enqueue(message);
    const err = await committed;
    if (err) throw err;
  } else {
    for (const q of queues) q.enqueue(message);
  }
  if (refused) throw badRequest('rejected Unable to publish message. Check queue limits.');
  return { routed: true };
}

/** basic.publish's checks (write permission, exchange, internal, user-id, expiration, CC/BCC), then routing. */
function route(req: ApiRequest, vh: VirtualHost, name: string, routingKey: string, props: BasicProperties, payload: Buffer) {
  accessOf(req, vh).check('write', 'exchange', name);
  const x = exchangeOrDie(vh, name);
  if (x.internal) throw accessRefused(`cannot publish to internal exchange '${x.name}' in vhost '${vh.name}'`);
  if (props.userId !== undefined && props.userId !== req.user.name) {
    throw preconditionFailed(`user_id property set to '${props.userId}' but authenticated user was '${req.user.name}'`);
  }
  if (props.expiration !== undefined) {
    const parsed = parseExpiration(props.expiration);
    if (typeof parsed !== 'number') throw preconditionFailed(`invalid expiration '${props.expiration}': ${parsed.error}`);
  }
  encodeBasicProperties(propertiesWriter, props);
  let message = new Message(x.name, routingKey, propertiesWriter.take(), [payload], payload.length);
  const headers: FieldTable | undefined = props.headers;
  let cc: string[] | null = null;
  if (headers && (headers.CC !== undefined || headers.BCC !== undefined)) {
    cc = senderSelectedKeys(headers);
    if (headers.BCC !== undefined) message = withoutBcc(message);
  }
  const routed: Queue[] = [];
  vh.route(x, message, routed, cc);
  // full queues with overflow reject-publish(-dlx) refuse it: RabbitMQ's publisher gets a nack
  let refused = false;
  const queues = routed.filter((q) => {
    if (q.deleted) return false;
    if (q.refuses(message)) {
      refused = true;
      return false;
    }
    return true;
  });
  const persistent = props.deliveryMode === 2;
  const durable = persistent ? queues.filter((q) => q.journal !== null).map((q) => q.name) : [];
  return { queues, refused, durable: durable.length > 0 ? durable : null, message };
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/exchanges', tag: 'management', handler: list },
  { method: 'GET', path: '/api/exchanges/:vhost', tag: 'management', handler: list },
  { method: 'GET', path: '/api/exchanges/:vhost/:name', tag: 'management', handler: show },
  { method: 'PUT', path: '/api/exchanges/:vhost/:name', tag: 'management', handler: put },
  { method: 'DELETE', path: '/api/exchanges/:vhost/:name', tag: 'management', handler: remove },
  { method: 'POST', path: '/api/exchanges/:vhost/:name/publish', tag: 'management', handler: publish },
];
