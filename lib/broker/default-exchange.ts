/**
 * The default exchange (""): every queue is bound to it by its own name,
 * implicitly. It routes with one lookup in the vhost's queue table; it
 * cannot be bound, unbound, declared or deleted (the vhost refuses with 403).
 */
import type { Destination } from './binding.js';
import { Exchange } from './exchange.js';
import type { Message } from './message.js';
import type { Queue } from './queue.js';

export class DefaultExchange extends Exchange {
  readonly type = 'direct';
  private readonly queues: ReadonlyMap<string, Queue>;

  constructor(vhost: string, queues: ReadonlyMap<string, Queue>) {
    super('', vhost, { durable: true, autoDelete: false, internal: false, arguments: {} });
    this.queues = queues;
  }

  route(_message: Message, routingKey: string, out: Destination[]): void {
    const q = this.queues.get(routingKey);
    if (q) out.push(q);
  }

  protected onBind(): void {
    throw new Error('the default exchange cannot be bound');
  }

  protected onUnbind(): void {
    throw new Error('the default exchange cannot be unbound');
  }
}
