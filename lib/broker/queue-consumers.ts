/**
 * A queue's consumers and which one gets the next message.
 *
 * - Consumer priorities (`x-priority` on basic.consume, RabbitMQ's
 *   semantics): messages go to the highest-priority consumers that can take
 *   one; lower ones get messages only while all higher ones are blocked
 *   (prefetch full, flow off, socket backed up). Round robin among equals.
 * - Single active consumer (`x-single-active-consumer` on the queue): only
 *   the earliest registered consumer still there gets messages; when it
 *   goes, the next in registration order takes over.
 *
 * The consumers are kept sorted by priority, highest first (registration
 * order among equals, and always registration order for a single-active
 * queue), with one round-robin position per priority level.
 */
import type { QueueConsumer } from './queue.js';

export class QueueConsumers {
  private readonly list: QueueConsumer[] = [];
  /** round-robin position within each priority level: the next index to try, relative to the level's start */
  private readonly turn = new Map<number, number>();
  private readonly singleActive: boolean;

  constructor(singleActive: boolean) {
    this.singleActive = singleActive;
  }

  get length(): number {
    return this.list.length;
  }

  get hasExclusive(): boolean {
    return this.list.length === 1 && this.list[0]!.exclusive;
  }

  add(c: QueueConsumer): void {
    let at = this.list.length;
    if (!this.singleActive) while (at > 0 && this.list[at - 1]!.priority < c.priority) at--;
    this.list.splice(at, 0, c);
  }

  /** false if it was not there. */
  remove(c: QueueConsumer): boolean {
    const i = this.list.indexOf(c);
    if (i < 0) return false;
    // keep the round robin where it was: a consumer leaving before the turn moves it back one
    const levelStart = this.list.findIndex((o) => o.priority === c.priority);
    const turn = this.turn.get(c.priority);
    if (turn !== undefined && i - levelStart < turn) this.turn.set(c.priority, turn - 1);
    this.list.splice(i, 1);
    if (!this.list.some((o) => o.priority === c.priority)) this.turn.delete(c.priority);
    return true;
  }

  /** Every consumer, removed (the queue is going). */
  takeAll(): QueueConsumer[] {
    this.turn.clear();
    return this.list.splice(0);
  }

  /** The consumer the next message goes to, or undefined when none can take one now. */
  pick(): QueueConsumer | undefined {
    const list = this.list;
    if (this.singleActive) {
      const active = list[0];
      return active !== undefined && active.canTake() ? active : undefined;
    }
    let start = 0;
    while (start < list.length) {
      const priority = list[start]!.priority;
      let end = start + 1;
      while (end < list.length && list[end]!.priority === priority) end++;
      const n = end - start;
      const from = (this.turn.get(priority) ?? 0) % n;
      for (let i = 0; i < n; i++) {
        const k = (from + i) % n;
        const c = list[start + k]!;
        if (c.canTake()) {
          this.turn.set(priority, k + 1);
          return c;
        }
      }
      start = end;
    }
    return undefined;
  }
}
