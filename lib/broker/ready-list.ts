/**
 * The messages of a queue that wait for a consumer, in delivery order: a
 * ring buffer of entries ordered by their sequence number. New messages
 * go to the tail; a requeued message goes back to its original position
 * (RabbitMQ's rule), which is almost always at or near the head.
 */
import type { Message } from './message.js';

/** One message in one queue. */
export class QueueEntry {
  /** position in the queue's publish order; requeued entries go back here */
  readonly seq: number;
  readonly message: Message;
  /** set once the message has been delivered and requeued */
  redelivered = false;
  /** set at the first delivery (a durable queue records it once) */
  delivered = false;
  /** when it expires (ms since the epoch, per-queue or per-message TTL), 0 for never */
  expiresAt = 0;
  /** times it came back unacknowledged (counted on queues with x-delivery-limit) */
  deliveryCount = 0;

  constructor(seq: number, message: Message) {
    this.seq = seq;
    this.message = message;
  }
}

const INITIAL_CAPACITY = 16;

export class ReadyList {
  private items: (QueueEntry | undefined)[] = new Array<QueueEntry | undefined>(INITIAL_CAPACITY);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(e: QueueEntry): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = e;
    this.count++;
  }

  shift(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    const e = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return e;
  }

  peek(): QueueEntry | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Put an entry back at the position its sequence number gives it. */
  insertBySeq(e: QueueEntry): void {
    if (this.count === this.items.length) this.grow();
    const mask = this.items.length - 1;
    // binary search for the first entry with a larger seq
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[(this.head + mid) & mask]!.seq < e.seq) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) {
      this.head = (this.head - 1) & mask;
      this.items[this.head] = e;
    } else {
      for (let i = this.count; i > lo; i--) this.items[(this.head + i) & mask] = this.items[(this.head + i - 1) & mask];
      this.items[(this.head + lo) & mask] = e;
    }
    this.count++;
  }

  /** Call fn for every entry, head first. */
  forEach(fn: (e: QueueEntry) => void): void {
    for (let i = 0; i < this.count; i++) fn(this.items[(this.head + i) & (this.items.length - 1)]!);
  }

  /** Remove every entry; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.items = new Array<QueueEntry | undefined>(INITIAL_CAPACITY);
    this.head = 0;
    this.count = 0;
    return n;
  }

  private grow(): void {
    const old = this.items;
    const next = new Array<QueueEntry | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
