// Headers-exchange matching: x-match modes, x- keys, void arguments, value
// comparison across type letters (as RabbitMQ 3.10 compares with Erlang's
// ==), nested tables and arrays, and RabbitMQ's texts for a bad x-match.
import t from 'tap';
import { Typed } from '../../lib/amqp/field-table.js';
import type { FieldTable, FieldValue } from '../../lib/amqp/field-table.js';
import { WireReader } from '../../lib/amqp/wire-reader.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { compileHeadersBinding, headersMatch } from '../../lib/broker/headers-match.js';
import type { HeadersBinding } from '../../lib/broker/headers-match.js';

function bind(args: FieldTable): HeadersBinding {
  const b = compileHeadersBinding(args);
  if ('error' in b) throw new Error(b.error);
  return b;
}

/** Headers as a client's message would bring them: encoded, then decoded by warren. */
function wire(table: FieldTable): FieldTable {
  const w = new WireWriter(8);
  w.table(table);
  return new WireReader(w.take()).table();
}

const matches = (args: FieldTable, headers: FieldTable | undefined): boolean => headersMatch(bind(args), headers);

t.test('x-match all (the default) needs every argument', async (t) => {
  for (const args of [{ a: 1, b: 'x' }, { 'x-match': 'all', a: 1, b: 'x' }] as FieldTable[]) {
    t.equal(matches(args, { a: 1, b: 'x' }), true, 'exact');
    t.equal(matches(args, { a: 1, b: 'x', c: 'extra' }), true, 'extra headers do not matter');
    t.equal(matches(args, { a: 1 }), false, 'one missing');
    t.equal(matches(args, { a: 1, b: 'y' }), false, 'one different');
    t.equal(matches(args, {}), false, 'empty headers');
    t.equal(matches(args, undefined), false, 'no headers property');
  }
  t.equal(bind({ a: 1 }).xMatch, 'all', 'default mode');
});

t.test('x-match any needs one argument', async (t) => {
  const args = { 'x-match': 'any', a: 1, b: 'x' };
  t.equal(matches(args, { a: 1 }), true);
  t.equal(matches(args, { b: 'x' }), true);
  t.equal(matches(args, { a: 2, b: 'x' }), true, 'one hit is enough');
  t.equal(matches(args, { a: 2, b: 'y' }), false);
  t.equal(matches(args, { c: 1 }), false);
  t.equal(matches(args, undefined), false);
});

t.test('with no arguments left, all matches everything and any nothing', async (t) => {
  for (const headers of [undefined, {}, { a: 1 }] as (FieldTable | undefined)[]) {
    t.equal(matches({}, headers), true, 'no arguments at all');
    t.equal(matches({ 'x-match': 'all' }, headers), true);
    t.equal(matches({ 'x-match': 'all', 'x-foo': 'bar' }, headers), true, 'x- arguments do not count');
    t.equal(matches({ 'x-match': 'any' }, headers), false);
    t.equal(matches({ 'x-match': 'any', 'x-foo': 'bar' }, { ...headers, 'x-foo': 'bar' }), false);
    t.equal(matches({ 'x-match': 'all-with-x' }, headers), true, 'x-match itself never counts');
    t.equal(matches({ 'x-match': 'any-with-x' }, headers), false);
  }
});

