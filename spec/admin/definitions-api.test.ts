// /api/definitions and /api/definitions/{vhost} over real HTTP against an
// in-process broker, and the load_definitions option: RabbitMQ's format and
// status codes (204 on import; 400 with RabbitMQ's reason terms), nothing
// changed by a refused import, unsupported entries skipped and reported
// (200 {"skipped": [...]}), vhost-scoped export and import, persistence,
// and load_definitions at start (no default user on a first start, as
// RabbitMQ; imported again at every start).
//
// Compared with RabbitMQ 3.10.8's export: the same top-level keys in the
// same order; warren lists durable entities only (RabbitMQ also transient
// non-exclusive queues) and vhosts with their metadata.
import t from 'tap';
import type * as Tap from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { loadConfig } from '../../lib/config/load-config.js';
import { api } from './admin-call.js';

const GUEST_HASH = '6PaUddc8KwJ0I8ozb0TkPEPQMgXabo72mm+riNvVdgw7Q6F3';

function tempDir(t: Tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-definitions-api-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sample = {
  users: [{ name: 'app', password_hash: GUEST_HASH, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: 'management', limits: {} }],
  vhosts: [{ name: 'shop', description: 'the shop', tags: ['eu'] }],
  permissions: [{ user: 'app', vhost: 'shop', configure: '^shop\\.', write: '.*', read: '.*' }],
  exchanges: [
    { name: 'shop.events', vhost: 'shop', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: { 'alternate-exchange': 'shop.ae' } },
    { name: 'shop.ae', vhost: 'shop', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} },
  ],
  queues: [{ name: 'shop.orders', vhost: 'shop', durable: true, auto_delete: false, arguments: { 'x-message-ttl': 60000, 'x-max-length': 10 } }],
  bindings: [
    { source: 'shop.events', vhost: 'shop', destination: 'shop.orders', destination_type: 'queue', routing_key: 'order.*', arguments: {} },
    { source: 'shop.events', vhost: 'shop', destination: 'shop.ae', destination_type: 'exchange', routing_key: 'x', arguments: { k: 1 } },
  ],
};

