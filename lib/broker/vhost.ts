/**
 * A virtual host: a namespace of exchanges, queues and bindings. This file
 * owns that state and its invariants: the predeclared exchanges, routing a
 * message through the exchange graph, and the cascades when something goes
 * away (bindings of a deleted queue or exchange, auto-delete exchanges
 * losing their last binding).
 *
 * The operations a client asks for, with RabbitMQ's checks and reply texts,
 * are in vhost-operations.ts; this file trusts its callers.
 */
import type { FieldTable } from '../amqp/field-table.js';
import { Binding, bindingId } from './binding.js';
import type { Destination } from './binding.js';
import { DefaultExchange } from './default-exchange.js';
import type { Exchange, ExchangeOptions } from './exchange.js';
import { createExchange } from './exchange-types.js';
import type { Message } from './message.js';
import { Queue } from './queue.js';
import type { QueuePaging } from './queue-paging.js';
import type { DeadLetterSink, QueueJournal, QueueOptions, QueueOwner } from './queue.js';
import { deadLetteredMessage, isDeadLetterCycle, routingKeysOf } from './dead-letter.js';
import { DelayedMessageExchange } from './delayed-exchange.js';
import type { DelayedMessages } from './delayed-messages.js';
import { withDelayServed } from './x-delay.js';

export interface VhostMetadata {
  description?: string;
  tags?: string[];
  defaultQueueType?: string;
}

/** The exchanges every vhost starts with, as RabbitMQ predeclares them. */
const PREDECLARED: readonly [string, string, boolean][] = [
  ['amq.direct', 'direct', false],
  ['amq.fanout', 'fanout', false],
  ['amq.topic', 'topic', false],
  ['amq.headers', 'headers', false],
  ['amq.match', 'headers', false],
  ['amq.rabbitmq.trace', 'topic', true],
];

export class VirtualHost {
  readonly name: string;
  metadata: VhostMetadata;
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  readonly defaultExchange: DefaultExchange;
  /** the messages each delayed-message exchange holds, by their name in the message log */
  private readonly delayedHolds = new Map<string, DelayedMessages>();
  /** counts changes to what is persisted (durable exchanges, queues, bindings) */
  durableChanges = 0;
  /** given to durable queues: the message log's record of their messages */
  journal: QueueJournal | null = null;
  /** set by the broker: writes a persistent message routed to these durable queues to the message log */
  logPublish: ((m: Message, durableQueues: string[]) => void) | null = null;
  /** given to every queue: where ready messages beyond its memory budget are paged out */
  paging: QueuePaging | null = null;
  /** called after each such change (the broker saves the definitions) */
  onDurableChange: (() => void) | null = null;
  /** the current routing pass, for de-duplicating destinations without a Set */
  private routePass = 0;
  private readonly scratch: Destination[] = [];

  constructor(name: string, metadata: VhostMetadata = {}) {
    this.name = name;
    this.metadata = metadata;
    this.defaultExchange = new DefaultExchange(name, this.queues);
    this.exchanges.set('', this.defaultExchange);
    for (const [xname, type, internal] of PREDECLARED) {
      this.addExchange(xname, type, { durable: true, autoDelete: false, internal, arguments: {} });
    }
  }

  /**
   * The queues a message published to `exchange` reaches, each once, through
   * exchange-to-exchange bindings too (loops included): pushed onto out.
   * An exchange that routes the message nowhere (no queue, no exchange)
   * hands it to its alternate exchange, if that exists, as RabbitMQ's
   * route1/process_alternate do; an exchange is visited once per message,
   * so chains of alternates cannot loop. `ccKeys`: the routing keys of the
   * message's CC and BCC headers, routed with besides its routing key.
   */
  route(exchange: Exchange, message: Message, out: Queue[], ccKeys: readonly string[] | null = null): void {
    const pass = ++this.routePass;
    const pending = this.scratch;
    // (resetting an empty array's length still costs a runtime call: check first)
    if (pending.length !== 0) pending.length = 0;
    exchange.routeMark = pass;
    this.routeVia(exchange, message, pending, pass, ccKeys);
    for (let i = 0; i < pending.length; i++) {
      const d = pending[i]!;
      if (d.routeMark === pass) continue;
      d.routeMark = pass;
      if (d.kind === 'queue') out.push(d);
      else this.routeVia(d, message, pending, pass, ccKeys);
    }
    if (pending.length !== 0) pending.length = 0;
  }

  private routeVia(x: Exchange, message: Message, pending: Destination[], pass: number, ccKeys: readonly string[] | null): void {
    const before = pending.length;
    x.route(message, message.routingKey, pending);
    if (ccKeys !== null) for (const k of ccKeys) x.route(message, k, pending);
    if (pending.length !== before || x.alternateExchange === null) return;
    const alternate = this.exchanges.get(x.alternateExchange);
    if (alternate && alternate.routeMark !== pass) pending.push(alternate);
  }

  /**
   * A message leaves queue q dead: its dead-lettered copy is routed from the
   * queue's dead-letter exchange (dropped if that does not exist), skipping
   * queues that would close a cycle.
   */
  private readonly deadLetter: DeadLetterSink = (q, e, reason) => {
    const dlx = this.exchanges.get(q.deadLetterExchange!);
    if (!dlx) return;
    const m = deadLetteredMessage(e.message, q.name, reason, dlx.name, q.deadLetterRoutingKey ?? e.message.routingKey);
    // without a dead-letter routing key, the message's CC keys route it too (RabbitMQ keeps all its routing keys)
    const cc = q.deadLetterRoutingKey === null ? routingKeysOf(e.message, e.message.headers).slice(1) : [];
    this.publishInternal(dlx, m, cc, true);
  };

