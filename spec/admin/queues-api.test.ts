// The management API's queue routes (lib/admin/routes/queues.ts) over real
// HTTP against an in-process broker: listing (columns, sort, paging), PUT
// (201 / 204 / 400 / 403 / 404), DELETE with if-unused / if-empty, purge,
// and POST .../get with each ackmode, its effects checked over AMQP with
// amqplib, and what a restricted user is refused, with RabbitMQ 3.10.8's
// bodies (probed against a real node; 403 where RabbitMQ says 401).
import t from 'tap';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { api } from './admin-call.js';
import type { RunningBroker } from '../../lib/index.js';

const client = (b: RunningBroker, auth = 'guest:guest') => api(b.httpUrl!, auth);

const USERS = [
  { name: 'limited', password: 'limited', tags: ['management'], permissions: [{ vhost: '/', configure: '^lim\\.conf', write: '^lim\\.write', read: '^lim\\.read' }] },
  { name: 'plain', password: 'plain', tags: [], permissions: [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }] },
  { name: 'other', password: 'other', tags: ['management'], permissions: [{ vhost: 'v2', configure: '.*', write: '.*', read: '.*' }] },
];


t.test('PUT declares (201), redeclares (204), and the queue is there for AMQP clients', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  const put = await api('PUT', '/api/queues/%2F/q1', { durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } });
  t.equal(put.status, 201);
  t.equal(put.json, undefined, 'no body');
  t.equal((await api('PUT', '/api/queues/%2F/q1', { durable: 'true', arguments: { 'x-max-length': 10 } })).status, 204, 'same again: 204 (booleans as strings too)');
  t.ok(b.broker.definitions().queues.some((q: any) => q.name === 'q1'), 'durable: in the saved definitions');
  const q = await api('GET', '/api/queues/%2F/q1');
  t.equal(q.status, 200);
  t.same(q.json, {
    arguments: { 'x-max-length': 10 }, auto_delete: false, consumers: 0, durable: true, exclusive: false, messages: 0, messages_paged_out: 0,
    messages_ready: 0, messages_unacknowledged: 0, name: 'q1', node: q.json.node, state: 'running', type: 'classic', vhost: '/',
  });
  t.match(q.json.node, /^warren@/);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  t.match(await ch.checkQueue('q1'), { queue: 'q1', messageCount: 0 });
  ch.sendToQueue('q1', Buffer.from('hi'));
  await ch.assertQueue('q1', { durable: true, arguments: { 'x-max-length': 10 } });
  t.match((await api('GET', '/api/queues/%2F/q1?columns=name,messages,messages_ready')).json, { name: 'q1', messages: 1, messages_ready: 1 });
  t.same((await api('GET', '/api/queues/%2F/q1?columns=name,messages')).json, { name: 'q1', messages: 1 }, 'columns filter');
  t.equal((await api('PUT', '/api/queues/%2F/q2')).status, 201, 'no body: a transient queue');
  t.match((await api('GET', '/api/queues/%2F/q2')).json, { durable: false, auto_delete: false, arguments: {} });
});

t.test('PUT refusals: bad body 400, inequivalent 400, reserved name 403, no vhost 404', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  t.same(await api('PUT', '/api/queues/%2F/q', { durable: 'yes' }).then((r) => [r.status, r.json]), [400, { error: 'bad_request', reason: ['not_boolean', 'yes'] }]);
  t.same(await api('PUT', '/api/queues/%2F/q', { durable: 1 }).then((r) => r.json), { error: 'bad_request', reason: ['not_boolean', 1] });
  await api('PUT', '/api/queues/%2F/q', { durable: true });
  t.same(await api('PUT', '/api/queues/%2F/q', { durable: false }).then((r) => [r.status, r.json]), [400, {
    error: 'bad_request', reason: "inequivalent arg 'durable' for queue 'q' in vhost '/': received 'false' but current is 'true'",
  }]);
  t.same((await api('PUT', '/api/queues/%2F/q3', { arguments: { 'x-max-length': 'a' } })).json, {
    error: 'bad_request', reason: "invalid arg 'x-max-length' for queue 'q3' in vhost '/': \"expected integer, got longstr\"",
  });
  t.same(await api('PUT', '/api/queues/%2F/amq.q', {}).then((r) => [r.status, r.json]), [403, { error: 'not_authorised', reason: 'Access refused.' }]);
  t.same(await api('PUT', '/api/queues/nope/q', {}).then((r) => [r.status, r.json]), [404, { error: 'not_found', reason: 'vhost_not_found' }]);
  t.equal((await api('PUT', '/api/queues/%2F/q4', { arguments: [] })).status, 201, 'arguments [] is an empty table');
  t.same((await api('PUT', '/api/queues/%2F/q5', { arguments: { a: null } })).json, { error: 'bad_request', reason: 'null_not_allowed' });
  t.equal((await api('GET', '/api/queues/%2F/nope')).status, 404);
  t.same((await api('GET', '/api/queues/nope')).json, { error: 'Object Not Found', reason: 'Not Found' });
});

