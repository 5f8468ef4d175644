// Content frames after basic.publish: a header, then bodies adding up to the
// size it announced. Out-of-order or oversized content gets RabbitMQ's codes.
import t from 'tap';
import type * as Tap from 'tap';
import { writeBodyFrames, writeHeaderFrame, writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { Method, encodeMethod } from '../../lib/amqp/generated/methods.js';
import type { AnyMethod } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

const PUBLISH: AnyMethod = { id: Method.BasicPublish, exchange: '', routingKey: 'q', mandatory: false, immediate: false };

type Step = (w: WireWriter) => void;
const publish: Step = (w) => writeMethodFrame(w, 1, encodeMethod, PUBLISH);
const header = (size: number, classId = 60): Step => (w) => writeHeaderFrame(w, 1, classId, size, {});
const body = (size: number): Step => (w) => writeBodyFrames(w, 1, Buffer.alloc(size, 0x61), 131072);
const qos: Step = (w) => writeMethodFrame(w, 1, encodeMethod, { id: Method.BasicQos, prefetchSize: 0, prefetchCount: 1, global: false });
const weighted: Step = (w) => {
  w.beginFrame(2, 1);
  w.u16(60);
  w.u16(7);
  w.u64(0);
  w.u16(0);
  w.endFrame();
};

async function send(t: Tap.Test, port: number, steps: Step[]): Promise<RawClient> {
  const c = await RawClient.withChannel(port);
  const w = new WireWriter();
  for (const s of steps) s(w);
  c.send(w.take());
  t.teardown(() => c.destroy());
  return c;
}

const cases: [string, Step[], number, string, number, number][] = [
  ['a header with no publish before it', [header(3)], 505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead', 0, 0],
  ['a body with no publish before it', [body(3)], 505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead', 0, 0],
  ['a method where the header belongs', [publish, qos], 505, 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead', 60, 40],
  ['a body where the header belongs', [publish, body(3)], 505, 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead', 60, 40],
  ['a method where a body belongs', [publish, header(10), body(5), qos], 505, 'UNEXPECTED_FRAME - expected content body, got non content body frame instead', 60, 40],
  ['a body longer than the header announced', [publish, header(10), body(11)], 505, 'UNEXPECTED_FRAME - expected content body, got non content body frame instead', 60, 40],
  ['a header of another class', [publish, header(3, 50)], 505, 'UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead', 60, 40],
  ['a header with a non-zero weight', [publish, weighted], 505, 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead', 60, 40],
];

t.test('content out of order closes the connection with 505', async (t) => {
  const b = await withBroker(t);
  for (const [name, steps, code, text, cls, mth] of cases) {
    const c = await send(t, b.port, steps);
    t.match(await c.expectConnectionClose(), { replyCode: code, replyText: text, classId: cls, methodId: mth }, name);
  }
});

t.test('a message over max_message_size is refused at its header (406, channel only)', async (t) => {
  const b = await withBroker(t, { maxMessageSize: 1000 });
  const c = await send(t, b.port, [publish, header(1001), body(1001)]);
  const close = await c.expectMethod(Method.ChannelClose);
  t.match(close, { channel: 1, replyCode: 406, replyText: 'PRECONDITION_FAILED - message size 1001 is larger than configured max size 1000', classId: 60, methodId: 40 });
  c.sendMethod(1, { id: Method.ChannelCloseOk });
  await c.openChannel(1);
  t.pass('the connection lives on and the channel reopens');
});

t.test('a message split over many body frames arrives whole, byte for byte', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.withChannel(b.port);
  c.sendMethod(1, { id: Method.QueueDeclare, queue: 'q', passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  await c.expectMethod(Method.QueueDeclareOk);
  const payload = Buffer.alloc(300000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const w = new WireWriter();
  publish(w);
  header(payload.length)(w);
  writeBodyFrames(w, 1, payload, 4096);
  c.send(w.take());
  c.sendMethod(1, { id: Method.BasicGet, queue: 'q', noAck: true });
  const ok = await c.expectMethod(Method.BasicGetOk);
  t.match(ok, { routingKey: 'q', messageCount: 0, redelivered: false });
  const parts: Buffer[] = [];
  let size = 0;
  while (size < payload.length) {
    const f = await c.next(5000);
    if (!f) break;
    if (f.type === 3) {
      parts.push(f.payload);
      size += f.payload.length;
    }
  }
  t.ok(Buffer.concat(parts).equals(payload), 'the body read back equals the one published');
  c.destroy();
});
