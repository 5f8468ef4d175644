/**
 * A single-producer single-consumer byte ring over a SharedArrayBuffer, for
 * handing messages between threads without postMessage or structured clone.
 * One thread writes (tryWrite, publish, waitForSpace), one other thread reads
 * (read, waitForData, waitForDataAsync); each builds its own SharedRing over
 * the same buffer (SharedRing.allocate).
 *
 * Layout of the SharedArrayBuffer (HEADER_BYTES, then `capacity` data bytes,
 * capacity a power of two):
 *
 *   Int32 [HEAD]        bytes ever written (free-running, wraps at 2^32), written by the producer only
 *   Int32 [TAIL]        bytes ever consumed (likewise), written by the consumer only
 *   Int32 [DATA_WAIT]   1: the consumer is (about to be) asleep waiting for data; its futex word
 *   Int32 [SPACE_WAIT]  1: the producer is (about to be) asleep waiting for space; its futex word
 *   (each on its own 64-byte line, so that the two sides do not share a cache line)
 *
 * The data region holds records at 4-byte-aligned offsets: an Int32 length L
 * (>= 0) followed by L payload bytes, padded to the next multiple of 4. A
 * record never wraps: when it does not fit between its offset and the end,
 * the producer writes the length -1 (a pad marker: skip to offset 0) and
 * writes the record at 0. So a record costs align4(4 + L) bytes plus, at a
 * wrap, the bytes skipped; a payload may be at most capacity / 2 - 8 bytes,
 * which guarantees that an empty ring takes any record wherever HEAD is.
 * head - tail (mod 2^32) is the bytes in use; head == tail is empty.
 *
 * Memory ordering. Payload bytes and lengths are plain (unordered) stores;
 * they are published by Atomics.store(HEAD) after them, and the consumer
 * reads them only after an Atomics.load(HEAD) that returned a value covering
 * them. JavaScript Atomics are sequentially consistent, which includes the
 * release (store) / acquire (load) pairing this needs: the store
 * synchronizes-with the load that reads it, so every plain write before the
 * store happens-before every plain read after the load. Symmetrically the
 * consumer releases bytes with Atomics.store(TAIL) after it has finished
 * reading them (after onRecord returns), and the producer overwrites them only
 * after an Atomics.load(TAIL) that covers them. Each side keeps the other's
 * index cached and loads it again only when the cache says empty / full, and
 * read() publishes TAIL once per batch; tryWrite publishes HEAD per record,
 * or the caller may defer it (publish = false) and call publish() once.
 *
 * Sleeping. A side with nothing to do sets its flag to 1 (SeqCst), loads the
 * other side's index again, and only if there is still nothing to do calls
 * Atomics.wait(flag, 1) (Atomics.waitAsync on a main thread, which may not
 * block). After publishing, the other side loads the flag, and only when it
 * reads 1 does it compareExchange it to 0 and Atomics.notify: the fast path
 * costs one Atomics.load and never a notify. No wake-up is lost (a Dekker
 * pattern on SeqCst operations): either the publisher's load sees the flag,
 * or the sleeper's second load sees the new index; and if the flag is reset
 * between that load and the wait, the wait returns at once ("not-equal").
 *
 * Neither side allocates per record. read() hands out the ring's own bytes
 * (valid only during the callback). tryWrite copies small payloads in a
 * JavaScript loop and large ones natively; a large payload that is not a
 * whole Uint8Array costs one subarray view for the native copy.
 */
export const HEADER_BYTES = 256;
const HEAD = 0;
const TAIL = 16;
const DATA_WAIT = 32;
const SPACE_WAIT = 48;
const PAD = -1;
/** Payloads up to this many bytes are copied in JavaScript (a native call costs more; see lib/amqp/copy-bytes.ts). */
const SMALL_COPY = 64;

type WaitAsync = (a: Int32Array, i: number, v: number, t?: number) => { async: boolean; value: unknown };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

export class SharedRing {
  /** The data region, the Uint8Array that read() hands to its callback. */
  readonly bytes: Uint8Array;
  readonly capacity: number;
  /** The largest payload one record may carry. */
  readonly maxPayload: number;
  private readonly ctl: Int32Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  /** Producer: its head (possibly ahead of the published HEAD) and its cached TAIL. */
  private head: number;
  private tailSeen: number;
  /** Consumer: its tail and its cached HEAD. */
  private tail: number;

