/**
 * exchange.* and queue.* on a channel: arguments in, vhost-operations.ts
 * does the work and the checks, the reply (unless no-wait) out. Errors
 * leave here carrying the failing method's ids.
 */
import { AmqpError, commandInvalid } from '../amqp/amqp-error.js';
import {
  Method,
  encodeExchangeBindOk,
  encodeExchangeDeclareOk,
  encodeExchangeDeleteOk,
  encodeExchangeUnbindOk,
  encodeQueueBindOk,
  encodeQueueDeclareOk,
  encodeQueueDeleteOk,
  encodeQueuePurgeOk,
  encodeQueueUnbindOk,
} from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import type { Queue } from '../broker/queue.js';
import * as ops from '../broker/vhost-operations.js';
import type { Channel } from './channel.js';
import { REPLY_TO } from './direct-reply-to.js';

/**
 * A method that changed durable definitions is answered once they are on
 * disk (the channel holds its later methods meanwhile): after declare-ok,
 * a durable queue survives a crash.
 */
export function handleEntityMethod(ch: Channel, m: AnyMethod): void {
  const vhost = ch.vhost;
  const before = vhost.durableChanges;
  const replies: (() => void)[] = [];
  try {
    dispatch(ch, m, replies);
  } catch (err) {
    if (err instanceof AmqpError) err.forMethod(m.id);
    throw err;
  }
  const reply = replies[0] ?? noReply;
  if (vhost.durableChanges !== before) ch.waitFor(ch.host.definitionsSaved(), reply);
  else reply();
}

const noReply = (): void => undefined;

function dispatch(ch: Channel, m: AnyMethod, replies: (() => void)[]): void {
  const vhost = ch.vhost;
  const owner = ch.host.queueOwner;
  const access = ch.host.access;
  // replies are deferred: they go out now, or once the definitions are saved
  const host = {
    sendMethod<A>(channel: number, encode: MethodEncoder<A>, args: A): void {
      replies.push(() => ch.host.sendMethod(channel, encode, args));
    },
    exclusiveQueueDeclared: (q: Queue): void => ch.host.exclusiveQueueDeclared(q),
  };
  switch (m.id) {
    case Method.ExchangeDeclare:
      ops.declareExchange(vhost, {
        name: m.exchange,
        type: m.type,
        passive: m.passive,
        durable: m.durable,
        autoDelete: m.autoDelete,
        internal: m.internal,
        arguments: m.arguments,
      }, access);
      if (!m.noWait) host.sendMethod(ch.id, encodeExchangeDeclareOk, {});
      return;
    case Method.ExchangeDelete:
      ops.deleteExchange(vhost, m.exchange, m.ifUnused, access);
      if (!m.noWait) host.sendMethod(ch.id, encodeExchangeDeleteOk, {});
      return;
    case Method.ExchangeBind:
    case Method.ExchangeUnbind: {
      const r = { source: m.source, destination: m.destination, destinationKind: 'exchange' as const, routingKey: m.routingKey, arguments: m.arguments };
      if (m.id === Method.ExchangeBind) {
        ops.bind(vhost, r, owner, access);
        if (!m.noWait) host.sendMethod(ch.id, encodeExchangeBindOk, {});
      } else {
        ops.unbind(vhost, r, owner, access);
        if (!m.noWait) host.sendMethod(ch.id, encodeExchangeUnbindOk, {});
      }
      return;
    }
    case Method.QueueDeclare: {
      if (m.passive && m.queue === REPLY_TO) {
        // the direct reply-to pseudo-queue: RabbitMQ answers a passive declare with 0 messages, 1 consumer
        if (!m.noWait) host.sendMethod(ch.id, encodeQueueDeclareOk, { queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
        return;
      }
      const { queue, created } = ops.declareQueue(
        vhost,
        { name: m.queue, passive: m.passive, durable: m.durable, exclusive: m.exclusive, autoDelete: m.autoDelete, arguments: m.arguments },
        owner,
        access,
      );
      if (created && queue.owner !== null) host.exclusiveQueueDeclared(queue);
      ch.mostRecentQueue = queue.name;
      if (!m.noWait) {
        host.sendMethod(ch.id, encodeQueueDeclareOk, { queue: queue.name, messageCount: queue.messageCount, consumerCount: queue.consumerCount });
      }
      return;
    }
    case Method.QueueBind:
    case Method.QueueUnbind: {
      const queue = ch.queueName(m.queue);
      // RabbitMQ's shortcut: no queue name and no routing key bind by the last declared queue's name
      const routingKey = m.queue === '' && m.routingKey === '' ? queue : m.routingKey;
      const r = { source: m.exchange, destination: queue, destinationKind: 'queue' as const, routingKey, arguments: m.arguments };
      if (m.id === Method.QueueBind) {
        ops.bind(vhost, r, owner, access);
        if (!m.noWait) host.sendMethod(ch.id, encodeQueueBindOk, {});
      } else {
        ops.unbind(vhost, r, owner, access);
        host.sendMethod(ch.id, encodeQueueUnbindOk, {});
      }
      return;
    }
    case Method.QueuePurge: {
      const count = ops.purgeQueue(vhost, ch.queueName(m.queue), owner, access);
      if (!m.noWait) host.sendMethod(ch.id, encodeQueuePurgeOk, { messageCount: count });
      return;
    }
    case Method.QueueDelete: {
      const count = ops.deleteQueue(vhost, ch.queueName(m.queue), m.ifUnused, m.ifEmpty, owner, access);
      if (!m.noWait) host.sendMethod(ch.id, encodeQueueDeleteOk, { messageCount: count });
      return;
    }
    default:
      // server-to-client methods of these classes (declare-ok...) sent by a client
      throw commandInvalid('unimplemented method');
  }
}
