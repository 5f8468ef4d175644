/**
 * One warren-perf producer: a connection that writes pre-encoded
 * basic.publish + header + body frames in 64 KiB batches, respecting socket
 * backpressure, an optional rate, an optional window of unconsumed messages,
 * and (with confirms) a window of unconfirmed ones.
 *
 * Each body starts with the send time (clockMs, a little-endian double) that
 * the consumers read back for end-to-end latency. Stamping rewrites a batch
 * that the socket may still hold (a write that did not flush at once keeps a
 * reference), so batches rotate through a ring of copies: a write that does not
 * flush returns false or leaves under 16 KiB queued, after which the next one
 * waits for 'drain', so at most two are ever pending.
 */
import { Method } from '../amqp/generated/methods.js';
import { Histogram } from './histogram.js';
import { CONFIRMED, NACKED, PUBLISHED, PRODUCER_SLOTS, SLOT, STOP, clockMs, consumerSlot } from './perf-shared.js';
import type { ProducerRole } from './perf-shared.js';
import { publishBatch, RawConnection } from './raw-connection.js';

/** Bytes per write: big enough to amortise the syscall, small enough to keep the event loop turning. */
const BATCH_BYTES = 64 * 1024;
/** Yield to the event loop (incoming frames, messages) after this many bytes written in one go. */
const YIELD_BYTES = 4 * 1024 * 1024;
const BATCH_COPIES = 4;
/** Per-tag state of a confirming producer, indexed by tag & RING_MASK; unconfirmed tags never span more. */
const RING = 1 << 17;
const RING_MASK = RING - 1;

export class Producer {
  published = 0;
  confirmed = 0;
  nacked = 0;
  readonly confirmLatency = new Histogram();
  /** called once: total reached and settled, or stopped */
  onDone: (() => void) | null = null;

  private readonly shared: Int32Array;
  private readonly base: number;
  private readonly batches: Buffer[];
  private next = 0;
  private readonly messageBytes: number;
  private readonly perBatch: number;
  /** offset of the body in one encoded message, or -1: no timestamps (body under 8 bytes) */
  private readonly bodyAt: number;
  private finished = false;
  private allWritten = false;
  private started = false;
  private rateStart = 0;
  private ratePublished = 0;
  // publisher confirms: publish n has delivery-tag n; tags below `lowest` are settled,
  // settledAbove marks tags >= lowest settled out of order, sentAt is when each was written
  private lowest = 1;
  private waitingForConfirms = false;
  private readonly sentAt: Float64Array;
  private readonly settledAbove: Uint8Array;

  constructor(
    private readonly conn: RawConnection,
    private readonly role: ProducerRole,
    shared: SharedArrayBuffer,
  ) {
    this.shared = new Int32Array(shared);
    this.base = SLOT.producers + role.index * PRODUCER_SLOTS;
    const common = { exchange: role.exchange, routingKey: role.routingKey, properties: { deliveryMode: role.persistent ? 2 : 1 }, frameMax: conn.frameMax };
    const body = Buffer.alloc(role.size, 0x61);
    this.messageBytes = publishBatch({ ...common, body, count: 1 }).length;
    this.bodyAt = role.size >= 8 ? publishBatch({ ...common, body: Buffer.alloc(0), count: 1 }).length + 7 : -1;
    this.perBatch = Math.max(1, Math.floor(BATCH_BYTES / this.messageBytes));
    const batch = publishBatch({ ...common, body, count: this.perBatch });
    this.batches = Array.from({ length: BATCH_COPIES }, () => Buffer.from(batch));
    const confirming = role.confirm > 0;
    this.sentAt = new Float64Array(confirming ? RING : 0);
    this.settledAbove = new Uint8Array(confirming ? RING : 0);
    if (confirming) {
      conn.onConfirm = (tag, multiple, nack) => this.settle(tag, multiple, nack);
      conn.afterData = () => {
        Atomics.store(this.shared, this.base + CONFIRMED, this.confirmed);
        Atomics.store(this.shared, this.base + NACKED, this.nacked);
        if (this.allWritten && this.confirmed + this.nacked >= this.role.total) this.finish();
        else if (this.waitingForConfirms) this.pump();
      };
    }
  }

  static async open(conn: RawConnection, role: ProducerRole, shared: SharedArrayBuffer): Promise<Producer> {
    if (role.confirm > 0) await conn.rpc({ id: Method.ConfirmSelect, nowait: false }, Method.ConfirmSelectOk);
    return new Producer(conn, role, shared);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.rateStart = clockMs();
    this.pump();
  }

