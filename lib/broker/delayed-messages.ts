/**
 * The messages an x-delayed-message exchange holds until their delay has
 * passed, in due order (a binary heap on due time, then arrival), with one
 * timer for the earliest.
 *
 * It is a Queue nobody can consume from or see (it is not in the vhost's
 * queues): routing puts it among a message's destinations, so publishing,
 * transactions and confirms store into it as into a queue, and for a
 * durable exchange a persistent message is in the message log, under the
 * name `amq.delayed-message.<exchange>` (no client can declare an `amq.`
 * queue), before it is confirmed. A due message goes to `release` (the
 * vhost routes it from the exchange) and only then is its removal logged,
 * so a crash in between delivers it again rather than never. After a
 * restart its delay counts from when it was logged.
 */
import { createHash } from 'node:crypto';
import { Queue } from './queue.js';
import type { Message } from './message.js';
import type { Exchange } from './exchange.js';
import { delayOf } from './x-delay.js';

/** setTimeout's limit: a longer wait is cut into pieces */
const MAX_TIMER = 0x7fff_ffff;

interface Held {
  dueAt: number;
  seq: number;
  message: Message;
  /** the delay asked for, put back negated when it is released */
  delay: number;
}

/** The message log's name for the messages an exchange holds (a queue name is at most 255 bytes). */
export function delayedQueueName(exchange: string): string {
  const name = `amq.delayed-message.${exchange}`;
  if (Buffer.byteLength(name) <= 255) return name;
  return `amq.delayed-message.#${createHash('sha256').update(exchange).digest('hex')}`;
}

export class DelayedMessages extends Queue {
  /** set by the vhost: route a due message from the exchange (with its x-delay served) */
  release: ((message: Message, delay: number) => void) | null = null;
  private readonly heap: Held[] = [];
  private arrivals = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;

  constructor(exchange: Exchange) {
    super(delayedQueueName(exchange.name), exchange.vhost, { durable: exchange.durable, exclusive: false, autoDelete: false, arguments: {} }, null);
  }

  override get messageCount(): number {
    return this.heap.length;
  }

  override enqueue(message: Message): void {
    const delay = delayOf(message);
    this.hold(message, delay, Date.now() + delay);
  }

  /** A held message recovered from the message log: due its delay after it was logged. */
  override recover(message: Message, _delivered: boolean, loggedAt: number): void {
    const delay = delayOf(message);
    this.hold(message, delay, (loggedAt > 0 ? loggedAt : Date.now()) + delay);
  }

  /** The exchange is deleted: what it holds is dropped. */
  override close(): number {
    this.deleted = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const journal = this.journal;
    if (journal) {
      journal.deleted(this);
      for (const h of this.heap) if (h.message.logId) journal.forgotten(this, h.message.logId);
    }
    const count = this.heap.length;
    this.heap.length = 0;
    return count;
  }

  private hold(message: Message, delay: number, dueAt: number): void {
    if (this.deleted) return;
    this.push({ dueAt, seq: ++this.arrivals, message, delay });
    if (this.timer === null || dueAt < this.timerAt) this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const first = this.heap[0];
    if (!first || this.deleted) return;
    this.timerAt = first.dueAt;
    this.timer = setTimeout(this.releaseDue, Math.min(MAX_TIMER, Math.max(0, first.dueAt - Date.now())));
    this.timer.unref();
  }

  private readonly releaseDue = (): void => {
    this.timer = null;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.dueAt <= now && !this.deleted) {
      const h = this.pop();
      this.release?.(h.message, h.delay);
      if (this.journal && h.message.logId) this.journal.removed(this, h.message.logId);
    }
    this.schedule();
  };

  private push(h: Held): void {
    const heap = this.heap;
    let i = heap.push(h) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = h;
  }

  private pop(): Held {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const c = l + 1 < heap.length && before(heap[l + 1]!, heap[l]!) ? l + 1 : l;
      if (!before(heap[c]!, last)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Held, b: Held): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
}
