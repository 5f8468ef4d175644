/**
 * The paged-out tail of a queue: the messages behind the queue's memory
 * window, kept on disk in a DiskFifo (lib/store/disk-fifo.ts) and read back
 * in order as consumers catch up.
 *
 * Every paged entry is newer than every entry in memory (once a queue pages,
 * new messages go to the tail until it is empty again), so the queue's
 * order is: the ready list in memory, then this tail.
 *
 * A record is one queue entry, whole: u64 seq, u8 flags (redelivered,
 * delivered), u64 expiry time (ms, 0 for none), u64 message-log id (0 if none), shortstr exchange, shortstr
 * routing key, longstr properties, longstr body. Persistent messages are
 * written here too, though the message log has them: the tail is a cache,
 * deleted at start, and reading it needs no index into the log.
 */
import { WireReader } from '../amqp/wire-reader.js';
import { WireWriter } from '../amqp/wire-writer.js';
import { DiskFifo } from '../store/disk-fifo.js';
import { Message } from './message.js';
import { QueueEntry } from './ready-list.js';

/** Where queues page out, and how much of their ready messages they keep in memory. */
export interface QueuePaging {
  /** a new, empty directory for one queue's tail */
  newDir(): string;
  /** bytes of ready messages (properties, body and bookkeeping) a queue keeps in memory */
  readonly budgetBytes: number;
  /** paging out failed (the entry stays in memory); for the log */
  failed(q: { name: string; vhost: string }, err: unknown): void;
}

/** What a message costs in memory beyond its bytes: the Message and QueueEntry objects and a list slot. */
export const ENTRY_OVERHEAD = 160;

const REDELIVERED = 1;
const DELIVERED = 2;

const writer = new WireWriter(64 * 1024);
const reader = new WireReader();

export function entryBytes(m: Message): number {
  return ENTRY_OVERHEAD + m.propertiesSize + m.bodySize;
}

export class PagedTail {
  private readonly fifo: DiskFifo;

  constructor(dir: string) {
    this.fifo = new DiskFifo(dir);
  }

  get length(): number {
    return this.fifo.length;
  }

  /** Append an entry (its message may stay in use elsewhere: the bytes are copied). Throws on a write error. */
  push(e: QueueEntry): void {
    const m = e.message;
    writer.take(); // drop what a failed push left
    const size = 8 + 1 + 8 + 8 + 1 + Buffer.byteLength(m.exchange) + 1 + Buffer.byteLength(m.routingKey) + 4 + m.propertiesSize + 4 + m.bodySize;
    writer.ensure(size);
    writer.u64(e.seq);
    writer.u8((e.redelivered ? REDELIVERED : 0) | (e.delivered ? DELIVERED : 0));
    writer.u64(e.expiresAt);
    writer.u64(m.logId);
    writer.shortstr(m.exchange);
    writer.shortstr(m.routingKey);
    writer.u32(m.propertiesSize);
    writer.range(m.data, m.offset, m.offset + m.propertiesSize);
    writer.u32(m.bodySize);
    if (m.bodyParts) for (const part of m.bodyParts) writer.bytes(part);
    else writer.range(m.data, m.offset + m.propertiesSize, m.offset + m.propertiesSize + m.bodySize);
    // found from the end: a write may have moved the bytes to a new buffer mid-record
    this.fifo.pushRange(writer.buf, writer.pos - size, writer.pos);
    writer.take();
  }

  /** The oldest entry, rebuilt in memory; undefined when the tail is empty. */
  shift(): QueueEntry | undefined {
    const record = this.fifo.shift();
    if (!record) return undefined;
    const r = reader.reset(record, 0, record.length);
    const seq = r.u64();
    const flags = r.u8();
    const expiresAt = r.u64();
    const logId = r.u64();
    const exchange = r.shortstr();
    const routingKey = r.shortstr();
    const properties = r.longstr();
    const body = r.longstr();
    // the record is only valid until the next call: Message copies small bodies, a large one is copied here
    const message = new Message(exchange, routingKey, properties, [body.length > 16 * 1024 ? Buffer.from(body) : body], body.length);
    message.logId = logId;
    const e = new QueueEntry(seq, message);
    e.redelivered = (flags & REDELIVERED) !== 0;
    e.delivered = (flags & DELIVERED) !== 0;
    e.expiresAt = expiresAt;
    return e;
  }

  /** The message-log ids of the paged entries (for a purge or a deletion to record). */
  forEachLogId(fn: (logId: number) => void): void {
    this.fifo.forEach((record) => {
      const logId = record.readUInt32BE(17) * 0x1_0000_0000 + record.readUInt32BE(21);
      if (logId !== 0) fn(logId);
    });
  }

  clear(): void {
    this.fifo.clear();
  }

  destroy(): void {
    this.fifo.destroy();
  }
}
