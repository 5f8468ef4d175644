/**
 * The consumer acknowledgement timeout (RabbitMQ's consumer_timeout): a
 * delivery that waits longer than its timeout for an ack closes its channel
 * with 406 and RabbitMQ's text, and the channel's unacked messages are
 * requeued as for any closed channel. The timeout is the queue's
 * `x-consumer-timeout` argument, else the server's `consumer_timeout`
 * option (0, off, by default); it covers basic.get deliveries too.
 *
 * One timer a channel, set for the earliest deadline among its unacked
 * deliveries; deliveries without a timeout cost nothing.
 */
import { preconditionFailed } from '../amqp/amqp-error.js';
import type { Queue } from '../broker/queue.js';
import type { Channel } from './channel.js';

/** The deadline (ms since the epoch) of a delivery from this queue made now, or 0 for none. */
export function ackDeadline(queue: Queue, serverTimeout: number): number {
  const timeout = ackTimeoutOf(queue, serverTimeout);
  return timeout > 0 ? Date.now() + timeout : 0;
}

function ackTimeoutOf(queue: Queue, serverTimeout: number): number {
  return queue.consumerTimeout >= 0 ? queue.consumerTimeout : serverTimeout;
}

export class AckTimer {
  private timer: NodeJS.Timeout | null = null;
  private at = 0;
  private readonly ch: Channel;

  constructor(ch: Channel) {
    this.ch = ch;
  }

  /** A delivery with this deadline now waits for its ack. */
  watch(deadline: number): void {
    if (deadline === 0 || (this.timer !== null && this.at <= deadline)) return;
    this.arm(deadline);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(deadline: number): void {
    this.stop();
    this.at = deadline;
    this.timer = setTimeout(() => this.check(), Math.max(0, deadline - Date.now()));
    this.timer.unref();
  }

  /** Close the channel if a delivery is overdue; else wait for the next deadline. */
  private check(): void {
    this.timer = null;
    if (!this.ch.isOpen) return;
    const now = Date.now();
    let next = 0;
    for (const d of this.ch.unacked.values()) {
      if (d.deadline === 0) continue;
      if (d.deadline <= now) {
        const timeout = ackTimeoutOf(d.queue, this.ch.host.consumerTimeout);
        this.ch.host.channelFailed(this.ch.id, preconditionFailed(
          `delivery acknowledgement on channel ${this.ch.id} timed out. Timeout value used: ${timeout} ms. This timeout value can be configured, see consumers doc guide to learn more`,
        ));
        return;
      }
      if (next === 0 || d.deadline < next) next = d.deadline;
    }
    if (next !== 0) this.arm(next);
  }
}
