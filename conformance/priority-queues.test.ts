// Priority queues (x-max-priority) as amqplib sees them: higher priorities
// first, FIFO within a priority, a priority above the maximum counts as the
// maximum, no priority as 0; a requeued message goes back to its place in
// its priority. Checked against RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/priority-queues.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import { bodiesOnceCounted } from './helpers/queue-reads.js';
import { brokerUnderTest } from './helpers/broker-under-test.js';
import { bounded, sleep } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

t.test('higher priorities first, FIFO within one, above the maximum counts as the maximum', async (t) => {
  const ch = await conn.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-priority': 10 } })).queue;
  const sent: [string, number | undefined][] = [['p1', 1], ['p5a', 5], ['p10', 10], ['none', undefined], ['p5b', 5], ['p20', 20], ['p0', 0]];
  for (const [body, priority] of sent) ch.sendToQueue(q, Buffer.from(body), priority === undefined ? {} : { priority });
  t.same(await bodiesOnceCounted(ch, q, sent.length), ['p10', 'p20', 'p5a', 'p5b', 'p1', 'none', 'p0']);
  await ch.close();
});

t.test('a requeued message goes back to its place within its priority', async (t) => {
  const ch = await conn.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-priority': 5 } })).queue;
  for (const [body, priority] of [['a', 3], ['b', 3], ['low', 1]] as const) ch.sendToQueue(q, Buffer.from(body), { priority });
  await sleep(100);
  const first = await ch.get(q, { noAck: false });
  if (!first) throw new Error('no message');
  t.equal(first.content.toString(), 'a');
  ch.sendToQueue(q, Buffer.from('high'), { priority: 5 });
  await sleep(100);
  ch.nack(first, false, true);
  t.same(await bodiesOnceCounted(ch, q, 4), ['high', 'a', 'b', 'low']);
  await ch.close();
});
