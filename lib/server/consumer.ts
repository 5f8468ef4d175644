/**
 * A consumer (basic.consume) as the queue sees it: it can take a message
 * when its channel can deliver (open, flow active, socket not backed up,
 * channel-wide prefetch not reached) and its own prefetch allows.
 */
import type { Queue, QueueConsumer } from '../broker/queue.js';
import type { QueueEntry } from '../broker/ready-list.js';

/** What a consumer needs from its channel. */
export interface ConsumerChannel {
  canDeliver(ackRequired: boolean): boolean;
  deliver(consumer: Consumer, queue: Queue, entry: QueueEntry): void;
  consumerQueueDeleted(consumer: Consumer): void;
}

export class Consumer implements QueueConsumer {
  readonly tag: string;
  readonly queue: Queue;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** basic.qos prefetch_count (global=false) at the time of basic.consume; 0 = unlimited */
  readonly prefetch: number;
  readonly priority: number;
  /** deliveries not yet acknowledged */
  unacked = 0;
  private readonly channel: ConsumerChannel;

  constructor(channel: ConsumerChannel, tag: string, queue: Queue, noAck: boolean, exclusive: boolean, prefetch: number, priority = 0) {
    this.channel = channel;
    this.tag = tag;
    this.queue = queue;
    this.noAck = noAck;
    this.exclusive = exclusive;
    this.prefetch = prefetch;
    this.priority = priority;
  }

  canTake(): boolean {
    // no-ack consumers are not limited by prefetch (RabbitMQ ignores it for them)
    if (!this.noAck && this.prefetch !== 0 && this.unacked >= this.prefetch) return false;
    return this.channel.canDeliver(!this.noAck);
  }

  deliver(queue: Queue, entry: QueueEntry): void {
    this.channel.deliver(this, queue, entry);
  }

  queueDeleted(): void {
    this.channel.consumerQueueDeleted(this);
  }
}
