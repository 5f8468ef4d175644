// The management API's binding routes (lib/admin/routes/bindings.ts) over
// real HTTP against an in-process broker: listings (the default exchange's
// implicit bindings included), POST with its Location, GET and DELETE by
// properties_key, their effect on routing seen over AMQP, and RabbitMQ
// 3.10.8's refusals (403 where RabbitMQ says 401). properties_key values
// are RabbitMQ's own: the expected ones were read from a RabbitMQ node, or
// computed with erlang:phash2 for argument types HTTP cannot send.
import t from 'tap';
import amqplib from 'amqplib';
import { Typed } from '../../lib/amqp/field-table.js';
import { propertiesKey } from '../../lib/admin/routes/bindings.js';
import type { RunningBroker } from '../../lib/index.js';
import { withBroker } from '../helpers/broker.js';
import { api } from './admin-call.js';

const client = (b: RunningBroker, auth = 'guest:guest') => api(b.httpUrl!, auth);

const USERS = [
  { name: 'limited', password: 'limited', tags: ['management'], permissions: [{ vhost: '/', configure: '^lim\\.conf', write: '^lim\\.write', read: '^lim\\.read' }] },
];
const refused = { error: 'not_authorised', reason: 'Access refused.' };

t.test('properties_key as RabbitMQ computes it', async (t) => {
  const l = (n: number) => new Typed('l', n);
  t.equal(propertiesKey('', {}), '~');
  t.equal(propertiesKey('q1', {}), 'q1');
  t.equal(propertiesKey('a.b~c d/é', {}), 'a.b%7Ec+d%2F%C3%A9');
  t.equal(propertiesKey('k', { x: l(1) }), 'k~9nmLZQ');
  t.equal(propertiesKey('', { x: '1' }), '~Js_DUg');
  t.equal(propertiesKey('m', {
    b: l(1), a: 'x', c: 1.5, d: [l(1), 's'], e: { y: false, z: true }, f: l(-5), g: l(123456789012), h: l(-123456789012), i: l(200000000), j: '',
  }), 'm~Rix-LA', 'sorted by key; longs, doubles, strings, arrays and tables');
  // types only AMQP clients send (expected values from erlang:phash2 on OTP 25)
  t.equal(propertiesKey('rk', {
    k: 7, neg: -134217728, big: -134217729, t: new Date(1000000), v: null, bin: Buffer.from([0, 1, 2, 255]), by: new Typed('b', -3),
    f: new Typed('f', 0.5), dec: new Typed('D', { scale: 2, value: 12345 }), long: 2n ** 62n,
  }), 'rk~jv08aQ');
  t.equal(propertiesKey('rk', {
    'x-match': 'any', 'a-very-long-key-name-here': 'a value that is longer than twelve bytes for sure', z: new Typed('d', -0), empty: [], emptyt: {},
  }), 'rk~CwSyLg');
});

