// x-expires as amqplib sees it: a queue unused for that long is deleted,
// with its messages; a passive declare or basic.get renews the lease,
// publishing does not; a queue with a consumer never expires, and the lease
// starts again when the last consumer goes. Checked against RabbitMQ 3.10.8
// first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/queue-expiry.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, sleep } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

/** Whether the queue exists (a passive declare on a throwaway channel, which renews it when it does). */
async function exists(q: string): Promise<boolean> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    await ch.checkQueue(q);
    await ch.close();
    return true;
  } catch {
    return false;
  }
}

t.test('an unused queue is deleted with its messages; publishing does not renew it', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('exp.unused');
  await ch.assertQueue(q, { arguments: { 'x-expires': 300 } });
  for (let i = 0; i < 6; i++) {
    ch.sendToQueue(q, Buffer.from(`m${i}`));
    await sleep(100);
  }
  t.notOk(await exists(q), 'gone 300 ms after the declare, though published to since');
  await ch.close();
});

t.test('a passive declare and basic.get renew the lease', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('exp.renew');
  await ch.assertQueue(q, { arguments: { 'x-expires': 400 } });
  await sleep(250);
  t.ok(await exists(q), 'still there at 250 ms (and renewed by that check)');
  await sleep(250);
  await ch.get(q);
  await sleep(250);
  t.ok(await exists(q), 'still there at 750 ms: renewed at 250 and 500');
  await sleep(600);
  t.notOk(await exists(q), 'gone once left alone');
  await ch.close();
});

t.test('a queue with a consumer does not expire; the lease starts when the last consumer goes', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('exp.consumer');
  await ch.assertQueue(q, { arguments: { 'x-expires': 200 } });
  const { consumerTag } = await ch.consume(q, () => undefined);
  await sleep(500);
  const other = await conn.createChannel();
  t.equal((await other.checkQueue(q)).consumerCount, 1, 'still there with its consumer');
  await other.close();
  await ch.cancel(consumerTag);
  await sleep(450);
  t.notOk(await exists(q), 'gone after the consumer left');
  await ch.close();
});
