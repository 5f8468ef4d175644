/**
 * The write-ahead message log: persistent messages routed to durable
 * queues are appended to segment files under <dataDir>/messages/ and made
 * durable with group commit: every record appended during one event-loop
 * turn (and while the previous batch was being synced) goes to disk in one
 * write followed by one fdatasync, and only then are the callbacks of that
 * batch called (publisher confirms are sent from them). With the `interval`
 * fsync policy the callbacks run after the write, and fdatasync runs at most
 * once per interval.
 *
 * One log per broker rather than one per queue: a message routed to many
 * durable queues is written once (its record names the queues), writes
 * stay sequential on disk, and one fdatasync covers every queue's batch.
 * MessageRefs counts the queues still holding each message, and the
 * collector (log-compactor.ts) deletes or compacts old segments from it.
 *
 * A failed write or sync (ENOSPC, EIO) fails that batch's publishes (their
 * publishers get basic.nack), cuts the segment back to where the batch
 * began (or moves on to a new segment when that fails too), and keeps the
 * batch's queue events for the next commit, which is retried after a pause.
 *
 * The record format is in log-format.ts; recovery in message-recovery.ts.
 */
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, write } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { WireWriter } from '../amqp/wire-writer.js';
import type { FsyncPolicy } from '../config/options.js';
import type { Logger } from '../log.js';
import { LogCompactor } from './log-compactor.js';
import { RECORD_HEADER, RecordType, scanRecords, segmentName } from './log-format.js';
import { MessageRefs } from './message-refs.js';

export { RecordType } from './log-format.js';

export type Committed = (err: Error | null) => void;

/** A segment file on disk, and the message ids of the publishes it holds (0, 0 when none). */
export interface SegmentInfo {
  n: number;
  firstId: number;
  lastId: number;
  /** publish records in it (a compacted segment's ids have gaps) */
  publishes: number;
  bytes: number;
}

export interface MessageLogOptions {
  /** start a new segment once the current one would pass this size (default 64 MiB) */
  segmentBytes?: number;
  fsync?: FsyncPolicy;
  /** with fsync 'interval': the most milliseconds between fdatasyncs */
  fsyncInterval?: number;
  /** how often sealed segments are checked for garbage, in ms (default 5 s) */
  collectInterval?: number;
  /** false: no collection unless collectGarbage() is called (a test that needs the segments as written) */
  autoCollect?: boolean;
  logger?: Logger;
}

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

/** After a failed write, the next commit waits this long (the disk may be full). */
const RETRY_AFTER_FAILURE_MS = 100;

export class MessageLog {
  readonly dir: string;
  readonly refs = new MessageRefs();
  /** every segment on disk, oldest first; the last is the one being written */
  readonly segments: SegmentInfo[];
  readonly segmentBytes: number;
  private readonly fsyncPolicy: FsyncPolicy;
  private readonly fsyncInterval: number;
  private readonly logger: Logger | undefined;
  private readonly compactor: LogCompactor;
  private fd: number;
  private batch = new WireWriter(64 * 1024);
  private waiters: Committed[] = [];
  /** ids of the publishes in the batch */
  private batchFirstId = 0;
  private batchLastId = 0;
  private batchPublishes = 0;
  private syncing = false;
  private scheduled = false;
  private closed = false;
  private nextId = 1;
  private retryAt = 0;
  /** the tail of the current segment could not be cut back after a failure: start a new one */
  private rotateNext = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private readonly collectTimer: NodeJS.Timeout;
  private readonly autoCollect: boolean;

  /** Continue a recovered log: new records go to a new segment, ids after the highest seen. */
  constructor(dir: string, recovered: { segments: SegmentInfo[]; lastMessageId: number }, o: MessageLogOptions = {}) {
    this.dir = dir;
    mkdirSync(this.dir, { recursive: true });
    this.segments = recovered.segments.slice();
    this.segmentBytes = o.segmentBytes ?? 64 * 1024 * 1024;
    this.fsyncPolicy = o.fsync ?? 'always';
    this.fsyncInterval = o.fsyncInterval ?? 200;
    this.logger = o.logger;
    this.nextId = recovered.lastMessageId + 1;
    this.fd = this.openSegment();
    this.compactor = new LogCompactor(this, o.logger);
    this.autoCollect = o.autoCollect ?? true;
    this.collectTimer = setInterval(() => this.autoCollect && this.collectGarbage(), o.collectInterval ?? 5000);
    this.collectTimer.unref();
  }

  /** The segment being written. */
  private get current(): SegmentInfo {
    return this.segments[this.segments.length - 1]!;
  }

  /** A fresh message id (ids only grow). */
  newMessageId(): number {
    return this.nextId++;
  }

  /** Delete or compact old segments whose messages are gone; resolves when done. */
  collectGarbage(): Promise<void> {
    return this.compactor.collect();
  }

  /** A queue event record (Remove, Delivered, QueueDeleted); a Remove also releases the queue's reference. */
  appendQueueEvent(type: number, messageId: number, vhost: string, queue: string): void {
    if (this.closed) return;
    if (type === RecordType.Remove) this.refs.release(messageId);
    const w = this.batch;
    const size = 1 + 8 + 1 + Buffer.byteLength(vhost) + 1 + Buffer.byteLength(queue);
    w.ensure(RECORD_HEADER + size);
    w.u32(size);
    w.u32(0);
    w.u8(type);
    w.u64(messageId);
    w.shortstr(vhost);
    w.shortstr(queue);
    this.sealRecord(size);
    this.schedule();
  }

  /** A queue let go of a logged message without a record: its QueueDeleted record covers it. */
  forget(messageId: number): void {
    this.refs.release(messageId);
  }

