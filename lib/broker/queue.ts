/**
 * A queue: its identity and flags, the messages waiting for a consumer,
 * its consumers (QueueConsumers: priorities, round robin, single active
 * consumer), and the count of messages delivered but not yet acknowledged.
 *
 * Delivery is pull-free and synchronous: enqueue() and anything that may let
 * a consumer take more (an ack, a socket draining, a new consumer) call
 * drain(), which hands ready messages to consumers that can take them, in
 * turn, until the queue is empty or no consumer can take more. Consumers
 * decide for themselves whether they can (prefetch, flow, socket
 * backpressure); the queue knows nothing about channels or sockets.
 *
 * The ready messages themselves, in memory up to the queue's budget and
 * paged out beyond it, are a ReadyMessages (ready-messages.ts). Here are the
 * rules on top: TTLs (expired messages leave at the head, on access or by a
 * timer), length limits with their overflow behaviours, and dead-lettering
 * of what leaves that way or is rejected.
 */
import { integerValue, longstrValue } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import type { DeathReason } from './dead-letter.js';
import type { Binding } from './binding.js';
import type { Message } from './message.js';
import type { QueuePaging } from './queue-paging.js';
import { QueueEntry } from './ready-list.js';
import { QueueConsumers } from './queue-consumers.js';
import { PriorityReady } from './priority-ready.js';
import { ReadyMessages } from './ready-messages.js';
import { ttlOf } from './expiry.js';
import { UnusedQueueTimer } from './unused-queue-timer.js';
import type { ReadyStore } from './ready-messages.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** What a queue needs from a consumer (lib/server/consumer.ts implements it). */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** true when no acknowledgement will come: the message is settled on delivery */
  readonly noAck: boolean;
  /** x-priority of basic.consume (0 by default): higher ones get messages first */
  readonly priority: number;
  /** Can it take one more message now? (prefetch, channel.flow, socket backpressure) */
  canTake(): boolean;
  deliver(queue: Queue, entry: QueueEntry): void;
  /** The queue was deleted under the consumer. */
  queueDeleted(queue: Queue): void;
}

/** Where a durable queue records what happens to its logged messages (the message log). */
export interface QueueJournal {
  /** the message left the queue for good */
  removed(q: Queue, logId: number): void;
  /** first delivery: after a crash the message comes back redelivered */
  delivered(q: Queue, logId: number): void;
  deleted(q: Queue): void;
  /** the deleted queue let go of a message it still held (its deletion record covers it) */
  forgotten(q: Queue, logId: number): void;
}

/** Where a queue hands what it dead-letters (the vhost routes it to the dead-letter exchange). */
export type DeadLetterSink = (q: Queue, e: QueueEntry, reason: DeathReason) => void;

/** The connection that declared an exclusive queue (anything with an identity). */
export type QueueOwner = object;

export interface QueueOptions {
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

export class Queue {
  readonly kind = 'queue' as const;
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
  /** the connection of an exclusive queue, null otherwise */
  readonly owner: QueueOwner | null;
  /** bindings with this queue as destination */
  readonly bindings = new Set<Binding>();
  /** Router bookkeeping: the routing pass that last reached this queue. */
  routeMark = 0;
  deleted = false;
  /** messages delivered to consumers or basic.get and not yet settled */
  unacked = 0;
  /** set for durable queues: logged messages' removals and deliveries are recorded */
  journal: QueueJournal | null = null;
  /** set by the vhost: routes dead-lettered messages to deadLetterExchange */
  deadLetters: DeadLetterSink | null = null;
  /** x-message-ttl in ms, -1 for none */
  readonly messageTtl: number;
  readonly deadLetterExchange: string | null;
  readonly deadLetterRoutingKey: string | null;
  /** x-max-length and x-max-length-bytes, -1 for none */
  readonly maxLength: number;
  readonly maxLengthBytes: number;
  readonly overflow: Overflow;
  /** x-expires in ms, -1 for none: an unused queue is deleted this long after its last use */
  readonly expires: number;
  /** x-delivery-limit, -1 for none */
  readonly deliveryLimit: number;
  /** x-consumer-timeout in ms, -1 for none (the server's consumer_timeout applies) */
  readonly consumerTimeout: number;
  /** set by the vhost: deletes the queue when x-expires runs out */
  expiredHook: ((q: Queue) => void) | null = null;

  private readonly ready: ReadyStore;
  private readonly consumers: QueueConsumers;
  private hadConsumers = false;
  private seq = 0;
  private draining = false;
  /** drops expired messages from the head when nobody takes them */
  private expiryTimer: NodeJS.Timeout | null = null;
  /** the entry being enqueued while its enqueue drains: not expired yet whatever the clock says */
  private arriving: QueueEntry | null = null;
  /** x-expires: runs while the queue has no consumers */
  private readonly lease: UnusedQueueTimer | null;