t.test('x- arguments and headers: ignored by all/any, compared by the -with-x modes', async (t) => {
  t.equal(matches({ 'x-match': 'all', 'x-first-death-reason': 'expired', a: 1 }, { a: 1 }), true);
  t.equal(matches({ 'x-match': 'all', a: 1 }, { a: 1, 'x-a': 2 }), true);
  t.equal(matches({ 'x-match': 'any', 'x-a': 1, a: 1 }, { 'x-a': 1 }), false, 'x- header cannot make any match');
  const reason = { 'x-first-death-reason': 'expired', 'x-first-death-queue': 'q' };
  t.equal(matches({ 'x-match': 'all-with-x', ...reason }, reason), true);
  t.equal(matches({ 'x-match': 'all-with-x', ...reason }, { 'x-first-death-reason': 'expired' }), false);
  t.equal(matches({ 'x-match': 'all-with-x', ...reason }, { ...reason, 'x-first-death-queue': 'other' }), false);
  t.equal(matches({ 'x-match': 'any-with-x', ...reason }, { 'x-first-death-queue': 'q' }), true);
  t.equal(matches({ 'x-match': 'any-with-x', ...reason }, { a: 'q' }), false);
  t.equal(matches({ 'x-match': 'all-with-x', a: 1 }, { a: 1, 'x-match': 'whatever' }), true,
    'the x-match argument is not compared with an x-match header');
  t.same(bind({ 'x-match': 'any', 'x-a': 1, a: 2 }).args.map((a) => a.key), ['a']);
  t.same(bind({ 'x-match': 'any-with-x', 'x-a': 1, a: 2 }).args.map((a) => a.key), ['x-a', 'a']);
});

t.test('a void argument matches any value of a present header', async (t) => {
  for (const value of [1, 'x', null, true, [], {}, Buffer.from('b'), new Typed('d', 2)] as FieldValue[]) {
    t.equal(matches({ a: null }, { a: value }), true, `present as ${JSON.stringify(value)}`);
  }
  t.equal(matches({ a: null }, {}), false, 'absent');
  t.equal(matches({ a: null }, undefined), false, 'no headers');
  t.equal(matches({ 'x-match': 'any', a: null, b: 1 }, { a: 'anything' }), true);
  t.equal(matches({ a: new Typed('V', 0) }, { a: 5 }), true, 'a Typed V argument is void too');
  t.equal(matches({ a: 1 }, { a: null }), false, 'a void header does not equal a value');
  t.equal(matches({ a: 'x' }, wire({ a: null })), false);
});

t.test('numbers compare by value across type letters', async (t) => {
  const ones = wire({
    b: new Typed('b', 1), B: new Typed('B', 1), s: new Typed('s', 1), u: new Typed('u', 1), I: 1,
    i: new Typed('i', 1), l: new Typed('l', 1), f: new Typed('f', 1), d: new Typed('d', 1),
  });
  t.ok(ones.l instanceof Typed && ones.d instanceof Typed, 'decoded with their letters kept');
  for (const arg of [1, 1n, new Typed('l', 1), new Typed('b', 1), new Typed('d', 1), new Typed('f', 1), new Typed('u', 1)]) {
    for (const key of Object.keys(ones)) {
      t.equal(matches({ [key]: arg }, ones), true, `${String(arg instanceof Typed ? `${arg.type}:${arg.value}` : arg)} == ${key}:1`);
      t.equal(matches({ [key]: arg }, { [key]: 2 }), false, `${key}: 1 vs 2`);
    }
  }
  t.equal(matches({ a: 1.5 }, wire({ a: new Typed('f', 1.5) })), true, 'float 1.5 == double 1.5');
  t.equal(matches({ a: 0.1 }, wire({ a: new Typed('f', 0.1) })), false, 'float 0.1 is not double 0.1');
  t.equal(matches({ a: -2 }, wire({ a: new Typed('b', -2) })), true, 'negative byte');
  t.equal(matches({ a: 4294967295 }, wire({ a: new Typed('i', 4294967295) })), true, 'unsigned int');
  t.equal(matches({ a: 0 }, { a: -0 }), true);
});

t.test('integers beyond 2^53 compare exactly', async (t) => {
  const big = 2n ** 60n;
  t.equal(matches({ a: big }, wire({ a: big })), true);
  t.equal(matches({ a: big }, wire({ a: big + 1n })), false);
  t.equal(matches({ a: big + 1n }, { a: Number(big) }), false, 'the double nearest 2^60+1 is 2^60');
  t.equal(matches({ a: big }, { a: 2 ** 60 }), true, 'a double holding 2^60 exactly');
  t.equal(matches({ a: 2 ** 60 }, { a: big }), true);
  t.equal(matches({ a: 2 ** 60 }, { a: big - 1n }), false);
  t.equal(matches({ a: 5n }, { a: 5 }), true, 'a small bigint is just an integer');
  t.equal(matches({ a: 5 }, { a: 5n }), true);
  t.equal(matches({ a: 2 ** 53 + 2 }, wire({ a: 2n ** 53n + 2n })), true);
});

