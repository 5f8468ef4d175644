// Unacknowledged deliveries of a connection that goes away (politely or by
// a dropped socket) return to their queue at their original positions,
// marked redelivered, and reach the remaining consumers.
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, ConsumeMessage } from 'amqplib';
import { Method } from '../../lib/amqp/generated/methods.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

async function collect(ch: Channel, queue: string, count: number, timeoutMs = 3000): Promise<ConsumeMessage[]> {
  const got: ConsumeMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} messages`)), timeoutMs);
    void ch.consume(queue, (m) => {
      if (!m) return;
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return got;
}

/** A raw client holding `count` unacked deliveries from `queue` (prefetch count). */
async function rawHolder(port: number, queue: string, count: number): Promise<RawClient> {
  const c = await RawClient.withChannel(port);
  c.sendMethod(1, { id: Method.BasicQos, prefetchSize: 0, prefetchCount: count, global: false });
  await c.expectMethod(Method.BasicQosOk);
  c.sendMethod(1, { id: Method.BasicConsume, queue, consumerTag: 'holder', noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: {} });
  await c.expectMethod(Method.BasicConsumeOk);
  const until = Date.now() + 3000;
  while (c.received.filter((f) => f.method?.id === Method.BasicDeliver).length < count && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return c;
}

for (const how of ['closed politely', 'dropped (socket destroyed)'] as const) {
  t.test(`a connection ${how}: its unacked messages go back in order, redelivered`, async (t) => {
    const b = await withBroker(t);
    const setup = await amqplib.connect(b.url);
    t.teardown(() => setup.close().catch(() => undefined));
    const sch = await setup.createChannel();
    await sch.assertQueue('work');
    for (let i = 1; i <= 5; i++) sch.sendToQueue('work', Buffer.from(String(i)));

    const holder = await rawHolder(b.port, 'work', 3);
    const queue = b.broker.vhosts.get('/')!.queues.get('work')!;
    t.equal(queue.unacked, 3, 'the first consumer holds three unacked');
    if (how === 'closed politely') {
      holder.sendMethod(0, { id: Method.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
      const until = Date.now() + 3000;
      while (!holder.received.some((f) => f.method?.id === Method.ConnectionCloseOk) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    holder.destroy();

    const second = await amqplib.connect(b.url);
    t.teardown(() => second.close().catch(() => undefined));
    const ch2 = await second.createChannel();
    const got = await collect(ch2, 'work', 5);
    t.same(
      got.map((m) => [m.content.toString(), m.fields.redelivered]),
      [['1', true], ['2', true], ['3', true], ['4', false], ['5', false]],
      'requeued messages come first, in their original order, marked redelivered',
    );
  });
}

t.test('closing a connection with two consuming channels gives all their messages back', async (t) => {
  const b = await withBroker(t);
  const setup = await amqplib.connect(b.url);
  t.teardown(() => setup.close().catch(() => undefined));
  const sch = await setup.createChannel();
  await sch.assertQueue('shared');
  for (let i = 1; i <= 4; i++) sch.sendToQueue('shared', Buffer.from(String(i)));

  const conn = await amqplib.connect(b.url);
  const a = await conn.createChannel();
  await a.prefetch(2);
  const aGot = await collect(a, 'shared', 2);
  const bch = await conn.createChannel();
  await bch.prefetch(3); // room for one more: what channel a gives back must not land here

  const bGot = await collect(bch, 'shared', 2);
  t.same([...aGot, ...bGot].map((m) => m.content.toString()).sort(), ['1', '2', '3', '4']);
  await conn.close();
  const queue = b.broker.vhosts.get('/')!.queues.get('shared')!;
  t.equal(queue.messageCount, 4, 'all four are ready again');
  t.equal(queue.unacked, 0, 'none is counted as delivered');
});
