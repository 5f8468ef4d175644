/**
 * Publisher confirms of one channel (after confirm.select): publishes are
 * numbered from 1; each is confirmed (basic.ack) once every queue it was
 * routed to has it — at once for transient messages or non-durable queues
 * and for unroutable messages, after the message log's fdatasync for a
 * persistent message on a durable queue — or refused (basic.nack) when it
 * could not be stored.
 *
 * Confirms are sent in batches (once the current read has been processed,
 * or when a log commit completes): like RabbitMQ's coalesce_and_send, the
 * confirmed tags below the oldest one still waiting go out as one
 * multiple=true ack, the rest one by one.
 */
import type { MessageStats } from '../broker/message-stats.js';

export type SendConfirm = (tag: number, multiple: boolean, ack: boolean) => void;

export class PublisherConfirms {
  private lastSeq = 0;
  /** tags waiting for the disk, in ascending order (a Set keeps insertion order) */
  private readonly waiting = new Set<number>();
  private acks: number[] = [];
  private nacks: number[] = [];
  private scheduled = false;
  private readonly send: SendConfirm;
  /** counts the confirms sent (stats.confirm), or null */
  private readonly stats: MessageStats | null;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(send: SendConfirm, stats: MessageStats | null = null) {
    this.send = send;
    this.stats = stats;
  }

  /** The tag of the next publish. */
  next(): number {
    return ++this.lastSeq;
  }

  /** The publish is settled now (transient, or unroutable). */
  confirm(tag: number): void {
    this.acks.push(tag);
    this.schedule();
  }

  /** The publish was refused (a full queue with overflow reject-publish): basic.nack. */
  refuse(tag: number): void {
    this.nacks.push(tag);
    this.schedule();
  }

  /**
   * The publish waits for the disk: returns the callback the log calls when
   * it is there (or failed). `refused`: a queue refused it, so it is nacked
   * even once the others have it on disk.
   */
  awaitCommit(tag: number, refused = false): (err: Error | null) => void {
    this.waiting.add(tag);
    return (err) => {
      this.waiting.delete(tag);
      (err || refused ? this.nacks : this.acks).push(tag);
      this.schedule();
    };
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushSoon);
    }
  }

  /** Send what is settled: one multiple ack for the prefix below the oldest waiting tag, then singles. */
  flush(): void {
    if (this.acks.length > 0) {
      if (this.stats) this.stats.confirm += this.acks.length;
      this.sendAll(this.acks, true);
    }
    if (this.nacks.length > 0) this.sendAll(this.nacks, false);
    this.acks = [];
    this.nacks = [];
  }

  private sendAll(tags: number[], ack: boolean): void {
    tags.sort((a, b) => a - b);
    let cutoff = Infinity;
    for (const t of this.waiting) {
      cutoff = t;
      break;
    }
    // a multiple ack must not cover a tag that is nacked, or acked later
    const other = ack ? this.nacks : this.acks;
    for (const t of other) if (t < cutoff) cutoff = t;
    let i = 0;
    while (i < tags.length && tags[i]! < cutoff) i++;
    if (i > 1) this.send(tags[i - 1]!, true, ack);
    else if (i === 1) this.send(tags[0]!, false, ack);
    for (let j = i; j < tags.length; j++) this.send(tags[j]!, false, ack);
  }
}