t.test('strings, bytes, booleans, numbers never cross', async (t) => {
  t.equal(matches({ a: 'abc' }, { a: 'abc' }), true);
  t.equal(matches({ a: 'abc' }, { a: 'ABC' }), false);
  t.equal(matches({ a: '' }, { a: '' }), true);
  t.equal(matches({ a: 'é' }, wire({ a: 'é' })), true);
  t.equal(matches({ a: '1' }, { a: 1 }), false, 'string vs number');
  t.equal(matches({ a: 1 }, { a: '1' }), false, 'number vs string');
  t.equal(matches({ a: 'true' }, { a: true }), false);
  t.equal(matches({ a: true }, { a: 1 }), false, 'bool vs number');
  t.equal(matches({ a: 1 }, { a: true }), false);
  t.equal(matches({ a: true }, wire({ a: true })), true);
  t.equal(matches({ a: false }, wire({ a: false })), true);
  t.equal(matches({ a: true }, { a: false }), false);
  t.equal(matches({ a: 'ab' }, wire({ a: Buffer.from('ab') })), true, 'S and x are both binaries to Erlang');
  t.equal(matches({ a: Buffer.from('ab') }, { a: 'ab' }), true);
  t.equal(matches({ a: Buffer.from('ab') }, { a: Buffer.from('abc') }), false);
  const raw = Buffer.from([0xff, 0xfe]);
  const decoded = wire({ a: new Typed('S', raw) });
  t.ok(decoded.a instanceof Typed, 'non-UTF-8 long string');
  t.equal(matches({ a: raw }, decoded), true, 'bytes against a non-UTF-8 long string');
  t.equal(matches({ a: new Typed('S', raw) }, { a: Buffer.from(raw) }), true);
  t.equal(matches({ a: new Typed('S', raw) }, { a: '\uFFFD\uFFFD' }), false);
});

t.test('timestamps and decimals', async (t) => {
  const when = new Date(1_700_000_000_000);
  t.equal(matches({ a: when }, wire({ a: when })), true);
  t.equal(matches({ a: when }, { a: new Date(1_700_000_000_999) }), true, 'timestamps carry whole seconds');
  t.equal(matches({ a: when }, { a: new Date(1_700_000_001_000) }), false);
  t.equal(matches({ a: 1_700_000_000 }, { a: when }), true, 'a timestamp is an integer of seconds to RabbitMQ 3.10');
  t.equal(matches({ a: when }, { a: 1_700_000_000 }), true);
  const dec = (scale: number, value: number): Typed => new Typed('D', { scale, value });
  t.equal(matches({ a: dec(2, 12345) }, wire({ a: dec(2, 12345) })), true);
  t.equal(matches({ a: dec(2, 12345) }, { a: dec(3, 12345) }), false, 'different scale');
  t.equal(matches({ a: dec(1, 10) }, { a: dec(0, 1) }), false, 'the tuple is compared, not the value');
  t.equal(matches({ a: dec(0, 1) }, { a: 1 }), false, 'a decimal is not a number');
});

