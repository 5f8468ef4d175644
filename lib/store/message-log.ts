/**
 * The write-ahead message log: persistent messages routed to durable
 * queues are appended to segment files under <dataDir>/messages/ and made
 * durable with group commit: every record appended during one event-loop
 * turn (and while the previous batch was being synced) goes to disk in one
 * write followed by one fdatasync, and only then are the callbacks of that
 * batch called (publisher confirms are sent from them).
 *
 * One log per broker rather than one per queue: a message routed to many
 * durable queues is written once (its record names the queues), writes
 * stay sequential on disk, and one fdatasync covers every queue's batch.
 *
 * Record framing: u32 payload length, u32 CRC-32 of the payload, payload.
 * A torn or corrupt tail is recognisable by its length or checksum.
 * Payload of a publish record (type 1): u64 message id, shortstr vhost,
 * u16 queue count and shortstr names, shortstr exchange, shortstr routing
 * key, longstr properties, longstr body. Queue events (types 2-4): u64
 * message id (0 for QueueDeleted), shortstr vhost, shortstr queue.
 * Queue events are not waited for: they ride in the next commit.
 *
 * This file owns writing; message-recovery.ts replays the segments at
 * start. Removing and compacting segments come next.
 */
import { closeSync, fdatasync, mkdirSync, openSync, write } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { WireWriter } from '../amqp/wire-writer.js';

export const RecordType = {
  Publish: 1,
  /** the message left a queue for good (acked, rejected, purged, delivered without ack) */
  Remove: 2,
  /** the message was delivered from a queue (it comes back redelivered after a crash) */
  Delivered: 3,
  /** a queue was deleted: what it held before this record is gone, even if a queue of that name comes back */
  QueueDeleted: 4,
} as const;

const SEGMENT_BYTES = 64 * 1024 * 1024;
export const RECORD_HEADER = 8;

export type Committed = (err: Error | null) => void;

export interface PublishRecord {
  messageId: number;
  vhost: string;
  queues: readonly string[];
  exchange: string;
  routingKey: string;
  /** property bytes as received: data[offset, offset + propertiesSize) */
  data: Buffer;
  offset: number;
  propertiesSize: number;
  /** the body, as one buffer or its parts */
  body: Buffer | readonly Buffer[];
  bodySize: number;
}

export class MessageLog {
  readonly dir: string;
  private fd: number;
  private segment = 0;
  private segmentBytes = 0;
  private batch = new WireWriter(64 * 1024);
  private waiters: Committed[] = [];
  private syncing = false;
  private scheduled = false;
  private closed = false;
  private nextId = 1;

  /** Continue a recovered log: new records go to a new segment, ids after the highest seen. */
  constructor(dir: string, lastSegment: number, lastMessageId: number) {
    this.dir = dir;
    mkdirSync(this.dir, { recursive: true });
    this.segment = lastSegment;
    this.nextId = lastMessageId + 1;
    this.fd = this.openSegment();
  }

  /** A queue event record (Remove, Delivered, QueueDeleted). */
  appendQueueEvent(type: number, messageId: number, vhost: string, queue: string): void {
    if (this.closed) return;
    const w = this.batch;
    const size = 1 + 8 + 1 + Buffer.byteLength(vhost) + 1 + Buffer.byteLength(queue);
    w.ensure(RECORD_HEADER + size);
    const headerAt = w.pos;
    w.u32(size);
    w.u32(0);
    w.u8(type);
    w.u64(messageId);
    w.shortstr(vhost);
    w.shortstr(queue);
    this.sealRecord(headerAt, size);
    this.schedule();
  }

  /** Fill in a record's checksum, once its payload is written. */
  private sealRecord(headerAt: number, size: number): void {
    const payloadStart = headerAt + RECORD_HEADER;
    this.batch.buf.writeUInt32BE(crc32(this.batch.buf.subarray(payloadStart, payloadStart + size)), headerAt + 4);
  }

  /** A fresh message id (ids only grow). */
  newMessageId(): number {
    return this.nextId++;
  }

  /** Append a publish record; `done` is called once it is on disk (or the write failed). */
  appendPublish(r: PublishRecord, done: Committed): void {
    if (this.closed) {
      done(new Error('message log closed'));
      return;
    }
    const w = this.batch;
    // size the record first: with room ensured, positions in w.buf stay put while it is written
    let size = 1 + 8 + 1 + Buffer.byteLength(r.vhost) + 2 + 1 + Buffer.byteLength(r.exchange) + 1 + Buffer.byteLength(r.routingKey);
    for (const q of r.queues) size += 1 + Buffer.byteLength(q);
    size += 4 + r.propertiesSize + 4 + r.bodySize;
    w.ensure(RECORD_HEADER + size);
    const headerAt = w.pos;
    w.u32(size);
    w.u32(0); // checksum, filled in below
    w.u8(RecordType.Publish);
    w.u64(r.messageId);
    w.shortstr(r.vhost);
    w.u16(r.queues.length);
    for (const q of r.queues) w.shortstr(q);
    w.shortstr(r.exchange);
    w.shortstr(r.routingKey);
    w.u32(r.propertiesSize);
    w.range(r.data, r.offset, r.offset + r.propertiesSize);
    w.u32(r.bodySize);
    if (Buffer.isBuffer(r.body)) w.bytes(r.body);
    else for (const part of r.body) w.bytes(part);
    this.sealRecord(headerAt, size);
    this.waiters.push(done);
    this.schedule();
  }

  /** Stop accepting records; pending ones are still written. */
  close(): void {
    this.closed = true;
    if (!this.syncing && this.batch.pending === 0) closeSync(this.fd);
  }

  private schedule(): void {
    if (this.scheduled || this.syncing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.commit();
    });
  }

  /** Write the batch, fdatasync, then tell its waiters. One commit at a time. */
  private commit(): void {
    if (this.syncing || this.batch.pending === 0) return;
    this.syncing = true;
    const bytes = this.batch.take();
    const waiters = this.waiters;
    this.waiters = [];
    if (this.segmentBytes > 0 && this.segmentBytes + bytes.length > SEGMENT_BYTES) {
      closeSync(this.fd);
      this.fd = this.openSegment();
    }
    this.segmentBytes += bytes.length;
    const fd = this.fd;
    const finish = (err: Error | null): void => {
      this.syncing = false;
      for (const w of waiters) w(err);
      if (this.batch.pending > 0) this.commit();
      else if (this.closed) closeSync(this.fd);
    };
    writeAll(fd, bytes, 0, (err) => {
      if (err) return finish(err);
      fdatasync(fd, (syncErr) => finish(syncErr));
    });
  }

  private openSegment(): number {
    this.segment++;
    this.segmentBytes = 0;
    return openSync(join(this.dir, segmentName(this.segment)), 'a');
  }
}

function writeAll(fd: number, buf: Buffer, offset: number, cb: (err: Error | null) => void): void {
  write(fd, buf, offset, buf.length - offset, null, (err, n) => {
    if (err) return cb(err);
    if (offset + n < buf.length) return writeAll(fd, buf, offset + n, cb);
    cb(null);
  });
}

export function segmentName(n: number): string {
  return `${String(n).padStart(8, '0')}.wlog`;
}
