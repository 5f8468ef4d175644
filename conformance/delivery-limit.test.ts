// x-delivery-limit as amqplib sees it: a message returned unacknowledged
// (nack with requeue) comes back with x-delivery-count, and once returned
// more often than the limit it is dead-lettered with reason delivery_limit.
// RabbitMQ 3.10 has delivery limits on quorum queues only, so against
// RabbitMQ (CONFORMANCE_AMQP_URL) the queue is declared as a quorum queue;
// warren has them on every queue:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/delivery-limit.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, GetMessage } from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, sleep } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

async function getOne(ch: Channel, q: string): Promise<GetMessage> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const m = await ch.get(q, { noAck: false });
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`nothing in ${q}`);
    await sleep(10);
  }
}

t.test('returned past the limit: dead-lettered with reason delivery_limit; x-delivery-count on the way', async (t) => {
  const ch = await conn.createChannel();
  const dlx = uniqueName('dl.dlx');
  const dead = uniqueName('dl.dead');
  const q = uniqueName('dl.q');
  await ch.assertExchange(dlx, 'fanout', { durable: false, autoDelete: true });
  await ch.assertQueue(dead, { exclusive: true });
  await ch.bindQueue(dead, dlx, '');
  const quorum = broker.kind === 'external' ? { 'x-queue-type': 'quorum' } : {};
  await ch.assertQueue(q, { durable: true, arguments: { ...quorum, 'x-delivery-limit': 2, 'x-dead-letter-exchange': dlx } });
  ch.sendToQueue(q, Buffer.from('poison'));
  const counts: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await getOne(ch, q);
    counts.push(m.properties.headers?.['x-delivery-count']);
    ch.nack(m, false, true);
  }
  t.same(counts, [0, 1, 2], 'x-delivery-count counts the returns, from 0');
  const d = await getOne(ch, dead);
  ch.ack(d);
  t.equal(d.content.toString(), 'poison');
  t.equal((d.properties.headers?.['x-death'] as { reason: string }[])[0]!.reason, 'delivery_limit');
  t.equal(await ch.get(q), false, 'gone from its queue');
  await ch.deleteQueue(q);
  await ch.close();
});
