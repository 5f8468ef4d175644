/**
 * Field tables and arrays, read and written with RabbitMQ's type letters
 * (which differ from the 0-9-1 grammar: `s` is a signed 16-bit integer,
 * `x` a byte array, `l` a signed 64-bit integer...).
 *
 * Decoded values are plain JavaScript values whenever writing that value
 * back would produce the same type letter (the "canonical" encoding below);
 * every other value comes back wrapped in `Typed`, which remembers its
 * letter. So decode -> encode reproduces the input byte for byte, and code
 * that only reads arguments can unwrap with `plainValue` / `integerValue`.
 *
 * Canonical encoding of plain values:
 *   boolean -> t, string -> S, Buffer -> x, Date -> T, null -> V,
 *   array -> A, object -> F, bigint -> l,
 *   integer number -> I (int32 range) or l (beyond), other number -> d.
 */
import { isUtf8 } from 'node:buffer';
import { WireDecodeError, WireEncodeError } from './wire-errors.js';
import type { WireReader } from './wire-reader.js';
import type { WireWriter } from './wire-writer.js';

export type TypeLetter =
  | 't' | 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'f' | 'd' | 'D'
  | 'S' | 'A' | 'T' | 'F' | 'V' | 'x';

export interface Decimal {
  /** number of decimal places */
  scale: number;
  /** unsigned 32-bit digits */
  value: number;
}

/** A field value whose type letter a plain JS value cannot carry. */
export class Typed {
  constructor(
    readonly type: TypeLetter,
    readonly value: number | bigint | Decimal | Buffer,
  ) {}

  /** Definitions and the HTTP API show typed values as their plain value. */
  toJSON(): unknown {
    const v = this.value;
    if (typeof v === 'bigint') return Number(v);
    if (Buffer.isBuffer(v)) return v.toString('utf8');
    return v;
  }
}

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | null
  | Typed
  | FieldValue[]
  | FieldTable;

export interface FieldTable {
  [key: string]: FieldValue;
}

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Largest timestamp (in seconds) a JS Date can hold. */
const MAX_DATE_SECONDS = 8.64e12;

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX;
}

/** Decode one value (type letter and body) at the reader's position. */
/** The type letter a value is written with (see the canonical encoding above). */
export function typeLetterOf(v: FieldValue | undefined): TypeLetter {
  switch (typeof v) {
    case 'boolean': return 't';
    case 'string': return 'S';
    case 'bigint': return 'l';
    case 'number':
      if (!Number.isInteger(v)) return 'd';
      if (v >= -0x8000_0000 && v <= 0x7fff_ffff) return 'I';
      return v >= -(2 ** 63) && v < 2 ** 63 ? 'l' : 'd';
    case 'undefined': return 'V';
  }
  if (v === null) return 'V';
  if (v instanceof Typed) return v.type;
  if (Buffer.isBuffer(v)) return 'x';
  if (v instanceof Date) return 'T';
  return Array.isArray(v) ? 'A' : 'F';
}

/** A long string's text (also one that is not valid UTF-8), or undefined for any other type. */
export function longstrValue(v: FieldValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Typed && v.type === 'S') return (v.value as Buffer).toString('latin1');
  return undefined;
}

export function decodeFieldValue(r: WireReader): FieldValue {
  const letter = r.u8();
  switch (letter) {
    case 0x74 /* t */: return r.u8() !== 0;
    case 0x62 /* b */: return new Typed('b', r.i8());
    case 0x42 /* B */: return new Typed('B', r.u8());
    case 0x73 /* s */: return new Typed('s', r.i16());
    case 0x75 /* u */: return new Typed('u', r.u16());
    case 0x49 /* I */: return r.i32();
    case 0x69 /* i */: return new Typed('i', r.u32());
    case 0x6c /* l */: {
      const v = r.i64();
      const n = Number(v);
      if (!Number.isSafeInteger(n)) return v;
      return isInt32(n) ? new Typed('l', n) : n;
    }
    case 0x66 /* f */: return new Typed('f', r.f32());
    case 0x64 /* d */: {
      const v = r.f64();
      // An integral double would re-encode as I or l: keep its letter.
      return Number.isInteger(v) ? new Typed('d', v) : v;
    }
    case 0x44 /* D */: {
      const scale = r.u8();
      return new Typed('D', { scale, value: r.u32() });
    }
    case 0x53 /* S */: {
      const bytes = r.longstr();
      return isUtf8(bytes) ? bytes.toString('utf8') : new Typed('S', Buffer.from(bytes));
    }
    case 0x41 /* A */: return r.array();
    case 0x54 /* T */: {
      const secs = r.u64big();
      return secs <= BigInt(MAX_DATE_SECONDS) ? new Date(Number(secs) * 1000) : new Typed('T', secs);
    }
    case 0x46 /* F */: return r.table();
    case 0x56 /* V */: return null;
    case 0x78 /* x */: return Buffer.from(r.longstr());
    default:
      throw new WireDecodeError(`unknown field value type letter ${JSON.stringify(String.fromCharCode(letter))} (0x${letter.toString(16)})`);
  }
}

