/**
 * One AMQP channel of a connection: its state (open, or closing after a
 * channel exception), content assembly, flow, its consumers, its
 * deliveries awaiting acknowledgement and the prefetch limits on them, and
 * the dispatch of the methods a client sends on it to
 * entity-methods.ts (exchange.*, queue.*) and basic-methods.ts (basic.*).
 *
 * The connection owns the channel table and the rules that apply before a
 * method reaches a channel (channel.open, frames on closing channels); this
 * class handles what happens inside an open channel.
 */
import { commandInvalid, notFound, notImplemented, preconditionFailed } from '../amqp/amqp-error.js';
import {
  Method,
  METHOD_INFO,
  encodeBasicAck,
  encodeBasicCancel,
  encodeBasicDeliver,
  encodeBasicNack,
  encodeChannelFlowOk,
  encodeConfirmSelectOk,
} from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import { withDeliveryCount } from '../broker/message.js';
import type { Message } from '../broker/message.js';
import type { Queue, QueueOwner } from '../broker/queue.js';
import type { QueueEntry } from '../broker/ready-list.js';
import type { VirtualHost } from '../broker/vhost.js';
import type { MessageStats } from '../broker/message-stats.js';
import { handleBasicMethod } from './basic-methods.js';
import { handlePublish } from './publish.js';
import { handleTxMethod, Transaction } from './transaction.js';
import { stopReplies } from './direct-reply-to.js';
import { ackDeadline, AckTimer } from './ack-timeout.js';
import type { ReplyToRegistry } from './direct-reply-to.js';
import type { Consumer, ConsumerChannel } from './consumer.js';
import { ContentAssembler } from './content-assembler.js';
import type { Content } from './content-assembler.js';
import { handleEntityMethod } from './entity-methods.js';
import { PublisherConfirms } from './publisher-confirms.js';
import type { PublishRecord, Committed } from '../store/message-log.js';
import { UnackedDeliveries } from './unacked-deliveries.js';
import type { ResourceAccess } from './resource-access.js';
import type { Delivery } from './unacked-deliveries.js';

/** What a channel needs from its connection. */
export interface ChannelHost {
  sendMethod<A>(channel: number, encode: MethodEncoder<A>, args: A): void;
  sendContent<A>(channel: number, encode: MethodEncoder<A>, args: A, message: Message): void;
  readonly maxMessageSize: number;
  /** the connection's socket is backed up: deliveries wait */
  readonly outputBlocked: boolean;
  /** the vhost the connection opened (set before any channel exists) */
  readonly virtualHost: VirtualHost;
  readonly username: string;
  /** the user's permissions on the vhost (set before any channel exists) */
  readonly access: ResourceAccess;
  /** the client advertised consumer_cancel_notify */
  readonly consumerCancelNotify: boolean;
  /** identity for exclusive queues: the connection */
  readonly queueOwner: QueueOwner;
  exclusiveQueueDeclared(q: Queue): void;
  /** resolves once the definitions changed so far are on disk */
  definitionsSaved(): Promise<void>;
  /** write a persistent message for its durable queues; `done` once it is on disk */
  logMessage(record: PublishRecord, done: Committed): void;
  newMessageId(): number;
  /** an error while replaying methods held back by waitFor(): closes the channel or the connection */
  channelFailed(channel: number, err: unknown): void;
  /** direct reply-to consumers of every connection */
  readonly replyTo: ReplyToRegistry;
  /** the server's consumer_timeout in ms (0: none); a queue's x-consumer-timeout overrides it */
  readonly consumerTimeout: number;
  /** the broker's message counters (message-stats.ts): incremented on publish, deliver, get, ack, confirm */
  readonly stats: MessageStats;
}

export const enum ChannelState {
  Open,
  /** the server sent channel.close and waits for close-ok; everything else on the channel is dropped */
  Closing,
}

