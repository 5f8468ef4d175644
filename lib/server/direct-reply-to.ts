/**
 * Direct reply-to (RabbitMQ's extension for RPC without a reply queue): a
 * channel consumes from the pseudo-queue `amq.rabbitmq.reply-to` (no-ack
 * only, one such consumer a channel) and publishes requests with that
 * reply-to; warren rewrites the property to `amq.rabbitmq.reply-to.<key>`,
 * and a reply published to the default exchange with that routing key goes
 * straight to the consumer, never through a queue. A reply to a key whose
 * channel is gone is unroutable (returned when mandatory). Reply texts are
 * RabbitMQ 3.10's.
 */
import { randomBytes } from 'node:crypto';
import { preconditionFailed } from '../amqp/amqp-error.js';
import { encodeBasicConsumeOk, encodeBasicDeliver } from '../amqp/generated/methods.js';
import type { BasicConsume } from '../amqp/generated/methods.js';
import type { Message } from '../broker/message.js';
import { generatedName } from '../broker/resource-names.js';
import type { Channel } from './channel.js';

export const REPLY_TO = 'amq.rabbitmq.reply-to';
const PREFIX = `${REPLY_TO}.`;

/** The channels with a reply consumer, by key: one per listener (every connection's channels). */
export class ReplyToRegistry {
  private readonly byKey = new Map<string, Channel>();

  register(ch: Channel): string {
    const key = randomBytes(18).toString('base64url');
    this.byKey.set(key, ch);
    return key;
  }

  unregister(key: string): void {
    this.byKey.delete(key);
  }

  /** The channel a reply routing key addresses, or undefined. */
  channelFor(routingKey: string): Channel | undefined {
    return routingKey.startsWith(PREFIX) ? this.byKey.get(routingKey.slice(PREFIX.length)) : undefined;
  }
}

export function isReplyRoutingKey(routingKey: string): boolean {
  return routingKey.startsWith(PREFIX);
}

/** basic.consume on amq.rabbitmq.reply-to. */
export function consumeReplies(ch: Channel, m: BasicConsume): void {
  if (!m.noAck) throw preconditionFailed('reply consumer cannot acknowledge');
  if (ch.replyConsumer) throw preconditionFailed('reply consumer already set');
  const tag = m.consumerTag === '' ? generatedName('amq.ctag') : m.consumerTag;
  ch.replyConsumer = { tag, key: ch.host.replyTo.register(ch) };
  if (!m.noWait) ch.host.sendMethod(ch.id, encodeBasicConsumeOk, { consumerTag: tag });
}

/** The reply-to a request gets: this channel's reply address; 406 without a reply consumer. */
export function replyAddress(ch: Channel): string {
  if (!ch.replyConsumer) throw preconditionFailed('fast reply consumer does not exist');
  return PREFIX + ch.replyConsumer.key;
}

/** A reply published to `routingKey`: delivered to its consumer; false when nobody is there (unroutable). */
export function deliverReply(from: Channel, routingKey: string, message: Message): boolean {
  const ch = from.host.replyTo.channelFor(routingKey);
  if (!ch || !ch.replyConsumer || !ch.isOpen) return false;
  ch.host.sendContent(ch.id, encodeBasicDeliver, { consumerTag: ch.replyConsumer.tag, deliveryTag: ch.nextDeliveryTag(), redelivered: false, exchange: '', routingKey }, message);
  return true;
}

/** The channel is going, or cancelled its reply consumer. */
export function stopReplies(ch: Channel): void {
  if (!ch.replyConsumer) return;
  ch.host.replyTo.unregister(ch.replyConsumer.key);
  ch.replyConsumer = null;
}
