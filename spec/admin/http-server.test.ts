// The management HTTP server's frame, over real HTTP against an in-process
// broker: basic auth (401 with RabbitMQ's body and a challenge), tags (403),
// unknown paths (404), wrong methods (405 with Allow), malformed JSON (400),
// and the first routes (whoami, overview, healthchecks, aliveness-test);
// overview's message_stats and queue_totals after real amqplib traffic.
import t from 'tap';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { waitFor } from '../helpers/wait-for.js';

async function call(url: string, path: string, o: { auth?: string; method?: string; body?: string } = {}): Promise<{ status: number; headers: Headers; json: unknown }> {
  const headers: Record<string, string> = {};
  if (o.auth !== undefined) headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method: o.method ?? 'GET', headers, body: o.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) };
}

t.test('authentication, tags, 404, 405 and 400 as RabbitMQ words them', async (t) => {
  const b = await withBroker(t, {
    httpPort: -1,
    users: [
      { name: 'plain', password: 'plain', tags: [], permissions: [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }] },
      { name: 'watcher', password: 'watcher', tags: ['management'] },
    ],
  });
  const url = b.httpUrl!;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const none = await call(url, '/api/whoami');
  t.equal(none.status, 401);
  t.same(none.json, { error: 'not_authorized', reason: 'Login failed' });
  t.equal(none.headers.get('www-authenticate'), 'Basic realm="RabbitMQ Management"');
  t.equal((await call(url, '/api/whoami', { auth: 'guest:wrong' })).status, 401, 'wrong password');
  const noTag = await call(url, '/api/overview', { auth: 'plain:plain' });
  t.equal(noTag.status, 403);
  t.same(noTag.json, { error: 'not_authorised', reason: 'Not management user' });
  t.same((await call(url, '/api/whoami', { auth: 'watcher:watcher' })).json, { name: 'watcher', tags: ['management'] });
  t.same((await call(url, '/api/whoami', { auth: 'guest:guest' })).json, { name: 'guest', tags: ['administrator'] });
  const missing = await call(url, '/api/nonsense', { auth: 'guest:guest' });
  t.equal(missing.status, 404);
  t.same(missing.json, { error: 'Object Not Found', reason: 'Not Found' });
  const wrongMethod = await call(url, '/api/overview', { auth: 'guest:guest', method: 'DELETE' });
  t.equal(wrongMethod.status, 405);
  t.equal(wrongMethod.headers.get('allow'), 'GET');
  t.equal((await call(url, '/api/aliveness-test/%2F', { auth: 'guest:guest', method: 'GET', body: undefined })).status, 200);
});

t.test('overview, healthchecks, aliveness-test', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const url = b.httpUrl!;
  const o = (await call(url, '/api/overview', { auth: 'guest:guest' })).json as Record<string, unknown>;
  t.equal(o.product_name, 'warren');
  t.match(o.object_totals, { connections: 0, queues: 0 });
  t.match(o.listeners, [{ protocol: 'amqp', port: b.port }]);
  t.same((await call(url, '/api/healthchecks/node', { auth: 'guest:guest' })).json, { status: 'ok' });
  t.same((await call(url, '/api/aliveness-test/%2F', { auth: 'guest:guest' })).json, { status: 'ok' });
  t.equal((await call(url, '/api/aliveness-test/nope', { auth: 'guest:guest' })).status, 404);
  t.equal(b.broker.vhosts.get('/')!.queues.get('aliveness-test')?.messageCount, 0, 'the test message was read back');
});

t.test('overview: message_stats counts what was published, delivered and acked, with rates', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('stats-q', { durable: false });
  const n = 20;
  for (let i = 0; i < n; i++) ch.sendToQueue('stats-q', Buffer.from(`m${i}`));
  ch.publish('amq.direct', 'nowhere', Buffer.from('x'), { mandatory: true });
  ch.publish('amq.direct', 'nowhere', Buffer.from('y'));
  await ch.waitForConfirms();
  const got: amqplib.ConsumeMessage[] = [];
  await ch.consume('stats-q', (m) => {
    if (m) got.push(m);
  });
  t.ok(await waitFor(() => got.length === n, 2000), `${n} delivered`);
  for (const m of got.slice(0, n - 5)) ch.ack(m);
  await ch.checkQueue('stats-q'); // a round trip: the acks have been handled
  b.stats.sample(Date.now()); // as the 5 s timer would: rates over the time since the broker started
  const o = (await call(b.httpUrl!, '/api/overview', { auth: 'guest:guest' })).json as Record<string, any>;
  const ms = o.message_stats;
  t.match(ms, {
    publish: n + 2,
    confirm: n + 2,
    return_unroutable: 1,
    drop_unroutable: 1,
    deliver: n,
    deliver_no_ack: 0,
    deliver_get: n,
    get: 0,
    get_no_ack: 0,
    get_empty: 0,
    redeliver: 0,
    ack: n - 5,
  });
  for (const key of ['publish', 'confirm', 'deliver', 'deliver_get', 'ack']) {
    t.ok(typeof ms[`${key}_details`]?.rate === 'number' && ms[`${key}_details`].rate > 0, `${key}_details.rate > 0`);
  }
  t.same(ms.get_details, { rate: 0 });
  t.match(o.queue_totals, { messages: 5, messages_ready: 0, messages_unacknowledged: 5 });
  t.match(o.queue_totals.messages_details, { rate: Number });
  t.match(o.object_totals, { connections: 1, channels: 1, consumers: 1, queues: 1 });
});

t.test('off with http_port 0 (the library default)', async (t) => {
  const b = await withBroker(t);
  t.equal(b.httpUrl, null);
});

t.test('every list takes columns and sort; vhosts and connections page as RabbitMQ', async (t) => {
  const b = await withBroker(t, { httpPort: -1, vhosts: ['b-vhost', 'a-vhost'] });
  const url = b.httpUrl!;
  const get = async (path: string) => (await call(url, path, { auth: 'guest:guest' })).json;
  t.same(await get('/api/vhosts?columns=name'), [{ name: '/' }, { name: 'a-vhost' }, { name: 'b-vhost' }]);
  t.same(await get('/api/vhosts?columns=name&sort=name&sort_reverse=true'), [{ name: 'b-vhost' }, { name: 'a-vhost' }, { name: '/' }]);
  t.match(await get('/api/vhosts?page=2&page_size=2&columns=name'), { items: [{ name: 'b-vhost' }], page: 2, page_count: 2, total_count: 3, item_count: 1 });
  t.same(await get('/api/users?columns=name,tags'), [{ name: 'guest', tags: ['administrator'] }]);
  t.same(await get('/api/permissions?columns=user,vhost'), [{ user: 'guest', vhost: '/' }]);
  t.same(await get('/api/connections?columns=name'), []);
});
