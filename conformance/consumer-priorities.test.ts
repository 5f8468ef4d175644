// Consumer priorities and single active consumer as amqplib sees them:
// messages go to the highest-priority consumer while it can take them
// (prefetch), then to lower ones; a single-active-consumer queue delivers
// only to its first consumer, and to the next once that one cancels; a bad
// x-priority is 406; the capability is advertised. Checked against
// RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/consumer-priorities.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import { brokerUnderTest } from './helpers/broker-under-test.js';
import { bounded, sleep, until, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

t.test('the consumer_priorities capability is advertised', async (t) => {
  const props = (conn as unknown as { connection: { serverProperties: { capabilities: Record<string, boolean> } } }).connection.serverProperties;
  t.equal(props.capabilities.consumer_priorities, true);
});

t.test('higher priority first, lower ones while it is full', async (t) => {
  const ch = await conn.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  const hi = await conn.createChannel();
  await hi.prefetch(2);
  const lo = await conn.createChannel();
  const got: string[] = [];
  await lo.consume(q, (m) => { if (m) got.push(`lo:${m.content.toString()}`); }, { noAck: true });
  await hi.consume(q, (m) => { if (m) got.push(`hi:${m.content.toString()}`); }, { arguments: { 'x-priority': 10 } });
  for (let i = 0; i < 6; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await until(() => got.length === 6, 'six deliveries');
  t.same(got, ['hi:m0', 'hi:m1', 'lo:m2', 'lo:m3', 'lo:m4', 'lo:m5']);
  await Promise.all([ch.close(), hi.close(), lo.close()]);
});

t.test('single active consumer: only the first gets messages, the next takes over when it cancels', async (t) => {
  const ch = await conn.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true, arguments: { 'x-single-active-consumer': true } })).queue;
  const a = await conn.createChannel();
  const b = await conn.createChannel();
  const got: string[] = [];
  const ta = await a.consume(q, (m) => { if (m) got.push(`a:${m.content.toString()}`); }, { noAck: true });
  await b.consume(q, (m) => { if (m) got.push(`b:${m.content.toString()}`); }, { noAck: true });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
  await until(() => got.length === 3, 'three deliveries');
  await a.cancel(ta.consumerTag);
  for (let i = 3; i < 5; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
  await until(() => got.length === 5, 'five deliveries');
  t.same(got, ['a:s0', 'a:s1', 'a:s2', 'b:s3', 'b:s4']);
  await Promise.all([ch.close(), a.close(), b.close()]);
});

t.test('x-priority must be an integer', async (t) => {
  for (const [value, type] of [['high', 'longstr'], [1.5, 'double'], [true, 'bool']] as const) {
    const ch = await conn.createChannel();
    const closed = new Promise<Error>((resolve) => ch.on('error', resolve));
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await t.rejects(ch.consume(q, () => undefined, { arguments: { 'x-priority': value } }));
    const err = await within(closed, 'channel close');
    t.equal(err.message, `Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid arg 'x-priority' for queue '${q}' in vhost '/': "expected integer, got ${type}""`);
  }
  await sleep(10);
});
