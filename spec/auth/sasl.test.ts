/**
 * Tests for lib/auth/sasl.ts: PLAIN and AMQPLAIN start-ok responses, parsed
 * as RabbitMQ's rabbit_auth_mechanism_plain / _amqplain do.
 */
import t from 'tap';
import { SASL_MECHANISMS, parseSaslResponse } from '../../lib/auth/sasl.js';
import type { SaslResult } from '../../lib/auth/sasl.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import type { FieldTable } from '../../lib/amqp/field-table.js';

function plain(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** A field table's entries without the 4-byte length prefix, as AMQPLAIN clients send them. */
function amqplain(table: FieldTable): Buffer {
  const w = new WireWriter();
  w.table(table);
  return Buffer.from(w.take().subarray(4));
}

function creds(r: SaslResult): { username: string; password: string } | string {
  return r.ok ? r.credentials : r.reason;
}

t.test('mechanisms advertised in RabbitMQ order', async (t) => {
  t.same([...SASL_MECHANISMS], ['PLAIN', 'AMQPLAIN']);
});

t.test('PLAIN', async (t) => {
  t.same(creds(parseSaslResponse('PLAIN', plain('\0guest\0guest'))), { username: 'guest', password: 'guest' });
  t.same(creds(parseSaslResponse('PLAIN', plain('\0bøb\0pä ss:w\u00f6rd'))), { username: 'bøb', password: 'pä ss:w\u00f6rd' });
  // empty user and password parse; the blank password is refused by authentication
  t.same(creds(parseSaslResponse('PLAIN', plain('\0\0'))), { username: '', password: '' });
});

t.test('PLAIN with a non-empty authzid is refused, as RabbitMQ does', async (t) => {
  const r = parseSaslResponse('PLAIN', plain('admin\0guest\0guest'));
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.reason, /authzid/);
});

t.test('PLAIN malformed', async (t) => {
  for (const s of ['', 'guest', '\0guest', 'guest\0guest', '\0a\0b\0', '\0a\0b\0c', '\0\0\0']) {
    const r = parseSaslResponse('PLAIN', plain(s));
    t.equal(r.ok, false, JSON.stringify(s));
    if (!r.ok) t.match(r.reason, /^PLAIN response invalid/, JSON.stringify(s));
  }
  const notUtf8 = Buffer.from([0, 0x67, 0, 0xff, 0xfe]);
  t.equal(parseSaslResponse('PLAIN', notUtf8).ok, false, 'non-UTF-8 password');
});

t.test('AMQPLAIN', async (t) => {
  t.same(creds(parseSaslResponse('AMQPLAIN', amqplain({ LOGIN: 'guest', PASSWORD: 'sekrit' }))), {
    username: 'guest',
    password: 'sekrit',
  });
  t.same(
    creds(parseSaslResponse('AMQPLAIN', amqplain({ extra: 1, PASSWORD: 'p', other: { x: true }, LOGIN: 'ü' }))),
    { username: 'ü', password: 'p' },
    'key order and extra keys do not matter',
  );
  // the first occurrence of a key wins (lists:keysearch)
  const w = new WireWriter();
  for (const [k, v] of [['LOGIN', 'first'], ['PASSWORD', 'pw'], ['LOGIN', 'second']] as const) {
    w.shortstr(k);
    w.u8(0x53);
    w.longstr(v);
  }
  t.same(creds(parseSaslResponse('AMQPLAIN', Buffer.from(w.take()))), { username: 'first', password: 'pw' });
});

