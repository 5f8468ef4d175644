// tx.commit of persistent messages on a durable queue answers only once the
// message log has them on disk, and they survive a restart of the broker;
// a channel closed with an open transaction requeues what it acked.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { startBroker } from '../../lib/index.js';
import { withBroker } from '../helpers/broker.js';

t.test('tx.commit-ok comes after the log has the message; it survives a restart', async (t) => {
  const b = await withBroker(t);
  const amqp = new AMQPClient(b.url);
  await amqp.connect();
  const ch = await amqp.channel();
  await ch.queueDeclare('txq', { durable: true, autoDelete: false });
  await ch.txSelect();
  const marker = `committed-${Date.now()}`;
  await ch.basicPublish('', 'txq', marker, { deliveryMode: 2 });
  const dir = join(b.config.dataDir, 'messages');
  const logged = (): string => readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
  t.notOk(logged().includes(marker), 'not written before the commit');
  await ch.txCommit();
  t.ok(logged().includes(marker), 'on disk when commit-ok arrives');
  await amqp.close();
});

t.test('closing a channel with an open transaction requeues what it acked', async (t) => {
  const b = await withBroker(t);
  const amqp = new AMQPClient(b.url);
  await amqp.connect();
  t.teardown(() => amqp.close().catch(() => undefined));
  const ch = await amqp.channel();
  await ch.queueDeclare('q2', { autoDelete: false });
  await ch.basicPublish('', 'q2', 'm');
  await new Promise((r) => setTimeout(r, 50));
  await ch.txSelect();
  const m = (await ch.basicGet('q2', { noAck: false }))!;
  await m.ack();
  await ch.close();
  const ch2 = await amqp.channel();
  const again = await ch2.basicGet('q2', { noAck: true });
  t.same([again?.bodyToString(), again?.redelivered], ['m', true]);
});

t.test('committed persistent messages come back after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-tx-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await startBroker({ dataDir, bind: '127.0.0.1' });
  const amqp = new AMQPClient(first.url);
  await amqp.connect();
  const ch = await amqp.channel();
  await ch.queueDeclare('kept', { durable: true, autoDelete: false });
  await ch.txSelect();
  await ch.basicPublish('', 'kept', 'k1', { deliveryMode: 2 });
  await ch.txCommit();
  await ch.basicPublish('', 'kept', 'never committed', { deliveryMode: 2 });
  await amqp.close();
  await first.close();
  const second = await startBroker({ dataDir, bind: '127.0.0.1' });
  t.teardown(() => second.close());
  const c2 = new AMQPClient(second.url);
  await c2.connect();
  const ch2 = await c2.channel();
  const got: string[] = [];
  for (let m = await ch2.basicGet('kept', { noAck: true }); m; m = await ch2.basicGet('kept', { noAck: true })) got.push(m.bodyToString() ?? '');
  t.same(got, ['k1']);
  await c2.close();
});
