/**
 * Headers-exchange routing: whether a message's headers match one binding's
 * arguments, as RabbitMQ 3.10's rabbit_exchange_type_headers decides it.
 *
 * This module owns x-match validation (with RabbitMQ's error texts) and the
 * comparison of values; nothing else. Arguments are compiled once at bind
 * time into (key, pattern) pairs so that headersMatch() allocates nothing.
 *
 * The rules, from rabbit_exchange_type_headers.erl (3.10):
 *   - x-match defaults to all; all and any skip every argument whose key
 *     starts with "x-", all-with-x and any-with-x only skip x-match itself.
 *   - A void argument matches any value, as long as the header is present.
 *   - Otherwise values compare with Erlang's `==` on the decoded values,
 *     whatever their type letters: integers of every width, timestamps
 *     (seconds) and floats compare by number (1 == 1.0); S and x compare by
 *     bytes; numbers never equal strings; a void header equals nothing but
 *     a void argument. Nested tables and arrays compare exactly as RabbitMQ
 *     keeps them: same entries in the same order, same type letters.
 *   - With no arguments left, all matches every message and any none.
 * (RabbitMQ 3.13+ compares with `=:=` instead, so there 1 =/= 1.0.)
 */
import { isUtf8 } from 'node:buffer';
import { FIELD_TYPE_NAMES, erlangBinary, erlangFloat } from '../amqp/erlang-term.js';
import { Typed, typeLetterOf } from '../amqp/field-table.js';
import type { Decimal, FieldTable, FieldValue, TypeLetter } from '../amqp/field-table.js';

export type XMatch = 'all' | 'any' | 'all-with-x' | 'any-with-x';

const X_MATCH_MODES: readonly string[] = ['all', 'any', 'all-with-x', 'any-with-x'];

// Pattern kinds
const VOID = 0, NUMBER = 1, BYTES = 2, BOOL = 3, DECIMAL = 4, TABLE = 5, ARRAY = 6;

/** One binding value, ready to compare against header values. */
interface Pattern {
  /** The type letter the value travels with, for nested (exact) comparison. */
  letter: TypeLetter;
  kind: number;
  /** NUMBER: the value (rounded when big), with `big` exact beyond 2^53; DECIMAL: the digits. */
  num: number;
  big: bigint | undefined;
  scale: number;
  /** BYTES: the bytes, and their text when they are UTF-8. */
  bytes: Buffer | undefined;
  text: string | undefined;
  bool: boolean;
  /** TABLE: keys in order, with `items` the values; ARRAY: the items. */
  keys: string[] | undefined;
  items: Pattern[] | undefined;
}

export interface HeadersBinding {
  readonly xMatch: XMatch;
  /** true for all / all-with-x: every argument must match. */
  readonly all: boolean;
  /** The arguments that take part in matching, precompiled. */
  readonly args: readonly { readonly key: string; readonly pattern: Readonly<Pattern> }[];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NUMERIC_LETTERS = 'bBsuIilfdT';

function isTable(v: FieldValue | undefined): v is FieldTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Typed) &&
    !Buffer.isBuffer(v) && !(v instanceof Date);
}

/** The number a numeric value (any integer width, f, d, T in seconds) holds. */
function numberOf(v: FieldValue | undefined): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (v instanceof Typed) {
    const n = v.value;
    return NUMERIC_LETTERS.includes(v.type) && (typeof n === 'number' || typeof n === 'bigint') ? n : undefined;
  }
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  return undefined;
}

function bytesOf(v: FieldValue | undefined): Buffer | undefined {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Typed && (v.type === 'S' || v.type === 'x') && Buffer.isBuffer(v.value)) return v.value;
  return undefined;
}

function compile(v: FieldValue | undefined): Pattern {
  const p: Pattern = {
    letter: typeLetterOf(v), kind: VOID, num: NaN, big: undefined, scale: 0,
    bytes: undefined, text: undefined, bool: false, keys: undefined, items: undefined,
  };
  const raw = v instanceof Typed ? v.value : v;
  switch (p.letter) {
    case 'V': break;
    case 't':
      p.kind = BOOL;
      p.bool = Boolean(raw);
      break;
    case 'S':
    case 'x':
      p.kind = BYTES;
      if (typeof raw === 'string') {
        p.text = raw;
        p.bytes = Buffer.from(raw, 'utf8');
      } else {
        p.bytes = raw as Buffer;
        p.text = isUtf8(p.bytes) ? p.bytes.toString('utf8') : undefined;
      }
      break;
    case 'D':
      p.kind = DECIMAL;
      p.scale = (raw as Decimal).scale;
      p.num = (raw as Decimal).value;
      break;
    case 'F': {
      const table = raw as FieldTable;
      p.kind = TABLE;
      p.keys = Object.keys(table);
      p.items = p.keys.map((k) => compile(table[k]));
      break;
    }
    case 'A':
      p.kind = ARRAY;
      p.items = (raw as FieldValue[]).map(compile);
      break;
    default: {
      p.kind = NUMBER;
      const n = numberOf(v) ?? NaN;
      p.num = Number(n);
      if (typeof n === 'bigint') p.big = n > MAX_SAFE || n < -MAX_SAFE ? n : undefined;
      else if (Number.isInteger(n) && !Number.isSafeInteger(n)) p.big = BigInt(n);
    }
  }
  return p;
}

function numberEqual(p: Pattern, n: number | bigint): boolean {
  if (typeof n === 'number') return n === p.num && (p.big === undefined || BigInt(n) === p.big);
  if (p.big !== undefined) return n === p.big;
  return n <= MAX_SAFE && n >= -MAX_SAFE && Number(n) === p.num;
}

