/**
 * WireReader: a bounded cursor over one frame payload, reading AMQP 0-9-1
 * primitive types in place (no copies: long strings come back as slices).
 *
 * One reader is reused for every frame of a connection (`reset` points it at
 * the next payload), so decoding a method allocates only its result object.
 * Reading past the end throws WireDecodeError, which the connection turns
 * into the connection exception RabbitMQ sends for a malformed frame.
 */
import { decodeFieldValue } from './field-table.js';
import type { FieldTable, FieldValue } from './field-table.js';
import { WireDecodeError } from './wire-errors.js';

export { WireDecodeError };

const TWO_32 = 0x1_0000_0000;

/**
 * Recently decoded short strings, by their bytes. A publisher sends the same
 * exchange and routing key, and a table the same keys, over and over;
 * comparing a few bytes in JavaScript costs less than Buffer.toString's
 * native call and the new string it makes. Up to CACHED_MAX bytes, in
 * CACHE_SLOTS slots chosen by length and first and last byte.
 */
const CACHED_MAX = 48;
const CACHE_SLOTS = 64;
const cachedBytes: (Buffer | null)[] = new Array<Buffer | null>(CACHE_SLOTS).fill(null);
const cachedStrings: string[] = new Array<string>(CACHE_SLOTS).fill('');

function decodeShortstr(buf: Buffer, start: number, len: number): string {
  if (len > CACHED_MAX) return buf.toString('utf8', start, start + len);
  const slot = (len * 7 + buf[start]! * 3 + buf[start + len - 1]!) & (CACHE_SLOTS - 1);
  const known = cachedBytes[slot];
  if (known !== null && known.length === len) {
    let i = 0;
    while (i < len && known[i] === buf[start + i]) i++;
    if (i === len) return cachedStrings[slot]!;
  }
  const s = buf.toString('utf8', start, start + len);
  cachedBytes[slot] = Buffer.from(buf.subarray(start, start + len));
  cachedStrings[slot] = s;
  return s;
}

export class WireReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer = Buffer.alloc(0), start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.pos + n > this.end) {
      throw new WireDecodeError(`truncated: needed ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  i8(): number {
    this.need(1);
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }

  u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Unsigned 64-bit as a number: exact up to 2^53, which delivery tags and sizes never reach. */
  u64(): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  u64big(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  f32(): number {
    this.need(4);
    const v = this.buf.readFloatBE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  shortstr(): string {
    const len = this.u8();
    if (len === 0) return '';
    this.need(len);
    const s = decodeShortstr(this.buf, this.pos, len);
    this.pos += len;
    return s;
  }

  /** A long string as a slice of the frame (binary-safe, not copied). */
  longstr(): Buffer {
    const len = this.u32();
    this.need(len);
    const s = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  table(): FieldTable {
    const len = this.u32();
    this.need(len);
    const end = this.pos + len;
    const outerEnd = this.end;
    this.end = end;
    const table: FieldTable = {};
    try {
      while (this.pos < end) {
        const key = this.shortstr();
        const value = decodeFieldValue(this);
        if (key === '__proto__') {
          Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
        } else {
          table[key] = value;
        }
      }
    } finally {
      this.end = outerEnd;
    }
    return table;
  }

  array(): FieldValue[] {
    const len = this.u32();
    this.need(len);
    const end = this.pos + len;
    const outerEnd = this.end;
    this.end = end;
    const values: FieldValue[] = [];
    try {
      while (this.pos < end) values.push(decodeFieldValue(this));
    } finally {
      this.end = outerEnd;
    }
    return values;
  }
}