  /** A SharedArrayBuffer for a ring of `capacity` data bytes (a power of two, at least 64). */
  static allocate(capacity: number): SharedArrayBuffer {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`ring capacity must be a power of two from 64 to 2^30, not ${capacity}`);
    }
    return new SharedArrayBuffer(HEADER_BYTES + capacity);
  }

  constructor(sab: SharedArrayBuffer) {
    this.capacity = sab.byteLength - HEADER_BYTES;
    if (this.capacity < 64 || (this.capacity & (this.capacity - 1)) !== 0) throw new RangeError('not a ring buffer (see SharedRing.allocate)');
    this.mask = this.capacity - 1;
    this.maxPayload = this.capacity / 2 - 8;
    this.ctl = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(sab, HEADER_BYTES, this.capacity);
    this.words = new Int32Array(sab, HEADER_BYTES, this.capacity / 4);
    this.head = Atomics.load(this.ctl, HEAD);
    this.tail = this.tailSeen = Atomics.load(this.ctl, TAIL);
  }

  // ---- producer side ----

  /**
   * Append payload[start, end) as one record; false (and nothing written)
   * when the ring has not the room. Publishes HEAD unless `publish` is false
   * (then call publish() after the batch; a refusal publishes what is pending).
   */
  tryWrite(payload: Uint8Array, start = 0, end = payload.length, publish = true): boolean {
    const len = end - start;
    if (len < 0 || len > this.maxPayload) throw new RangeError(`record of ${len} bytes (at most ${this.maxPayload})`);
    const need = (len + 7) & ~3;
    let pos = this.head & this.mask;
    const toEnd = this.capacity - pos;
    const total = need <= toEnd ? need : toEnd + need;
    if (this.capacity - ((this.head - this.tailSeen) | 0) < total) {
      this.tailSeen = Atomics.load(this.ctl, TAIL);
      if (this.capacity - ((this.head - this.tailSeen) | 0) < total) {
        this.publish();
        return false;
      }
    }
    if (need > toEnd) {
      this.words[pos >> 2] = PAD;
      pos = 0;
    }
    this.words[pos >> 2] = len;
    const bytes = this.bytes;
    if (len <= SMALL_COPY) {
      const shift = pos + 4 - start;
      for (let i = start; i < end; i++) bytes[shift + i] = payload[i]!;
    } else if (start === 0 && end === payload.length) {
      bytes.set(payload, pos + 4);
    } else {
      bytes.set(payload.subarray(start, end), pos + 4);
    }
    this.head = (this.head + total) | 0;
    if (publish) this.publish();
    return true;
  }

  /** Make every record written so far visible to the consumer, waking it if it sleeps. */
  publish(): void {
    const ctl = this.ctl;
    Atomics.store(ctl, HEAD, this.head);
    if (Atomics.load(ctl, DATA_WAIT) === 1 && Atomics.compareExchange(ctl, DATA_WAIT, 1, 0) === 1) Atomics.notify(ctl, DATA_WAIT, 1);
  }

  /**
   * Producer, in a worker: block until a payload of `len` bytes fits or
   * `timeoutMs` passes (after spinning `spin` checks first); true when it fits.
   */
  waitForSpace(len: number, timeoutMs: number, spin = 0): boolean {
    const fits = (): boolean => {
      this.tailSeen = Atomics.load(this.ctl, TAIL);
      const pos = this.head & this.mask;
      const need = (len + 7) & ~3;
      const total = need <= this.capacity - pos ? need : this.capacity - pos + need;
      return this.capacity - ((this.head - this.tailSeen) | 0) >= total;
    };
    this.publish();
    return this.block(SPACE_WAIT, fits, timeoutMs, spin);
  }

  // ---- consumer side ----

  /**
   * Hand up to `max` records to onRecord(bytes, start, end) in order (the
   * payload is bytes[start, end), valid only during the call), then release
   * their space with one TAIL store. Returns the number of records read. If
   * onRecord throws, the records of this batch are not released and will be
   * read again.
   */
  read(onRecord: (buf: Uint8Array, start: number, end: number) => void, max = Infinity): number {
    const head = Atomics.load(this.ctl, HEAD);
    let tail = this.tail;
    if (tail === head) return 0;
    const words = this.words;
    const bytes = this.bytes;
    let n = 0;
    while (tail !== head && n < max) {
      const pos = tail & this.mask;
      const len = words[pos >> 2]!;
      if (len === PAD) {
        tail = (tail + this.capacity - pos) | 0;
        continue;
      }
      onRecord(bytes, pos + 4, pos + 4 + len);
      tail = (tail + ((len + 7) & ~3)) | 0;
      n++;
    }
    this.tail = tail;
    const ctl = this.ctl;
    Atomics.store(ctl, TAIL, tail);
    if (Atomics.load(ctl, SPACE_WAIT) === 1 && Atomics.compareExchange(ctl, SPACE_WAIT, 1, 0) === 1) Atomics.notify(ctl, SPACE_WAIT, 1);
    return n;
  }

  /** Whether the consumer has said it sleeps (or is about to) waiting for data. */
  consumerSleeping(): boolean {
    return Atomics.load(this.ctl, DATA_WAIT) === 1;
  }

  /** Consumer: whether a record (or a pad marker) is waiting. */
  hasData(): boolean {
    return Atomics.load(this.ctl, HEAD) !== this.tail;
  }

  /**
   * Consumer, in a worker: block until data arrives or `timeoutMs` passes
   * (after spinning `spin` checks first); true when there is data.
   */
  waitForData(timeoutMs: number, spin = 0): boolean {
    return this.block(DATA_WAIT, () => this.hasData(), timeoutMs, spin);
  }

  /** Consumer, on a thread that may not block (the main thread): the same with Atomics.waitAsync. */
  async waitForDataAsync(timeoutMs: number): Promise<boolean> {
    if (!waitAsync) throw new Error('Atomics.waitAsync is not available');
    const ctl = this.ctl;
    if (this.hasData()) return true;
    Atomics.store(ctl, DATA_WAIT, 1);
    if (!this.hasData()) {
      const r = waitAsync(ctl, DATA_WAIT, 1, timeoutMs);
      if (r.async) await r.value;
    }
    Atomics.store(ctl, DATA_WAIT, 0);
    return this.hasData();
  }

  private block(flag: number, ready: () => boolean, timeoutMs: number, spin: number): boolean {
    for (let i = 0; i < spin; i++) if (ready()) return true;
    const ctl = this.ctl;
    if (ready()) return true;
    Atomics.store(ctl, flag, 1);
    if (!ready()) Atomics.wait(ctl, flag, 1, timeoutMs);
    Atomics.store(ctl, flag, 0);
    return ready();
  }
}
