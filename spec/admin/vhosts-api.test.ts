// /api/vhosts over real HTTP against an in-process broker: listing (and who
// sees which vhost), PUT create / update with RabbitMQ 3.10.8's status codes
// and fields, the creator's permissions, DELETE closing the vhost's
// connections with 320 and taking its queues and permissions along, tag
// refusals, 404 / 400, and persistence across a restart.
//
// Fields compared with RabbitMQ 3.10.8's GET /api/vhosts/{vhost}: warren
// omits message_stats and the *_details rates (no rate statistics).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { api, closedWith } from './admin-call.js';

const users = [
  { name: 'manager', password: 'manager', tags: ['management'], permissions: [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }] },
  { name: 'monitor', password: 'monitor', tags: ['monitoring'] },
];

t.test('PUT creates (201) and updates (204); GET shows RabbitMQ\'s fields', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users });
  const call = api(b.httpUrl!);
  t.equal((await call('PUT', '/api/vhosts/sales', { description: 'Sales', tags: 'eu,prod', default_queue_type: 'classic' })).status, 201);
  const one = await call('GET', '/api/vhosts/sales');
  t.equal(one.status, 200);
  t.match(one.json, {
    name: 'sales', description: 'Sales', tags: ['eu', 'prod'], default_queue_type: 'classic',
    metadata: { description: 'Sales', tags: ['eu', 'prod'] }, tracing: false,
    messages: 0, messages_ready: 0, messages_unacknowledged: 0,
  });
  t.same(Object.values(one.json.cluster_state), ['running']);
  // an update replaces description and tags, as RabbitMQ 3.10 does
  t.equal((await call('PUT', '/api/vhosts/sales', { tags: ['one', 'two'] })).status, 204);
  t.match((await call('GET', '/api/vhosts/sales')).json, { description: '', tags: ['one', 'two'], default_queue_type: 'undefined' });
  t.equal((await call('PUT', '/api/vhosts/empty')).status, 201, 'no body needed');
  t.match((await call('GET', '/api/vhosts/empty')).json, { name: 'empty', description: '', tags: [] });
  // the creator gets full permissions on the new vhost, as in RabbitMQ
  t.same((await call('GET', '/api/vhosts/sales/permissions')).json, [{ vhost: 'sales', user: 'guest', configure: '.*', write: '.*', read: '.*' }]);
  const list = await call('GET', '/api/vhosts');
  t.same(list.json.map((v: { name: string }) => v.name), ['/', 'empty', 'sales']);
  // counts come from the queues
  const conn = await amqplib.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('q1');
  ch.sendToQueue('q1', Buffer.from('a'));
  ch.sendToQueue('q1', Buffer.from('b'));
  await ch.get('q1', { noAck: false });
  await new Promise((r) => setTimeout(r, 50));
  t.match((await call('GET', '/api/vhosts/%2F')).json, { messages: 2, messages_ready: 1, messages_unacknowledged: 1 });
  await conn.close();
});

t.test('malformed bodies, unknown vhosts', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  t.same((await call('PUT', '/api/vhosts/v', '[1]')).json, { error: 'bad_request', reason: 'not_json' });
  t.equal((await call('PUT', '/api/vhosts/v', 'garbage')).status, 400);
  t.equal((await call('PUT', '/api/vhosts/v', { tags: 5 })).status, 400);
  t.equal((await call('PUT', '/api/vhosts/v', { description: 5 })).status, 400);
  t.notOk(b.broker.vhosts.has('v'), 'nothing was created');
  for (const [method, path] of [['GET', '/api/vhosts/nope'], ['DELETE', '/api/vhosts/nope'], ['GET', '/api/vhosts/nope/permissions']] as const) {
    const r = await call(method, path);
    t.equal(r.status, 404, `${method} ${path}`);
    t.same(r.json, { error: 'Object Not Found', reason: 'Not Found' });
  }
});