t.test('POST binds (201 with a Location), GET and DELETE by properties_key, routing over AMQP follows', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const api = client(b);
  await api('PUT', '/api/exchanges/%2F/x', { type: 'direct', durable: true });
  await api('PUT', '/api/queues/%2F/q', { durable: true });
  const post = await api('POST', '/api/bindings/%2F/e/x/q/q', { routing_key: 'k', arguments: { x: 1 } });
  t.equal(post.status, 201);
  t.equal(post.headers.get('location'), 'q/k~9nmLZQ');
  t.equal((await api('POST', '/api/bindings/%2F/e/x/q/q', { routing_key: 'k', arguments: { x: 1 } })).status, 201, 'again: 201');
  t.equal((await api('POST', '/api/bindings/%2F/e/x/q/q', { routing_key: 'a.b~c d/é' })).headers.get('location'), 'q/a.b%257Ec%2Bd%252F%25C3%25A9');
  t.equal((await api('POST', '/api/bindings/%2F/e/x/q/q', {})).headers.get('location'), 'q/~', 'an empty body: routing key ""');
  const all = [
    { source: 'x', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: '', arguments: {}, properties_key: '~' },
    { source: 'x', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: 'a.b~c d/é', arguments: {}, properties_key: 'a.b%7Ec+d%2F%C3%A9' },
    { source: 'x', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: 'k', arguments: { x: 1 }, properties_key: 'k~9nmLZQ' },
  ];
  t.same((await api('GET', '/api/bindings/%2F/e/x/q/q')).json, all);
  t.same((await api('GET', '/api/bindings/%2F/e/x/q/q/k~9nmLZQ')).json, all[2]);
  t.same((await api('GET', '/api/bindings/%2F/e/x/q/q/a.b%257Ec%2Bd%252F%25C3%25A9')).json, all[1], 'the key percent-encoded in the path');
  t.equal((await api('GET', '/api/bindings/%2F/e/x/q/q/k~AAAAAA')).status, 404);
  t.ok(b.broker.definitions().bindings.some((x: any) => x.source === 'x' && x.routing_key === 'k'), 'durable: saved');
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  ch.publish('x', 'a.b~c d/é', Buffer.from('routed'));
  t.equal((await ch.checkQueue('q')).messageCount, 1, 'a binding made over HTTP routes');
  t.equal((await api('DELETE', '/api/bindings/%2F/e/x/q/q/a.b%257Ec%2Bd%252F%25C3%25A9')).status, 204);
  t.same((await api('DELETE', '/api/bindings/%2F/e/x/q/q/a.b%257Ec%2Bd%252F%25C3%25A9')).json, { error: 'Object Not Found', reason: 'Not Found' });
  ch.publish('x', 'a.b~c d/é', Buffer.from('not routed'));
  t.equal((await ch.checkQueue('q')).messageCount, 1, 'unbound: no longer routes');
  t.equal((await api('DELETE', '/api/bindings/%2F/e/x/q/q/k~9nmLZQ')).status, 204);
  t.notOk(b.broker.definitions().bindings.some((x: any) => x.source === 'x' && x.routing_key === 'k'), 'gone from the definitions');
});

t.test('exchange-to-exchange bindings, and the listings of an exchange and of a queue', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const api = client(b);
  await api('PUT', '/api/exchanges/%2F/src', { type: 'fanout' });
  await api('PUT', '/api/queues/%2F/q', {});
  const post = await api('POST', '/api/bindings/%2F/e/src/e/amq.direct', { routing_key: '', arguments: { x: '1' } });
  t.equal(post.headers.get('location'), 'amq.direct/~Js_DUg');
  await api('POST', '/api/bindings/%2F/e/amq.direct/q/q', { routing_key: 'rk' });
  const e2e = { source: 'src', vhost: '/', destination: 'amq.direct', destination_type: 'exchange', routing_key: '', arguments: { x: '1' }, properties_key: '~Js_DUg' };
  const toQ = { source: 'amq.direct', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: 'rk', arguments: {}, properties_key: 'rk' };
  const implicit = { source: '', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: 'q', arguments: {}, properties_key: 'q' };
  t.same((await api('GET', '/api/bindings/%2F/e/src/e/amq.direct')).json, [e2e]);
  t.same((await api('GET', '/api/bindings/%2F/e/src/e/amq.direct/~Js_DUg')).json, e2e);
  t.same((await api('GET', '/api/exchanges/%2F/src/bindings/source')).json, [e2e]);
  t.same((await api('GET', '/api/exchanges/%2F/amq.direct/bindings/destination')).json, [e2e]);
  t.same((await api('GET', '/api/exchanges/%2F/amq.direct/bindings/source')).json, [toQ]);
  t.same((await api('GET', '/api/exchanges/%2F/amq.default/bindings/source')).json, [implicit]);
  t.same((await api('GET', '/api/queues/%2F/q/bindings')).json, [implicit, toQ]);
  t.same((await api('GET', '/api/bindings/%2F')).json, [implicit, toQ, e2e]);
  t.same((await api('GET', '/api/bindings')).json, [implicit, toQ, e2e]);
  t.same((await api('GET', '/api/bindings?columns=source,routing_key&sort=routing_key&page=1')).json, [
    { source: 'src', routing_key: '' }, { source: '', routing_key: 'q' }, { source: 'amq.direct', routing_key: 'rk' },
  ]);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  ch.publish('src', 'rk', Buffer.from('via two exchanges'));
  t.equal((await ch.checkQueue('q')).messageCount, 1);
  t.equal((await api('DELETE', '/api/bindings/%2F/e/src/e/amq.direct/~Js_DUg')).status, 204);
  t.same((await api('GET', '/api/exchanges/%2F/amq.direct/bindings/destination')).json, []);
});

