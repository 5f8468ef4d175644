/**
 * The ready messages of a priority queue (x-max-priority, RabbitMQ's
 * classic priority queues): one ReadyMessages per priority level, created
 * when first used; the highest non-empty level is delivered first, FIFO
 * within a level. A message's level is its priority property, 0 without
 * one, and at most the queue's maximum (higher ones count as the maximum).
 * A requeued message returns to its position in its own level. Each level
 * pages out on its own beyond the queue's memory budget.
 */
import { PropertyFlag } from '../amqp/generated/properties.js';
import type { Message } from './message.js';
import type { QueuePaging } from './queue-paging.js';
import type { QueueEntry } from './ready-list.js';
import { ReadyMessages } from './ready-messages.js';
import type { ReadyStore } from './ready-messages.js';

export class PriorityReady implements ReadyStore {
  private readonly levels: (ReadyMessages | undefined)[];
  private readonly owner: { name: string; vhost: string };
  private pagingValue: QueuePaging | null = null;

  constructor(owner: { name: string; vhost: string }, maxPriority: number) {
    this.owner = owner;
    this.levels = new Array<ReadyMessages | undefined>(maxPriority + 1);
  }

  get paging(): QueuePaging | null {
    return this.pagingValue;
  }

  set paging(p: QueuePaging | null) {
    this.pagingValue = p;
    for (const l of this.levels) if (l) l.paging = p;
  }

  get length(): number {
    let n = 0;
    for (const l of this.levels) if (l) n += l.length;
    return n;
  }

  get pagedCount(): number {
    let n = 0;
    for (const l of this.levels) if (l) n += l.pagedCount;
    return n;
  }

  get bodyBytes(): number {
    let n = 0;
    for (const l of this.levels) if (l) n += l.bodyBytes;
    return n;
  }

  private levelOf(m: Message): number {
    if (!(m.propertyFlags & PropertyFlag.Priority)) return 0;
    return Math.min(m.decodedProperties().priority ?? 0, this.levels.length - 1);
  }

  private level(m: Message): ReadyMessages {
    const i = this.levelOf(m);
    let l = this.levels[i];
    if (!l) {
      l = new ReadyMessages(this.owner);
      l.paging = this.pagingValue;
      this.levels[i] = l;
    }
    return l;
  }

  /** The highest level with a message, or undefined. */
  private top(): ReadyMessages | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const l = this.levels[i];
      if (l && l.length > 0) return l;
    }
    return undefined;
  }

  push(e: QueueEntry): void {
    this.level(e.message).push(e);
  }

  peek(): QueueEntry | undefined {
    return this.top()?.peek();
  }

  shift(): QueueEntry | undefined {
    return this.top()?.shift();
  }

  insertBySeq(e: QueueEntry): void {
    this.level(e.message).insertBySeq(e);
  }

  forEachLogId(fn: (logId: number) => void): void {
    for (let i = this.levels.length - 1; i >= 0; i--) this.levels[i]?.forEachLogId(fn);
  }

  clear(): number {
    let n = 0;
    for (const l of this.levels) if (l) n += l.clear();
    return n;
  }

  destroy(): number {
    let n = 0;
    for (const l of this.levels) if (l) n += l.destroy();
    return n;
  }
}