t.test('nested tables and arrays compare entry by entry, type letters included', async (t) => {
  const table = { x: 1, y: 'two', z: [true, null] } as FieldTable;
  t.equal(matches({ a: table }, wire({ a: table })), true);
  t.equal(matches({ a: table }, wire({ a: { ...table, extra: 1 } })), false, 'extra entry');
  t.equal(matches({ a: table }, wire({ a: { x: 1, y: 'two' } })), false, 'missing entry');
  t.equal(matches({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } }), false, 'order matters, as in the wire table');
  t.equal(matches({ a: { x: 1 } }, wire({ a: { x: new Typed('l', 1) } })), false, 'I 1 is not l 1 inside a table');
  t.equal(matches({ a: { x: 'ab' } }, { a: { x: Buffer.from('ab') } }), false, 'longstr is not binary inside a table');
  t.equal(matches({ a: { x: 1.5 } }, { a: { x: 1.5 } }), true);
  t.equal(matches({ a: { x: { y: [1, 'a'] } } }, wire({ a: { x: { y: [1, 'a'] } } })), true, 'deeper');
  t.equal(matches({ a: { x: { y: [1, 'a'] } } }, wire({ a: { x: { y: [1, 'b'] } } })), false);
  t.equal(matches({ a: [1, 'a'] }, wire({ a: [1, 'a'] })), true);
  t.equal(matches({ a: [1, 'a'] }, { a: ['a', 1] }), false);
  t.equal(matches({ a: [1] }, { a: [1, 1] }), false);
  t.equal(matches({ a: [1] }, wire({ a: [new Typed('b', 1)] })), false, 'I 1 is not b 1 inside an array');
  t.equal(matches({ a: [new Typed('d', 2)] }, wire({ a: [new Typed('d', 2)] })), true);
  t.equal(matches({ a: [] }, { a: [] }), true);
  t.equal(matches({ a: [] }, { a: {} }), true, 'empty array and empty table are both [] to Erlang');
  t.equal(matches({ a: {} }, { a: [] }), true);
  t.equal(matches({ a: [] }, { a: { k: 1 } }), false, 'a non-empty table is not []');
  t.equal(matches({ a: {} }, { a: [1] }), false);
  t.equal(matches({ a: [[]] }, { a: [{}] }), false, 'but not inside an array, where the types show');
  t.equal(matches({ a: [1] }, { a: { 0: 1 } }), false);
  t.equal(matches({ a: {} }, { a: 'x' }), false);
  t.equal(matches({ a: [] }, { a: null }), false);
});

t.test('header lookup sees own keys only', async (t) => {
  t.equal(matches({ constructor: null }, {}), false);
  t.equal(matches({ toString: null }, { a: 1 }), false);
  t.equal(matches({ __proto__: null } as FieldTable, wire({ a: 1 })), true, 'a literal __proto__ is no argument at all');
  const args = wire(Object.defineProperty({}, '__proto__', { value: 'p', enumerable: true }) as FieldTable);
  const headers = wire(Object.defineProperty({}, '__proto__', { value: 'p', enumerable: true }) as FieldTable);
  t.equal(Object.keys(args).length, 1, 'a key named __proto__ survives decoding');
  t.equal(matches(args, headers), true);
  t.equal(matches(args, {}), false);
});

const INVALID = 'expected all, any, all-with-x, or any-with-x';
t.test('x-match must be one of the four modes', async (t) => {
  for (const mode of ['all', 'any', 'all-with-x', 'any-with-x'] as const) t.equal(bind({ 'x-match': mode }).xMatch, mode);
  t.equal(bind({ 'x-match': new Typed('S', Buffer.from('any')) }).xMatch, 'any', 'a long string however held');
  t.same(compileHeadersBinding({ 'x-match': 'foo' }), { error: `Invalid x-match field value <<"foo">>; ${INVALID}` });
  t.same(compileHeadersBinding({ 'x-match': 'ALL' }), { error: `Invalid x-match field value <<"ALL">>; ${INVALID}` });
  t.same(compileHeadersBinding({ 'x-match': '' }), { error: `Invalid x-match field value <<>>; ${INVALID}` });
  t.same(compileHeadersBinding({ 'x-match': 'a"b\\' }), { error: `Invalid x-match field value <<"a\\"b\\\\">>; ${INVALID}` });
  t.same(compileHeadersBinding({ 'x-match': 'tout' + 'é' }), { error: `Invalid x-match field value <<"touté">>; ${INVALID}` },
    'printable Latin-1 bytes: the reply text carries the same bytes, so it reads back as the UTF-8 text');
  t.same(compileHeadersBinding({ 'x-match': '€' }), { error: `Invalid x-match field value <<226,130,172>>; ${INVALID}` });
  t.same(compileHeadersBinding({ 'x-match': new Typed('S', Buffer.from([0xff, 1])) }),
    { error: `Invalid x-match field value <<255,1>>; ${INVALID}` });
});