  constructor(name: string, vhost: string, o: QueueOptions, owner: QueueOwner | null) {
    this.name = name;
    this.vhost = vhost;
    this.durable = o.durable;
    this.autoDelete = o.autoDelete;
    this.arguments = o.arguments;
    this.owner = owner;
    this.messageTtl = integerValue(o.arguments['x-message-ttl']) ?? -1;
    this.deadLetterExchange = longstrValue(o.arguments['x-dead-letter-exchange']) ?? null;
    this.deadLetterRoutingKey = longstrValue(o.arguments['x-dead-letter-routing-key']) ?? null;
    this.maxLength = integerValue(o.arguments['x-max-length']) ?? -1;
    this.maxLengthBytes = integerValue(o.arguments['x-max-length-bytes']) ?? -1;
    this.overflow = (longstrValue(o.arguments['x-overflow']) as Overflow | undefined) ?? 'drop-head';
    this.expires = integerValue(o.arguments['x-expires']) ?? -1;
    this.consumerTimeout = integerValue(o.arguments['x-consumer-timeout']) ?? -1;
    this.deliveryLimit = integerValue(o.arguments['x-delivery-limit']) ?? -1;
    const maxPriority = integerValue(o.arguments['x-max-priority']);
    this.ready = maxPriority !== undefined ? new PriorityReady(this, maxPriority) : new ReadyMessages(this);
    this.consumers = new QueueConsumers(o.arguments['x-single-active-consumer'] === true);
    this.lease = this.expires < 0 ? null : new UnusedQueueTimer(this.expires, () => {
      if (!this.deleted && this.consumers.length === 0) this.expiredHook?.(this);
    });
  }

  /**
   * The queue was used (declared, passively too, or read with basic.get;
   * publishing does not count, as in RabbitMQ): with x-expires, an unused
   * queue is deleted x-expires ms after its last use, and a queue with
   * consumers is never unused.
   */
  touch(): void {
    if (this.lease !== null && !this.deleted) this.lease.restart(this.consumers.length > 0);
  }

  /** set by the vhost: where ready messages beyond the memory budget go */
  get paging(): QueuePaging | null {
    return this.ready.paging;
  }

  set paging(p: QueuePaging | null) {
    this.ready.paging = p;
  }

  get messageCount(): number {
    return this.ready.length;
  }

  /** ready messages paged out to disk */
  get pagedCount(): number {
    return this.ready.pagedCount;
  }

  /**
   * With overflow reject-publish or reject-publish-dlx: whether this message
   * would take the queue past its length limits, so it is refused (RabbitMQ's
   * will_overflow, checked before any consumer is offered the message). The
   * caller nacks the publish; reject-publish-dlx dead-letters it here.
   */
  refuses(message: Message): boolean {
    if (this.overflow === 'drop-head' || (this.maxLength < 0 && this.maxLengthBytes < 0)) return false;
    const over = (this.maxLength >= 0 && this.ready.length + 1 > this.maxLength) ||
      (this.maxLengthBytes >= 0 && this.ready.bodyBytes + message.bodySize > this.maxLengthBytes);
    if (over && this.overflow === 'reject-publish-dlx') this.deadLetter(new QueueEntry(0, message), 'maxlen');
    return over;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.hasExclusive;
  }

  enqueue(message: Message): void {
    const e = new QueueEntry(++this.seq, message);
    const ttl = ttlOf(this.messageTtl, message);
    if (ttl >= 0) e.expiresAt = Date.now() + ttl;
    this.ready.push(e);
    if (this.consumers.length > 0) {
      // a consumer waiting now gets it even with a TTL of 0 (RabbitMQ offers it before the TTL applies)
      this.arriving = e;
      this.drain();
      this.arriving = null;
    }
    if (this.maxLength >= 0 || this.maxLengthBytes >= 0) this.dropHeadOverLimit();
    if (e.expiresAt !== 0 && this.expiryTimer === null) this.scheduleExpiry();
  }

  /** drop-head: past a length limit, the oldest ready messages leave (dead-lettered as maxlen). */
  private dropHeadOverLimit(): void {
    while ((this.maxLength >= 0 && this.ready.length > this.maxLength) || (this.maxLengthBytes >= 0 && this.ready.bodyBytes > this.maxLengthBytes)) {
      const e = this.ready.shift()!;
      this.deadLetter(e, 'maxlen');
      this.removed(e);
    }
  }