t.test('POST imports (204), GET exports in RabbitMQ\'s format, the import survives a restart', async (t) => {
  const dataDir = tempDir(t);
  const b = await withBroker(t, { httpPort: -1, dataDir });
  const call = api(b.httpUrl!);
  const r = await call('POST', '/api/definitions', sample);
  t.equal(r.status, 204);
  t.equal(r.json, undefined);
  const conn = await amqplib.connect(`amqp://app:guest@127.0.0.1:${b.port}/shop`);
  const ch = await conn.createChannel();
  await ch.checkQueue('shop.orders');
  await ch.checkExchange('shop.events');
  await conn.close();
  const out = (await call('GET', '/api/definitions')).json;
  t.same(Object.keys(out), ['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version', 'users', 'vhosts', 'permissions',
    'topic_permissions', 'parameters', 'global_parameters', 'policies', 'queues', 'exchanges', 'bindings']);
  t.equal(out.product_name, 'warren');
  t.same(out.users.map((u: { name: string }) => u.name), ['guest', 'app']);
  t.same(out.users[1], { name: 'app', password_hash: GUEST_HASH, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management'], limits: {} });
  t.match(out.vhosts.find((v: { name: string }) => v.name === 'shop'), { description: 'the shop', tags: ['eu'] });
  t.same(out.queues, sample.queues);
  t.same(out.exchanges, sample.exchanges);
  t.same(new Set(out.bindings.map((x: unknown) => JSON.stringify(x))), new Set(sample.bindings.map((x) => JSON.stringify(x))));
  // importing the same again changes nothing and skips nothing
  t.equal((await call('POST', '/api/definitions', out)).status, 204);
  t.same((await call('GET', '/api/definitions')).json, out);
  await b.close();
  const again = await withBroker(t, { httpPort: -1, dataDir });
  t.same((await api(again.httpUrl!)('GET', '/api/definitions')).json, out);
});

t.test('unsupported entries are skipped and reported: 200 {"skipped": [...]}', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  const r = await call('POST', '/api/definitions', {
    ...sample,
    users: [{ ...sample.users[0], limits: { 'max-connections': 10 } }],
    topic_permissions: [{ user: 'app', vhost: 'shop', exchange: 'amq.topic', write: '.*', read: '.*' }],
    parameters: [{ value: { 'max-queues': 5 }, vhost: 'shop', component: 'vhost-limits', name: 'limits' }],
    global_parameters: [{ name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-x' }, { name: 'cluster_name', value: 'c' }],
    policies: [{ vhost: 'shop', name: 'p', pattern: '.*', 'apply-to': 'queues', definition: { 'max-length': 1 }, priority: 0 }],
    queues: [...sample.queues, { name: 'shop.qq', vhost: 'shop', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum' } }],
    exchanges: [...sample.exchanges, { name: 'shop.hash', vhost: 'shop', type: 'x-consistent-hash', durable: true, auto_delete: false, internal: false, arguments: {} }],
    bindings: [...sample.bindings, { source: 'shop.events', vhost: 'shop', destination: 'shop.qq', destination_type: 'queue', routing_key: '', arguments: {} }],
  });
  t.equal(r.status, 200);
  t.same(r.json.skipped.map((s: { kind: string }) => s.kind).sort(), ['binding', 'exchange', 'global_parameter', 'parameter', 'policy', 'queue', 'topic_permission', 'user_limits']);
  t.match(r.json.skipped.find((s: { kind: string }) => s.kind === 'queue'), { vhost: 'shop', name: 'shop.qq', reason: /quorum/ });
  t.match(r.json.skipped.find((s: { kind: string }) => s.kind === 'binding'), { reason: 'its destination was skipped' });
  const shop = b.broker.vhosts.get('shop')!;
  t.ok(shop.queues.has('shop.orders'), 'the rest was imported');
  t.notOk(shop.queues.has('shop.qq'));
  t.notOk(shop.exchanges.has('shop.hash'));
});

t.test('a refused import is 400 with RabbitMQ\'s reason and changes nothing', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  const before = (await call('GET', '/api/definitions')).json;
  const cases: [unknown, unknown][] = [
    [{ ...sample, queues: [{ ...sample.queues[0], vhost: 'nope' }] }, ['no_such_vhost', 'nope']],
    [{ ...sample, permissions: [{ ...sample.permissions[0], user: 'nobody' }] }, ['no_such_user', 'nobody']],
    [{ ...sample, permissions: [{ ...sample.permissions[0], read: '(' }] }, ['invalid_regexp', '(', /invalid/]],
    [{ ...sample, queues: [{ ...sample.queues[0], arguments: { 'x-max-length': -1 } }] },
      ['amqp_error', 'precondition_failed', "invalid arg 'x-max-length' for queue 'shop.orders' in vhost 'shop': {value_negative,-1}", 'none']],
    [{ ...sample, exchanges: [{ vhost: 'shop', type: 'direct' }] }, 'exchanges[0]: name is missing'],
    [{ ...sample, users: [{ name: 'x', password_hash: 'not base64', tags: '' }] }, ['not_base64', 'not base64']],
    [{ ...sample, vhosts: 'x' }, /vhosts.*must be an array/],
    [[1], /must be a JSON object/],
  ];
  for (const [body, reason] of cases) {
    const r = await call('POST', '/api/definitions', body);
    t.equal(r.status, 400, JSON.stringify(reason));
    t.match(r.json, { error: 'bad_request', reason });
  }
  t.same((await call('GET', '/api/definitions')).json, before, 'nothing was imported');
  t.notOk(b.broker.vhosts.has('shop'));
});

t.test('vhost-scoped export and import', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  await call('POST', '/api/definitions', sample);
  const one = (await call('GET', '/api/definitions/shop')).json;
  t.same(Object.keys(one), ['rabbit_version', 'parameters', 'policies', 'queues', 'exchanges', 'bindings']);
  t.same(one.queues, [{ name: 'shop.orders', durable: true, auto_delete: false, arguments: { 'x-message-ttl': 60000, 'x-max-length': 10 } }]);
  t.equal(one.bindings.length, 2);
  t.notOk('vhost' in one.exchanges[0]);
  // into another vhost, whatever vhost the entries name
  t.equal((await call('PUT', '/api/vhosts/copy')).status, 201);
  t.equal((await call('POST', '/api/definitions/copy', { ...one, queues: [...one.queues, { name: 'extra', vhost: 'elsewhere', durable: true }] })).status, 204);
  const copy = (await call('GET', '/api/definitions/copy')).json;
  t.same(copy.exchanges, one.exchanges);
  t.same(copy.queues.map((q: { name: string }) => q.name).sort(), ['extra', 'shop.orders']);
  t.same((await call('GET', '/api/definitions/nope')).json, { error: 'bad_request', reason: 'vhost_not_found' });
  const missing = await call('POST', '/api/definitions/nope', one);
  t.equal(missing.status, 404);
  t.same(missing.json, { error: 'not_found', reason: 'vhost_not_found' });
  // users, vhosts and permissions of a vhost-scoped body are ignored
  t.equal((await call('POST', '/api/definitions/copy', { users: [{ name: 'ignored', password: 'x', tags: '' }], vhosts: [{ name: 'ignored' }] })).status, 204);
  t.equal(b.broker.users.get('ignored'), undefined);
  t.notOk(b.broker.vhosts.has('ignored'));
});

t.test('only administrators', async (t) => {
  const b = await withBroker(t, { httpPort: -1, users: [{ name: 'mon', password: 'mon', tags: ['monitoring'] }] });
  const call = api(b.httpUrl!, 'mon:mon');
  for (const [method, path] of [['GET', '/api/definitions'], ['POST', '/api/definitions'], ['GET', '/api/definitions/%2F'], ['POST', '/api/definitions/%2F']] as const) {
    const r = await call(method, path, method === 'POST' ? sample : undefined);
    t.equal(r.status, 403, `${method} ${path}`);
    t.same(r.json, { error: 'not_authorised', reason: 'Not administrator user' });
  }
  t.notOk(b.broker.vhosts.has('shop'));
});

t.test('load_definitions: imported at every start; no default user on a first start', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'defs.json');
  writeFileSync(file, JSON.stringify({ ...sample, users: [{ name: 'admin', password: 'secret', tags: 'administrator' }, ...sample.users], permissions: [...sample.permissions, { user: 'admin', vhost: 'shop', configure: '.*', write: '.*', read: '.*' }], policies: [{ vhost: 'shop', name: 'p', pattern: '.*', definition: {} }] }));
  const dataDir = join(dir, 'data');
  const first = await withBroker(t, { dataDir, loadDefinitions: file, httpPort: -1 });
  t.equal(first.broker.users.get('guest'), undefined, 'no guest: the users come from the file');
  t.notOk(first.broker.vhosts.has('/'));
  t.ok(first.broker.vhosts.get('shop')!.queues.has('shop.orders'));
  t.equal((await api(first.httpUrl!, 'admin:secret')('GET', '/api/whoami')).status, 200);
  // a change made since, then a restart: the file is imported again over the stored definitions
  first.broker.vhosts.get('shop')!.deleteQueue(first.broker.vhosts.get('shop')!.queues.get('shop.orders')!);
  first.broker.users.add('later', 'x');
  await first.broker.definitionsSaved();
  await first.close();
  const second = await withBroker(t, { dataDir, loadDefinitions: file });
  t.ok(second.broker.vhosts.get('shop')!.queues.has('shop.orders'), 'the file\'s queue is back');
  t.ok(second.broker.users.get('later'), 'the stored definitions were loaded first');
  await second.close();
  // a file that cannot be read or parsed stops the start
  await t.rejects(withBroker(t, { dataDir, loadDefinitions: join(dir, 'missing.json') }), /cannot read load_definitions/);
  writeFileSync(file, '{"vhosts": [');
  await t.rejects(withBroker(t, { dataDir, loadDefinitions: file }), /cannot parse load_definitions/);
  writeFileSync(file, JSON.stringify({ queues: [{ name: 'q', vhost: 'nowhere' }] }));
  await t.rejects(withBroker(t, { dataDir, loadDefinitions: file }), /no_such_vhost/);
});

t.test('load_definitions: the flag, the YAML key, empty for none', async (t) => {
  const dir = tempDir(t);
  t.equal(loadConfig([]).config.loadDefinitions, '');
  t.equal(loadConfig(['--load-definitions', '/etc/defs.json']).config.loadDefinitions, '/etc/defs.json');
  const yaml = join(dir, 'warren.yaml');
  writeFileSync(yaml, 'load_definitions: /srv/defs.json\n');
  t.equal(loadConfig(['--config', yaml]).config.loadDefinitions, '/srv/defs.json');
  t.equal(loadConfig(['--config', yaml, '--load-definitions=']).config.loadDefinitions, '', 'a flag can turn it off');
});