  /**
   * A message the broker publishes itself (dead-lettered, or out of a delay)
   * is routed from x with these CC keys and stored: not into queues that
   * refuse it (reject-publish) or, for a dead-lettered one, would close a
   * dead-letter cycle; logged first when it is persistent and reaches
   * durable queues.
   */
  private publishInternal(x: Exchange, m: Message, cc: readonly string[], deadLettered: boolean): void {
    const targets: Queue[] = [];
    this.route(x, m, targets, cc.length > 0 ? cc : null);
    let durable: string[] | null = null;
    for (let i = targets.length - 1; i >= 0; i--) {
      const t = targets[i]!;
      if ((deadLettered && isDeadLetterCycle(m, t.name)) || t.refuses(m)) targets.splice(i, 1);
      else if (t.journal !== null) (durable ??= []).push(t.name);
    }
    if (durable !== null && this.logPublish !== null && m.decodedProperties().deliveryMode === 2) this.logPublish(m, durable.reverse());
    for (const t of targets) t.enqueue(m);
  }

  /** A delayed message is due: routed from its exchange again, with x-delay negated so it is not held twice. */
  private release(x: Exchange, m: Message, delay: number): void {
    if (this.exchanges.get(x.name) !== x) return;
    const served = withDelayServed(m, delay);
    this.publishInternal(x, served, routingKeysOf(served, served.headers).slice(1), false);
  }

  /** The queue a message log record names: a queue, or the messages a delayed-message exchange holds. */
  journaledQueue(name: string): Queue | undefined {
    return this.queues.get(name) ?? this.delayedHolds.get(name);
  }

  /** x-expires ran out: the queue is deleted as by queue.delete. */
  private readonly queueExpired = (q: Queue): void => {
    this.deleteQueue(q);
  };

  addExchange(name: string, type: string, o: ExchangeOptions): Exchange {
    const x = createExchange(type, name, this.name, o);
    this.exchanges.set(name, x);
    if (x instanceof DelayedMessageExchange) {
      const held = x.delayed;
      if (x.durable) held.journal = this.journal;
      held.release = (m, delay) => this.release(x, m, delay);
      this.delayedHolds.set(held.name, held);
    }
    if (x.durable && !name.startsWith('amq.')) this.durableChanged();
    return x;
  }

  addQueue(name: string, o: QueueOptions, owner: QueueOwner | null): Queue {
    const q = new Queue(name, this.name, o, owner);
    if (isPersisted(q)) q.journal = this.journal;
    q.paging = this.paging;
    q.deadLetters = this.deadLetter;
    q.expiredHook = this.queueExpired;
    this.queues.set(name, q);
    if (isPersisted(q)) this.durableChanged();
    q.touch();
    return q;
  }

  /** Bind; returns false if the identical binding exists already. */
  bind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): boolean {
    const b = new Binding(source, destination, routingKey, args);
    if (!source.addBinding(b)) return false;
    if (destination.kind === 'queue') destination.bindings.add(b);
    else destination.incoming.add(b);
    if (isPersistedBinding(b)) this.durableChanged();
    return true;
  }

  hasBinding(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): boolean {
    return source.bindings.has(bindingId(destination, routingKey, args));
  }

  /** Remove a binding if it exists (RabbitMQ: unbinding a missing binding succeeds). */
  unbind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    const probe = new Binding(source, destination, routingKey, args);
    const b = source.bindings.get(probe.id);
    if (b) this.removeBinding(b);
  }

  /** Delete a queue: its consumers are cancelled, its bindings removed. Returns its ready-message count. */
  deleteQueue(q: Queue): number {
    if (q.deleted || this.queues.get(q.name) !== q) return 0;
    this.queues.delete(q.name);
    if (isPersisted(q)) this.durableChanged();
    const count = q.close();
    for (const b of [...q.bindings]) this.removeBinding(b);
    return count;
  }

  deleteExchange(x: Exchange): void {
    if (this.exchanges.get(x.name) !== x) return;
    this.exchanges.delete(x.name);
    if (x.durable) this.durableChanged();
    for (const b of [...x.bindings.values()]) this.removeBinding(b);
    for (const b of [...x.incoming]) this.removeBinding(b);
    if (x instanceof DelayedMessageExchange) this.delayedHolds.delete(x.delayed.name);
    x.close();
  }

  private removeBinding(b: Binding): void {
    if (isPersistedBinding(b)) this.durableChanged();
    b.source.removeBinding(b);
    if (b.destination.kind === 'queue') b.destination.bindings.delete(b);
    else b.destination.incoming.delete(b);
    // an auto-delete exchange goes when its last binding (as source) goes
    const src = b.source;
    if (src.autoDelete && src.bindings.size === 0) this.deleteExchange(src);
  }

  private durableChanged(): void {
    this.durableChanges++;
    this.onDurableChange?.();
  }
}

/** Durable, non-exclusive queues outlive a restart. */
function isPersisted(q: Queue): boolean {
  return q.durable && q.owner === null;
}

/** A binding is persisted when both its ends are. */
function isPersistedBinding(b: Binding): boolean {
  const d = b.destination;
  return b.source.durable && b.source.name !== '' && (d.kind === 'queue' ? isPersisted(d) : d.durable);
}
