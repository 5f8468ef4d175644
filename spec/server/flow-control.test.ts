// Flow control on the delivery side: a consumer whose socket does not keep
// up makes messages wait in their queue (not in the broker's socket
// buffers), and gets them all once it reads again; channel.flow
// active=false pauses deliveries to a channel until active=true.
import t from 'tap';
import { writeBodyFrames, writeHeaderFrame, writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { Method, encodeMethod } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import type { RunningBroker } from '../../lib/index.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait-for.js';

const QUEUE = 'flow-q';

function publishFrames(count: number, size: number): Buffer {
  const w = new WireWriter();
  const body = Buffer.alloc(size, 0x61);
  for (let i = 0; i < count; i++) {
    writeMethodFrame(w, 1, encodeMethod, { id: Method.BasicPublish, exchange: '', routingKey: QUEUE, mandatory: false, immediate: false });
    writeHeaderFrame(w, 1, 60, size, {});
    writeBodyFrames(w, 1, body, 131072);
  }
  return w.take();
}

function deliveries(c: RawClient): number {
  return c.received.filter((f) => f.method?.id === Method.BasicDeliver).length;
}
function queueDepth(b: RunningBroker): number {
  return b.broker.vhosts.get('/')!.queues.get(QUEUE)!.messageCount;
}

async function setup(b: RunningBroker): Promise<{ consumer: RawClient; publisher: RawClient }> {
  const consumer = await RawClient.withChannel(b.port);
  consumer.sendMethod(1, { id: Method.QueueDeclare, queue: QUEUE, passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  await consumer.expectMethod(Method.QueueDeclareOk);
  consumer.sendMethod(1, { id: Method.BasicConsume, queue: QUEUE, consumerTag: 'c', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
  await consumer.expectMethod(Method.BasicConsumeOk);
  const publisher = await RawClient.withChannel(b.port);
  return { consumer, publisher };
}

// 16 KiB bodies are copied into the delivery batch; 64 KiB ones are written by reference to their receive slices
for (const [count, size] of [[4000, 16 * 1024], [1000, 64 * 1024]] as const) {
  t.test(`a consumer that stops reading: messages wait in the queue, then all arrive (${size / 1024} KiB bodies)`, async (t) => {
    const b = await withBroker(t);
    const { consumer, publisher } = await setup(b);
    t.teardown(() => {
      consumer.destroy();
      publisher.destroy();
    });
    // 64 MiB in all: far more than socket buffers hold
    consumer.socket.pause();
    publisher.send(publishFrames(count, size));
    // the publisher's bytes are all read once the queue holds what was not delivered
    // wait until the queue depth stops changing: everything published has been read by then
    let last = -1;
    let stableSince = Date.now();
    await waitFor(() => {
      const depth = queueDepth(b);
      if (depth !== last) {
        last = depth;
        stableSince = Date.now();
      }
      return depth > 0 && Date.now() - stableSince > 300;
    }, 10_000);
    t.ok(queueDepth(b) > 0, `messages wait in the queue while the consumer does not read (queue depth ${queueDepth(b)} of ${count})`);
    const conn = [...b.listener.connections].find((c) => c.socket.remotePort === consumer.socket.localPort)!;
    t.ok(conn.socket.writableLength < 8 * 1024 * 1024, `the broker buffers little for the stalled socket (${conn.socket.writableLength} bytes)`);
    consumer.socket.resume();
    t.ok(await waitFor(() => deliveries(consumer) === count, 20_000), `all ${count} delivered once the consumer reads again (got ${deliveries(consumer)})`);
    t.equal(queueDepth(b), 0, 'queue drained');
  });
}

t.test('channel.flow active=false pauses deliveries to the channel until active=true', async (t) => {
  const b = await withBroker(t);
  const { consumer, publisher } = await setup(b);
  t.teardown(() => {
    consumer.destroy();
    publisher.destroy();
  });
  consumer.sendMethod(1, { id: Method.ChannelFlow, active: false });
  t.equal((await consumer.expectMethod(Method.ChannelFlowOk)).active, false);
  publisher.send(publishFrames(10, 10));
  t.ok(await waitFor(() => queueDepth(b) === 10, 2000), 'the messages stay in the queue');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(deliveries(consumer), 0, 'nothing delivered while flow is off');
  consumer.sendMethod(1, { id: Method.ChannelFlow, active: true });
  t.ok(await waitFor(() => deliveries(consumer) === 10, 2000), 'all 10 delivered once flow is on again');
});