export class Channel implements ConsumerChannel {
  readonly id: number;
  state = ChannelState.Open;
  /** false after the client sent channel.flow active=false: deliveries to this channel pause */
  flowActive = true;
  readonly content: ContentAssembler;
  readonly host: ChannelHost;
  readonly consumers = new Map<string, Consumer>();
  readonly unacked = new UnackedDeliveries();
  readonly ackTimer = new AckTimer(this);
  /** basic.qos global=false: the prefetch given to consumers created from now on */
  consumerPrefetch = 0;
  /** basic.qos global=true: a limit on the channel's unacknowledged consumer deliveries */
  channelPrefetch = 0;
  /** unacknowledged deliveries to this channel's consumers (not basic.get), for channelPrefetch */
  consumerUnacked = 0;
  /** queue.declare's name, for the empty-name shortcut of later methods */
  mostRecentQueue = '';
  /** publisher confirms, after confirm.select */
  confirms: PublisherConfirms | null = null;
  /** the open transaction, after tx.select */
  tx: Transaction | null = null;
  /** the direct reply-to consumer (basic.consume on amq.rabbitmq.reply-to) */
  replyConsumer: { tag: string; key: string } | null = null;
  /** the routing key of the last publish, shared by the messages that repeat it */
  lastRoutingKey = '';
  private lastTag = 0;
  /** methods and contents that arrived while the channel waited (waitFor), in order */
  private backlog: (AnyMethod | Content)[] | null = null;

  constructor(host: ChannelHost, id: number) {
    this.host = host;
    this.id = id;
    this.content = new ContentAssembler(host.maxMessageSize);
  }

  get isOpen(): boolean {
    return this.state === ChannelState.Open;
  }

  get vhost(): VirtualHost {
    return this.host.virtualHost;
  }

  /** A method the client sent on this open channel (channel.open and channel.close are the connection's). */
  handleMethod(m: AnyMethod): void {
    if (this.backlog) {
      this.backlog.push(m);
      return;
    }
    const cls = m.id >>> 16;
    if (cls === 40 || cls === 50) return handleEntityMethod(this, m);
    if (cls === 60 && m.id !== Method.BasicPublish && handleBasicMethod(this, m)) return;
    if (cls === 90 && handleTxMethod(this, m)) return;
    switch (m.id) {
      case Method.ChannelFlow:
        // RabbitMQ answers active=false with 540; warren honours it (deliveries pause) as the spec intends.
        this.flowActive = m.active;
        this.host.sendMethod(this.id, encodeChannelFlowOk, { active: m.active });
        if (m.active) this.resumeDeliveries();
        return;
      case Method.ConfirmSelect:
        if (this.tx) throw preconditionFailed('cannot switch from tx to confirm mode').forMethod(m.id);
        if (!this.confirms) {
          this.confirms = new PublisherConfirms((tag, multiple, ack) => {
            if (ack) this.host.sendMethod(this.id, encodeBasicAck, { deliveryTag: tag, multiple });
            else this.host.sendMethod(this.id, encodeBasicNack, { deliveryTag: tag, multiple, requeue: false });
          }, this.host.stats);
        }
        if (!m.nowait) this.host.sendMethod(this.id, encodeConfirmSelectOk, {});
        return;
      case Method.ChannelFlowOk:
        // the client acknowledging a server-sent flow: warren never sends one, so there is nothing to track
        return;
      default: {
        const info = METHOD_INFO.get(m.id)!;
        if (info.fromClient && info.hasContent) {
          this.content.startContent(m);
          return;
        }
        // a server's method (basic.deliver...), channel.close-ok out of turn, or basic.cancel-ok (a client
        // need not answer a server's basic.cancel): RabbitMQ closes the connection with 503
        throw commandInvalid('unimplemented method').forMethod(m.id);
      }
    }
  }

  /** A message whose header and body have all arrived. */
  handleContent(c: Content): void {
    if (this.backlog) {
      this.backlog.push(c);
      return;
    }
    if (c.method.id === Method.BasicPublish) return handlePublish(this, c.method, c);
    const info = METHOD_INFO.get(c.method.id)!;
    throw notImplemented(`${info.name} is not implemented yet`).forMethod(c.method.id);
  }

  /** RabbitMQ's shortcut: an empty queue name means the queue this channel declared last. */
  queueName(name: string): string {
    if (name !== '') return name;
    if (this.mostRecentQueue === '') throw notFound('no previously declared queue');
    return this.mostRecentQueue;
  }

  /**
   * Hold this channel's further methods until `done` settles, then run
   * `then` (typically: send the reply) and the held methods, in order. Used
   * where a reply must wait for the disk (a durable declare), as RabbitMQ's
   * channel process waits for its database.
   */
  waitFor(done: Promise<void>, then: () => void): void {
    this.backlog = [];
    void done.then(() => this.resume(then));
  }