/**
 * Does header value h equal pattern p? At the top level (typed = false)
 * the type letters do not matter, only the values; inside tables and arrays
 * (typed = true) they must be the same, as RabbitMQ compares the
 * {Type, Value} tuples there.
 */
function equal(p: Pattern, h: FieldValue | undefined, typed: boolean): boolean {
  if (typed && typeLetterOf(h) !== p.letter) return false;
  switch (p.kind) {
    case VOID: return true;
    case NUMBER: {
      const n = numberOf(h);
      return n !== undefined && numberEqual(p, n);
    }
    case BYTES: {
      if (typeof h === 'string') return h === p.text;
      const b = bytesOf(h);
      return b !== undefined && b.equals(p.bytes!);
    }
    case BOOL:
      if (typeof h === 'boolean') return h === p.bool;
      return h instanceof Typed && h.type === 't' && Boolean(h.value) === p.bool;
    case DECIMAL: {
      if (!(h instanceof Typed) || h.type !== 'D') return false;
      const d = h.value as Decimal;
      return d.scale === p.scale && d.value === p.num;
    }
    case TABLE: {
      const keys = p.keys!;
      // An empty table and an empty array are both [] to Erlang.
      if (!isTable(h)) return !typed && keys.length === 0 && Array.isArray(h) && h.length === 0;
      let i = 0;
      for (const k in h) {
        if (i === keys.length || k !== keys[i] || !equal(p.items![i], h[k], true)) return false;
        i++;
      }
      return i === keys.length;
    }
    default: {
      const items = p.items!; // ARRAY
      if (!Array.isArray(h)) return !typed && items.length === 0 && isTable(h) && isEmpty(h);
      if (h.length !== items.length) return false;
      for (let i = 0; i < items.length; i++) if (!equal(items[i], h[i], true)) return false;
      return true;
    }
  }
}

function isEmpty(table: FieldTable): boolean {
  for (const _ in table) return false;
  return true;
}

/** Does a message with these headers (undefined = no headers property) match? */
export function headersMatch(b: HeadersBinding, headers: FieldTable | undefined): boolean {
  const args = b.args;
  const all = b.all;
  for (let i = 0; i < args.length; i++) {
    const { key, pattern } = args[i];
    const ok = headers !== undefined && Object.hasOwn(headers, key) && equal(pattern, headers[key], false);
    // all: the first miss decides; any: the first hit decides.
    if (ok !== all) return ok;
  }
  return all;
}

/**
 * Compile binding arguments once, at bind time. An invalid x-match gives
 * RabbitMQ's explanation for the 406 PRECONDITION_FAILED that refuses the
 * bind (without the "PRECONDITION_FAILED - " prefix).
 */
export function compileHeadersBinding(args: FieldTable): HeadersBinding | { error: string } {
  let xMatch: XMatch = 'all';
  if (Object.hasOwn(args, 'x-match')) {
    const v = args['x-match'];
    const letter = typeLetterOf(v);
    if (letter !== 'S') {
      return { error: wireText(`Invalid x-match field type ${FIELD_TYPE_NAMES[letter]} (value ${erlangTerm(v)}); expected longstr`) };
    }
    const mode = typeof v === 'string' ? v : bytesOf(v)!.toString('utf8');
    if (!X_MATCH_MODES.includes(mode)) {
      return { error: wireText(`Invalid x-match field value ${erlangTerm(v)}; expected all, any, all-with-x, or any-with-x`) };
    }
    xMatch = mode as XMatch;
  }
  const withX = xMatch === 'all-with-x' || xMatch === 'any-with-x';
  const compiled: { key: string; pattern: Pattern }[] = [];
  for (const key of Object.keys(args)) {
    if (key === 'x-match' || (!withX && key.startsWith('x-'))) continue;
    compiled.push({ key, pattern: compile(args[key]) });
  }
  return { xMatch, all: xMatch === 'all' || xMatch === 'all-with-x', args: compiled };
}

// ---- RabbitMQ's error texts: the value printed as Erlang's ~p prints it ----


function erlangTerm(v: FieldValue | undefined): string {
  const letter = typeLetterOf(v);
  const raw = v instanceof Typed ? v.value : v;
  switch (letter) {
    case 'V': return 'undefined';
    case 't': return raw ? 'true' : 'false';
    case 'S':
    case 'x': return erlangBinary(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : (raw as Buffer), Infinity);
    case 'D': return `{${(raw as Decimal).scale},${(raw as Decimal).value}}`;
    case 'f':
    case 'd': return erlangFloat(Number(raw));
    case 'F': {
      const t = raw as FieldTable;
      const entries = Object.keys(t).map((k) => `{${erlangTerm(k)},${FIELD_TYPE_NAMES[typeLetterOf(t[k])]},${erlangTerm(t[k])}}`);
      return `[${entries.join(',')}]`;
    }
    case 'A': return `[${(raw as FieldValue[]).map((e) => `{${FIELD_TYPE_NAMES[typeLetterOf(e)]},${erlangTerm(e)}}`).join(',')}]`;
    default: return String(numberOf(v));
  }
}

/**
 * RabbitMQ's reply text carries the bytes ~p printed: a printable binary
 * comes out as its Latin-1 characters, one per byte. Decoded as UTF-8 those
 * bytes give back the original text, which the reply-text writer re-encodes
 * to the same bytes.
 */
function wireText(latin1: string): string {
  const bytes = Buffer.from(latin1, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : latin1;
}