t.test('who may do what: management sees its vhosts, monitoring all, only administrators change', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users, vhosts: ['other'] });
  const admin = api(b.httpUrl!);
  const manager = api(b.httpUrl!, 'manager:manager');
  const monitor = api(b.httpUrl!, 'monitor:monitor');
  t.same((await manager('GET', '/api/vhosts')).json.map((v: { name: string }) => v.name), ['/']);
  t.same((await monitor('GET', '/api/vhosts')).json.map((v: { name: string }) => v.name), ['/', 'other']);
  t.same((await admin('GET', '/api/vhosts')).json.map((v: { name: string }) => v.name), ['/', 'other']);
  const refusal = { error: 'not_authorised', reason: 'Not administrator user' };
  for (const [method, path] of [['PUT', '/api/vhosts/x'], ['DELETE', '/api/vhosts/other'], ['GET', '/api/vhosts/%2F'], ['GET', '/api/vhosts/%2F/permissions']] as const) {
    const r = await manager(method, path);
    t.equal(r.status, 403, `${method} ${path}`);
    t.same(r.json, refusal);
  }
  t.ok(b.broker.vhosts.has('other'));
  t.notOk(b.broker.vhosts.has('x'));
});

t.test('DELETE closes the vhost\'s connections with 320 and drops its queues and permissions', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users });
  const call = api(b.httpUrl!);
  t.equal((await call('PUT', '/api/vhosts/doomed')).status, 201);
  t.equal((await call('PUT', '/api/permissions/doomed/manager', { configure: '.*', write: '.*', read: '.*' })).status, 201);
  const inside = await amqplib.connect(`amqp://manager:manager@127.0.0.1:${b.port}/doomed`);
  const outside = await amqplib.connect(b.url);
  const closed = closedWith(inside);
  const ch = await inside.createChannel();
  await ch.assertQueue('durable-q', { durable: true });
  await ch.assertExchange('durable-x', 'topic', { durable: true });
  ch.sendToQueue('durable-q', Buffer.from('m'), { persistent: true });
  await ch.consume('durable-q', () => undefined);
  t.equal((await call('DELETE', '/api/vhosts/doomed')).status, 204);
  const err = await closed;
  t.equal(err.code, 320);
  t.match(err.message, /CONNECTION_FORCED - vhost 'doomed' is down/);
  t.notOk(b.broker.vhosts.has('doomed'));
  t.same(b.broker.users.permissionsForVhost('doomed'), []);
  t.equal((await call('GET', '/api/vhosts/doomed')).status, 404);
  t.notOk(b.broker.definitions().queues.some((q) => (q as { vhost: string }).vhost === 'doomed'), 'its durable queue is gone from the definitions');
  // other vhosts' connections stay
  const och = await outside.createChannel();
  await och.assertQueue('still-here');
  t.equal(b.listener.connections.size, 1);
  await outside.close();
  // a new vhost of the same name starts empty
  t.equal((await call('PUT', '/api/vhosts/doomed')).status, 201);
  t.equal(b.broker.vhosts.get('doomed')!.queues.size, 0);
});

t.test('vhosts created and deleted over HTTP stay so after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-vhosts-api-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await withBroker(t, { httpPort: -1, dataDir });
  const call = api(first.httpUrl!);
  await call('PUT', '/api/vhosts/kept', { description: 'stays', tags: ['a'] });
  await call('PUT', '/api/vhosts/gone');
  await call('DELETE', '/api/vhosts/gone');
  await first.close();
  const second = await withBroker(t, { httpPort: -1, dataDir });
  const again = api(second.httpUrl!);
  t.match((await again('GET', '/api/vhosts/kept')).json, { description: 'stays', tags: ['a'] });
  t.equal((await again('GET', '/api/vhosts/gone')).status, 404);
  t.equal((await again('GET', '/api/permissions/kept/guest')).status, 200);
});
