// The management API's exchange routes (lib/admin/routes/exchanges.ts) over
// real HTTP against an in-process broker: listing (the default exchange as
// "", amq.default in paths), PUT / DELETE with RabbitMQ 3.10.8's statuses
// and bodies (403 where RabbitMQ says 401), and POST .../publish: routed or
// not, what AMQP consumers receive, persistence across a restart, and the
// refusals, worded as RabbitMQ words them ("403 ACCESS_REFUSED - ...").
import t from 'tap';
import amqplib from 'amqplib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../../lib/index.js';
import type { RunningBroker } from '../../lib/index.js';
import { withBroker } from '../helpers/broker.js';
import { api } from './admin-call.js';

const client = (b: RunningBroker, auth = 'guest:guest') => api(b.httpUrl!, auth);

const USERS = [
  { name: 'limited', password: 'limited', tags: ['management'], permissions: [{ vhost: '/', configure: '^lim\\.conf', write: '^lim\\.write', read: '^lim\\.read' }] },
];
const refused = { error: 'not_authorised', reason: 'Access refused.' };

t.test('GET lists the predeclared exchanges, the default one as ""', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const api = client(b);
  const list = await api('GET', '/api/exchanges/%2F?columns=name,type');
  t.same(list.json, [
    { name: '', type: 'direct' }, { name: 'amq.direct', type: 'direct' }, { name: 'amq.fanout', type: 'fanout' }, { name: 'amq.headers', type: 'headers' },
    { name: 'amq.match', type: 'headers' }, { name: 'amq.rabbitmq.trace', type: 'topic' }, { name: 'amq.topic', type: 'topic' },
  ]);
  t.same((await api('GET', '/api/exchanges/%2F/amq.default')).json, { arguments: {}, auto_delete: false, durable: true, internal: false, name: '', type: 'direct', vhost: '/' });
  t.same((await api('GET', '/api/exchanges/%2F/amq.rabbitmq.trace?columns=internal')).json, { internal: true });
  t.equal((await api('GET', '/api/exchanges')).json.length, 7);
  t.equal((await api('GET', '/api/exchanges/%2F/nope')).status, 404);
  t.equal((await api('GET', '/api/exchanges/nope')).status, 404);
});

t.test('PUT declares (201) and redeclares (204); refusals as RabbitMQ', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  t.equal((await api('PUT', '/api/exchanges/%2F/x1', { type: 'topic', durable: true, arguments: { 'alternate-exchange': 'ae' } })).status, 201);
  t.equal((await api('PUT', '/api/exchanges/%2F/x1', { type: 'topic', durable: true, arguments: { 'alternate-exchange': 'ae' } })).status, 204);
  t.same((await api('GET', '/api/exchanges/%2F/x1')).json, { arguments: { 'alternate-exchange': 'ae' }, auto_delete: false, durable: true, internal: false, name: 'x1', type: 'topic', vhost: '/' });
  t.ok(b.broker.definitions().exchanges.some((x: any) => x.name === 'x1'), 'in the saved definitions');
  t.same(await api('PUT', '/api/exchanges/%2F/x1', { type: 'direct', durable: true }).then((r) => [r.status, r.json]), [400, {
    error: 'bad_request', reason: "inequivalent arg 'type' for exchange 'x1' in vhost '/': received 'direct' but current is 'topic'",
  }]);
  t.equal((await api('PUT', '/api/exchanges/%2F/x2', {})).status, 201);
  t.match((await api('GET', '/api/exchanges/%2F/x2')).json, { type: 'direct', durable: false }, 'type defaults to direct');
  t.same((await api('PUT', '/api/exchanges/%2F/x3', { type: 'bogus' })).json, { error: 'bad_request', reason: "invalid exchange type 'bogus'" });
  t.same((await api('PUT', '/api/exchanges/%2F/x3', { type: 'direct', internal: 'no' })).json, { error: 'bad_request', reason: ['not_boolean', 'no'] });
  t.same(await api('PUT', '/api/exchanges/%2F/amq.default', { type: 'direct' }).then((r) => [r.status, r.json]), [403, refused]);
  t.same(await api('PUT', '/api/exchanges/%2F/amq.newone', { type: 'direct' }).then((r) => [r.status, r.json]), [403, refused]);
  t.equal((await api('PUT', '/api/exchanges/%2F/amq.direct', { type: 'direct', durable: true })).status, 204, 'redeclaring amq.direct');
  t.same(await api('PUT', '/api/exchanges/nope/x', { type: 'direct' }).then((r) => [r.status, r.json]), [404, { error: 'not_found', reason: 'vhost_not_found' }]);
  const lim = client(b, 'limited:limited');
  t.same(await lim('PUT', '/api/exchanges/%2F/x4', { type: 'direct' }).then((r) => [r.status, r.json]), [403, refused]);
  t.equal((await lim('PUT', '/api/exchanges/%2F/lim.conf.x', { type: 'fanout' })).status, 201);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  await ch.checkExchange('lim.conf.x');
  await ch.assertExchange('x1', 'topic', { durable: true, alternateExchange: 'ae' });
});

