// The management HTTP server's frame, over real HTTP against an in-process
// broker: basic auth (401 with RabbitMQ's body and a challenge), tags (403),
// unknown paths (404), wrong methods (405 with Allow), malformed JSON (400),
// and the first routes (whoami, overview, healthchecks, aliveness-test).
import t from 'tap';
import { withBroker } from '../helpers/broker.js';

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

t.test('off with http_port 0 (the library default)', async (t) => {
  const b = await withBroker(t);
  t.equal(b.httpUrl, null);
});
