// /api/permissions over real HTTP against an in-process broker: RabbitMQ
// 3.10.8's fields and status codes (201 / 204 / 404, 400 for a missing key,
// an invalid regex, an unknown user or vhost), permissions set over HTTP
// enforced on AMQP (403 ACCESS_REFUSED, also for a connection already
// open), and the administrator-only refusals.
//
// Fields compared with RabbitMQ 3.10.8's GET /api/permissions/{vhost}/{user}:
// user, vhost, configure, write, read; warren omits none.
import t from 'tap';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { api } from './admin-call.js';

t.test('PUT (201 / 204), GET, list, DELETE (204 / 404)', async (t) => {
  const b = await withBroker(t, { httpPort: -1, vhosts: ['v'], users: [{ name: 'app', password: 'app' }] });
  const call = api(b.httpUrl!);
  t.equal((await call('PUT', '/api/permissions/v/app', { configure: '^app\\.', write: '.*', read: '' })).status, 201);
  t.equal((await call('PUT', '/api/permissions/v/app', { configure: '^app\\.', write: '.*', read: 'r' })).status, 204);
  t.same((await call('GET', '/api/permissions/v/app')).json, { user: 'app', vhost: 'v', configure: '^app\\.', write: '.*', read: 'r' });
  const all = (await call('GET', '/api/permissions')).json as { user: string; vhost: string }[];
  t.same(all.map((p) => `${p.user}@${p.vhost}`).sort(), ['app@v', 'guest@/']);
  t.equal((await call('DELETE', '/api/permissions/v/app')).status, 204);
  for (const [method, path] of [['GET', '/api/permissions/v/app'], ['DELETE', '/api/permissions/v/app'], ['GET', '/api/permissions/nov/app'], ['DELETE', '/api/permissions/v/nouser']] as const) {
    const r = await call(method, path);
    t.equal(r.status, 404, `${method} ${path}`);
    t.same(r.json, { error: 'Object Not Found', reason: 'Not Found' });
  }
});

t.test('400: a missing key, an invalid regex, an unknown user or vhost', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: [{ name: 'app', password: 'app' }] });
  const call = api(b.httpUrl!);
  t.same((await call('PUT', '/api/permissions/%2F/app', { configure: '.*', write: '.*' })).json, { error: 'bad_request', reason: '[{key_missing,read}]' });
  const invalid = await call('PUT', '/api/permissions/%2F/app', { configure: '(', write: '.*', read: '.*' });
  t.equal(invalid.status, 400);
  t.match(invalid.json, { error: 'bad_request', reason: ['invalid_regexp', '(', /invalid/] });
  t.same((await call('PUT', '/api/permissions/nov/app', { configure: '.*', write: '.*', read: '.*' })).json, { error: 'bad_request', reason: 'vhost_or_user_not_found' });
  t.same((await call('PUT', '/api/permissions/%2F/nobody', { configure: '.*', write: '.*', read: '.*' })).json, { error: 'bad_request', reason: 'vhost_or_user_not_found' });
  t.equal((await call('PUT', '/api/permissions/%2F/app', { configure: 1, write: '.*', read: '.*' })).status, 400);
  t.equal(b.broker.users.permission('app', '/'), undefined, 'nothing was set');
});

t.test('permissions set over HTTP are enforced on AMQP, also on an open connection', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: [{ name: 'app', password: 'app' }] });
  const call = api(b.httpUrl!);
  await t.rejects(amqplib.connect(`amqp://app:app@127.0.0.1:${b.port}`), /ConnectionClose/, 'no permission: the vhost is refused (530)');
  t.equal((await call('PUT', '/api/permissions/%2F/app', { configure: '^app\\.', write: '^app\\.', read: '^app\\.' })).status, 201);
  const conn = await amqplib.connect(`amqp://app:app@127.0.0.1:${b.port}`);
  t.teardown(() => conn.close().catch(() => undefined));
  conn.on('error', () => undefined);
  const ch = await conn.createChannel();
  await ch.assertQueue('app.q');
  const refusedCh = await conn.createChannel();
  refusedCh.on('error', () => undefined);
  await t.rejects(refusedCh.assertQueue('other.q'), { code: 403, message: /ACCESS_REFUSED - access to queue 'other.q' in vhost '\/' refused for user 'app'/ });
  // widened while the connection is open: its next declare may
  t.equal((await call('PUT', '/api/permissions/%2F/app', { configure: '.*', write: '.*', read: '.*' })).status, 204);
  const ch2 = await conn.createChannel();
  await ch2.assertQueue('other.q');
  // narrowed again: refused from the next operation on
  t.equal((await call('PUT', '/api/permissions/%2F/app', { configure: '^$', write: '^$', read: '^$' })).status, 204);
  ch2.on('error', () => undefined);
  await t.rejects(ch2.assertQueue('app.q2'), { code: 403 });
});

t.test('only administrators: 403 Not administrator user', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: [{ name: 'mgr', password: 'mgr', tags: ['management'], permissions: [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }] }] });
  const call = api(b.httpUrl!, 'mgr:mgr');
  for (const [method, path] of [['GET', '/api/permissions'], ['GET', '/api/permissions/%2F/mgr'], ['PUT', '/api/permissions/%2F/mgr'], ['DELETE', '/api/permissions/%2F/mgr']] as const) {
    const r = await call(method, path, method === 'PUT' ? { configure: '.*', write: '.*', read: '.*' } : undefined);
    t.equal(r.status, 403, `${method} ${path}`);
    t.same(r.json, { error: 'not_authorised', reason: 'Not administrator user' });
  }
  t.ok(b.broker.users.permission('mgr', '/'));
});
