// Field tables and arrays with RabbitMQ's type letters, byte for byte.
import t from 'tap';
import { Typed, integerValue, plainValue } from '../../lib/amqp/field-table.js';
import type { FieldTable } from '../../lib/amqp/field-table.js';
import { WireDecodeError } from '../../lib/amqp/wire-errors.js';
import { WireReader } from '../../lib/amqp/wire-reader.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';

function encode(table: FieldTable): Buffer {
  const w = new WireWriter(8);
  w.table(table);
  return w.take();
}
function decode(bytes: Buffer): FieldTable {
  const r = new WireReader(bytes);
  const table = r.table();
  if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left`);
  return table;
}
/** A table holding one entry `k` with the given type letter and value bytes. */
function entry(letter: string, value: number[] | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([1]), Buffer.from('k'), Buffer.from(letter), Buffer.from(value)]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

t.test('each type letter decodes as RabbitMQ reads it', async (t) => {
  t.equal(decode(entry('t', [1])).k, true);
  t.equal(decode(entry('t', [0])).k, false);
  t.same(decode(entry('b', [0xfe])).k, new Typed('b', -2), 'b is a signed int8');
  t.same(decode(entry('B', [0xfe])).k, new Typed('B', 254), 'B is an unsigned int8');
  t.same(decode(entry('s', [0xff, 0xfe])).k, new Typed('s', -2), 's is a signed int16, not a short string');
  t.same(decode(entry('u', [0xff, 0xfe])).k, new Typed('u', 65534));
  t.equal(decode(entry('I', [0xff, 0xff, 0xff, 0xfe])).k, -2, 'I is a signed int32');
  t.same(decode(entry('i', [0xff, 0xff, 0xff, 0xfe])).k, new Typed('i', 4294967294), 'i is an unsigned int32');
  t.same(decode(entry('l', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])).k, new Typed('l', -2), 'l is a signed int64');
  t.equal(decode(entry('l', [0, 0, 0, 1, 0, 0, 0, 0])).k, 2 ** 32, 'an int64 beyond int32 is a plain number');
  t.equal(decode(entry('l', [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).k, 2n ** 63n - 1n, 'beyond 2^53 it is a bigint');
  const f = Buffer.alloc(4);
  f.writeFloatBE(1.5);
  t.same(decode(entry('f', f)).k, new Typed('f', 1.5));
  const d = Buffer.alloc(8);
  d.writeDoubleBE(2.25);
  t.equal(decode(entry('d', d)).k, 2.25);
  t.same(decode(entry('D', [2, 0, 0, 0x30, 0x39])).k, new Typed('D', { scale: 2, value: 12345 }));
  t.equal(decode(entry('S', [0, 0, 0, 3, 0x61, 0x62, 0x63])).k, 'abc');
  t.same(decode(entry('S', [0, 0, 0, 2, 0xff, 0xfe])).k, new Typed('S', Buffer.from([0xff, 0xfe])), 'non-UTF-8 long string kept as bytes');
  t.same(decode(entry('x', [0, 0, 0, 2, 0xff, 0x00])).k, Buffer.from([0xff, 0x00]), 'x is a byte array');
  t.same(decode(entry('T', [0, 0, 0, 0, 0x65, 0x5f, 0x2a, 0x00])).k, new Date(0x655f2a00 * 1000));
  t.equal(decode(entry('V', [])).k, null);
  t.same(decode(entry('A', [0, 0, 0, 7, 0x49, 0, 0, 0, 1, 0x74, 1])).k, [1, true]);
  t.same(decode(entry('F', [0, 0, 0, 7, 1, 0x6e, 0x49, 0, 0, 0, 5])).k, { n: 5 });
});

t.test('decode then encode reproduces every type letter byte for byte', async (t) => {
  const vectors: [string, number[]][] = [
    ['t', [1]], ['b', [0x80]], ['B', [0xff]], ['s', [0x80, 0]], ['u', [0xff, 0xff]],
    ['I', [0x80, 0, 0, 0]], ['i', [0xff, 0, 0, 1]], ['l', [0, 0, 0, 0, 0, 0, 0, 7]],
    ['l', [0x80, 0, 0, 0, 0, 0, 0, 0]], ['f', [0x3f, 0xc0, 0, 0]], ['d', [0x40, 0x02, 0, 0, 0, 0, 0, 0]],
    ['d', [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]], ['D', [3, 0, 0, 0, 9]], ['S', [0, 0, 0, 1, 0x7a]],
    ['S', [0, 0, 0, 1, 0xc3]], ['x', [0, 0, 0, 1, 0x00]], ['T', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['T', [0xff, 0, 0, 0, 0, 0, 0, 0]], ['V', []], ['A', [0, 0, 0, 0]], ['F', [0, 0, 0, 0]],
  ];
  for (const [letter, bytes] of vectors) {
    const wire = entry(letter, bytes);
    t.same(encode(decode(wire)), wire, `${letter} ${JSON.stringify(bytes)}`);
  }
});

t.test('plain values encode with the canonical letters', async (t) => {
  const letterOf = (v: FieldTable[string]): string => String.fromCharCode(encode({ k: v })[6]!);
  t.equal(letterOf(true), 't');
  t.equal(letterOf('x'), 'S');
  t.equal(letterOf(7), 'I');
  t.equal(letterOf(-(2 ** 31)), 'I');
  t.equal(letterOf(2 ** 31), 'l');
  t.equal(letterOf(1.5), 'd');
  t.equal(letterOf(5n), 'l');
  t.equal(letterOf(Buffer.from('a')), 'x');
  t.equal(letterOf(new Date()), 'T');
  t.equal(letterOf(null), 'V');
  t.equal(letterOf([1]), 'A');
  t.equal(letterOf({ a: 1 }), 'F');
  t.equal(letterOf(new Typed('u', 3)), 'u');
});

t.test('nested tables and arrays round trip', async (t) => {
  const table: FieldTable = {
    str: 'héllo',
    int: -12345,
    big: 2 ** 40,
    dbl: 0.5,
    yes: true,
    none: null,
    when: new Date(1_700_000_000_000),
    bytes: Buffer.from([1, 2, 3]),
    list: ['a', 1, [true, { deep: 'x' }]],
    nested: { inner: { innermost: new Typed('b', -1) } },
  };
  t.same(decode(encode(table)), table);
});

t.test('integerValue and plainValue unwrap every integer width', async (t) => {
  for (const v of [new Typed('b', 5), new Typed('B', 5), new Typed('s', 5), new Typed('u', 5), 5, new Typed('i', 5), new Typed('l', 5), 5n]) {
    t.equal(integerValue(v), 5);
  }
  t.equal(integerValue('5'), undefined, 'a string is not an integer');
  t.equal(integerValue(1.5), undefined);
  t.equal(plainValue(new Typed('f', 1.5)), 1.5);
  t.equal(plainValue('x'), 'x');
});

t.test('bad tables are refused with WireDecodeError', async (t) => {
  t.throws(() => decode(entry('Z', [])), WireDecodeError, 'unknown type letter');
  t.throws(() => decode(entry('I', [0, 0])), WireDecodeError, 'value cut short');
  const overlong = entry('S', [0, 0, 0, 9, 0x61]);
  t.throws(() => decode(overlong), WireDecodeError, 'long string longer than its table');
  const lying = Buffer.from([0, 0, 0, 50, 1, 0x6b, 0x74, 1]);
  t.throws(() => decode(lying), WireDecodeError, 'table length beyond the payload');
});

t.test('a __proto__ key is an ordinary entry', async (t) => {
  const body = Buffer.concat([Buffer.from([9]), Buffer.from('__proto__'), Buffer.from('I'), Buffer.from([0, 0, 0, 1])]);
  const wire = Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
  const table = decode(wire);
  t.equal(Object.getPrototypeOf(table), Object.prototype, 'prototype untouched');
  t.same(Object.keys(table), ['__proto__']);
  t.same(encode(table), wire);
});

t.test('short strings over 255 bytes are refused when encoding', async (t) => {
  const w = new WireWriter();
  t.throws(() => w.shortstr('é'.repeat(128)));
  w.shortstr('é'.repeat(127));
  t.equal(w.pending, 255);
});
