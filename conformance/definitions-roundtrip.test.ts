// Definitions between RabbitMQ and warren, with bin/warren and amqplib.
//
// conformance/fixtures/rabbitmq-definitions.json is a real export
// (GET /api/definitions) of a scratch RabbitMQ 3.10.8 with the management
// plugin (tools/rabbitmq-scratch.sh), after creating there, over its HTTP
// API and rabbitmqctl: a vhost "warren-fixture", a user "fixture-user"
// (password "fixture-pass", tags management and policymaker, a
// max-connections user limit), permissions, a topic permission, a policy,
// vhost limits, durable exchanges of each type (one internal, one
// auto-delete, fx.with-ae with alternate-exchange fx.alt), durable queues
// with x-message-ttl / x-dead-letter-exchange / x-dead-letter-routing-key,
// x-max-length / x-max-length-bytes / x-overflow, x-expires / x-queue-mode,
// x-max-priority / x-single-active-consumer, a quorum queue and a transient
// queue, and bindings (to queues and exchange-to-exchange, with arguments,
// from amq.topic). The scratch node was shared with other sessions, so the
// export was filtered to the users guest and fixture-user, the vhosts / and
// warren-fixture, and the entries of warren-fixture; nothing else changed.
//
// Checked here: warren imports it over POST /api/definitions, skipping and
// reporting what it does not support (the topic permission, the policy,
// the vhost-limits parameter, the user limit, the quorum queue and the
// binding to it); fixture-user logs in with its password and its
// permissions apply; the entities exist with their arguments and route as
// declared; warren's export imports into another warren identically, and
// survives a kill -9 right after the import's answer; and bin/warren
// --load-definitions imports the same file at start.
//
// Checked by hand (not automated: it needs the scratch RabbitMQ): warren's
// export of this fixture, plus a vhost with description, tags and
// default_queue_type created over warren's API, POSTed to the scratch
// RabbitMQ 3.10.8's /api/definitions after deleting warren-fixture and
// fixture-user there: 204; RabbitMQ's re-export of warren-fixture then
// equals the fixture except the entries warren had skipped and the
// transient queue (warren exports durable entities only); fixture-user
// logged in to RabbitMQ with fixture-pass; RabbitMQ took the vhost's
// description and tags (it ignored default_queue_type, as 3.10 does).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { REPO_ROOT, startWarren } from './helpers/warren-process.js';

type Entry = Record<string, unknown>;
const fixture = JSON.parse(readFileSync(join(REPO_ROOT, 'conformance/fixtures/rabbitmq-definitions.json'), 'utf8')) as Record<string, Entry[]>;
const VHOST = 'warren-fixture';

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

/** An entry as sorted-key JSON, so lists compare as sets whatever their order. */
const canonical = (e: unknown): string => JSON.stringify(e, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
const asSet = (list: unknown[]): string[] => list.map(canonical).sort();
const withoutVhost = (list: Entry[]): Entry[] => list.filter((e) => e.vhost === VHOST).map(({ vhost: _v, ...rest }) => rest);
/** The whole export with every list sorted: the same definitions whatever the order. */
const normalized = (defs: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, Array.isArray(v) ? asSet(v) : v]));