  /** Drop the expired messages at the head now, and set a timer for the next one to expire there. */
  private expireHead(): void {
    const now = Date.now();
    for (;;) {
      const head = this.ready.peek();
      if (!head || head.expiresAt === 0 || head.expiresAt >= now) break;
      this.ready.shift();
      this.expired(head);
    }
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const head = this.ready.peek();
    if (!head || head.expiresAt === 0 || this.deleted) return;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.expireHead();
    }, Math.max(0, head.expiresAt - Date.now() + 1));
    this.expiryTimer.unref();
  }

  /** An expired message leaves: dead-lettered if the queue has a dead-letter exchange. */
  private expired(e: QueueEntry): void {
    this.deadLetter(e, 'expired');
    this.removed(e);
  }

  /** A ready message left for good (expired, dropped): recorded for a logged one. */
  private removed(e: QueueEntry): void {
    if (this.journal && e.message.logId) this.journal.removed(this, e.message.logId);
  }

  private deadLetter(e: QueueEntry, reason: DeathReason): void {
    if (this.deadLetters !== null && this.deadLetterExchange !== null) this.deadLetters(this, e, reason);
  }

  /** The next ready entry that has not expired (expired ones met on the way leave). */
  private next(): QueueEntry | undefined {
    for (;;) {
      const e = this.ready.shift();
      if (!e) return undefined;
      if (e.expiresAt !== 0 && e !== this.arriving && e.expiresAt < Date.now()) {
        this.expired(e);
        continue;
      }
      return e;
    }
  }

  /** Hand ready messages to consumers that can take them (see QueueConsumers for which). */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.ready.length > 0) {
        const picked = this.consumers.pick();
        if (!picked) return;
        const entry = this.next();
        if (!entry) return;
        this.leaving(entry, picked.noAck);
        picked.deliver(this, entry);
      }
    } finally {
      this.draining = false;
    }
  }

  /** basic.get: the next ready message, if any. */
  get(noAck: boolean): QueueEntry | undefined {
    this.touch();
    const entry = this.next();
    if (entry) this.leaving(entry, noAck);
    return entry;
  }

  /** A delivered message was rejected without requeue: dead-lettered, then gone. */
  reject(entry: QueueEntry): void {
    if (!this.deleted) this.deadLetter(entry, 'rejected');
    this.settle(entry);
  }

  /** A delivered message was acknowledged (or rejected without requeue). */
  settle(entry: QueueEntry): void {
    if (this.deleted) return this.forget(entry);
    this.unacked--;
    if (this.journal && entry.message.logId) this.journal.removed(this, entry.message.logId);
  }

  /** A deleted queue drops an entry it still held. */
  private forget(entry: QueueEntry): void {
    if (this.journal && entry.message.logId) this.journal.forgotten(this, entry.message.logId);
  }

  /** A message recovered from the message log at start (no consumers yet); its TTL counts from when it was logged. */
  recover(message: Message, delivered: boolean, loggedAt: number): void {
    const e = new QueueEntry(++this.seq, message);
    e.redelivered = delivered;
    e.delivered = delivered;
    const ttl = ttlOf(this.messageTtl, message);
    if (ttl >= 0) e.expiresAt = (loggedAt > 0 ? loggedAt : Date.now()) + ttl;
    this.ready.push(e);
    if (e.expiresAt !== 0 && this.expiryTimer === null) this.scheduleExpiry();
  }

  /** An entry goes to a consumer or basic.get: settled now (no ack), or counted as unacked. */
  private leaving(entry: QueueEntry, noAck: boolean): void {
    const logId = entry.message.logId;
    if (noAck) {
      if (this.journal && logId) this.journal.removed(this, logId);
      return;
    }
    this.unacked++;
    if (!entry.delivered) {
      entry.delivered = true;
      if (this.journal && logId) this.journal.delivered(this, logId);
    }
  }

  /** Delivered messages come back to their original positions, marked redelivered. */
  requeue(entries: readonly QueueEntry[]): void {
    if (this.deleted) {
      for (const e of entries) this.forget(e);
      return;
    }
    for (const e of entries) {
      e.redelivered = true;
      this.unacked--;
      // x-delivery-limit: a message returned more often than the limit leaves, dead-lettered
      if (this.deliveryLimit >= 0 && ++e.deliveryCount > this.deliveryLimit) {
        this.deadLetter(e, 'delivery_limit');
        this.removed(e);
        continue;
      }
      this.ready.insertBySeq(e);
    }
    this.drain();
    if (this.expiryTimer === null) this.scheduleExpiry();
  }

  addConsumer(c: QueueConsumer): void {
    this.consumers.add(c);
    this.touch();
    this.hadConsumers = true;
    this.drain();
  }

  /** Returns true when this was the last consumer of an auto-delete queue (the caller deletes it). */
  removeConsumer(c: QueueConsumer): boolean {
    if (!this.consumers.remove(c)) return false;
    if (this.consumers.length === 0) this.touch();
    else this.drain(); // a single-active queue hands over to the next consumer
    return this.autoDelete && this.hadConsumers && this.consumers.length === 0 && !this.deleted;
  }

  /** Drop every ready message; returns how many. */
  purge(): number {
    const journal = this.journal;
    if (journal) this.ready.forEachLogId((id) => journal.removed(this, id));
    return this.ready.clear();
  }

  /** The queue is being deleted: consumers are told, messages dropped. Returns the ready count. */
  close(): number {
    this.deleted = true;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.lease?.stop();
    const journal = this.journal;
    if (journal) {
      journal.deleted(this);
      this.ready.forEachLogId((id) => journal.forgotten(this, id));
    }
    const count = this.ready.destroy();
    for (const c of this.consumers.takeAll()) c.queueDeleted(this);
    return count;
  }
}
