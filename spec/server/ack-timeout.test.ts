// The consumer acknowledgement timeout: a delivery left unacknowledged past
// the server's consumer_timeout, or its queue's x-consumer-timeout, closes
// the channel with 406 and RabbitMQ's text, and the message is requeued; a
// consumer that acknowledges in time keeps its channel.
import t from 'tap';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';

async function closeOf(ch: amqplib.Channel, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no channel close within ${ms} ms`)), ms);
    ch.on('error', (e: Error) => {
      clearTimeout(timer);
      resolve(e.message);
    });
  });
}

t.test('server consumer_timeout: the channel is closed with 406 and the message requeued', async (t) => {
  const b = await withBroker(t, { consumerTimeout: 300 });
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  await ch.assertQueue('slow', { exclusive: false });
  ch.sendToQueue('slow', Buffer.from('never acked'));
  const closed = closeOf(ch, 3000);
  const started = Date.now();
  await ch.consume('slow', () => undefined, { noAck: false });
  const text = await closed;
  t.ok(Date.now() - started >= 280, 'not before the timeout');
  t.equal(text, 'Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 300 ms. This timeout value can be configured, see consumers doc guide to learn more"');
  const other = await conn.createChannel();
  const m = await other.get('slow', { noAck: true });
  t.same(m && [m.content.toString(), m.fields.redelivered], ['never acked', true], 'requeued');
});

t.test("a queue's x-consumer-timeout; acknowledging in time keeps the channel", async (t) => {
  const b = await withBroker(t);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  let closedText = '';
  ch.on('error', (e: Error) => {
    closedText = e.message;
  });
  await ch.assertQueue('timed', { exclusive: true, arguments: { 'x-consumer-timeout': 200 } });
  await ch.consume('timed', (m) => {
    if (m) setTimeout(() => ch.ack(m), 50);
  }, { noAck: false });
  for (let i = 0; i < 5; i++) {
    ch.sendToQueue('timed', Buffer.from(`m${i}`));
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  t.equal(closedText, '', 'acked within 200 ms: still open');
  const held = await conn.createChannel();
  const closed = closeOf(held, 3000);
  await held.assertQueue('timed2', { exclusive: true, arguments: { 'x-consumer-timeout': 200 } });
  held.sendToQueue('timed2', Buffer.from('held'));
  await new Promise((r) => setTimeout(r, 50));
  await held.get('timed2', { noAck: false });
  t.match(await closed, /Timeout value used: 200 ms/, 'a basic.get delivery times out too');
});
