/**
 * A channel's deliveries awaiting basic.ack / nack / reject, by delivery
 * tag. Tags grow by one per delivery, and the map keeps insertion order, so
 * iterating it is tag order: "multiple" takes a prefix.
 *
 * The lookup rules are rabbit_channel:collect_acks/4: tag 0 with multiple
 * takes everything (even nothing); otherwise the tag itself must be
 * outstanding, or the channel is closed with 406 "unknown delivery tag N".
 */
import { preconditionFailed } from '../amqp/amqp-error.js';
import type { Queue } from '../broker/queue.js';
import type { QueueEntry } from '../broker/ready-list.js';
import type { Consumer } from './consumer.js';

export interface Delivery {
  readonly tag: number;
  readonly queue: Queue;
  readonly entry: QueueEntry;
  /** null for basic.get */
  readonly consumer: Consumer | null;
  /** when an unacknowledged delivery closes the channel (ack-timeout.ts), 0 for never */
  readonly deadline: number;
}

export class UnackedDeliveries {
  private readonly byTag = new Map<number, Delivery>();

  get size(): number {
    return this.byTag.size;
  }

  add(d: Delivery): void {
    this.byTag.set(d.tag, d);
  }

  /** Remove and return the deliveries an ack/nack/reject of `tag` settles. */
  take(tag: number, multiple: boolean): Delivery[] {
    if (multiple && tag === 0) return this.takeAll();
    const last = this.byTag.get(tag);
    if (!last) throw preconditionFailed(`unknown delivery tag ${tag}`);
    if (!multiple) {
      this.byTag.delete(tag);
      return [last];
    }
    const taken: Delivery[] = [];
    for (const [t, d] of this.byTag) {
      if (t > tag) break;
      taken.push(d);
      this.byTag.delete(t);
    }
    return taken;
  }

  /** Put taken deliveries back (a rolled-back transaction's acks), keeping tag order. */
  restore(deliveries: readonly Delivery[]): void {
    if (deliveries.length === 0) return;
    const all = [...this.byTag.values(), ...deliveries].sort((a, b) => a.tag - b.tag);
    this.byTag.clear();
    for (const d of all) this.byTag.set(d.tag, d);
  }

  values(): IterableIterator<Delivery> {
    return this.byTag.values();
  }

  takeAll(): Delivery[] {
    const all = [...this.byTag.values()];
    this.byTag.clear();
    return all;
  }
}
