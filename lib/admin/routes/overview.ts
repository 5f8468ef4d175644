/**
 * Who and how: GET /api/overview (the node, its versions, the object
 * totals, the queue totals and the message counters with their rates:
 * message_stats, from lib/broker/message-stats.ts), /api/whoami,
 * /api/healthchecks/node and /api/aliveness-test/{vhost} (declares the
 * queue "aliveness-test", publishes a message to it and reads it back, as
 * RabbitMQ does).
 */
import { hostname } from 'node:os';
import { Message } from '../../broker/message.js';
import type { MessageStats, RatedCounter } from '../../broker/message-stats.js';
import { WARREN_VERSION } from '../../server/server-properties.js';
import { forbidden, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';

const EXCHANGE_TYPES = [
  ['direct', 'AMQP direct exchange, as per the AMQP specification'],
  ['fanout', 'AMQP fanout exchange, as per the AMQP specification'],
  ['headers', 'AMQP headers exchange, as per the AMQP specification'],
  ['topic', 'AMQP topic exchange, as per the AMQP specification'],
  ['x-delayed-message', 'Delayed Message Exchange.'],
] as const;

function overview(req: ApiRequest): unknown {
  const { broker, listener } = req.ctx;
  let queues = 0;
  let exchanges = 0;
  let ready = 0;
  let unacked = 0;
  let consumers = 0;
  for (const vh of broker.vhosts.values()) {
    exchanges += vh.exchanges.size;
    queues += vh.queues.size;
    for (const q of vh.queues.values()) {
      ready += q.messageCount;
      unacked += q.unacked;
      consumers += q.consumerCount;
    }
  }
  let channels = 0;
  for (const c of listener.connections) channels += c.channelCount;
  const node = `warren@${hostname()}`;
  const stats = broker.stats;
  return {
    management_version: WARREN_VERSION,
    rates_mode: 'basic',
    exchange_types: EXCHANGE_TYPES.map(([name, description]) => ({ name, description, enabled: true })),
    product_version: WARREN_VERSION,
    product_name: 'warren',
    rabbitmq_version: '3.13.0',
    cluster_name: node,
    node,
    disable_stats: false,
    enable_queue_totals: false,
    message_stats: messageStats(stats),
    queue_totals: {
      messages: ready + unacked,
      messages_details: rate(stats.totalsRates.messages),
      messages_ready: ready,
      messages_ready_details: rate(stats.totalsRates.ready),
      messages_unacknowledged: unacked,
      messages_unacknowledged_details: rate(stats.totalsRates.unacked),
    },
    object_totals: { channels, connections: listener.connections.size, consumers, exchanges, queues },
    listeners: [{ node, protocol: 'amqp', ip_address: broker.config.bind, port: listener.port }],
  };
}

/** RabbitMQ's message_stats fields and the counters behind them. */
const MESSAGE_STATS: readonly (readonly [string, RatedCounter])[] = [
  ['publish', 'publish'],
  ['confirm', 'confirm'],
  ['return_unroutable', 'returnUnroutable'],
  ['drop_unroutable', 'dropUnroutable'],
  ['deliver', 'deliver'],
  ['deliver_no_ack', 'deliverNoAck'],
  ['get', 'get'],
  ['get_no_ack', 'getNoAck'],
  ['get_empty', 'getEmpty'],
  ['redeliver', 'redeliver'],
  ['ack', 'ack'],
];

/** Each count with its *_details {rate} (per second over the last 5 s sample, RabbitMQ's 'basic' rates mode). */
function messageStats(stats: MessageStats): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, counter] of MESSAGE_STATS) {
    out[field] = stats[counter];
    out[`${field}_details`] = rate(stats.rates[counter]);
  }
  out.deliver_get = stats.deliverGet;
  out.deliver_get_details = rate(stats.deliverGetRate);
  return out;
}

function rate(perSecond: number): { rate: number } {
  return { rate: Math.round(perSecond * 10) / 10 };
}

async function aliveness(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const vh = broker.vhosts.get(req.params.vhost!);
  if (!vh) throw notFound();
  if (!broker.users.canAccessVhost(req.user.name, vh.name)) throw forbidden('Access refused.');
  const q = vh.queues.get('aliveness-test') ?? vh.addQueue('aliveness-test', { durable: false, exclusive: false, autoDelete: false, arguments: {} }, null);
  const body = Buffer.from('test_message');
  q.enqueue(new Message('', 'aliveness-test', Buffer.from([0, 0]), [body], body.length));
  const back = q.get(true);
  return back ? { status: 'ok' } : { status: 'failed', reason: 'the test message did not come back' };
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/overview', tag: 'management', handler: overview },
  { method: 'GET', path: '/api/whoami', tag: 'management', handler: (req) => ({ name: req.user.name, tags: req.user.tags }) },
  { method: 'GET', path: '/api/healthchecks/node', tag: 'management', handler: () => ({ status: 'ok' }) },
  { method: 'GET', path: '/api/aliveness-test/:vhost', tag: 'management', handler: aliveness },
];