t.test('an x-match that is not a long string is refused with its type', async (t) => {
  const refusal = (value: FieldValue, type: string, shown: string): void => {
    t.same(compileHeadersBinding({ 'x-match': value, a: 1 }),
      { error: `Invalid x-match field type ${type} (value ${shown}); expected longstr` }, `${type} ${shown}`);
  };
  refusal(new Typed('b', 1), 'byte', '1');
  refusal(1, 'signedint', '1');
  refusal(2 ** 40, 'long', '1099511627776');
  refusal(new Typed('u', 7), 'unsignedshort', '7');
  refusal(true, 'bool', 'true');
  refusal(null, 'void', 'undefined');
  refusal(Buffer.from('all'), 'binary', '<<"all">>');
  refusal(1.5, 'double', '1.5');
  refusal(new Typed('d', 1), 'double', '1.0');
  refusal(new Typed('d', 100), 'double', '100.0');
  refusal(new Typed('d', 1000), 'double', '1.0e3');
  refusal(0.1, 'double', '0.1');
  refusal(1.5e-7, 'double', '1.5e-7');
  refusal(-2.5, 'double', '-2.5');
  refusal(new Typed('f', 0.5), 'float', '0.5');
  refusal(new Date(5000), 'timestamp', '5');
  refusal(new Typed('D', { scale: 2, value: 314 }), 'decimal', '{2,314}');
  refusal({ k: 'v', n: 1 }, 'table', '[{<<"k">>,longstr,<<"v">>},{<<"n">>,signedint,1}]');
  refusal(['all', true], 'array', '[{longstr,<<"all">>},{bool,true}]');
});

/** RabbitMQ 3.10's headers_match/5, merge over key-sorted lists, for simple values. */
function reference(args: Record<string, string | number | null>, headers: Record<string, string | number | null>): boolean {
  const sort = (o: object): [string, unknown][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const xm = args['x-match'] ?? 'all';
  const withX = xm === 'all-with-x' || xm === 'any-with-x';
  const kindAll = xm === 'all' || xm === 'all-with-x';
  let p = sort(args);
  let d = sort(headers);
  let allMatch = true;
  let anyMatch = false;
  for (;;) {
    if (kindAll && !allMatch) return false;
    if (!kindAll && anyMatch) return true;
    if (p.length === 0) return kindAll ? allMatch : anyMatch;
    const [pk, pv] = p[0];
    if (pk === 'x-match' || (!withX && pk.startsWith('x-'))) { p = p.slice(1); continue; }
    if (d.length === 0) { allMatch = false; p = []; continue; }
    const [dk, dv] = d[0];
    if (pk > dk) { d = d.slice(1); continue; }
    if (pk < dk) { p = p.slice(1); allMatch = false; continue; }
    if (pv === null || pv === dv) anyMatch = true;
    else allMatch = false;
    p = p.slice(1);
    d = d.slice(1);
  }
}

t.test('randomized against a port of RabbitMQ 3.10 headers_match', async (t) => {
  let seed = 12345;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const keys = ['a', 'b', 'c', 'x-a', 'x-b'];
  const values = [1, 2, 'a', 'b'];
  const modes = [undefined, 'all', 'any', 'all-with-x', 'any-with-x'];
  let disagreements = 0;
  const outcomes = new Set<boolean>();
  for (let i = 0; i < 5000; i++) {
    const args: Record<string, string | number | null> = {};
    const headers: Record<string, string | number | null> = {};
    const mode = modes[random(modes.length)];
    if (mode !== undefined) args['x-match'] = mode;
    for (const k of keys) {
      if (random(2) === 0) args[k] = random(5) === 0 ? null : values[random(values.length)];
      if (random(2) === 0) headers[k] = values[random(values.length)];
    }
    const want = reference(args, headers);
    outcomes.add(want);
    if (matches(args, headers) !== want) {
      disagreements++;
      if (disagreements < 5) t.fail(`${JSON.stringify(args)} vs ${JSON.stringify(headers)}: want ${want}`);
    }
  }
  t.equal(disagreements, 0, '5000 random bindings agree');
  t.same([...outcomes].sort(), [false, true], 'both outcomes occur');
});