t.test('DELETE: 404, if-unused, system exchanges refused, 204', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  t.same(await api('DELETE', '/api/exchanges/%2F/nope').then((r) => [r.status, r.json]), [404, { error: 'Object Not Found', reason: 'Not Found' }]);
  await api('PUT', '/api/exchanges/%2F/dx', { type: 'fanout', durable: true });
  await api('PUT', '/api/queues/%2F/q', {});
  await api('POST', '/api/bindings/%2F/e/dx/q/q', {});
  t.same((await api('DELETE', '/api/exchanges/%2F/dx?if-unused=true')).json, { error: 'bad_request', reason: "exchange 'dx' in vhost '/' in use" });
  t.same(await api('DELETE', '/api/exchanges/%2F/amq.direct').then((r) => [r.status, r.json]), [403, refused]);
  t.same(await api('DELETE', '/api/exchanges/%2F/amq.default').then((r) => [r.status, r.json]), [403, refused]);
  t.same(await client(b, 'limited:limited')('DELETE', '/api/exchanges/%2F/dx').then((r) => [r.status, r.json]), [403, refused]);
  t.equal((await api('DELETE', '/api/exchanges/%2F/dx')).status, 204);
  t.notOk(b.broker.vhosts.get('/')!.exchanges.has('dx'));
  t.same((await api('GET', '/api/queues/%2F/q/bindings?columns=source')).json, [{ source: '' }], 'its bindings went with it');
});

t.test('publish: routed or not, and what an AMQP client gets', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const api = client(b);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close());
  const ch = await conn.createChannel();
  await ch.assertQueue('pq');
  await ch.assertQueue('cc');
  await ch.bindQueue('pq', 'amq.topic', 'a.*');
  const pub = (exchange: string, body: Record<string, unknown>) =>
    api('POST', `/api/exchanges/%2F/${exchange}/publish`, { properties: {}, payload_encoding: 'string', ...body });
  t.same(await pub('amq.default', { routing_key: 'pq', payload: 'hello' }).then((r) => [r.status, r.json]), [200, { routed: true }]);
  t.same((await pub('amq.default', { routing_key: 'nowhere', payload: 'x' })).json, { routed: false });
  t.same((await pub('amq.topic', { routing_key: 'a.b', payload: 'AAEC/w==', payload_encoding: 'base64' })).json, { routed: true });
  const props = {
    content_type: 'text/plain', delivery_mode: 1, priority: 4, headers: { i: 7, f: 1.5, s: 'x', l: [1, 'a'], t: { k: true }, CC: ['cc'] },
    message_id: 'm', correlation_id: 'c', reply_to: 'r', timestamp: 99, type: 't', app_id: 'a', user_id: 'guest', expiration: '60000',
  };
  t.same((await pub('amq.default', { routing_key: 'pq', payload: 'props', properties: props })).json, { routed: true });
  const got = async (q: string) => {
    const m = await ch.get(q, { noAck: true });
    if (!m) throw new Error(`nothing in ${q}`);
    return m;
  };
  const m1 = await got('pq');
  t.equal(m1.content.toString(), 'hello');
  t.match(m1.fields, { exchange: '', routingKey: 'pq', redelivered: false });
  t.same((await got('pq')).content, Buffer.from([0, 1, 2, 255]));
  const m3 = await got('pq');
  t.match(m3.properties, {
    contentType: 'text/plain', deliveryMode: 1, priority: 4, messageId: 'm', correlationId: 'c', replyTo: 'r', timestamp: 99, type: 't',
    appId: 'a', userId: 'guest', expiration: '60000', headers: { i: 7, f: 1.5, s: 'x', l: [1, 'a'], t: { k: true }, CC: ['cc'] },
  });
  t.equal((await got('cc')).content.toString(), 'props', 'routed with its CC header too');
});

