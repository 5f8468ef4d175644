// Permissions enforced as RabbitMQ enforces them, seen from amqplib: a user
// whose configure / write / read patterns are ^lim\.conf / ^lim\.write /
// ^lim\.read tries every operation on resources it may and may not touch.
// Each refusal closes only that channel with 403 and RabbitMQ's text (the
// resource named is the one whose check failed first, in RabbitMQ's order:
// configure, then read on the declared exchange or queue and write on its
// alternate or dead-letter exchange; write on a binding's destination, then
// read on its source; permission before existence); passive declares need
// no permission. Recorded against RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   rabbitmqctl add_user limited limited
//   rabbitmqctl set_permissions -p / limited '^lim\.conf' '^lim\.write' '^lim\.read'
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 CONFORMANCE_LIMITED_URL=amqp://limited:limited@127.0.0.1:26900 \
//     npx tap conformance/permissions.test.ts
//
// Against bin/warren the user comes from the YAML configuration.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { Channel, ChannelModel } from 'amqplib';
import { bounded, sleep, within } from './helpers/bounded.js';
import { uniqueName } from './helpers/broker-under-test.js';
import { startWarren, tempDataDir } from './helpers/warren-process.js';

const external = process.env.CONFORMANCE_AMQP_URL;
if (external && !process.env.CONFORMANCE_LIMITED_URL) {
  t.plan(0, 'needs CONFORMANCE_LIMITED_URL: a user with the permissions in the header');
  process.exit(0);
}

async function urls(): Promise<{ admin: string; limited: string; other: string }> {
  if (external) return { admin: external, limited: process.env.CONFORMANCE_LIMITED_URL!, other: '' };
  const dir = tempDataDir(t);
  const config = join(dir, 'warren.yaml');
  writeFileSync(config, [
    'users:',
    '  - name: limited',
    '    password: limited',
    '    permissions:',
    '      - { vhost: "/", configure: \'^lim\\.conf\', write: \'^lim\\.write\', read: \'^lim\\.read\' }',
    '  - name: stranger',
    '    password: stranger',
    '',
  ].join('\n'));
  const w = await startWarren(t, { args: ['--config', config] });
  return { admin: w.url, limited: w.url.replace('guest:guest', 'limited:limited'), other: w.url.replace('guest:guest', 'stranger:stranger') };
}

const u = await urls();
// names unique per run (RabbitMQ keeps state); the prefixes are what the permissions match
const n = (prefix: string): string => uniqueName(prefix);
const Q = { conf: n('lim.conf.q'), write: n('lim.write.q'), read: n('lim.read.q'), other: n('other.q') };
const X = { conf: n('lim.conf.x'), write: n('lim.write.x'), read: n('lim.read.x'), other: n('other.x') };

const admin = bounded(await amqplib.connect(u.admin), 'admin');
t.teardown(() => admin.close().catch(() => undefined));
const adminCh = await admin.createChannel();
for (const q of Object.values(Q)) await adminCh.assertQueue(q, { durable: false, autoDelete: false });
for (const x of Object.values(X)) await adminCh.assertExchange(x, 'direct', { durable: false, autoDelete: false });
t.teardown(async () => {
  const ch = await admin.createChannel();
  for (const q of Object.values(Q)) await ch.deleteQueue(q).catch(() => undefined);
  for (const x of Object.values(X)) await ch.deleteExchange(x).catch(() => undefined);
});

const limited: ChannelModel = bounded(await amqplib.connect(u.limited), 'limited');
limited.on('error', () => undefined);
t.teardown(() => limited.close().catch(() => undefined));

/** Run one operation on a fresh channel: 'ok', or the text of the channel error. */
async function attempt(fn: (ch: Channel) => Promise<unknown> | unknown): Promise<string> {
  const ch = await limited.createChannel();
  let closedWith: string | null = null;
  ch.on('error', (e: Error) => {
    closedWith = e.message;
  });
  try {
    await within(Promise.resolve(fn(ch)), 'operation');
    await sleep(100); // a refused publish closes the channel asynchronously
  } catch (e) {
    closedWith ??= (e as Error).message;
  }
  if (closedWith === null) {
    await ch.close();
    return 'ok';
  }
  return closedWith;
}

const refused = (kind: 'exchange' | 'queue', name: string): string =>
  `Channel closed by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - access to ${kind} '${name}' in vhost '/' refused for user 'limited'"`;

