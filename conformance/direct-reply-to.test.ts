// Direct reply-to as amqplib sees it: a no-ack consumer on
// amq.rabbitmq.reply-to, a request published with that reply-to reaches the
// server with a private reply address, and the reply published to it comes
// straight back to the consumer; the errors RabbitMQ gives (no reply
// consumer, an acking one, a second one) and a mandatory reply to a dead
// address being returned. Checked against RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/direct-reply-to.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, ConsumeMessage } from 'amqplib';
import { brokerUnderTest } from './helpers/broker-under-test.js';
import { bounded, until, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));
const REPLY_TO = 'amq.rabbitmq.reply-to';

/** A channel whose server-side close is captured. */
async function channel(): Promise<{ ch: Channel; closed: Promise<string> }> {
  const ch = await conn.createChannel();
  const closed = new Promise<string>((resolve) => ch.on('error', (e: Error) => resolve(e.message)));
  return { ch, closed };
}

t.test('request and reply through amq.rabbitmq.reply-to', async (t) => {
  const client = await conn.createChannel();
  const server = await conn.createChannel();
  const q = (await server.assertQueue('', { exclusive: true })).queue;
  let seenReplyTo = '';
  await server.consume(q, (m) => {
    if (!m) return;
    seenReplyTo = m.properties.replyTo;
    server.sendToQueue(m.properties.replyTo, Buffer.from(`pong for ${m.content.toString()}`));
  }, { noAck: true });
  const replies: ConsumeMessage[] = [];
  const { consumerTag } = await client.consume(REPLY_TO, (m) => { if (m) replies.push(m); }, { noAck: true });
  client.sendToQueue(q, Buffer.from('ping'), { replyTo: REPLY_TO });
  await until(() => replies.length === 1, 'the reply');
  t.match(seenReplyTo, /^amq\.rabbitmq\.reply-to\.\S+$/, 'the server sees a private reply address');
  const r = replies[0]!;
  t.same([r.content.toString(), r.fields.consumerTag, r.fields.exchange, r.fields.routingKey, r.fields.redelivered], ['pong for ping', consumerTag, '', seenReplyTo, false]);
  const declared = await client.checkQueue(REPLY_TO);
  t.same([declared.queue, declared.messageCount, declared.consumerCount], [REPLY_TO, 0, 1], 'a passive declare of the pseudo-queue');
  await Promise.all([client.close(), server.close()]);
});

t.test('the errors: no reply consumer, an acking one, a second one', async (t) => {
  const cases: [string, (ch: Channel) => Promise<unknown>, string][] = [
    ['publish without a reply consumer', async (ch) => ch.sendToQueue('amq.rabbitmq.reply-to-test-nowhere', Buffer.from('x'), { replyTo: REPLY_TO }), 'fast reply consumer does not exist'],
    ['an acking reply consumer', (ch) => ch.consume(REPLY_TO, () => undefined, { noAck: false }), 'reply consumer cannot acknowledge'],
    ['a second reply consumer', async (ch) => {
      await ch.consume(REPLY_TO, () => undefined, { noAck: true });
      return ch.consume(REPLY_TO, () => undefined, { noAck: true });
    }, 'reply consumer already set'],
  ];
  for (const [what, run, text] of cases) {
    const { ch, closed } = await channel();
    void run(ch).catch(() => undefined);
    t.equal(await within(closed, 'channel close'), `Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - ${text}"`, what);
  }
});

t.test('a mandatory reply to an address nobody consumes is returned', async (t) => {
  const ch = await conn.createConfirmChannel();
  const returned: string[] = [];
  ch.on('return', (m: { fields: { replyCode: number; routingKey: string } }) => returned.push(`${m.fields.replyCode} ${m.fields.routingKey}`));
  ch.publish('', 'amq.rabbitmq.reply-to.bogus', Buffer.from('b'), { mandatory: true });
  await ch.waitForConfirms();
  await until(() => returned.length > 0, 'basic.return');
  t.same(returned, ['312 amq.rabbitmq.reply-to.bogus']);
  await ch.close();
});
