/**
 * A queue's ready messages, in delivery order: a ReadyList in memory up to
 * the queue's memory budget, then a PagedTail on disk (queue-paging.ts),
 * read back in order as the memory window runs low. Every paged entry is
 * newer than every entry in memory, and a requeued entry (older than
 * anything paged) goes back into memory at its position.
 *
 * It also keeps the sums the queue's limits need: how many ready messages
 * there are and their body bytes (x-max-length, x-max-length-bytes count
 * those), wherever they are.
 */
import { entryBytes, PagedTail } from './queue-paging.js';
import type { QueuePaging } from './queue-paging.js';
import { ReadyList } from './ready-list.js';
import type { QueueEntry } from './ready-list.js';

/** What a queue needs of its ready messages (ReadyMessages, or PriorityReady for x-max-priority). */
export interface ReadyStore {
  paging: QueuePaging | null;
  readonly length: number;
  readonly pagedCount: number;
  /** body bytes of every ready message */
  readonly bodyBytes: number;
  push(e: QueueEntry): void;
  peek(): QueueEntry | undefined;
  shift(): QueueEntry | undefined;
  insertBySeq(e: QueueEntry): void;
  forEachLogId(fn: (logId: number) => void): void;
  clear(): number;
  destroy(): number;
}

export class ReadyMessages implements ReadyStore {
  /** where to page out beyond the budget; null keeps everything in memory */
  paging: QueuePaging | null = null;
  /** body bytes of every ready message, in memory or paged */
  bodyBytes = 0;
  private readonly list = new ReadyList();
  /** bytes the list holds in memory (entryBytes of each) */
  private memoryBytes = 0;
  private tail: PagedTail | null = null;
  private readonly owner: { name: string; vhost: string };

  constructor(owner: { name: string; vhost: string }) {
    this.owner = owner;
  }

  get length(): number {
    return this.list.length + (this.tail !== null ? this.tail.length : 0);
  }

  get pagedCount(): number {
    return this.tail !== null ? this.tail.length : 0;
  }

  /** A new entry at the tail: in memory, or paged when the tail is in use or memory is full. */
  push(e: QueueEntry): void {
    const size = entryBytes(e.message);
    this.bodyBytes += e.message.bodySize;
    const paging = this.paging;
    if (paging !== null && ((this.tail !== null && this.tail.length > 0) || this.memoryBytes + size > paging.budgetBytes) && this.pageOut(e, paging)) return;
    this.list.push(e);
    this.memoryBytes += size;
  }

  /** The head, without taking it. */
  peek(): QueueEntry | undefined {
    this.refill();
    return this.list.peek();
  }

  shift(): QueueEntry | undefined {
    this.refill();
    const e = this.list.shift();
    if (e) {
      this.memoryBytes -= entryBytes(e.message);
      this.bodyBytes -= e.message.bodySize;
    }
    return e;
  }

  /** A requeued entry back at the position its sequence number gives it. */
  insertBySeq(e: QueueEntry): void {
    this.list.insertBySeq(e);
    this.memoryBytes += entryBytes(e.message);
    this.bodyBytes += e.message.bodySize;
  }

  /** The message-log ids of every ready message, in memory and paged. */
  forEachLogId(fn: (logId: number) => void): void {
    this.list.forEach((e) => {
      if (e.message.logId) fn(e.message.logId);
    });
    this.tail?.forEachLogId(fn);
  }

  /** Drop everything; returns how many there were. */
  clear(): number {
    const paged = this.pagedCount;
    this.tail?.clear();
    this.memoryBytes = 0;
    this.bodyBytes = 0;
    return this.list.clear() + paged;
  }

  /** Drop everything and the paged tail's files. */
  destroy(): number {
    const n = this.clear();
    this.tail?.destroy();
    this.tail = null;
    return n;
  }

  /** false when the disk refused: the tail is then read back, so the entry can follow it in memory, in order */
  private pageOut(e: QueueEntry, paging: QueuePaging): boolean {
    try {
      (this.tail ??= new PagedTail(paging.newDir())).push(e);
      return true;
    } catch (err) {
      paging.failed(this.owner, err);
      if (this.tail !== null && this.tail.length > 0) this.pageIn(Infinity);
      return false;
    }
  }

  /** Read paged entries back into memory until the budget is reached (or the tail is empty). */
  private pageIn(budget: number): void {
    const tail = this.tail!;
    do {
      const e = tail.shift()!;
      this.list.push(e);
      this.memoryBytes += entryBytes(e.message);
    } while (tail.length > 0 && this.memoryBytes < budget);
  }

  /** Refill memory from the paged tail when it runs low. */
  private refill(): void {
    const tail = this.tail;
    if (tail !== null && tail.length > 0 && this.memoryBytes < this.paging!.budgetBytes / 2) this.pageIn(this.paging!.budgetBytes);
  }
}