t.test('DELETE: 404 when missing, if-empty / if-unused refusals, 204 and gone over AMQP', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  t.same(await api('DELETE', '/api/queues/%2F/nope').then((r) => [r.status, r.json]), [404, { error: 'Object Not Found', reason: 'Not Found' }]);
  await api('PUT', '/api/queues/%2F/dq', { durable: true });
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  ch.sendToQueue('dq', Buffer.from('x'));
  await ch.checkQueue('dq');
  t.same((await api('DELETE', '/api/queues/%2F/dq?if-empty=true')).json, { error: 'bad_request', reason: "queue 'dq' in vhost '/' not empty" });
  await ch.consume('dq', () => undefined);
  t.same((await api('DELETE', '/api/queues/%2F/dq?if-unused=true')).json, { error: 'bad_request', reason: "queue 'dq' in vhost '/' in use" });
  const cancelled = new Promise<unknown>((resolve) => ch.on('cancel', resolve));
  t.equal((await api('DELETE', '/api/queues/%2F/dq')).status, 204);
  await cancelled;
  t.notOk(b.broker.vhosts.get('/')!.queues.has('dq'));
  t.notOk(b.broker.definitions().queues.some((q: any) => q.name === 'dq'), 'gone from the saved definitions');
  const ch2 = await conn.createChannel();
  ch2.on('error', () => undefined);
  await t.rejects(ch2.checkQueue('dq'), { code: 404 });
});

t.test('DELETE .../contents purges', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  await api('PUT', '/api/queues/%2F/pq', {});
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  for (let i = 0; i < 3; i++) ch.sendToQueue('pq', Buffer.from(`m${i}`));
  t.equal((await ch.checkQueue('pq')).messageCount, 3);
  t.equal((await api('DELETE', '/api/queues/%2F/pq/contents')).status, 204);
  t.equal((await ch.checkQueue('pq')).messageCount, 0);
  t.equal((await api('DELETE', '/api/queues/%2F/nope/contents')).status, 404);
});

t.test('POST .../get: RabbitMQ\'s message JSON, and each ackmode\'s effect', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  await ch.assertQueue('gq');
  // without properties (amqplib always sends headers)
  await api('POST', '/api/exchanges/%2F/amq.default/publish', { properties: {}, routing_key: 'gq', payload: 'hello', payload_encoding: 'string' });
  ch.sendToQueue('gq', Buffer.from([0, 1, 2, 255]), {
    contentType: 'text/plain', deliveryMode: 2, priority: 3, headers: { a: 1, b: 'x', c: [1, 'two'], d: { e: true } },
    messageId: 'm1', timestamp: 1234, expiration: '60000', correlationId: 'c', replyTo: 'r', type: 't', appId: 'a',
  });
  await ch.checkQueue('gq');
  const get = (o: Record<string, unknown>) => api('POST', '/api/queues/%2F/gq/get', { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto', ...o });
  const first = await get({});
  t.equal(first.status, 200);
  t.same(first.json, [
    { payload_bytes: 5, redelivered: false, exchange: '', routing_key: 'gq', message_count: 1, properties: [], payload: 'hello', payload_encoding: 'string' },
    {
      payload_bytes: 4, redelivered: false, exchange: '', routing_key: 'gq', message_count: 0,
      properties: {
        app_id: 'a', type: 't', timestamp: 1234, message_id: 'm1', expiration: '60000', reply_to: 'r', correlation_id: 'c', priority: 3,
        delivery_mode: 2, headers: { a: 1, b: 'x', c: [1, 'two'], d: { e: true } }, content_type: 'text/plain',
      },
      payload: 'AAEC/w==', payload_encoding: 'base64',
    },
  ]);
  t.equal((await ch.checkQueue('gq')).messageCount, 2, 'ack_requeue_true leaves them queued');
  const again = await get({ encoding: 'base64', truncate: 3 });
  t.same(again.json.map((m: any) => [m.redelivered, m.payload, m.payload_encoding, m.payload_bytes]), [[true, 'aGVs', 'base64', 5], [true, 'AAEC', 'base64', 4]]);
  const truncated = await get({ truncate: 3, count: 2 });
  t.same(truncated.json.map((m: any) => [m.payload, m.payload_encoding]), [['hel', 'string'], ['\u0000\u0001\u0002', 'string']], 'auto looks at the truncated bytes');
  t.same((await get({ count: 1, ackmode: 'reject_requeue_true' })).json.map((m: any) => m.payload), ['hello']);
  t.equal((await ch.checkQueue('gq')).messageCount, 2, 'reject_requeue_true leaves them queued');
  t.same((await get({ count: 1, ackmode: 'ack_requeue_false' })).json.map((m: any) => m.payload), ['hello']);
  t.equal((await ch.checkQueue('gq')).messageCount, 1, 'ack_requeue_false takes it');
  const over = await ch.get('gq', { noAck: true });
  t.ok(over && over.fields.redelivered, 'amqplib sees the requeued message redelivered');
  t.same((await get({ count: 0 })).json, [], 'count 0 reads nothing');
  t.same((await get({})).json, [], 'an empty queue: []');
});

t.test('POST .../get: reject_requeue_false dead-letters; a negative count reads all', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  await api('PUT', '/api/queues/%2F/dead', {});
  await api('PUT', '/api/queues/%2F/src', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } });
  for (let i = 0; i < 3; i++) {
    await api('POST', '/api/exchanges/%2F/amq.default/publish', { properties: {}, routing_key: 'src', payload: `m${i}`, payload_encoding: 'string' });
  }
  const got = await api('POST', '/api/queues/%2F/src/get', { count: -1, ackmode: 'reject_requeue_false', encoding: 'auto' });
  t.same(got.json.map((m: any) => m.payload), ['m0', 'm1', 'm2']);
  const dead = await api('POST', '/api/queues/%2F/dead/get', { count: 10, ackmode: 'ack_requeue_false', encoding: 'auto' });
  t.same(dead.json.map((m: any) => [m.payload, m.properties.headers['x-death'][0].reason]), [['m0', 'rejected'], ['m1', 'rejected'], ['m2', 'rejected']]);
});

