/**
 * basic.* on a channel: publish (with mandatory returns), consume and
 * cancel, qos, get, and the acknowledgements (ack, nack, reject, recover),
 * with RabbitMQ's checks and reply texts (rabbit_channel:handle_method/3).
 */
import { AmqpError, accessRefused, notAllowed, notImplemented, preconditionFailed, syntaxError } from '../amqp/amqp-error.js';
import { ReplyCode } from '../amqp/generated/constants.js';
import {
  Method,
  encodeBasicCancelOk,
  encodeBasicConsumeOk,
  encodeBasicGetEmpty,
  encodeBasicGetOk,
  encodeBasicQosOk,
  encodeBasicRecoverOk,
  encodeBasicReturn,
} from '../amqp/generated/methods.js';
import type { AnyMethod, BasicConsume, BasicGet, BasicPublish } from '../amqp/generated/methods.js';
import { PropertyFlag } from '../amqp/generated/properties.js';
import { integerValue } from '../amqp/field-table.js';
import { parseExpiration } from '../broker/expiry.js';
import { checkConsumeArguments } from '../broker/queue-arguments.js';
import { senderSelectedKeys, withoutBcc } from '../broker/sender-selected.js';
import { Message, publishRecord } from '../broker/message.js';
import type { Queue } from '../broker/queue.js';
import { generatedName, queueResource } from '../broker/resource-names.js';
import { exchangeOrDie, queueForUse } from '../broker/vhost-operations.js';
import type { Channel } from './channel.js';
import { Consumer } from './consumer.js';
import type { Content } from './content-assembler.js';
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
      const c = ch.consumers.get(m.consumerTag);
      // cancelling an unknown tag succeeds (the spec requires it be ignored)
      if (!m.noWait) host.sendMethod(ch.id, encodeBasicCancelOk, { consumerTag: m.consumerTag });
      if (c) ch.cancelConsumer(c);
      return true;
    }
    case Method.BasicGet:
      get(ch, m);
      return true;
    case Method.BasicAck:
      ch.settle(ch.unacked.take(m.deliveryTag, m.multiple));
      return true;
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

function reject(ch: Channel, deliveries: readonly Delivery[], requeue: boolean): void {
  // without requeue the messages leave their queues, dead-lettered where a queue has a dead-letter exchange
  if (requeue) ch.requeue(deliveries);
  else ch.settle(deliveries, true);
}

function consume(ch: Channel, m: BasicConsume): void {
  if (m.consumerTag !== '' && ch.consumers.has(m.consumerTag)) {
    throw notAllowed(`attempt to reuse consumer tag '${m.consumerTag}'`);
  }
  const queue = queueForUse(ch.vhost, ch.queueName(m.queue), ch.host.queueOwner);
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

function get(ch: Channel, m: BasicGet): void {
  const queue: Queue = queueForUse(ch.vhost, ch.queueName(m.queue), ch.host.queueOwner);
  const entry = queue.get(m.noAck);
  if (!entry) {
    ch.host.sendMethod(ch.id, encodeBasicGetEmpty, { clusterId: '' });
    return;
  }
  const tag = ch.nextDeliveryTag();
  if (!m.noAck) ch.unacked.add({ tag, queue, entry, consumer: null });
  const msg = entry.message;
  ch.host.sendContent(
    ch.id,
    encodeBasicGetOk,
    { deliveryTag: tag, redelivered: entry.redelivered, exchange: msg.exchange, routingKey: msg.routingKey, messageCount: queue.messageCount },
    msg,
  );
}

/** basic.publish with its content: route it, enqueue it, return it if mandatory and unroutable. */
export function handlePublish(ch: Channel, method: AnyMethod, c: Content): void {
  const m = method as BasicPublish;
  try {
    publish(ch, m, c);
  } catch (err) {
    if (err instanceof AmqpError) err.forMethod(m.id);
    throw err;
  }
}

/** Reused between publishes: the queues a message was routed to. */
const routed: Queue[] = [];

function publish(ch: Channel, m: BasicPublish, c: Content): void {
  if (m.immediate) throw notImplemented('immediate=true');
  const vhost = ch.vhost;
  const exchange = exchangeOrDie(vhost, m.exchange);
  if (exchange.internal) throw accessRefused(`cannot publish to internal exchange '${exchange.name}' in vhost '${vhost.name}'`);
  // reuse the previous publish's strings when equal, so queued messages share one copy
  if (m.routingKey !== ch.lastRoutingKey) ch.lastRoutingKey = m.routingKey;
  let message = new Message(exchange.name, ch.lastRoutingKey, c.properties, c.body, c.bodySize);
  let ccKeys: string[] | null = null;
  if (message.propertyFlags !== 0) {
    checkProperties(ch, message);
    const headers = message.propertyFlags & PropertyFlag.Headers ? message.headers : undefined;
    if (headers && (headers.CC !== undefined || headers.BCC !== undefined)) {
      ccKeys = senderSelectedKeys(headers);
      if (headers.BCC !== undefined) message = withoutBcc(message);
    }
  }
  const confirms = ch.confirms;
  const tag = confirms ? confirms.next() : 0;
  routed.length = 0;
  vhost.route(exchange, message, routed, ccKeys);
  if (routed.length === 0) {
    // a return goes out before the confirm
    if (m.mandatory) {
      ch.host.sendContent(ch.id, encodeBasicReturn, { replyCode: ReplyCode.NoRoute, replyText: 'NO_ROUTE', exchange: m.exchange, routingKey: m.routingKey }, message);
    }
    if (confirms) confirms.confirm(tag);
    return;
  }
  // queues with overflow reject-publish(-dlx) that are full refuse it: the publisher gets a nack
  let refused = false;
  for (let i = routed.length - 1; i >= 0; i--) {
    if (routed[i]!.refuses(message)) {
      refused = true;
      routed.splice(i, 1);
    }
  }
  const durable = message.propertyFlags & PropertyFlag.DeliveryMode && message.decodedProperties().deliveryMode === 2 ? durableQueues(routed) : null;
  if (durable) {
    // persistent on a durable queue: logged before it is enqueued (a delivery may record its removal
    // at once), and confirmed once the log has it on disk
    message.logId = ch.host.newMessageId();
    ch.host.logMessage(
      publishRecord(message, vhost.name, durable),
      confirms ? confirms.awaitCommit(tag, refused) : ignoreCommit,
    );
  } else if (confirms) {
    if (refused) confirms.refuse(tag);
    else confirms.confirm(tag);
  }
  for (let i = 0; i < routed.length; i++) routed[i]!.enqueue(message);
  routed.length = 0;
}

const ignoreCommit = (): void => undefined;

/** The names of the durable queues among those routed to, or null if none. */
function durableQueues(queues: readonly Queue[]): string[] | null {
  let names: string[] | null = null;
  for (const q of queues) if (q.durable) (names ??= []).push(q.name);
  return names;
}

/** Properties must decode, user-id must name the authenticated user, expiration must be a valid TTL (RabbitMQ's check_user_id_header, check_expiration_header). */
function checkProperties(ch: Channel, message: Message): void {
  let props;
  try {
    props = message.decodedProperties();
  } catch (err) {
    throw syntaxError(`malformed content header properties: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (message.propertyFlags & PropertyFlag.UserId && props.userId !== ch.host.username) {
    throw preconditionFailed(`user_id property set to '${props.userId}' but authenticated user was '${ch.host.username}'`);
  }
  if (props.expiration !== undefined) {
    const parsed = parseExpiration(props.expiration);
    if (typeof parsed !== 'number') throw preconditionFailed(`invalid expiration '${props.expiration}': ${parsed.error}`);
  }
}
