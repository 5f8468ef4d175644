// Redeclare equivalence: which flags and arguments count as equal (integers
// of any width by value, never int vs double, missing is 'none') and the
// PRECONDITION_FAILED texts, as RabbitMQ's rabbit_misc prints them. The
// expected texts were checked against RabbitMQ 3.10.
import t from 'tap';
import type * as Tap from 'tap';
import { ChannelError } from '../../lib/amqp/amqp-error.js';
import { Typed } from '../../lib/amqp/field-table.js';
import type { FieldTable, FieldValue } from '../../lib/amqp/field-table.js';
import { assertArgumentsEquivalent, assertFieldEquivalent } from '../../lib/broker/equivalence.js';

const RES = "queue 'q' in vhost '/'";
const text = (key: string, received: string, current: string): string =>
  `PRECONDITION_FAILED - inequivalent arg '${key}' for ${RES}: received ${received} but current is ${current}`;


/** The error fn throws (a ChannelError), or undefined. */
function errorOf(fn: () => void): ChannelError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ChannelError) return e;
    throw e;
  }
  return undefined;
}

const args = (key: string, current: FieldValue | undefined, received: FieldValue | undefined): ChannelError | undefined => {
  const c: FieldTable = current === undefined ? {} : { [key]: current };
  const r: FieldTable = received === undefined ? {} : { [key]: received };
  return errorOf(() => assertArgumentsEquivalent([key], RES, c, r));
};

function expectText(t: Tap.Test, e: ChannelError | undefined, expected: string, name: string, extra: object = {}): void {
  t.same(e && { code: e.code, message: e.message }, { code: 406, message: expected }, name, extra);
}

t.test('flags and types: assertFieldEquivalent', async (t) => {
  t.equal(errorOf(() => assertFieldEquivalent('durable', RES, true, true)), undefined, 'same boolean');
  t.equal(errorOf(() => assertFieldEquivalent('type', RES, 'direct', 'direct')), undefined, 'same string');
  const cases: [string, boolean | string, boolean | string, string][] = [
    ['durable', false, true, "received 'true' but current is 'false'"],
    ['durable', true, false, "received 'false' but current is 'true'"],
    ['auto_delete', false, true, "received 'true' but current is 'false'"],
    ['type', 'direct', 'fanout', "received 'fanout' but current is 'direct'"],
  ];
  for (const [key, current, received, tail] of cases) {
    const e = errorOf(() => assertFieldEquivalent(key, RES, current, received));
    expectText(t, e, `PRECONDITION_FAILED - inequivalent arg '${key}' for ${RES}: ${tail}`, `${key}: ${String(current)} -> ${String(received)}`);
  }
});

t.test('arguments that are equal', async (t) => {
  const equal: [string, FieldValue | undefined, FieldValue | undefined][] = [
    ['both missing', undefined, undefined],
    ['signedint', 1000, 1000],
    ['byte vs plain int', 5, new Typed('b', 5)],
    ['plain int vs byte', new Typed('b', 5), 5],
    ['unsignedbyte', 5, new Typed('B', 5)],
    ['short', 1000, new Typed('s', 1000)],
    ['unsignedshort', 1000, new Typed('u', 1000)],
    ['unsignedint', 1000, new Typed('i', 1000)],
    ['long (Typed)', 1000, new Typed('l', 1000n)],
    ['long (bigint)', 1000, 1000n],
    ['negative, byte vs long', new Typed('b', -3), -3n],
    ['long beyond int32', 2 ** 40, new Typed('l', 2n ** 40n)],
    ['float vs double', new Typed('f', 1.5), 1.5],
    ['double', 2.5, 2.5],
    ['longstr', 'abc', 'abc'],
    ['bool', true, true],
    ['binary', Buffer.from('ab'), new Typed('x', Buffer.from('ab'))],
  ];
  for (const [name, current, received] of equal) t.equal(args('x-k', current, received), undefined, name);
  t.equal(errorOf(() => assertArgumentsEquivalent(['x-a'], RES, { 'x-b': 1 }, { 'x-b': 2, other: 'x' })), undefined,
    'keys not listed are ignored');
});

t.test('arguments that are not equal', async (t) => {
  const different: [string, FieldValue | undefined, FieldValue | undefined][] = [
    ['missing on redeclare', 1000, undefined],
    ['missing originally', undefined, 1000],
    ['other int value', 1000, 2000],
    ['other width and value', new Typed('s', 7), new Typed('l', 8n)],
    ['int vs double of the same value', 1000, new Typed('d', 1000)],
    ['double vs int', 1.5, 2],
    ['int vs string', 1000, '1000'],
    ['other string', 'abc', 'abd'],
    ['string case', 'abc', 'ABC'],
    ['bool', true, false],
    ['int vs bool', 1, true],
  ];
  for (const [name, current, received] of different) t.equal(args('x-k', current, received)?.code, 406, name);
});

