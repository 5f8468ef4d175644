/**
 * GET /metrics: the Prometheus text exposition format (0.0.4) with the
 * figures operators watch: connections, channels, consumers, queues,
 * messages ready / unacknowledged per queue, the message counters (publish,
 * route, deliver, ack, confirm, unroutable), bytes in and out, resident
 * memory and free disk space.
 *
 * Names follow RabbitMQ's rabbitmq_prometheus plugin (3.9+), so its
 * Grafana dashboards and alert rules find them:
 *   rabbitmq_connections, _channels, _consumers, _queues (gauges)
 *   rabbitmq_connections_opened_total, rabbitmq_connections_closed_total
 *   rabbitmq_queue_messages_ready, _unacked, rabbitmq_queue_messages,
 *     rabbitmq_queue_consumers {vhost, queue} (per queue, as its
 *     /metrics/per-object endpoint gives them; /metrics aggregates them)
 *   rabbitmq_global_messages_*_total {protocol="amqp091"[, queue_type]}
 *     (rabbit_global_counters: received, received_confirm, routed,
 *     unroutable_dropped, unroutable_returned, confirmed, delivered,
 *     delivered_consume_manual_ack / _auto_ack, delivered_get_manual_ack /
 *     _auto_ack, get_empty, redelivered, acknowledged)
 *   rabbitmq_connection_incoming_bytes_total, _outgoing_bytes_total
 *     (every connection's, closed ones included, so they never decrease)
 *   rabbitmq_process_resident_memory_bytes, rabbitmq_disk_space_available_bytes,
 *   rabbitmq_disk_space_available_limit_bytes, rabbitmq_identity_info
 * Queues are RabbitMQ's classic queues, so queue_type="rabbit_classic_queue".
 */
import { hostname } from 'node:os';
import type { Broker } from '../broker/broker.js';
import type { DiskMonitor } from '../broker/disk-monitor.js';
import type { MessageStats } from '../broker/message-stats.js';
import type { AmqpListener } from '../server/amqp-listener.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsSource {
  readonly broker: Broker;
  readonly listener: AmqpListener;
  readonly stats: MessageStats;
  /** the free disk space monitor, for its last reading and limit (null: not reported) */
  readonly diskMonitor: DiskMonitor | null;
}

type Kind = 'gauge' | 'counter';