t.test('a RabbitMQ 3.10.8 export imports into bin/warren, and warren\'s export round-trips', async (t) => {
  const w = await startWarren(t);
  const imported = await call(w.httpUrl!, 'POST', '/api/definitions', fixture);
  t.equal(imported.status, 200, 'imported with entries skipped');
  t.same(imported.json.skipped.map((s: Entry) => `${s.kind} ${s.name}`).sort(), [
    'binding fx.topic -> queue fx.q.quorum ("q.#")', 'parameter vhost-limits/limits', 'policy fx-policy',
    'queue fx.q.quorum', 'topic_permission fixture-user', 'user_limits fixture-user',
  ]);

  // the entities, with their arguments, as RabbitMQ exported them (warren lists durable ones only)
  const mine = (await call(w.httpUrl!, 'GET', `/api/definitions/${VHOST}`)).json;
  const supported = (e: Entry): boolean => (e.arguments as Entry)['x-queue-type'] !== 'quorum' && e.durable !== false && e.destination !== 'fx.q.quorum';
  t.same(asSet(mine.exchanges), asSet(withoutVhost(fixture.exchanges!)));
  t.same(asSet(mine.queues), asSet(withoutVhost(fixture.queues!).filter(supported)));
  t.same(asSet(mine.bindings), asSet(withoutVhost(fixture.bindings!).filter(supported)));
  const all = (await call(w.httpUrl!, 'GET', '/api/definitions')).json;
  t.match(all.users.find((u: Entry) => u.name === 'fixture-user'), { password_hash: fixture.users!.find((u) => u.name === 'fixture-user')!.password_hash, tags: ['management', 'policymaker'] });
  t.same(asSet(all.permissions.filter((p: Entry) => p.vhost === VHOST)), asSet(fixture.permissions!.filter((p) => p.vhost === VHOST)));

  // fixture-user logs in with its RabbitMQ password; its permissions apply
  const user = await amqplib.connect(`amqp://fixture-user:fixture-pass@127.0.0.1:${w.port}/${VHOST}`);
  t.teardown(() => user.close().catch(() => undefined));
  user.on('error', () => undefined);
  const uch = await user.createChannel();
  await uch.checkQueue('fx.q.ttl');
  await uch.assertQueue('fx.mine', { durable: false });
  uch.on('error', () => undefined);
  await t.rejects(uch.assertQueue('other'), { code: 403 }, 'configure is ^fx\\. only');

  // what the arguments do: a redeclare must match them; messages route as bound
  const admin = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${w.port}/${VHOST}`);
  t.teardown(() => admin.close().catch(() => undefined));
  admin.on('error', () => undefined);
  const ch = await admin.createConfirmChannel();
  await ch.assertQueue('fx.q.ttl', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-dead-letter-exchange': 'fx.dlx', 'x-dead-letter-routing-key': 'dead' } });
  const probe = await admin.createChannel();
  probe.on('error', () => undefined);
  await t.rejects(probe.assertQueue('fx.q.max', { durable: true, arguments: { 'x-max-length': 5 } }), { code: 406 });
  await ch.checkQueue('fx.q.transient');
  ch.publish('fx.with-ae', 'unroutable', Buffer.from('to the alternate exchange'));
  ch.publish('fx.fanout', 'a.b.c', Buffer.from('through fx.topic'));
  ch.publish('fx.headers', '', Buffer.from('headers'), { headers: { h1: 'v1', h2: 42 } });
  ch.publish('amq.topic', 'from.amq.x', Buffer.from('amq.topic binding'));
  await ch.waitForConfirms();
  t.equal((await ch.checkQueue('fx.q.dead')).messageCount, 1, 'alternate-exchange fx.alt');
  t.equal((await ch.checkQueue('fx.q.ttl')).messageCount, 1, 'exchange-to-exchange binding');
  t.equal((await ch.checkQueue('fx.q.max')).messageCount, 1, 'headers binding with its arguments');
  t.equal((await ch.checkQueue('fx.q.plain')).messageCount, 1, 'binding from amq.topic');

  // warren's export into another warren: identical, and on disk once answered
  const exported = (await call(w.httpUrl!, 'GET', '/api/definitions')).json;
  const w2 = await startWarren(t);
  t.equal((await call(w2.httpUrl!, 'POST', '/api/definitions', exported)).status, 204, 'nothing skipped');
  t.same(normalized((await call(w2.httpUrl!, 'GET', '/api/definitions')).json), normalized(exported));
  t.equal(await w2.stop('SIGKILL'), 'SIGKILL');
  const w3 = await startWarren(t, { dataDir: w2.dataDir });
  t.same(normalized((await call(w3.httpUrl!, 'GET', '/api/definitions')).json), normalized(exported), 'the same after kill -9 and a restart');
  const again = await amqplib.connect(`amqp://fixture-user:fixture-pass@127.0.0.1:${w3.port}/${VHOST}`);
  await again.close();
});

t.test('bin/warren --load-definitions imports the RabbitMQ export at start', async (t) => {
  const file = join(REPO_ROOT, 'conformance/fixtures/rabbitmq-definitions.json');
  const w = await startWarren(t, { args: ['--load-definitions', file] });
  t.match(w.logs.find((l) => l.msg === 'imported load_definitions'), { file, skipped: 6 });
  const conn = await amqplib.connect(`amqp://fixture-user:fixture-pass@127.0.0.1:${w.port}/${VHOST}`);
  const ch = await conn.createChannel();
  await ch.checkQueue('fx.q.lazy');
  await conn.close();
  const defs = (await call(w.httpUrl!, 'GET', '/api/definitions')).json;
  t.same(defs.vhosts.map((v: Entry) => v.name).sort(), ['/', VHOST], 'the vhosts of the file (no other default)');
});