t.test('publish: persistent messages on durable queues survive a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-http-publish-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await startBroker({ bind: '127.0.0.1', httpPort: -1, dataDir });
  const api = client(first);
  await api('PUT', '/api/queues/%2F/dq', { durable: true });
  for (const delivery_mode of [2, 1]) {
    await api('POST', '/api/exchanges/%2F/amq.default/publish', { properties: { delivery_mode }, routing_key: 'dq', payload: `mode ${delivery_mode}`, payload_encoding: 'string' });
  }
  await first.close();
  const second = await withBroker(t, { httpPort: -1, dataDir });
  const back = await client(second)('POST', '/api/queues/%2F/dq/get', { count: 10, ackmode: 'ack_requeue_false', encoding: 'auto' });
  t.same(back.json.map((m: any) => m.payload), ['mode 2'], 'the persistent one is back, the transient one is not');
});

t.test('publish refusals, worded as RabbitMQ words them', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: USERS });
  const api = client(b);
  await api('PUT', '/api/queues/%2F/full', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
  const pub = (body: Record<string, unknown>, exchange = 'amq.default', vhost = '%2F', who = api) =>
    who('POST', `/api/exchanges/${vhost}/${exchange}/publish`, { properties: {}, routing_key: 'q', payload: 'x', payload_encoding: 'string', ...body })
      .then((r) => [r.status, r.json]);
  const bad = (reason: unknown) => [400, { error: 'bad_request', reason }];
  t.same((await api('POST', '/api/exchanges/%2F/amq.default/publish', {})).json, {
    error: 'bad_request', reason: '[{key_missing,routing_key},\n {key_missing,properties},\n {key_missing,payload},\n {key_missing,payload_encoding}]',
  });
  t.same(await pub({ payload_encoding: 'utf8' }), bad(['unsupported_encoding', 'utf8']));
  t.same(await pub({ payload: '!!!', payload_encoding: 'base64' }), bad(['not_base64', '!!!']));
  t.same(await pub({ payload: 5 }), bad('payload_not_string'));
  t.same(await pub({ properties: { delivery_mode: '2' } }), bad(['not_int', 'delivery_mode']));
  t.same(await pub({ properties: { content_type: 3 } }), bad(['not_string', 'content_type']));
  t.same(await pub({ properties: { headers: { n: null } } }), bad('null_not_allowed'));
  t.same(await pub({ properties: { user_id: 'bob' } }), bad("406 PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'"));
  t.same(await pub({ properties: { expiration: 'abc' } }), bad("406 PRECONDITION_FAILED - invalid expiration 'abc': no_integer"));
  t.same(await pub({}, 'nope'), bad("404 NOT_FOUND - no exchange 'nope' in vhost '/'"));
  t.same(await pub({}, 'amq.rabbitmq.trace'), bad("403 ACCESS_REFUSED - cannot publish to internal exchange 'amq.rabbitmq.trace' in vhost '/'"));
  t.same(await pub({}, 'amq.default', '%2F', client(b, 'limited:limited')), bad("403 ACCESS_REFUSED - access to exchange 'amq.default' in vhost '/' refused for user 'limited'"));
  t.same(await pub({}, 'amq.default', 'nope'), [403, refused]);
  t.same(await pub({ routing_key: 'full' }), bad('rejected Unable to publish message. Check queue limits.'));
  t.same(await pub({ properties: { bogus: 1 } }), [200, { routed: false }], 'unknown properties are ignored');
});
