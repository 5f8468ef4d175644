// Alternate exchanges as amqplib sees them: a message an exchange routes
// nowhere goes to its `alternate-exchange`, along chains of them, never
// round a loop; `mandatory` returns only what no alternate routed; an
// exchange-to-exchange binding counts as a route; a missing alternate
// drops the message; a non-string argument is 406. Checked against a
// scratch RabbitMQ 3.10 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/alternate-exchange.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { bodiesOnceCounted } from './helpers/queue-reads.js';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, sleep, until } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);

async function open(): Promise<{ conn: ChannelModel; ch: Channel; returned: string[] }> {
  const conn = bounded(await amqplib.connect(broker.url), 'conn');
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = bounded(await conn.createChannel(), 'ch');
  const returned: string[] = [];
  ch.on('return', (m) => returned.push(m.content.toString()));
  return { conn, ch, returned };
}

t.test('unroutable messages go to the alternate exchange; routable ones do not', async (t) => {
  const { ch, returned } = await open();
  const main = uniqueName('ae.main');
  const alt = uniqueName('ae.alt');
  const [q, altQ] = [uniqueName('ae.q'), uniqueName('ae.altq')];
  await ch.assertExchange(alt, 'fanout', { durable: false, autoDelete: false });
  await ch.assertExchange(main, 'direct', { durable: false, autoDelete: false, alternateExchange: alt });
  await ch.assertQueue(q, { exclusive: true });
  await ch.assertQueue(altQ, { exclusive: true });
  await ch.bindQueue(q, main, 'known');
  await ch.bindQueue(altQ, alt, '');
  ch.publish(main, 'known', Buffer.from('routed'));
  ch.publish(main, 'unknown', Buffer.from('to the alternate'), { mandatory: true });
  t.same(await bodiesOnceCounted(ch, q, 1), ['routed']);
  t.same(await bodiesOnceCounted(ch, altQ, 1), ['to the alternate']);
  await sleep(100);
  t.same(returned, [], 'a message an alternate exchange routed is not returned');
});

t.test('a chain of alternates; a loop of them drops the message (returned if mandatory)', async (t) => {
  const { ch, returned } = await open();
  const [a, b, c] = [uniqueName('ae.a'), uniqueName('ae.b'), uniqueName('ae.c')];
  const q = uniqueName('ae.chainq');
  await ch.assertExchange(c, 'fanout', { autoDelete: false, durable: false });
  await ch.assertExchange(b, 'direct', { autoDelete: false, durable: false, alternateExchange: c });
  await ch.assertExchange(a, 'topic', { autoDelete: false, durable: false, alternateExchange: b });
  await ch.assertQueue(q, { exclusive: true });
  await ch.bindQueue(q, c, '');
  ch.publish(a, 'x', Buffer.from('through two alternates'));
  t.same(await bodiesOnceCounted(ch, q, 1), ['through two alternates']);

  const [l1, l2] = [uniqueName('ae.loop1'), uniqueName('ae.loop2')];
  await ch.assertExchange(l1, 'direct', { autoDelete: false, durable: false, alternateExchange: l2 });
  await ch.assertExchange(l2, 'direct', { autoDelete: false, durable: false, alternateExchange: l1 });
  ch.publish(l1, 'x', Buffer.from('round the loop'), { mandatory: true });
  await until(() => returned.length > 0, 'basic.return');
  t.same(returned, ['round the loop']);
  for (const x of [a, b, c, l1, l2]) await ch.deleteExchange(x);
});

t.test('a missing alternate exchange: the message is dropped, or returned if mandatory', async (t) => {
  const { ch, returned } = await open();
  const x = uniqueName('ae.orphan');
  await ch.assertExchange(x, 'direct', { autoDelete: false, durable: false, alternateExchange: uniqueName('ae.missing') });
  ch.publish(x, 'k', Buffer.from('nowhere'), { mandatory: true });
  await until(() => returned.length > 0, 'basic.return');
  t.same(returned, ['nowhere']);
  await ch.deleteExchange(x);
});

t.test('an exchange-to-exchange binding is a route: the source does not use its alternate', async (t) => {
  const { ch, returned } = await open();
  const [src, dst, alt] = [uniqueName('ae.src'), uniqueName('ae.dst'), uniqueName('ae.alt2')];
  const altQ = uniqueName('ae.alt2q');
  await ch.assertExchange(alt, 'fanout', { autoDelete: false, durable: false });
  await ch.assertExchange(dst, 'direct', { autoDelete: false, durable: false });
  await ch.assertExchange(src, 'fanout', { autoDelete: false, durable: false, alternateExchange: alt });
  await ch.bindExchange(dst, src, '');
  await ch.assertQueue(altQ, { exclusive: true });
  await ch.bindQueue(altQ, alt, '');
  ch.publish(src, 'k', Buffer.from('reaches dst, which routes it nowhere'), { mandatory: true });
  await until(() => returned.length > 0, 'basic.return');
  t.same(await bodiesOnceCounted(ch, altQ, 0), [], 'the alternate of src got nothing');
  for (const x of [src, dst, alt]) await ch.deleteExchange(x);
});

t.test('a non-string alternate-exchange argument is 406 (amqplib sends 42 as a byte)', async (t) => {
  const { conn } = await open();
  const ch = await conn.createChannel();
  const closed = new Promise<Error>((resolve) => ch.on('error', resolve));
  const x = uniqueName('ae.bad');
  await t.rejects(ch.assertExchange(x, 'direct', { arguments: { 'alternate-exchange': 42 } }));
  const err = await closed;
  t.match(err.message, `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid type 'byte' for arg 'alternate-exchange' in exchange '${x}' in vhost '/'"`);
});