  /** Append a publish record; `done` is called once it is on disk (or the write failed). */
  appendPublish(r: PublishRecord, done: Committed): void {
    if (this.closed) {
      done(new Error('message log closed'));
      return;
    }
    const w = this.batch;
    let size = 1 + 8 + 1 + Buffer.byteLength(r.vhost) + 2 + 1 + Buffer.byteLength(r.exchange) + 1 + Buffer.byteLength(r.routingKey);
    for (const q of r.queues) size += 1 + Buffer.byteLength(q);
    size += 4 + r.propertiesSize + 4 + r.bodySize + 8;
    w.ensure(RECORD_HEADER + size);
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
    w.u64(Date.now());
    this.sealRecord(size);
    this.refs.add(r.messageId, r.queues.length);
    if (this.batchFirstId === 0) this.batchFirstId = r.messageId;
    this.batchLastId = r.messageId;
    this.batchPublishes++;
    this.waiters.push(done);
    this.schedule();
  }

  /**
   * Fill in the checksum of the record just written, found from the end:
   * a write may have moved the batch to a new buffer mid-record (shortstr
   * makes room for its worst case), so a position taken before is stale.
   */
  private sealRecord(size: number): void {
    const buf = this.batch.buf;
    const payloadStart = this.batch.pos - size;
    buf.writeUInt32BE(crc32(buf.subarray(payloadStart, payloadStart + size)), payloadStart - 4);
  }

  /** Stop accepting records; pending ones are still written. */
  close(): void {
    this.closed = true;
    clearInterval(this.collectTimer);
    if (!this.syncing && this.batch.pending === 0) this.closeFd();
  }

  private closeFd(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (this.fsyncPolicy === 'interval') fdatasyncSync(this.fd);
    closeSync(this.fd);
  }

  private schedule(): void {
    if (this.scheduled || this.syncing) return;
    this.scheduled = true;
    const wait = this.retryAt - Date.now();
    if (wait > 0) setTimeout(this.commitNow, wait);
    else setImmediate(this.commitNow);
  }

  private readonly commitNow = (): void => {
    this.scheduled = false;
    this.commit();
  };

  /** Write the batch, fdatasync, then tell its waiters. One commit at a time. */
  private commit(): void {
    if (this.syncing || this.batch.pending === 0) return;
    this.syncing = true;
    const bytes = this.batch.take();
    const waiters = this.waiters;
    const firstId = this.batchFirstId;
    const lastId = this.batchLastId;
    const publishes = this.batchPublishes;
    this.waiters = [];
    this.batchFirstId = this.batchLastId = this.batchPublishes = 0;
    const full = this.current.bytes > 0 && this.current.bytes + bytes.length > this.segmentBytes;
    if (full || this.rotateNext) this.rotate();
    const segment = this.current;
    const before = segment.bytes;
    segment.bytes += bytes.length;
    if (firstId !== 0) {
      if (segment.firstId === 0) segment.firstId = firstId;
      segment.lastId = lastId;
      segment.publishes += publishes;
    }
    const fd = this.fd;
    const finish = (err: Error | null): void => {
      this.syncing = false;
      if (err) {
        segment.publishes -= publishes;
        this.failed(fd, segment, before, bytes, err);
      }
      for (const w of waiters) w(err);
      if (this.batch.pending > 0) this.schedule();
      else if (this.closed) this.closeFd();
    };
    writeAll(fd, bytes, 0, (err) => {
      if (err || this.fsyncPolicy === 'interval') {
        if (!err) this.syncSoon();
        return finish(err);
      }
      fdatasync(fd, (syncErr) => finish(syncErr));
    });
  }

  /** A batch did not reach the disk: cut it off the segment and keep its queue events for the next commit. */
  private failed(fd: number, segment: SegmentInfo, before: number, bytes: Buffer, err: Error): void {
    this.logger?.error({ err, segment: segmentName(segment.n) }, 'message log: write failed, its publishes are refused (basic.nack)');
    segment.bytes = before;
    try {
      ftruncateSync(fd, before);
    } catch {
      this.rotateNext = true;
    }
    scanRecords(bytes, (start, end) => {
      if (bytes[start + RECORD_HEADER] === RecordType.Publish) return;
      this.batch.ensure(end - start);
      this.batch.range(bytes, start, end);
    });
    this.retryAt = Date.now() + RETRY_AFTER_FAILURE_MS;
  }

  /** fsync 'interval': one fdatasync at most every fsyncInterval ms while there are writes. */
  private syncSoon(): void {
    if (this.syncTimer || this.closed) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      fdatasync(this.fd, (err) => {
        if (err) this.logger?.error({ err }, 'message log: fdatasync failed');
      });
    }, this.fsyncInterval);
  }

  /** Seal the current segment and start the next; the collector may now look at the sealed one. */
  private rotate(): void {
    this.rotateNext = false;
    this.closeFd();
    this.fd = this.openSegment();
    if (this.autoCollect) setImmediate(() => this.collectGarbage());
  }

  private openSegment(): number {
    const n = this.segments.length > 0 ? this.current.n + 1 : 1;
    const fd = openSync(join(this.dir, segmentName(n)), 'a');
    this.segments.push({ n, firstId: 0, lastId: 0, publishes: 0, bytes: 0 });
    return fd;
  }
}

function writeAll(fd: number, buf: Buffer, offset: number, cb: (err: Error | null) => void): void {
  write(fd, buf, offset, buf.length - offset, null, (err, n) => {
    if (err) return cb(err);
    if (offset + n < buf.length) return writeAll(fd, buf, offset + n, cb);
    cb(null);
  });
}

export { segmentName } from './log-format.js';
