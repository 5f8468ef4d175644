// Queue length limits as amqplib sees them: x-max-length and
// x-max-length-bytes count ready messages (not unacked ones) and their body
// bytes; drop-head drops the oldest (dead-lettered as maxlen), a message
// bigger than the byte limit evicts everything, itself included, and a
// limit of 0 still lets a waiting consumer have the message; reject-publish
// nacks the publish that does not fit, reject-publish-dlx also
// dead-letters it. Checked against RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/length-limits.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, ConfirmChannel } from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, sleep, until, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

/** Everything in a queue, with basic.get no-ack, once its count has settled (publishes are asynchronous). */
async function drain(ch: Channel, queue: string, expected: number): Promise<string[]> {
  const deadline = Date.now() + 2000;
  while ((await ch.checkQueue(queue)).messageCount < expected && Date.now() < deadline) await sleep(10);
  await sleep(50);
  const out: string[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) {
    const reason = (m.properties.headers?.['x-death'] as { reason: string }[] | undefined)?.[0]?.reason;
    out.push(reason ? `${m.content.toString()}:${reason}` : m.content.toString());
  }
  return out;
}

async function withDeadLetters(ch: Channel): Promise<{ dlx: string; dead: string }> {
  const dlx = uniqueName('ll.dlx');
  const dead = uniqueName('ll.dead');
  await ch.assertExchange(dlx, 'fanout', { autoDelete: true, durable: false });
  await ch.assertQueue(dead, { exclusive: true });
  await ch.bindQueue(dead, dlx, '');
  return { dlx, dead };
}

/** Publish and resolve true for basic.ack, false for basic.nack. */
function confirmed(ch: ConfirmChannel, queue: string, body: string): Promise<boolean> {
  return within(new Promise((resolve) => ch.sendToQueue(queue, Buffer.from(body), {}, (err) => resolve(!err))), `confirm of ${body}`);
}

t.test('drop-head by count: the oldest leave, dead-lettered as maxlen', async (t) => {
  const ch = await conn.createChannel();
  const { dlx, dead } = await withDeadLetters(ch);
  const q = uniqueName('ll.count');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 2, 'x-dead-letter-exchange': dlx } });
  for (const b of ['m1', 'm2', 'm3', 'm4', 'm5']) ch.sendToQueue(q, Buffer.from(b));
  t.same(await drain(ch, dead, 3), ['m1:maxlen', 'm2:maxlen', 'm3:maxlen']);
  t.same(await drain(ch, q, 2), ['m4', 'm5']);
  await ch.close();
});

t.test('drop-head by bytes; a message over the byte limit evicts everything, itself included', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('ll.bytes');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length-bytes': 10 } });
  for (const b of ['aaaa', 'bbbb', 'cccc']) ch.sendToQueue(q, Buffer.from(b));
  t.same(await drain(ch, q, 2), ['bbbb', 'cccc'], '12 bytes > 10: the oldest goes');
  ch.sendToQueue(q, Buffer.from('dddd'));
  ch.sendToQueue(q, Buffer.from('x'.repeat(20)));
  await sleep(150);
  t.equal((await ch.checkQueue(q)).messageCount, 0, 'all gone');
  await ch.close();
});

t.test('unacked messages do not count; a limit of 0 still delivers to a waiting consumer', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('ll.unacked');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 1 } });
  ch.sendToQueue(q, Buffer.from('first'));
  const held = await drainOneUnacked(ch, q);
  ch.sendToQueue(q, Buffer.from('second'));
  t.same(await drain(ch, q, 1), ['second'], 'the unacked one did not count');
  ch.ack(held);

  const zero = uniqueName('ll.zero');
  await ch.assertQueue(zero, { exclusive: true, arguments: { 'x-max-length': 0 } });
  const got: string[] = [];
  await ch.consume(zero, (m) => { if (m) got.push(m.content.toString()); }, { noAck: true });
  ch.sendToQueue(zero, Buffer.from('straight to the consumer'));
  await until(() => got.length > 0, 'the delivery');
  t.same(got, ['straight to the consumer']);
  await ch.close();
});

async function drainOneUnacked(ch: Channel, q: string): Promise<amqplib.GetMessage> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const m = await ch.get(q, { noAck: false });
    if (m) return m;
    if (Date.now() > deadline) throw new Error('no message');
    await sleep(10);
  }
}

t.test('reject-publish: the publish that does not fit is nacked; reject-publish-dlx also dead-letters it', async (t) => {
  const ch = await conn.createConfirmChannel();
  const { dlx, dead } = await withDeadLetters(ch);
  const q = uniqueName('ll.reject');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': dlx } });
  t.same([await confirmed(ch, q, 'fits'), await confirmed(ch, q, 'does not')], [true, false]);
  t.same(await drain(ch, q, 1), ['fits']);
  t.same(await drain(ch, dead, 0), [], 'reject-publish does not dead-letter');

  const qd = uniqueName('ll.rejectdlx');
  await ch.assertQueue(qd, { exclusive: true, arguments: { 'x-max-length-bytes': 4, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': dlx } });
  t.same([await confirmed(ch, qd, 'four'), await confirmed(ch, qd, 'five!')], [true, false]);
  t.same(await drain(ch, qd, 1), ['four']);
  t.same(await drain(ch, dead, 1), ['five!:maxlen'], 'the refused message is dead-lettered');
  await ch.close();
});