  /** Stop publishing now (also while waiting for 'drain', confirms or the window). */
  stop(): void {
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.onDone?.();
  }

  /** Unconsumed messages per copy: all producers' publishes x copies - all consumers' deliveries. */
  private overWindow(): boolean {
    const r = this.role;
    let published = 0;
    for (let i = 0; i < r.producers; i++) published += Atomics.load(this.shared, SLOT.producers + i * PRODUCER_SLOTS + PUBLISHED);
    let received = 0;
    for (let j = 0; j < r.consumers; j++) received += Atomics.load(this.shared, consumerSlot(r.producers, j));
    return ((published * r.copies - received) | 0) >= r.window * r.copies;
  }

  private readonly pump = (): void => {
    const { conn, role } = this;
    if (conn.error || this.finished) return;
    conn.socket.off('drain', this.pump);
    this.waitingForConfirms = false;
    let wrote = 0;
    for (;;) {
      if (Atomics.load(this.shared, SLOT.control) === STOP) return this.finish();
      let n = this.perBatch;
      if (role.total > 0) {
        const left = role.total - this.published;
        if (left <= 0) {
          this.allWritten = true;
          if (role.confirm === 0 || this.confirmed + this.nacked >= role.total) this.finish();
          return;
        }
        n = Math.min(n, left);
      }
      if (role.window > 0 && this.overWindow()) {
        setTimeout(this.pump, 1);
        return;
      }
      const now = clockMs();
      if (role.rate > 0) {
        const due = Math.floor((role.rate * (now - this.rateStart)) / 1000) - this.ratePublished;
        if (due <= 0) {
          setTimeout(this.pump, Math.min(100, Math.max(1, Math.ceil((1000 * (this.ratePublished + 1)) / role.rate - (now - this.rateStart)))));
          return;
        }
        n = Math.min(n, due);
      }
      if (role.confirm > 0) {
        // room under the window, and in the ring (unconfirmed tags span lowest..published)
        const room = Math.min(role.confirm - (this.published - this.confirmed - this.nacked), RING - 1 - (this.published - this.lowest + 1));
        if (room <= 0) {
          this.waitingForConfirms = true; // the next basic.ack resumes
          return;
        }
        n = Math.min(n, room);
        for (let tag = this.published + 1; tag <= this.published + n; tag++) this.sentAt[tag & RING_MASK] = now;
      }
      const batch = this.batches[this.next]!;
      this.next = (this.next + 1) % BATCH_COPIES;
      if (this.bodyAt >= 0) for (let k = 0, at = this.bodyAt; k < n; k++, at += this.messageBytes) batch.writeDoubleLE(now, at);
      const buf = n === this.perBatch ? batch : batch.subarray(0, n * this.messageBytes);
      this.published += n;
      this.ratePublished += n;
      Atomics.store(this.shared, this.base + PUBLISHED, this.published);
      if (!conn.write(buf)) {
        conn.socket.once('drain', this.pump);
        return;
      }
      wrote += buf.length;
      if (wrote >= YIELD_BYTES) {
        setImmediate(this.pump);
        return;
      }
    }
  };

  private settleOne(tag: number, nack: boolean, now: number): void {
    if (nack) this.nacked++;
    else {
      this.confirmed++;
      if (Atomics.load(this.shared, SLOT.measuring) === 1) this.confirmLatency.add(now - this.sentAt[tag & RING_MASK]!);
    }
  }

  private settle(tag: number, multiple: boolean, nack: boolean): void {
    const now = clockMs();
    if (tag > this.published) tag = this.published; // a broker bug; do not count publishes never made
    if (multiple) {
      for (; this.lowest <= tag; this.lowest++) {
        const i = this.lowest & RING_MASK;
        if (this.settledAbove[i]) this.settledAbove[i] = 0;
        else this.settleOne(this.lowest, nack, now);
      }
    } else if (tag >= this.lowest && !this.settledAbove[tag & RING_MASK]) {
      this.settleOne(tag, nack, now);
      this.settledAbove[tag & RING_MASK] = 1;
    }
    while (this.lowest <= this.published && this.settledAbove[this.lowest & RING_MASK]) this.settledAbove[this.lowest++ & RING_MASK] = 0;
  }
}