/** Encode one value (type letter and body). */
export function encodeFieldValue(w: WireWriter, v: FieldValue | undefined): void {
  if (v === null || v === undefined) {
    w.u8(0x56);
    return;
  }
  switch (typeof v) {
    case 'boolean':
      w.u8(0x74);
      w.u8(v ? 1 : 0);
      return;
    case 'string':
      w.u8(0x53);
      w.longstr(v);
      return;
    case 'number':
      if (isInt32(v)) {
        w.u8(0x49);
        w.i32(v);
      } else if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
        w.u8(0x6c);
        w.i64(BigInt(v));
      } else {
        w.u8(0x64);
        w.f64(v);
      }
      return;
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) throw new WireEncodeError(`bigint ${v} does not fit a signed 64-bit field`);
      w.u8(0x6c);
      w.i64(v);
      return;
    case 'object':
      break;
    default:
      throw new WireEncodeError(`cannot encode a ${typeof v} in a field table`);
  }
  if (v instanceof Typed) return encodeTyped(w, v);
  if (Buffer.isBuffer(v)) {
    w.u8(0x78);
    w.longstr(v);
  } else if (v instanceof Date) {
    w.u8(0x54);
    w.u64(Math.floor(v.getTime() / 1000));
  } else if (Array.isArray(v)) {
    w.u8(0x41);
    encodeArray(w, v);
  } else {
    w.u8(0x46);
    encodeTable(w, v);
  }
}

function encodeTyped(w: WireWriter, t: Typed): void {
  const v = t.value;
  w.u8(t.type.charCodeAt(0));
  switch (t.type) {
    case 'b': return w.i8(Number(v));
    case 'B': return w.u8(Number(v));
    case 's': return w.i16(Number(v));
    case 'u': return w.u16(Number(v));
    case 'I': return w.i32(Number(v));
    case 'i': return w.u32(Number(v));
    case 'l': return w.i64(BigInt(v as number | bigint));
    case 'f': return w.f32(Number(v));
    case 'd': return w.f64(Number(v));
    case 'D': {
      const d = v as Decimal;
      w.u8(d.scale);
      return w.u32(d.value);
    }
    case 'T': return w.u64(v as number | bigint);
    case 'S':
    case 'x': return w.longstr(v as Buffer);
    case 't': return w.u8(v ? 1 : 0);
    case 'V': return;
    default:
      throw new WireEncodeError(`type letter ${t.type} cannot be given as a Typed value`);
  }
}

export function encodeTable(w: WireWriter, table: FieldTable | undefined | null): void {
  const at = w.reserveU32();
  if (table) {
    for (const key of Object.keys(table)) {
      w.shortstr(key);
      encodeFieldValue(w, table[key]);
    }
  }
  w.patchLength(at);
}

export function encodeArray(w: WireWriter, values: readonly FieldValue[]): void {
  const at = w.reserveU32();
  for (const v of values) encodeFieldValue(w, v);
  w.patchLength(at);
}

/** The value with any `Typed` wrapper removed (Typed S/x become Buffers, T a bigint). */
export function plainValue(v: FieldValue | undefined): Exclude<FieldValue, Typed> | Decimal | undefined {
  return v instanceof Typed ? v.value : v;
}

/**
 * The integer a value holds, whatever its wire width (b, B, s, u, I, i, l),
 * or undefined when it is not an integer. RabbitMQ treats integers of every
 * width alike when it reads arguments such as x-max-length.
 */
export function integerValue(v: FieldValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Typed && 'bBsuIil'.includes(v.type)) return Number(v.value);
  return undefined;
}
