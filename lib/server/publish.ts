/**
 * basic.publish with its content: RabbitMQ's checks (exchange, internal,
 * properties: user-id, expiration, CC/BCC), routing, then storing: a
 * mandatory unroutable message is returned, queues at their length limit
 * with reject-publish refuse it, a persistent message reaching durable
 * queues is written to the message log before it is enqueued, and the
 * publisher's confirm (or the transaction's commit) waits for the disk.
 *
 * In a transaction (tx.select) a publish is checked and routed at once, as
 * RabbitMQ does, and stored at tx.commit (transaction.ts).
 */
import { AmqpError, accessRefused, notImplemented, preconditionFailed, syntaxError } from '../amqp/amqp-error.js';
import { ReplyCode } from '../amqp/generated/constants.js';
import { encodeBasicReturn } from '../amqp/generated/methods.js';
import type { AnyMethod, BasicPublish } from '../amqp/generated/methods.js';
import { PropertyFlag } from '../amqp/generated/properties.js';
import { parseExpiration } from '../broker/expiry.js';
import { Message, publishRecord, withProperties } from '../broker/message.js';
import type { Queue } from '../broker/queue.js';
import { senderSelectedKeys, withoutBcc } from '../broker/sender-selected.js';
import { exchangeOrDie } from '../broker/vhost-operations.js';
import type { Committed } from '../store/message-log.js';
import type { Channel } from './channel.js';
import type { Content } from './content-assembler.js';
import { deliverReply, isReplyRoutingKey, replyAddress, REPLY_TO } from './direct-reply-to.js';

/** A checked and routed publish, stored now or at tx.commit. */
export interface RoutedPublish {
  message: Message;
  queues: Queue[];
  mandatory: boolean;
  /** as published, for basic.return */
  exchange: string;
  routingKey: string;
}

/** Handles basic.publish once its content is complete. */
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
  ch.host.access.publish(m.exchange);
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
    // a request expecting a direct reply: reply-to becomes this channel's reply address
    if (message.propertyFlags & PropertyFlag.ReplyTo && message.decodedProperties().replyTo === REPLY_TO) {
      message = withProperties(message, { ...message.decodedProperties(), replyTo: replyAddress(ch) });
    }
  }
  // counted once checked and about to be routed (RabbitMQ's messages_received)
  const stats = ch.host.stats;
  stats.publish++;
  if (ch.confirms) stats.publishConfirm++;
  if (exchange.name === '' && isReplyRoutingKey(m.routingKey)) return publishReply(ch, m, message);
  const confirms = ch.confirms;
  const tag = confirms ? confirms.next() : 0;
  if (routed.length !== 0) routed.length = 0; // setting length costs a runtime call even when 0
  vhost.route(exchange, message, routed, ccKeys);
  if (ch.tx) {
    ch.tx.publishes.push({ message, queues: routed.slice(), mandatory: m.mandatory, exchange: m.exchange, routingKey: m.routingKey });
  } else {
    storePublish(ch, message, routed, m.mandatory, m.exchange, m.routingKey, tag);
  }
  if (routed.length !== 0) routed.length = 0;
}

/** A reply to a direct reply-to address: straight to its consumer, or unroutable. */
function publishReply(ch: Channel, m: BasicPublish, message: Message): void {
  const tag = ch.confirms ? ch.confirms.next() : 0;
  if (deliverReply(ch, m.routingKey, message)) {
    if (ch.confirms) ch.confirms.confirm(tag);
    return;
  }
  storePublish(ch, message, [], m.mandatory, m.exchange, m.routingKey, tag);
}

/**
 * Return, refuse, log and enqueue a routed message. `tag` is its confirm
 * tag (0 without confirms); in a transaction's commit, `awaitDisk` gives the
 * callback the message log calls once the message is on disk.
 */
export function storePublish(
  ch: Channel, message: Message, queues: Queue[], mandatory: boolean, exchange: string, routingKey: string, tag: number,
  awaitDisk: (() => Committed) | null = null,
): void {
  const confirms = ch.confirms;
  const stats = ch.host.stats;
  if (queues.length === 0) {
    // a return goes out before the confirm
    if (mandatory) {
      stats.returnUnroutable++;
      ch.host.sendContent(ch.id, encodeBasicReturn, { replyCode: ReplyCode.NoRoute, replyText: 'NO_ROUTE', exchange, routingKey }, message);
    } else {
      stats.dropUnroutable++;
    }
    if (confirms) confirms.confirm(tag);
    return;
  }
  stats.routed += queues.length;
  // queues with overflow reject-publish(-dlx) that are full refuse it: the publisher gets a nack
  let refused = false;
  for (let i = queues.length - 1; i >= 0; i--) {
    if (queues[i]!.deleted || queues[i]!.refuses(message)) {
      refused ||= !queues[i]!.deleted;
      queues.splice(i, 1);
    }
  }
  const durable = message.propertyFlags & PropertyFlag.DeliveryMode && message.decodedProperties().deliveryMode === 2 ? durableQueues(queues) : null;
  if (durable) {
    // persistent on a durable queue: logged before it is enqueued (a delivery may record its removal
    // at once), and confirmed once the log has it on disk
    message.logId = ch.host.newMessageId();
    const done = awaitDisk ? awaitDisk() : confirms ? confirms.awaitCommit(tag, refused) : ignoreCommit;
    ch.host.logMessage(publishRecord(message, ch.vhost.name, durable), done);
  } else if (confirms) {
    if (refused) confirms.refuse(tag);
    else confirms.confirm(tag);
  }
  for (let i = 0; i < queues.length; i++) queues[i]!.enqueue(message);
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