t.test('the default exchange\'s implicit bindings: listed, not changed', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const api = client(b);
  await api('PUT', '/api/queues/%2F/q', {});
  const implicit = { source: '', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: 'q', arguments: {}, properties_key: 'q' };
  t.same((await api('GET', '/api/bindings/%2F/e/amq.default/q/q')).json, [implicit]);
  t.same((await api('GET', '/api/bindings/%2F/e/amq.default/q/q/q')).json, implicit);
  t.same(await api('POST', '/api/bindings/%2F/e/amq.default/q/q', { routing_key: 'k' }).then((r) => [r.status, r.json]), [403, refused]);
  t.same(await api('DELETE', '/api/bindings/%2F/e/amq.default/q/q/q').then((r) => [r.status, r.json]), [403, refused]);
  t.same((await api('GET', '/api/queues/%2F/nope/bindings?columns=destination')).json, [{ destination: 'nope' }], 'as RabbitMQ: listed for any name');
});

t.test('refusals: missing ends, bad arguments, permissions, vhosts', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  await api('PUT', '/api/queues/%2F/q', {});
  await api('PUT', '/api/exchanges/%2F/h', { type: 'headers' });
  const post = (path: string, body: unknown, who = api) => who('POST', path, body).then((r) => [r.status, r.json]);
  t.same(await post('/api/bindings/%2F/e/amq.direct/q/nope', {}), [404, { error: 'not_found', reason: "no queue 'nope' in vhost '/'" }]);
  t.same(await post('/api/bindings/%2F/e/nope/q/q', {}), [404, { error: 'not_found', reason: "no exchange 'nope' in vhost '/'" }]);
  t.same(await post('/api/bindings/%2F/e/amq.direct/e/nope', {}), [404, { error: 'not_found', reason: "no exchange 'nope' in vhost '/'" }]);
  t.same(await post('/api/bindings/%2F/e/h/q/q', { arguments: { 'x-match': 'some' } }), [400, {
    error: 'bad_request', reason: "Invalid x-match field value <<\"some\">>; expected all, any, all-with-x, or any-with-x",
  }]);
  t.same(await post('/api/bindings/%2F/e/amq.direct/q/q', { routing_key: true }), [400, { error: 'bad_request', reason: ['not_string', true] }]);
  t.equal((await api('POST', '/api/bindings/%2F/e/amq.direct/q/q', { routing_key: 5 })).headers.get('location'), 'q/5', 'a number is its text');
  t.same(await post('/api/bindings/%2F/e/amq.direct/q/q', { arguments: 'x' }), [400, { error: 'bad_request', reason: ['not_table', 'x'] }]);
  t.same(await post('/api/bindings/%2F/e/amq.direct/q/q', {}, client(b, 'limited:limited')), [403, refused]);
  t.same(await post('/api/bindings/nope/e/amq.direct/q/q', {}), [404, { error: 'not_found', reason: 'vhost_not_found' }]);
  await api('POST', '/api/bindings/%2F/e/amq.direct/q/q', {});
  t.same(await client(b, 'limited:limited')('DELETE', '/api/bindings/%2F/e/amq.direct/q/q/~').then((r) => [r.status, r.json]), [403, refused]);
  t.same((await client(b, 'limited:limited')('GET', '/api/bindings/%2F/e/amq.direct/q/q?columns=properties_key')).json, [{ properties_key: '~' }, { properties_key: '5' }], 'reading needs no pattern');
  t.same((await api('GET', '/api/bindings/nope')).json, { error: 'Object Not Found', reason: 'Not Found' });
  t.same((await api('GET', '/api/bindings/nope/e/x/q/q')).json, [], 'between entities of a missing vhost: none, as RabbitMQ');
  t.same((await api('GET', '/api/exchanges/%2F/nope/bindings/source')).json, []);
  t.equal((await api('GET', '/api/bindings/%2F/e/amq.direct/q/q/zz')).status, 404);
  t.equal((await api('DELETE', '/api/bindings/nope/e/amq.direct/q/q/~')).status, 404);
});
