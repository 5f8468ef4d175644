/**
 * WireWriter: encodes AMQP 0-9-1 primitives and whole frames into one
 * growing buffer, for a connection's outgoing batch or a standalone encode.
 *
 * Bytes are only ever appended: `take()` hands out the bytes written since
 * the last take as a slice, and later writes go after them (or into a fresh
 * buffer), so a slice given to `socket.write` is never overwritten. That lets
 * a connection encode every frame of an event-loop turn into one buffer and
 * write it with a single call.
 */
import { encodeArray, encodeTable } from './field-table.js';
import type { FieldTable, FieldValue } from './field-table.js';
import { WireEncodeError } from './wire-errors.js';
import { copyBytes } from './copy-bytes.js';

export const FRAME_END = 0xce;
/** type(1) + channel(2) + size(4) + frame-end(1) */
export const FRAME_OVERHEAD = 8;

const MIN_CHUNK = 16 * 1024;
const TWO_32 = 0x1_0000_0000;

export class WireWriter {
  buf: Buffer;
  pos = 0;
  /** start of the bytes not yet handed out by take() */
  private mark = 0;
  /**
   * Absolute offset of buf[0] in everything ever written. Offsets handed out
   * (reserveU32, frame starts) are absolute, so they stay valid when ensure()
   * or take() moves the live bytes to a new buffer.
   */
  private base = 0;
  /** absolute start of the frame being written, or -1 */
  private frameStart = -1;

  constructor(initialSize = MIN_CHUNK) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.pos - this.mark;
  }

  /** Make room for n more bytes, moving the untaken bytes to a new buffer if needed. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const live = this.pos - this.mark;
    const next = Buffer.allocUnsafe(Math.max(MIN_CHUNK, (live + n) * 2));
    this.buf.copy(next, 0, this.mark, this.pos);
    this.base += this.mark;
    this.buf = next;
    this.pos = live;
    this.mark = 0;
  }

  /** The bytes written since the last take (a slice; never overwritten later). */
  take(): Buffer {
    const out = this.buf.subarray(this.mark, this.pos);
    this.mark = this.pos;
    // Start the next batch in a fresh buffer when this one is nearly used up.
    if (this.buf.length - this.pos < 512) {
      this.base += this.pos;
      this.buf = Buffer.allocUnsafe(MIN_CHUNK);
      this.pos = 0;
      this.mark = 0;
    }
    return out;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  i8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  u16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    b[this.pos] = (v >>> 8) & 0xff;
    b[this.pos + 1] = v & 0xff;
    this.pos += 2;
  }

  i16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
  }

  u64(v: number | bigint): void {
    this.ensure(8);
    if (typeof v === 'bigint') {
      this.buf.writeBigUInt64BE(v, this.pos);
    } else {
      this.buf.writeUInt32BE(Math.floor(v / TWO_32) >>> 0, this.pos);
      this.buf.writeUInt32BE(v % TWO_32 >>> 0, this.pos + 4);
    }
    this.pos += 8;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatBE(v, this.pos);
    this.pos += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  shortstr(s: string): void {
    const max = s.length * 3;
    this.ensure(1 + Math.min(max, 255));
    if (max <= 255) {
      // ASCII, the common case (exchange, routing key, consumer tag), byte by byte:
      // cheaper than a native utf8 write for a few characters
      const buf = this.buf;
      const at = this.pos + 1;
      const len = s.length;
      let i = 0;
      while (i < len) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i++] = c;
      }
      const n = i === len ? len : buf.write(s, at, 'utf8');
      buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    if (n > 255) throw new WireEncodeError(`short string of ${n} bytes exceeds 255: ${s.slice(0, 40)}...`);
    this.ensure(1 + n);
    this.buf[this.pos] = n;
    this.buf.write(s, this.pos + 1, 'utf8');
    this.pos += 1 + n;
  }

  longstr(s: string | Buffer): void {
    if (typeof s === 'string') {
      const n = Buffer.byteLength(s, 'utf8');
      this.ensure(4 + n);
      this.buf.writeUInt32BE(n, this.pos);
      this.buf.write(s, this.pos + 4, 'utf8');
      this.pos += 4 + n;
    } else {
      this.ensure(4 + s.length);
      this.buf.writeUInt32BE(s.length, this.pos);
      s.copy(this.buf, this.pos + 4);
      this.pos += 4 + s.length;
    }
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** b[start, end), copied without making a slice object. */
  range(b: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    this.pos += copyBytes(b, start, end, this.buf, this.pos);
  }

  table(t: FieldTable | undefined | null): void {
    encodeTable(this, t);
  }

  array(values: readonly FieldValue[]): void {
    encodeArray(this, values);
  }

  /** Reserve a u32 length prefix; returns its absolute offset for patchLength(). */
  reserveU32(): number {
    this.ensure(4);
    const at = this.base + this.pos;
    this.pos += 4;
    return at;
  }

  /** Fill the u32 reserved at `at` with the number of bytes written after it. */
  patchLength(at: number): void {
    const rel = at - this.base;
    this.buf.writeUInt32BE(this.pos - rel - 4, rel);
  }

  /** Start a frame; the payload follows; endFrame() fills in the size. */
  beginFrame(type: number, channel: number): void {
    this.ensure(7);
    this.frameStart = this.base + this.pos;
    const b = this.buf;
    b[this.pos] = type;
    b[this.pos + 1] = (channel >>> 8) & 0xff;
    b[this.pos + 2] = channel & 0xff;
    this.pos += 7;
  }

  endFrame(): void {
    const start = this.frameStart - this.base;
    this.buf.writeUInt32BE(this.pos - start - 7, start + 3);
    this.u8(FRAME_END);
    this.frameStart = -1;
  }

  /** True between beginFrame() and endFrame(). */
  get framing(): boolean {
    return this.frameStart >= 0;
  }

  /** Drop a frame begun with beginFrame (its encoding failed). */
  abandonFrame(): void {
    if (this.frameStart >= 0) this.pos = this.frameStart - this.base;
    this.frameStart = -1;
  }
}