t.test('AMQPLAIN missing keys, wrong types, bad bytes', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['no PASSWORD', amqplain({ LOGIN: 'guest' }), /missing LOGIN or PASSWORD/],
    ['no LOGIN', amqplain({ PASSWORD: 'guest' }), /missing LOGIN or PASSWORD/],
    ['empty', Buffer.alloc(0), /missing LOGIN or PASSWORD/],
    ['lower-case keys', amqplain({ login: 'guest', password: 'guest' }), /missing LOGIN or PASSWORD/],
    ['integer password', amqplain({ LOGIN: 'guest', PASSWORD: 42 }), /unsupported type/],
    ['table login', amqplain({ LOGIN: { a: 'b' }, PASSWORD: 'x' }), /unsupported type/],
    ['truncated', amqplain({ LOGIN: 'guest', PASSWORD: 'guest' }).subarray(0, 20), /not a valid field table/],
    ['unknown type letter', Buffer.from([5, 0x4c, 0x4f, 0x47, 0x49, 0x4e, 0x3f]), /not a valid field table/],
  ];
  // with the table's length prefix left on, RabbitMQ cannot parse it either
  const w = new WireWriter();
  w.table({ LOGIN: 'guest', PASSWORD: 'guest' });
  cases.push(['length prefix kept', Buffer.from(w.take()), /not a valid field table/]);
  for (const [name, buf, reason] of cases) {
    const r = parseSaslResponse('AMQPLAIN', buf);
    t.equal(r.ok, false, name);
    if (!r.ok) t.match(r.reason, reason, name);
  }
});

t.test('unknown mechanism', async (t) => {
  t.same(parseSaslResponse('EXTERNAL', plain('\0a\0b')), {
    ok: false,
    reason: "unknown authentication mechanism 'EXTERNAL'",
  });
  t.equal(parseSaslResponse('plain', plain('\0a\0b')).ok, false, 'mechanism names are case-sensitive');
});

t.test('fuzz: no byte sequence throws', async (t) => {
  // xorshift32, seeded, so a failure is reproducible
  let seed = 0x2545f491;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x1_0000_0000;
  };
  const valid = amqplain({ LOGIN: 'guest', PASSWORD: 'guest', nested: { a: [1, 'x', null] } });
  const alphabet = [0, 0x53, 0x46, 0x41, 0x78, 0xff, 0x4c, 0x50];
  let oks = 0;
  let fails = 0;
  const problems: string[] = [];
  for (let i = 0; i < 4000; i++) {
    let buf: Buffer;
    if (i % 3 === 0) {
      buf = Buffer.alloc(Math.floor(rnd() * 48));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
    } else if (i % 3 === 1) {
      // small alphabet of NULs and type letters, to reach deeper paths
      buf = Buffer.alloc(Math.floor(rnd() * 48));
      for (let j = 0; j < buf.length; j++) buf[j] = alphabet[Math.floor(rnd() * alphabet.length)]!;
    } else {
      buf = Buffer.from(valid);
      const flips = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < flips; k++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
    }
    for (const mech of ['PLAIN', 'AMQPLAIN', 'EXTERNAL']) {
      try {
        const r = parseSaslResponse(mech, buf);
        if (r.ok) {
          oks++;
          if (typeof r.credentials.username !== 'string' || typeof r.credentials.password !== 'string') {
            problems.push(`${mech} non-string credentials for ${buf.toString('hex')}`);
          }
        } else {
          fails++;
          if (typeof r.reason !== 'string' || r.reason === '') problems.push(`${mech} no reason for ${buf.toString('hex')}`);
        }
      } catch (err) {
        problems.push(`${mech} threw on ${buf.toString('hex')}: ${String(err)}`);
      }
    }
  }
  t.same(problems.slice(0, 5), [], 'no throws, well-formed results');
  t.ok(oks > 0 && fails > 0, `both outcomes reached (${oks} ok, ${fails} refused)`);
  // deeply nested arrays must not blow the stack into an exception
  const depth = 200_000;
  const deep = Buffer.alloc(1 + 5 * depth);
  deep[0] = 0; // empty key
  for (let d = 0; d < depth; d++) {
    deep[1 + 5 * d] = 0x41;
    deep.writeUInt32BE(deep.length - (1 + 5 * d + 5), 1 + 5 * d + 1);
  }
  t.equal(parseSaslResponse('AMQPLAIN', deep).ok, false, 'deep nesting');
});