  private resume(then: () => void): void {
    const held = this.backlog ?? [];
    this.backlog = null;
    if (this.state !== ChannelState.Open) return;
    try {
      then();
      for (let i = 0; i < held.length; i++) {
        if (this.state !== ChannelState.Open) return;
        const again = this.backlog as (AnyMethod | Content)[] | null; // set by a replayed method's waitFor
        if (again) {
          // waiting again: the rest stays held, ahead of what arrives later
          again.unshift(...held.slice(i));
          return;
        }
        const item = held[i]!;
        if ('bodySize' in item) this.handleContent(item);
        else this.handleMethod(item);
      }
    } catch (err) {
      this.host.channelFailed(this.id, err);
    }
  }

  nextDeliveryTag(): number {
    return ++this.lastTag;
  }

  // ---- deliveries (ConsumerChannel) --------------------------------------

  canDeliver(ackRequired: boolean): boolean {
    if (this.state !== ChannelState.Open || !this.flowActive || this.host.outputBlocked) return false;
    return !ackRequired || this.channelPrefetch === 0 || this.consumerUnacked < this.channelPrefetch;
  }

  deliver(consumer: Consumer, queue: Queue, entry: QueueEntry): void {
    const tag = ++this.lastTag;
    const stats = this.host.stats;
    if (!consumer.noAck) {
      const deadline = ackDeadline(queue, this.host.consumerTimeout);
      this.unacked.add({ tag, queue, entry, consumer, deadline });
      this.ackTimer.watch(deadline);
      consumer.unacked++;
      this.consumerUnacked++;
      stats.deliver++;
    } else {
      stats.deliverNoAck++;
    }
    if (entry.redelivered) stats.redeliver++;
    const m = queue.deliveryLimit >= 0 ? withDeliveryCount(entry.message, entry.deliveryCount) : entry.message;
    this.host.sendContent(
      this.id,
      encodeBasicDeliver,
      { consumerTag: consumer.tag, deliveryTag: tag, redelivered: entry.redelivered, exchange: m.exchange, routingKey: m.routingKey },
      m,
    );
  }

  /** The consumer's queue was deleted: forget the consumer and tell clients that understand it. */
  consumerQueueDeleted(consumer: Consumer): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    if (this.host.consumerCancelNotify && this.state === ChannelState.Open) {
      this.host.sendMethod(this.id, encodeBasicCancel, { consumerTag: consumer.tag, noWait: true });
    }
  }

  /** Let the queues of this channel's consumers deliver again (an ack, a drained socket, flow on). */
  resumeDeliveries(): void {
    for (const c of this.consumers.values()) c.queue.drain();
  }

  /** Acknowledged, or rejected without requeue (then dead-lettered where the queue says): the messages are done with. */
  settle(deliveries: readonly Delivery[], rejected = false): void {
    // basic.ack (now or at tx.commit) counts as acknowledged; reject / nack without requeue does not
    if (!rejected) this.host.stats.ack += deliveries.length;
    for (const d of deliveries) {
      if (rejected) d.queue.reject(d.entry);
      else d.queue.settle(d.entry);
      this.released(d);
    }
    this.resumeDeliveries();
  }

  /** Back to their queues, at their original positions, marked redelivered. */
  requeue(deliveries: readonly Delivery[]): void {
    const byQueue = new Map<Queue, QueueEntry[]>();
    for (const d of deliveries) {
      this.released(d);
      const list = byQueue.get(d.queue);
      if (list) list.push(d.entry);
      else byQueue.set(d.queue, [d.entry]);
    }
    for (const [q, entries] of byQueue) q.requeue(entries);
    this.resumeDeliveries();
  }

  /** Stop a consumer; an auto-delete queue losing its last consumer is deleted. */
  cancelConsumer(c: Consumer): void {
    this.consumers.delete(c.tag);
    if (c.queue.removeConsumer(c)) this.vhost.deleteQueue(c.queue);
  }

  /** The channel is going away (closed by either side, or its connection ended): release what it holds. */
  teardown(): void {
    this.state = ChannelState.Closing;
    this.content.reset();
    this.ackTimer.stop();
    // what an uncommitted transaction acknowledged is requeued with the rest
    const pending = [...this.unacked.takeAll(), ...(this.tx?.heldDeliveries() ?? [])];
    this.tx?.clear();
    if (pending.length > 0) this.requeue(pending);
    stopReplies(this);
    for (const c of [...this.consumers.values()]) this.cancelConsumer(c);
  }

  private released(d: Delivery): void {
    if (d.consumer) {
      d.consumer.unacked--;
      this.consumerUnacked--;
    }
  }
}
