// Dead-lettering and TTLs as amqplib sees them: a message rejected or nacked
// without requeue, or expired by the queue's x-message-ttl or its own
// expiration, goes to the queue's dead-letter exchange with RabbitMQ's
// x-death and x-first-death-* headers (expiration moved into x-death);
// dying again in the same queue counts up; a TTL queue dead-lettering to
// itself does not loop; expired messages are never delivered; a bad
// expiration property is 406. Checked against RabbitMQ 3.10.8 first (it
// does not write x-last-death-*, RabbitMQ 3.13 does: warren does too, so
// those are checked only on warren):
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/dead-letter-ttl.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel, GetMessage } from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, sleep, until, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

/** A topic dead-letter exchange with one queue catching everything; both go with the connection. */
async function deadLetterSetup(ch: Channel): Promise<{ dlx: string; dead: string }> {
  const dlx = uniqueName('dlx');
  const dead = uniqueName('dead');
  await ch.assertExchange(dlx, 'topic', { autoDelete: true, durable: false });
  await ch.assertQueue(dead, { exclusive: true });
  await ch.bindQueue(dead, dlx, '#');
  return { dlx, dead };
}

/** The next message in a queue, waiting for it (bounded). */
async function getOne(ch: Channel, queue: string, noAck = true, ms = 3000): Promise<GetMessage> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = await within(ch.get(queue, { noAck }), `basic.get ${queue}`);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no message in ${queue} within ${ms} ms`);
    await sleep(10);
  }
}

interface Death {
  count: number;
  reason: string;
  queue: string;
  time: unknown;
  exchange: string;
  'routing-keys': string[];
  'original-expiration'?: string;
}

t.test('rejected: x-death, x-first-death-*, expiration moved into x-death, other properties kept', async (t) => {
  const ch = await conn.createChannel();
  const { dlx, dead } = await deadLetterSetup(ch);
  const src = uniqueName('src');
  await ch.assertQueue(src, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx } });
  ch.sendToQueue(src, Buffer.from('r1'), { expiration: '60000', headers: { 'x-first-death-reason': 'client', CC: ['cc1'] }, persistent: true, priority: 3, messageId: 'm1' });
  const m = await getOne(ch, src, false);
  ch.reject(m, false);
  const d = await getOne(ch, dead);
  t.equal(d.content.toString(), 'r1');
  t.same([d.fields.exchange, d.fields.routingKey, d.fields.redelivered], [dlx, src, false], 'routed from the DLX with the original routing key, not redelivered');
  t.equal(d.properties.expiration, undefined, 'expiration removed');
  t.same([d.properties.deliveryMode, d.properties.priority, d.properties.messageId], [2, 3, 'm1']);
  const h = d.properties.headers!;
  const deaths = h['x-death'] as Death[];
  t.equal(deaths.length, 1);
  const { time, ...death } = deaths[0]!;
  t.same(death, { count: 1, reason: 'rejected', queue: src, exchange: '', 'routing-keys': [src, 'cc1'], 'original-expiration': '60000' });
  t.match(time, { '!': 'timestamp' }, 'time is a timestamp');
  t.same(Object.keys(deaths[0]!), ['count', 'reason', 'queue', 'time', 'exchange', 'routing-keys', 'original-expiration'], 'x-death fields in RabbitMQ\'s order');
  t.same([h['x-first-death-reason'], h['x-first-death-queue'], h['x-first-death-exchange']], ['rejected', src, ''], 'x-first-death-* overwrite a client value');
  t.same(h.CC, ['cc1']);
  if (broker.kind === 'warren') t.same([h['x-last-death-reason'], h['x-last-death-queue'], h['x-last-death-exchange']], ['rejected', src, '']);

  // dying again in the same queue for the same reason counts up
  ch.sendToQueue(src, Buffer.from('r2'), { headers: h });
  const again = await getOne(ch, src, false);
  ch.nack(again, false, false);
  const d2 = await getOne(ch, dead);
  const deaths2 = d2.properties.headers!['x-death'] as Death[];
  t.equal(deaths2.length, 1);
  t.equal(deaths2[0]!.count, 2, 'count 2');
  t.same(Object.keys(deaths2[0]!), ['count', 'exchange', 'original-expiration', 'queue', 'reason', 'routing-keys', 'time'], 'the updated entry comes out sorted, as RabbitMQ\'s');
  await ch.close();
});

t.test('expired by x-message-ttl: dead-lettered with x-dead-letter-routing-key, never delivered', async (t) => {
  const ch = await conn.createChannel();
  const { dlx, dead } = await deadLetterSetup(ch);
  const ttlq = uniqueName('ttl');
  await ch.assertQueue(ttlq, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'rk2', 'x-message-ttl': 50 } });
  ch.sendToQueue(ttlq, Buffer.from('t1'), { expiration: '40' });
  ch.sendToQueue(ttlq, Buffer.from('t2'));
  const d = await getOne(ch, dead);
  t.same([d.content.toString(), d.fields.routingKey], ['t1', 'rk2']);
  const { time: _time, ...death } = (d.properties.headers!['x-death'] as Death[])[0]!;
  t.same(death, { count: 1, reason: 'expired', queue: ttlq, exchange: '', 'routing-keys': [ttlq], 'original-expiration': '40' });
  const d2 = await getOne(ch, dead);
  t.same((d2.properties.headers!['x-death'] as Death[]).map((x) => [x.reason, x['original-expiration']]), [['expired', undefined]], 'no original-expiration without an expiration');
  t.equal(await ch.get(ttlq), false, 'nothing left to deliver');
  await ch.close();
});

t.test('per-message expiration below the queue TTL applies; expiration "0" reaches a waiting consumer only', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('exp');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 60000 } });
  ch.sendToQueue(q, Buffer.from('short'), { expiration: '30' });
  ch.sendToQueue(q, Buffer.from('zero'), { expiration: '0' });
  ch.sendToQueue(q, Buffer.from('long'));
  await sleep(150);
  const got: string[] = [];
  for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) got.push(m.content.toString());
  t.same(got, ['long'], 'the expired ones were dropped');
  const received: string[] = [];
  await ch.consume(q, (m) => { if (m) received.push(m.content.toString()); }, { noAck: true });
  ch.sendToQueue(q, Buffer.from('zero, with a consumer'), { expiration: '0' });
  await until(() => received.length > 0, 'the delivery');
  t.same(received, ['zero, with a consumer']);
  await ch.close();
});

t.test('a TTL queue dead-lettering to itself drops the message instead of looping', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('self');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': '' } });
  ch.sendToQueue(q, Buffer.from('once'));
  await sleep(300);
  const info = await ch.checkQueue(q);
  t.equal(info.messageCount, 0, 'gone, not cycling');
  await ch.close();
});

t.test('an invalid expiration property is 406 with RabbitMQ\'s text', async (t) => {
  const cases: [string, string][] = [
    ['abc', 'no_integer'], ['-1', '{value_negative,-1}'], ['1.5', '{leftover_string,".5"}'], ['10x', '{leftover_string,"x"}'],
    ['', 'no_integer'], ['315360000001', '{value_too_large,315360000001}'], [' 5', 'no_integer'],
  ];
  for (const [expiration, term] of cases) {
    const ch = await conn.createChannel();
    const closed = new Promise<Error>((resolve) => ch.on('error', resolve));
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from('x'), { expiration });
    const err = await within(closed, 'channel close');
    t.equal(err.message, `Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid expiration '${expiration}': ${term}"`);
  }
});

