// /api/users over real HTTP against an in-process broker: RabbitMQ 3.10.8's
// fields and status codes, a user created over HTTP logging in over AMQP
// (amqplib) with its password or an imported hash, password changes and
// clearing, DELETE and bulk-delete closing the user's connections with 320,
// without-permissions, and the administrator-only refusals.
//
// Fields compared with RabbitMQ 3.10.8's GET /api/users/{name}: name,
// password_hash, hashing_algorithm, tags (an array), limits; warren omits
// nothing, but limits is always {} (no user limits).
import t from 'tap';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { api, closedWith } from './admin-call.js';

/** RabbitMQ's hash of "guest" (SHA-256), as its exports carry it. */
const GUEST_HASH = '6PaUddc8KwJ0I8ozb0TkPEPQMgXabo72mm+riNvVdgw7Q6F3';

const login = async (port: number, user: string, pass: string): Promise<boolean> => {
  try {
    const c = await amqplib.connect(`amqp://${user}:${pass}@127.0.0.1:${port}`);
    await c.close();
    return true;
  } catch {
    return false;
  }
};

t.test('a user created over HTTP logs in over AMQP; password changes and clearing', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  t.equal((await call('PUT', '/api/users/alice', { password: 'one', tags: 'management, monitoring' })).status, 201);
  const alice = await call('GET', '/api/users/alice');
  t.equal(alice.status, 200);
  t.same(Object.keys(alice.json).sort(), ['hashing_algorithm', 'limits', 'name', 'password_hash', 'tags']);
  t.match(alice.json, { name: 'alice', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management', 'monitoring'], limits: {} });
  t.match(alice.json.password_hash, /^[A-Za-z0-9+/]{48}$/);
  t.notOk(await login(b.port, 'alice', 'one'), 'no permission on / yet: 530');
  t.equal((await call('PUT', '/api/permissions/%2F/alice', { configure: '.*', write: '.*', read: '.*' })).status, 201);
  t.ok(await login(b.port, 'alice', 'one'));
  t.equal((await call('PUT', '/api/users/alice', { password: 'two', tags: ['administrator'] })).status, 204);
  t.notOk(await login(b.port, 'alice', 'one'), 'the old password is refused');
  t.ok(await login(b.port, 'alice', 'two'));
  t.same((await call('GET', '/api/whoami', undefined, { authorization: `Basic ${Buffer.from('alice:two').toString('base64')}` })).json, { name: 'alice', tags: ['administrator'] });
  t.equal(b.broker.users.permission('alice', '/')?.read, '.*', 'an update keeps the permissions');
  // neither password nor password_hash: RabbitMQ clears the password
  t.equal((await call('PUT', '/api/users/alice', { tags: '' })).status, 204);
  t.match((await call('GET', '/api/users/alice')).json, { password_hash: '', tags: [] });
  t.notOk(await login(b.port, 'alice', 'two'));
  // an exported hash, with or without its algorithm
  t.equal((await call('PUT', '/api/users/bob', { password_hash: GUEST_HASH, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' })).status, 201);
  t.equal((await call('PUT', '/api/users/carol', { password_hash: GUEST_HASH, tags: [] })).status, 201);
  for (const u of ['bob', 'carol']) b.broker.users.setPermissions({ user: u, vhost: '/', configure: '', write: '', read: '' });
  t.ok(await login(b.port, 'bob', 'guest'));
  t.ok(await login(b.port, 'carol', 'guest'));
  t.same((await call('GET', '/api/users')).json.map((u: { name: string }) => u.name), ['alice', 'bob', 'carol', 'guest']);
});

t.test('bad bodies are 400 with RabbitMQ\'s reasons and change nothing', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  const cases: [unknown, unknown][] = [
    [{ password: 'x' }, 'tags_not_present'],
    [{ password: 'x', password_hash: GUEST_HASH, tags: '' }, 'both_password_and_password_hash_are_provided'],
    [{ password_hash: 'notbase64!!', tags: '' }, ['not_base64', 'notbase64!!']],
    [{ password_hash: GUEST_HASH, hashing_algorithm: 'bogus', tags: '' }, ['unknown_hashing_algorithm', 'bogus']],
    [{ password: 5, tags: '' }, ['not_string', 5]],
    [[1], 'not_json'],
  ];
  for (const [body, reason] of cases) {
    const r = await call('PUT', '/api/users/u', body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.same(r.json, { error: 'bad_request', reason });
  }
  t.equal(b.broker.users.get('u'), undefined);
  for (const [method, path] of [['GET', '/api/users/nope'], ['DELETE', '/api/users/nope'], ['GET', '/api/users/nope/permissions']] as const) {
    const r = await call(method, path);
    t.equal(r.status, 404, `${method} ${path}`);
    t.same(r.json, { error: 'Object Not Found', reason: 'Not Found' });
  }
});

t.test('permissions of a user, users without permissions', async (t) => {
  const b = await withBroker(t, { httpPort: -1, vhosts: ['v2'], users: [{ name: 'loner', password: 'x', tags: [] }, { name: 'two', password: 'x', permissions: [{ vhost: '/', configure: 'a', write: 'b', read: 'c' }, { vhost: 'v2', configure: '', write: '', read: '.*' }] }] });
  const call = api(b.httpUrl!);
  t.same((await call('GET', '/api/users/two/permissions')).json, [
    { user: 'two', vhost: '/', configure: 'a', write: 'b', read: 'c' },
    { user: 'two', vhost: 'v2', configure: '', write: '', read: '.*' },
  ]);
  t.same((await call('GET', '/api/users/loner/permissions')).json, []);
  t.same((await call('GET', '/api/users/without-permissions')).json.map((u: { name: string }) => u.name), ['loner']);
});

t.test('DELETE and bulk-delete close the users\' connections with 320 and drop their permissions', async (t) => {
  const perm = [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }];
  const b = await withBroker(t, { httpPort: -1, users: ['u1', 'u2', 'u3'].map((name) => ({ name, password: name, permissions: perm })) });
  const call = api(b.httpUrl!);
  const c1 = await amqplib.connect(`amqp://u1:u1@127.0.0.1:${b.port}`);
  const closed1 = closedWith(c1);
  t.equal((await call('DELETE', '/api/users/u1')).status, 204);
  const err = await closed1;
  t.equal(err.code, 320);
  t.match(err.message, /CONNECTION_FORCED - user 'u1' is deleted/);
  t.equal(b.broker.users.permission('u1', '/'), undefined);
  t.equal((await call('GET', '/api/users/u1')).status, 404);

  const c2 = await amqplib.connect(`amqp://u2:u2@127.0.0.1:${b.port}`);
  const closed2 = closedWith(c2);
  // an unknown name: 400, and nobody is deleted (RabbitMQ deletes the names before it)
  const refused = await call('POST', '/api/users/bulk-delete', { users: ['u2', 'nobody'] });
  t.equal(refused.status, 400);
  t.same(refused.json, { error: 'bad_request', reason: ['no_such_user', 'nobody'] });
  t.ok(b.broker.users.get('u2'));
  t.same((await call('POST', '/api/users/bulk-delete', {})).json, { error: 'bad_request', reason: '[{key_missing,users}]' });
  t.equal((await call('POST', '/api/users/bulk-delete', { users: ['u2', 'u3'] })).status, 204);
  t.equal((await closed2).code, 320);
  t.same(b.broker.users.list().map((u) => u.name), ['guest']);
});

t.test('only administrators: 403 Not administrator user', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: [{ name: 'mon', password: 'mon', tags: ['monitoring', 'policymaker'] }] });
  const call = api(b.httpUrl!, 'mon:mon');
  const routes = [
    ['GET', '/api/users'], ['GET', '/api/users/guest'], ['PUT', '/api/users/x'], ['DELETE', '/api/users/guest'],
    ['GET', '/api/users/guest/permissions'], ['GET', '/api/users/without-permissions'], ['POST', '/api/users/bulk-delete'],
  ] as const;
  for (const [method, path] of routes) {
    const r = await call(method, path, method === 'GET' || method === 'DELETE' ? undefined : { users: ['guest'], tags: '' });
    t.equal(r.status, 403, `${method} ${path}`);
    t.same(r.json, { error: 'not_authorised', reason: 'Not administrator user' });
  }
  t.ok(b.broker.users.get('guest'));
  t.equal(b.broker.users.get('x'), undefined);
});
