/**
 * basic.* on a channel but publish (publish.ts): consume and cancel, qos,
 * get, and the acknowledgements (ack, nack, reject, recover; held by an
 * open transaction until tx.commit),
 * with RabbitMQ's checks and reply texts (rabbit_channel:handle_method/3).
 */
import { AmqpError, accessRefused, notAllowed, notImplemented } from '../amqp/amqp-error.js';
import {
  Method,
  encodeBasicCancelOk,
  encodeBasicConsumeOk,
  encodeBasicGetEmpty,
  encodeBasicGetOk,
  encodeBasicQosOk,
  encodeBasicRecoverOk,
} from '../amqp/generated/methods.js';
import type { AnyMethod, BasicConsume, BasicGet } from '../amqp/generated/methods.js';
import { integerValue } from '../amqp/field-table.js';
import { checkConsumeArguments } from '../broker/queue-arguments.js';
import type { Queue } from '../broker/queue.js';
import { generatedName, queueResource } from '../broker/resource-names.js';
import { queueForUse } from '../broker/vhost-operations.js';
import type { Channel } from './channel.js';
import { consumeReplies, REPLY_TO, stopReplies } from './direct-reply-to.js';
import { ackDeadline } from './ack-timeout.js';
import { withDeliveryCount } from '../broker/message.js';
import { Consumer } from './consumer.js';
import type { Delivery } from './unacked-deliveries.js';

/** Handles the basic.* methods without content; false for those it does not know. */
export function handleBasicMethod(ch: Channel, m: AnyMethod): boolean {
  try {
    return dispatch(ch, m);
  } catch (err) {
    if (err instanceof AmqpError) err.forMethod(m.id);
    throw err;
  }
}

function dispatch(ch: Channel, m: AnyMethod): boolean {
  const host = ch.host;
  switch (m.id) {
    case Method.BasicQos:
      if (m.prefetchSize !== 0) throw notImplemented(`prefetch_size!=0 (${m.prefetchSize})`);
      // RabbitMQ's reading: global=false sets the prefetch of consumers created from now on,
      // global=true limits the channel's unacknowledged consumer deliveries as a whole
      if (m.global) ch.channelPrefetch = m.prefetchCount;
      else ch.consumerPrefetch = m.prefetchCount;
      host.sendMethod(ch.id, encodeBasicQosOk, {});
      ch.resumeDeliveries();
      return true;
    case Method.BasicConsume:
      consume(ch, m);
      return true;
    case Method.BasicCancel: {
      if (ch.replyConsumer?.tag === m.consumerTag) {
        stopReplies(ch);
        if (!m.noWait) host.sendMethod(ch.id, encodeBasicCancelOk, { consumerTag: m.consumerTag });
        return true;
      }
      const c = ch.consumers.get(m.consumerTag);
      // cancelling an unknown tag succeeds (the spec requires it be ignored)
      if (!m.noWait) host.sendMethod(ch.id, encodeBasicCancelOk, { consumerTag: m.consumerTag });
      if (c) ch.cancelConsumer(c);
      return true;
    }
    case Method.BasicGet:
      get(ch, m);
      return true;
    case Method.BasicAck: {
      const deliveries = ch.unacked.take(m.deliveryTag, m.multiple);
      if (ch.tx) ch.tx.settles.push({ deliveries, action: 'ack' });
      else ch.settle(deliveries);
      return true;
    }
    case Method.BasicNack:
      reject(ch, ch.unacked.take(m.deliveryTag, m.multiple), m.requeue);
      return true;
    case Method.BasicReject:
      reject(ch, ch.unacked.take(m.deliveryTag, false), m.requeue);
      return true;
    case Method.BasicRecover:
    case Method.BasicRecoverAsync:
      if (!m.requeue) throw notImplemented('requeue=false');
      ch.requeue(ch.unacked.takeAll());
      // recover-async, deprecated, has no reply
      if (m.id === Method.BasicRecover) host.sendMethod(ch.id, encodeBasicRecoverOk, {});
      return true;
    default:
      return false;
  }
}

function reject(ch: Channel, deliveries: Delivery[], requeue: boolean): void {
  if (ch.tx) {
    ch.tx.settles.push({ deliveries, action: requeue ? 'requeue' : 'reject' });
    return;
  }
  // without requeue the messages leave their queues, dead-lettered where a queue has a dead-letter exchange
  if (requeue) ch.requeue(deliveries);
  else ch.settle(deliveries, true);
}

function consume(ch: Channel, m: BasicConsume): void {
  if (m.consumerTag !== '' && ch.consumers.has(m.consumerTag)) {
    throw notAllowed(`attempt to reuse consumer tag '${m.consumerTag}'`);
  }
  if (m.queue === REPLY_TO) return consumeReplies(ch, m);
  const queue = readableQueue(ch, m.queue);
  checkConsumeArguments(m.arguments, queueResource(queue.name, queue.vhost));
  if (queue.hasExclusiveConsumer || (m.exclusive && queue.consumerCount > 0)) {
    throw accessRefused(`${queueResource(queue.name, queue.vhost)} in exclusive use`);
  }
  const tag = m.consumerTag === '' ? generatedName('amq.ctag') : m.consumerTag;
  const consumer = new Consumer(ch, tag, queue, m.noAck, m.exclusive, ch.consumerPrefetch, integerValue(m.arguments['x-priority']) ?? 0);
  ch.consumers.set(tag, consumer);
  // consume-ok goes out before the first delivery
  if (!m.noWait) ch.host.sendMethod(ch.id, encodeBasicConsumeOk, { consumerTag: tag });
  queue.addConsumer(consumer);
}

/** The queue basic.consume or basic.get reads: read permission first, then existence and exclusivity. */
function readableQueue(ch: Channel, name: string): Queue {
  const resolved = ch.queueName(name);
  ch.host.access.check('read', 'queue', resolved);
  return queueForUse(ch.vhost, resolved, ch.host.queueOwner);
}

function get(ch: Channel, m: BasicGet): void {
  const queue: Queue = readableQueue(ch, m.queue);
  const entry = queue.get(m.noAck);
  const stats = ch.host.stats;
  if (!entry) {
    stats.getEmpty++;
    ch.host.sendMethod(ch.id, encodeBasicGetEmpty, { clusterId: '' });
    return;
  }
  if (m.noAck) stats.getNoAck++;
  else stats.get++;
  if (entry.redelivered) stats.redeliver++;
  const tag = ch.nextDeliveryTag();
  if (!m.noAck) {
    const deadline = ackDeadline(queue, ch.host.consumerTimeout);
    ch.unacked.add({ tag, queue, entry, consumer: null, deadline });
    ch.ackTimer.watch(deadline);
  }
  const msg = queue.deliveryLimit >= 0 ? withDeliveryCount(entry.message, entry.deliveryCount) : entry.message;
  ch.host.sendContent(
    ch.id,
    encodeBasicGetOk,
    { deliveryTag: tag, redelivered: entry.redelivered, exchange: msg.exchange, routingKey: msg.routingKey, messageCount: queue.messageCount },
    msg,
  );
}
