// Sender-selected distribution as amqplib sees it: the CC and BCC headers'
// routing keys route the message too, each queue gets it once, BCC is gone
// from what consumers see and CC stays; a CC or BCC that is not an array is
// 406. Checked against RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/sender-selected.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import amqplib from 'amqplib';
import type { Channel } from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, sleep, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

async function all(ch: Channel, q: string): Promise<string[]> {
  const out: string[] = [];
  for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
    out.push(JSON.stringify([m.content.toString(), m.fields.routingKey, m.properties.headers]));
  }
  return out;
}

t.test('CC and BCC route the message with their keys; BCC is stripped; one copy a queue', async (t) => {
  const ch = await conn.createChannel();
  const x = uniqueName('cc.x');
  await ch.assertExchange(x, 'direct', { autoDelete: true, durable: false });
  const qs: Record<string, string> = {};
  for (const k of ['a', 'b', 'c', 'd']) {
    qs[k] = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.bindQueue(qs[k]!, x, k);
  }
  ch.publish(x, 'a', Buffer.from('m1'), { headers: { CC: ['b', 'b', 5], BCC: ['c'], other: 1 } });
  await sleep(150);
  const seen = JSON.stringify(['m1', 'a', { CC: ['b', 'b', 5], other: 1 }]);
  t.same(await all(ch, qs.a!), [seen], 'a: by its routing key');
  t.same(await all(ch, qs.b!), [seen], 'b: by CC, once although listed twice');
  t.same(await all(ch, qs.c!), [seen], 'c: by BCC, which it does not see');
  t.same(await all(ch, qs.d!), [], 'd: not addressed');
  await ch.close();
});

t.test('a CC or BCC header that is not an array is 406', async (t) => {
  for (const [headers, name, type] of [[{ CC: 'b' }, 'CC', 'longstr'], [{ BCC: 5 }, 'BCC', 'byte']] as const) {
    const ch = await conn.createChannel();
    const closed = new Promise<Error>((resolve) => ch.on('error', resolve));
    ch.publish('amq.direct', 'k', Buffer.from('m'), { headers });
    const err = await within(closed, 'channel close');
    t.equal(err.message, `Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"${name}",${type}}"`);
  }
});