t.test('exchanges: declare and delete need configure; an alternate exchange read on the new one and write on the alternate', async (t) => {
  const fresh = n('other.x');
  t.equal(await attempt((ch) => ch.assertExchange(fresh, 'direct', { durable: false })), refused('exchange', fresh));
  const mine = n('lim.conf.x');
  t.equal(await attempt((ch) => ch.assertExchange(mine, 'direct', { durable: false, autoDelete: true })), 'ok');
  const withAe = n('lim.conf.x');
  t.equal(await attempt((ch) => ch.assertExchange(withAe, 'direct', { durable: false, alternateExchange: X.write })), refused('exchange', withAe), 'read on the declared exchange');
  t.equal(await attempt((ch) => ch.checkExchange(X.other)), 'ok', 'a passive declare needs nothing');
  t.equal(await attempt((ch) => ch.deleteExchange(X.other)), refused('exchange', X.other));
  const missing = n('other.nope');
  t.equal(await attempt((ch) => ch.deleteExchange(missing)), refused('exchange', missing), 'permission before existence');
  t.equal(await attempt((ch) => ch.assertExchange('amq.foo', 'direct')), refused('exchange', 'amq.foo'), 'configure before the reserved prefix');
});

t.test('queues: declare and delete need configure, purge read; a dead-letter exchange read on the queue', async (t) => {
  const fresh = n('other.q');
  t.equal(await attempt((ch) => ch.assertQueue(fresh, { durable: false })), refused('queue', fresh));
  t.match(await attempt((ch) => ch.assertQueue('', { exclusive: true })), /ACCESS_REFUSED - access to queue 'amq\.gen-[\w-]{22}' in vhost '\/' refused for user 'limited'/, 'a server-named queue');
  const withDlx = n('lim.conf.q');
  t.equal(await attempt((ch) => ch.assertQueue(withDlx, { durable: false, deadLetterExchange: X.write })), refused('queue', withDlx));
  t.equal(await attempt((ch) => ch.checkQueue(Q.other)), 'ok', 'a passive declare needs nothing');
  t.equal(await attempt((ch) => ch.deleteQueue(Q.other)), refused('queue', Q.other));
  t.equal(await attempt((ch) => ch.purgeQueue(Q.other)), refused('queue', Q.other));
  t.equal(await attempt((ch) => ch.purgeQueue(Q.read)), 'ok');
  t.equal(await attempt((ch) => ch.assertQueue('amq.foo', { durable: false })), "Channel closed by server: 403 (ACCESS-REFUSED) with message \"ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'\"", 'the reserved prefix before configure');
});

t.test('consume and get need read; a missing queue is refused before it is looked up', async (t) => {
  t.equal(await attempt((ch) => ch.get(Q.other)), refused('queue', Q.other));
  t.equal(await attempt((ch) => ch.consume(Q.other, () => undefined)), refused('queue', Q.other));
  t.equal(await attempt((ch) => ch.get(Q.read)), 'ok');
  const missing = n('other.nope');
  t.equal(await attempt((ch) => ch.get(missing)), refused('queue', missing));
});

t.test('bindings: write on the destination first, then read on the source', async (t) => {
  t.equal(await attempt((ch) => ch.bindQueue(Q.other, X.read, 'k')), refused('queue', Q.other));
  t.equal(await attempt((ch) => ch.bindQueue(Q.write, X.other, 'k')), refused('exchange', X.other));
  t.equal(await attempt((ch) => ch.bindQueue(Q.write, X.read, 'k')), 'ok');
  t.equal(await attempt((ch) => ch.unbindQueue(Q.write, X.other, 'k')), refused('exchange', X.other));
  t.equal(await attempt((ch) => ch.bindExchange(X.other, X.read, 'k')), refused('exchange', X.other));
  t.equal(await attempt((ch) => ch.bindExchange(X.write, X.other, 'k')), refused('exchange', X.other));
});

t.test('publish needs write on the exchange (the default one is amq.default), before it is looked up', async (t) => {
  t.equal(await attempt((ch) => ch.publish(X.other, 'k', Buffer.from('x'))), refused('exchange', X.other));
  t.equal(await attempt((ch) => ch.publish('', Q.other, Buffer.from('x'))), refused('exchange', 'amq.default'));
  t.equal(await attempt((ch) => ch.publish(X.write, 'k', Buffer.from('x'))), 'ok');
  const missing = n('missing.x');
  t.equal(await attempt((ch) => ch.publish(missing, 'k', Buffer.from('x'))), refused('exchange', missing));
  // the refusals closed channels only: the connection still works
  t.equal(await attempt((ch) => ch.checkQueue(Q.read)), 'ok', 'the connection is still open');
});

t.test('a user without permissions on the vhost cannot open it (530)', { skip: u.other === '' && 'no such user on the external broker' }, async (t) => {
  // amqplib does not say why connection.open failed: @cloudamqp/amqp-client does
  const err = await new AMQPClient(u.other).connect().then(
    (c) => (c.close(), 'opened'),
    (e: Error) => e.message,
  );
  t.match(err, /NOT_ALLOWED - access to vhost '\/' refused for user 'stranger'/);
});