/** Builds the exposition text: each family's HELP and TYPE once, then its samples. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, kind: Kind, help: string, samples: readonly (readonly [labels: string, value: number])[]): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${kind}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labels} ${formatValue(value)}`);
  }

  /** One unlabelled sample. */
  single(name: string, kind: Kind, help: string, value: number): void {
    this.family(name, kind, help, [['', value]]);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const PROTOCOL = labels({ protocol: 'amqp091' });
const PROTOCOL_QUEUE = labels({ protocol: 'amqp091', queue_type: 'rabbit_classic_queue' });

export function renderMetrics(src: MetricsSource): string {
  const { broker, listener, stats, diskMonitor } = src;
  const out = new Exposition();
  const node = `warren@${hostname()}`;
  out.family('rabbitmq_identity_info', 'gauge', 'RabbitMQ node & cluster identity info', [
    [labels({ rabbitmq_node: node, rabbitmq_cluster: node }), 1],
  ]);

  // ---- object totals ----
  let channels = 0;
  for (const c of listener.connections) channels += c.channelCount;
  const ready: [string, number][] = [];
  const unacked: [string, number][] = [];
  const depth: [string, number][] = [];
  const queueConsumers: [string, number][] = [];
  let queues = 0;
  let consumers = 0;
  for (const vh of broker.vhosts.values()) {
    for (const q of vh.queues.values()) {
      queues++;
      consumers += q.consumerCount;
      const l = labels({ vhost: vh.name, queue: q.name });
      ready.push([l, q.messageCount]);
      unacked.push([l, q.unacked]);
      depth.push([l, q.messageCount + q.unacked]);
      queueConsumers.push([l, q.consumerCount]);
    }
  }
  out.single('rabbitmq_connections', 'gauge', 'Connections currently open', listener.connections.size);
  out.single('rabbitmq_channels', 'gauge', 'Channels currently open', channels);
  out.single('rabbitmq_consumers', 'gauge', 'Consumers currently connected', consumers);
  out.single('rabbitmq_queues', 'gauge', 'Queues available', queues);
  out.single('rabbitmq_connections_opened_total', 'counter', 'Total number of connections opened', stats.connectionsOpened);
  out.single('rabbitmq_connections_closed_total', 'counter', 'Total number of connections closed or terminated', stats.connectionsClosed);

  // ---- per queue ----
  out.family('rabbitmq_queue_messages_ready', 'gauge', 'Messages ready to be delivered to consumers', ready);
  out.family('rabbitmq_queue_messages_unacked', 'gauge', 'Messages delivered to consumers but not yet acknowledged', unacked);
  out.family('rabbitmq_queue_messages', 'gauge', 'Sum of ready and unacknowledged messages - total queue depth', depth);
  out.family('rabbitmq_queue_consumers', 'gauge', 'Consumers on a queue', queueConsumers);

  // ---- message counters (rabbit_global_counters) ----
  const global = (name: string, help: string, value: number, l = PROTOCOL): void =>
    out.family(`rabbitmq_global_${name}`, 'counter', help, [[l, value]]);
  global('messages_received_total', 'Total number of messages received from publishers', stats.publish);
  global('messages_received_confirm_total', 'Total number of messages received from publishers expecting confirmations', stats.publishConfirm);
  global('messages_routed_total', 'Total number of messages routed to queues or streams', stats.routed);
  global('messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', stats.dropUnroutable);
  global('messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', stats.returnUnroutable);
  global('messages_confirmed_total', 'Total number of messages confirmed to publishers', stats.confirm);
  global('messages_delivered_total', 'Total number of messages delivered to consumers', stats.deliverGet, PROTOCOL_QUEUE);
  global('messages_delivered_consume_manual_ack_total', 'Total number of messages delivered to consumers using basic.consume with manual acknowledgment', stats.deliver, PROTOCOL_QUEUE);
  global('messages_delivered_consume_auto_ack_total', 'Total number of messages delivered to consumers using basic.consume with automatic acknowledgment', stats.deliverNoAck, PROTOCOL_QUEUE);
  global('messages_delivered_get_manual_ack_total', 'Total number of messages delivered to consumers using basic.get with manual acknowledgment', stats.get, PROTOCOL_QUEUE);
  global('messages_delivered_get_auto_ack_total', 'Total number of messages delivered to consumers using basic.get with automatic acknowledgment', stats.getNoAck, PROTOCOL_QUEUE);
  global('messages_get_empty_total', 'Total number of times basic.get operations fetched no message', stats.getEmpty, PROTOCOL_QUEUE);
  global('messages_redelivered_total', 'Total number of messages redelivered to consumers', stats.redeliver, PROTOCOL_QUEUE);
  global('messages_acknowledged_total', 'Total number of messages acknowledged by consumers', stats.ack, PROTOCOL_QUEUE);

  // ---- bytes, memory, disk ----
  const { bytesIn, bytesOut } = stats.bytes(listener.connections);
  out.single('rabbitmq_connection_incoming_bytes_total', 'counter', 'Total number of bytes received on connections', bytesIn);
  out.single('rabbitmq_connection_outgoing_bytes_total', 'counter', 'Total number of bytes sent on connections', bytesOut);
  out.single('rabbitmq_process_resident_memory_bytes', 'gauge', 'Memory used in bytes', process.memoryUsage.rss());
  if (diskMonitor) {
    const free = diskMonitor.free;
    if (free !== undefined) out.single('rabbitmq_disk_space_available_bytes', 'gauge', 'Disk space available in bytes', free);
    out.single('rabbitmq_disk_space_available_limit_bytes', 'gauge', 'Free disk space low watermark in bytes', diskMonitor.limit);
  }
  return out.text();
}

/** `{a="x",b="y"}` with the values escaped as the text format requires (backslash, double quote, newline). */
export function labels(pairs: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(pairs)) {
    parts.push(`${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  }
  return `{${parts.join(',')}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
