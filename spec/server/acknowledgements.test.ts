// Unacknowledged deliveries of a connection that goes away (politely or by
// a dropped socket) return to their queue at their original positions,
// marked redelivered, and reach the remaining consumers.
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, ConsumeMessage } from 'amqplib';
import { withBroker } from '../helpers/broker.js';

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

for (const how of ['closed politely', 'dropped (socket destroyed)'] as const) {
  t.test(`a connection ${how}: its unacked messages go back in order, redelivered`, async (t) => {
    const b = await withBroker(t);
    const setup = await amqplib.connect(b.url);
    t.teardown(() => setup.close().catch(() => undefined));
    const sch = await setup.createChannel();
    await sch.assertQueue('work');
    for (let i = 1; i <= 5; i++) sch.sendToQueue('work', Buffer.from(String(i)));

    const first = await amqplib.connect(b.url);
    const fch = await first.createChannel();
    await fch.prefetch(3);
    const held = await collect(fch, 'work', 3);
    t.same(held.map((m) => m.content.toString()), ['1', '2', '3'], 'the first consumer holds 1-3 unacked');
    if (how === 'closed politely') await first.close();
    else (first.connection as unknown as { stream: { destroy(): void } }).stream.destroy();

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