t.test('a missing argument is none; a present one is "the value V of type T"', async (t) => {
  const cases: [string, FieldValue, string][] = [
    ['plain integer', 1000, "the value '1000' of type 'signedint'"],
    ['negative integer', -5, "the value '-5' of type 'signedint'"],
    ['plain integer beyond int32', 2 ** 40, "the value '1099511627776' of type 'long'"],
    ['bigint', 5n, "the value '5' of type 'long'"],
    ['Typed long', new Typed('l', 5n), "the value '5' of type 'long'"],
    ['byte', new Typed('b', 5), "the value '5' of type 'byte'"],
    ['unsignedbyte', new Typed('B', 5), "the value '5' of type 'unsignedbyte'"],
    ['short', new Typed('s', 1000), "the value '1000' of type 'short'"],
    ['unsignedshort', new Typed('u', 1000), "the value '1000' of type 'unsignedshort'"],
    ['unsignedint', new Typed('i', 1000), "the value '1000' of type 'unsignedint'"],
    ['longstr', 'abc', "the value 'abc' of type 'longstr'"],
    ['bool', true, "the value 'true' of type 'bool'"],
  ];
  for (const [name, value, described] of cases) {
    expectText(t, args('x-message-ttl', value, undefined), text('x-message-ttl', 'none', described), `${name}, missing on redeclare`);
    expectText(t, args('x-message-ttl', undefined, value), text('x-message-ttl', described, 'none'), `${name}, missing originally`);
  }
});

t.test('the first listed key that differs is reported', async (t) => {
  const keys = ['x-a', 'x-b', 'x-c'];
  const e = errorOf(() => assertArgumentsEquivalent(keys, RES, { 'x-a': 1, 'x-b': 2, 'x-c': 3 }, { 'x-a': 1, 'x-c': 3 }));
  expectText(t, e, text('x-b', 'none', "the value '2' of type 'signedint'"), 'x-b');
  const e2 = errorOf(() => assertArgumentsEquivalent(keys, RES, { 'x-c': 'a' }, { 'x-a': 1 }));
  t.match(e2?.message, /inequivalent arg 'x-a'/, 'x-a before x-c');
});

t.test('both present, different values: RabbitMQ prints the bare values', async (t) => {
  // rabbit_misc:assert_args_equivalence1 calls assert_field_equivalence(OrigVal, NewVal, ...)
  // with the values unwrapped from their types, so val/1 prints '~tp' of the bare value.
  const cases: [string, FieldValue, FieldValue, string, string][] = [
    ['ints', 1000, 2000, "'2000'", "'1000'"],
    ['ints of other widths', new Typed('s', 1000), new Typed('l', 2000n), "'2000'", "'1000'"],
    ['strings', 'xyz', 'abc', "'abc'", "'xyz'"],
    ['int vs string', 1000, '1000', "'1000'", "'1000'"],
    ['bools', true, false, "'false'", "'true'"],
  ];
  for (const [name, current, received, r, c] of cases) {
    expectText(t, args('x-message-ttl', current, received), text('x-message-ttl', r, c), name);
  }
  expectText(t, args('x-message-ttl', 1000, new Typed('d', 1000)), text('x-message-ttl', "'1.0e3'", "'1000'"),
    'int vs double (Erlang prints 1000.0 as 1.0e3)');
});

t.test('equal decimals are equal', async (t) => {
  const d = (): Typed => new Typed('D', { scale: 2, value: 150 });
  t.equal(args('x-k', d(), d())?.message, undefined, 'two decimals 1.50');
  t.equal(args('x-k', d(), new Typed('D', { scale: 2, value: 151 }))?.code, 406, 'different decimals differ');
});

t.test('64-bit integers compare exactly', async (t) => {
  const big = 2n ** 60n;
  t.equal(args('x-max-length-bytes', new Typed('l', big), new Typed('l', big))?.code, undefined, 'equal');
  t.equal(args('x-max-length-bytes', new Typed('l', big), new Typed('l', big + 1n))?.code, 406, '2^60 vs 2^60 + 1');
  t.equal(args('x-max-length-bytes', big, big + 1n)?.code, 406, 'plain bigints 2^60 vs 2^60 + 1');
});