t.test('POST .../get: bad bodies and missing queues', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  await api('PUT', '/api/queues/%2F/gq', {});
  const post = (body: unknown, path = '/api/queues/%2F/gq/get') => api('POST', path, body).then((r) => [r.status, r.json]);
  t.same(await post({}), [400, { error: 'bad_request', reason: '[{key_missing,ackmode},{key_missing,count},{key_missing,encoding}]' }]);
  t.same(await post({ count: 1, encoding: 'auto' }), [400, { error: 'bad_request', reason: '[{key_missing,ackmode}]' }]);
  t.same(await post({ count: 'x', ackmode: 'ack_requeue_true', encoding: 'auto' }), [400, { error: 'bad_request', reason: ['not_integer', 'x'] }]);
  t.same(await post({ count: true, ackmode: 'ack_requeue_true', encoding: 'auto' }), [400, { error: 'bad_request', reason: ['not_integer', true] }]);
  t.same(await post({ count: 1, ackmode: 'ack_requeue_true', encoding: 'utf8' }), [400, { error: 'bad_request', reason: 'Unsupported encoding. Please use auto or base64.' }]);
  t.same(await post({ count: 1, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: null }), [400, { error: 'bad_request', reason: ['not_integer', null] }]);
  t.equal((await post({ count: 1, ackmode: 'nope', encoding: 'auto' }))[0], 400);
  t.same(await post({ count: '1', ackmode: 'ack_requeue_true', encoding: 'auto' }), [200, []], 'a count as a string');
  t.same(await post({ count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' }, '/api/queues/%2F/nope/get'), [404, { error: 'not_found', reason: "NOT_FOUND - no queue 'nope' in vhost '/'" }]);
  t.same(await post({ count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' }, '/api/queues/nope/gq/get'), [403, { error: 'not_authorised', reason: 'Access refused.' }]);
  t.same((await api('POST', '/api/queues/%2F/gq/get')).json, { error: 'bad_request', reason: '[{key_missing,ackmode},{key_missing,count},{key_missing,encoding}]' });
});

t.test('another connection\'s exclusive queue: listed, not changed (400 / RESOURCE_LOCKED as RabbitMQ)', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  await ch.assertQueue('ex', { exclusive: true });
  t.match((await api('GET', '/api/queues/%2F/ex')).json, { name: 'ex', exclusive: true, durable: false });
  const locked = "cannot obtain exclusive access to locked queue 'ex' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";
  t.same((await api('POST', '/api/queues/%2F/ex/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })).json, { error: 'bad_request', reason: `405 RESOURCE_LOCKED - ${locked}` });
  for (const [method, path] of [['PUT', '/api/queues/%2F/ex'], ['DELETE', '/api/queues/%2F/ex'], ['DELETE', '/api/queues/%2F/ex/contents'], ['POST', '/api/bindings/%2F/e/amq.direct/q/ex']]) {
    t.same(await api(method!, path!, method === 'DELETE' ? undefined : {}).then((r) => [r.status, r.json]), [400, { error: 'bad_request', reason: locked }], `${method} ${path}`);
  }
  await ch.checkQueue('ex');
});

t.test('a management user: only permitted vhosts, and the permissions of its user', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS, vhosts: ['v2'] });
  const guest = client(b);
  const lim = client(b, 'limited:limited');
  await guest('PUT', '/api/queues/%2F/gq', {});
  t.equal((await client(b, 'other:other')('PUT', '/api/queues/v2/v2q', {})).status, 201);
  t.same((await lim('GET', '/api/queues?columns=vhost,name')).json, [{ name: 'gq', vhost: '/' }], 'only vhosts it has permissions on');
  t.same((await guest('GET', '/api/queues?columns=vhost,name')).json, [{ name: 'gq', vhost: '/' }, { name: 'v2q', vhost: 'v2' }], 'an administrator sees all');
  const refusedVhost = { error: 'not_authorised', reason: 'User not authorised to access virtual host' };
  t.same(await lim('GET', '/api/queues/v2').then((r) => [r.status, r.json]), [403, refusedVhost]);
  t.same(await lim('GET', '/api/queues/v2/v2q').then((r) => [r.status, r.json]), [403, refusedVhost]);
  t.same((await lim('PUT', '/api/queues/v2/lim.conf.x', {})).json, refusedVhost);
  t.same((await guest('PUT', '/api/queues/v2/x', {})).json, { error: 'not_authorised', reason: 'Access refused.' }, 'an administrator without permissions on the vhost');
  const refused = [403, { error: 'not_authorised', reason: 'Access refused.' }];
  t.same(await lim('PUT', '/api/queues/%2F/probe', {}).then((r) => [r.status, r.json]), refused, 'configure refused');
  t.equal((await lim('PUT', '/api/queues/%2F/lim.conf.q', {})).status, 201, 'configure granted');
  t.same(await lim('DELETE', '/api/queues/%2F/gq').then((r) => [r.status, r.json]), refused);
  t.same(await lim('DELETE', '/api/queues/%2F/gq/contents').then((r) => [r.status, r.json]), refused);
  t.same(await lim('POST', '/api/queues/%2F/gq/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' }).then((r) => [r.status, r.json]), [403, {
    error: 'not_authorised', reason: "ACCESS_REFUSED - access to queue 'gq' in vhost '/' refused for user 'limited'",
  }]);
  t.equal((await lim('GET', '/api/queues/%2F/gq')).status, 200, 'reading needs no permission pattern');
  t.same((await client(b, 'plain:plain')('GET', '/api/queues')).json, { error: 'not_authorised', reason: 'Not management user' });
  t.same((await client(b, 'other:other')('GET', '/api/queues?columns=name')).json, [{ name: 'v2q' }]);
});

t.test('lists: sort, sort_reverse and pages as RabbitMQ', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  for (const name of ['b', 'a', 'C', 'd']) await api('PUT', `/api/queues/%2F/${name}`, {});
  t.same((await api('GET', '/api/queues/%2F?columns=name')).json.map((q: any) => q.name), ['C', 'a', 'b', 'd'], 'by vhost and name (bytes)');
  t.same((await api('GET', '/api/queues/%2F?columns=name&sort=name&sort_reverse=true')).json.map((q: any) => q.name), ['d', 'b', 'a', 'C']);
  t.same((await api('GET', '/api/queues/%2F?page=2&page_size=3&columns=name')).json, {
    filtered_count: 4, item_count: 1, items: [{ name: 'd' }], page: 2, page_count: 2, page_size: 3, total_count: 4,
  });
  t.match((await api('GET', '/api/queues?page=1&name=C')).json, { filtered_count: 1, items: [{ name: 'C' }], page_size: 100 }, 'name: case-insensitive');
  t.match((await api('GET', '/api/queues?page=1&name=^[ab]$&use_regex=true&columns=name')).json, { items: [{ name: 'a' }, { name: 'b' }] });
  t.same((await api('GET', '/api/queues?page=3&page_size=2')).json, { error: 'page_out_of_range', reason: 'Page out of range, page: 3 page size: 2, len: 4' });
  t.same((await api('GET', '/api/queues?page=x')).json, { error: 'bad_request', reason: 'Pagination parameters are invalid' });
  t.same((await api('GET', '/api/queues?page=1&page_size=600')).json, { error: 'invalid_pagination_parameters', reason: 'Invalid pagination parameters: page number 1, page size 600' });
  t.match((await api('GET', '/api/queues?page=1&name=zzz')).json, { filtered_count: 0, items: [], page_count: 0 });
});
