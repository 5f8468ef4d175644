// Deliveries of large bodies: FrameOutput writes body slices of 8 KiB or
// more by reference (not copied into the batch), so these check that what a
// consumer reads is still exact AMQP framing: every body frame full up to
// the consumer's frame_max except the last, the sizes adding up to the
// header's, and the bytes equal to what was published, for bodies that
// arrived in small frames (copied) and large ones (referenced) alike.
import t from 'tap';
import { writeBodyFrames, writeHeaderFrame, writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { Method, encodeMethod } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/** [body size, frame_max the publisher splits it at] */
const PUBLISHED: [number, number][] = [
  [5, 131072],
  [16385, 131072],
  [20000, 4096],
  [70000, 131072],
  [8192, 131072],
  [300000, 131072],
  [300000, 4096],
  [131072, 65536],
];

function bodyOf(i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let j = 0; j < size; j++) b[j] = (j * 31 + i * 7) & 0xff;
  return b;
}

for (const consumerFrameMax of [10000, 131072]) {
  t.test(`large bodies reach a consumer with frame_max ${consumerFrameMax} framed and byte for byte`, async (t) => {
    const b = await withBroker(t);
    const pub = await RawClient.withChannel(b.port);
    t.teardown(() => pub.destroy());
    pub.sendMethod(1, { id: Method.QueueDeclare, queue: 'big', passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
    await pub.expectMethod(Method.QueueDeclareOk);

    const con = await RawClient.connect(b.port);
    t.teardown(() => con.destroy());
    await con.handshake({ frameMax: consumerFrameMax });
    await con.openChannel(1);
    con.sendMethod(1, { id: Method.BasicConsume, queue: 'big', consumerTag: 'c', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
    await con.expectMethod(Method.BasicConsumeOk);

    const w = new WireWriter();
    PUBLISHED.forEach(([size, frameMax], i) => {
      writeMethodFrame(w, 1, encodeMethod, { id: Method.BasicPublish, exchange: '', routingKey: 'big', mandatory: false, immediate: false });
      writeHeaderFrame(w, 1, 60, size, { messageId: `m${i}` });
      writeBodyFrames(w, 1, bodyOf(i, size), frameMax);
    });
    pub.send(w.take());

    const maxPayload = consumerFrameMax - 8;
    for (let i = 0; i < PUBLISHED.length; i++) {
      const size = PUBLISHED[i]![0];
      await con.expectMethod(Method.BasicDeliver, 5000);
      const header = await con.next(5000);
      t.equal(header?.type, 2, `message ${i}: a header frame follows the deliver`);
      t.equal(Number(header!.payload.readBigUInt64BE(4)), size, `message ${i}: the header announces ${size} bytes`);
      const frameSizes: number[] = [];
      const parts: Buffer[] = [];
      let got = 0;
      while (got < size) {
        const f = await con.next(5000);
        if (!f || f.type !== 3) {
          t.fail(`message ${i}: expected a body part, got ${f ? `a frame of type ${f.type}` : 'nothing'}`);
          return;
        }
        if (f.first) frameSizes.push(f.frameSize!);
        parts.push(f.payload);
        got += f.payload.length;
      }
      const full = Math.floor(size / maxPayload);
      const expected = Array<number>(full).fill(maxPayload);
      if (size % maxPayload > 0) expected.push(size % maxPayload);
      t.same(frameSizes, expected, `message ${i}: body frames filled to frame_max ${consumerFrameMax} except the last`);
      t.ok(Buffer.concat(parts).equals(bodyOf(i, size)), `message ${i}: the ${size} bytes read back equal those published`);
    }
  });
}
