// Publisher confirms with a real client (amqplib's ConfirmChannel): every
// publish is acked exactly once; a persistent message on a durable queue is
// acked only once the message log holds it on disk; a mandatory unroutable
// message is returned before its ack; tx.select on a confirm channel is 406.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { Method } from '../../lib/amqp/generated/methods.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

t.test('every publish is confirmed exactly once, most of them by multiple acks', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.withChannel(b.port);
  t.teardown(() => c.destroy());
  c.sendMethod(1, { id: Method.ConfirmSelect, nowait: false });
  await c.expectMethod(Method.ConfirmSelectOk);
  c.sendMethod(1, { id: Method.QueueDeclare, queue: 'cq', passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  await c.expectMethod(Method.QueueDeclareOk);
  const n = 500;
  const { writeMethodFrame, writeHeaderFrame } = await import('../../lib/amqp/frame-writer.js');
  const { encodeMethod } = await import('../../lib/amqp/generated/methods.js');
  const { WireWriter } = await import('../../lib/amqp/wire-writer.js');
  const w = new WireWriter();
  for (let i = 0; i < n; i++) {
    // every other one unroutable: those are confirmed too
    writeMethodFrame(w, 1, encodeMethod, { id: Method.BasicPublish, exchange: '', routingKey: i % 2 ? 'cq' : 'nowhere', mandatory: false, immediate: false });
    writeHeaderFrame(w, 1, 60, 0, {});
  }
  c.send(w.take());
  const acked = new Set<number>();
  let multiples = 0;
  let last = 0;
  while (acked.size < n) {
    const ack = await c.expectMethod(Method.BasicAck);
    t.ok(ack.deliveryTag > last, 'acks arrive in increasing tag order');
    const from = ack.multiple ? last + 1 : ack.deliveryTag;
    for (let tag = from; tag <= ack.deliveryTag; tag++) {
      if (acked.has(tag)) t.fail(`tag ${tag} acked twice`);
      acked.add(tag);
    }
    if (ack.multiple) multiples++;
    last = ack.deliveryTag;
  }
  t.equal(acked.size, n, `all ${n} publishes acked`);
  t.ok(multiples > 0 && multiples < n / 2, `coalesced into multiple acks (${multiples} of them)`);
});

t.test('a persistent message on a durable queue is acked once the log has it on disk', async (t) => {
  const b = await withBroker(t);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('durable-q', { durable: true });
  await ch.assertQueue('transient-q', { durable: false });
  const marker = `persistent-body-${Date.now()}`;
  await new Promise<void>((resolve, reject) => {
    ch.sendToQueue('durable-q', Buffer.from(marker), { persistent: true }, (err) => (err ? reject(err) : resolve()));
  });
  const dir = join(b.config.dataDir, 'messages');
  const logged = readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
  t.ok(logged.includes(marker), 'the body is in the message log when the ack arrives');
  const transient = `transient-body-${Date.now()}`;
  await new Promise<void>((resolve, reject) => {
    ch.sendToQueue('transient-q', Buffer.from(transient), { persistent: true }, (err) => (err ? reject(err) : resolve()));
  });
  await new Promise<void>((resolve, reject) => {
    ch.sendToQueue('durable-q', Buffer.from(`${transient}-nonpersistent`), { persistent: false }, (err) => (err ? reject(err) : resolve()));
  });
  const after = readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
  t.notOk(after.includes(transient), 'messages for non-durable queues, and non-persistent ones, are not written');
  const m = await ch.get('durable-q', { noAck: true });
  t.equal(m && m.content.toString(), marker, 'and the message is in its queue');
});

t.test('a mandatory unroutable message is returned before its ack; tx.select on a confirm channel is 406', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.withChannel(b.port);
  t.teardown(() => c.destroy());
  c.sendMethod(1, { id: Method.ConfirmSelect, nowait: false });
  await c.expectMethod(Method.ConfirmSelectOk);
  c.sendMethod(1, { id: Method.BasicPublish, exchange: '', routingKey: 'nowhere', mandatory: true, immediate: false });
  const { writeHeaderFrame } = await import('../../lib/amqp/frame-writer.js');
  const { WireWriter } = await import('../../lib/amqp/wire-writer.js');
  const w = new WireWriter();
  writeHeaderFrame(w, 1, 60, 0, {});
  c.send(w.take());
  t.match(await c.expectMethod(Method.BasicReturn), { replyCode: 312, replyText: 'NO_ROUTE', routingKey: 'nowhere' });
  // the header frame of the returned message comes between; expectMethod skips nothing but heartbeats, so read on
  const frames: number[] = [];
  for (;;) {
    const f = await c.next();
    if (!f) break;
    frames.push(f.type);
    if (f.method) {
      t.match(f.method, { id: Method.BasicAck, deliveryTag: 1, multiple: false }, 'then the ack for tag 1');
      break;
    }
  }
  t.same(frames, [2, 1], 'return, its header, then the ack');
  c.sendMethod(1, { id: Method.TxSelect });
  t.match(await c.expectMethod(Method.ChannelClose), { replyCode: 406, replyText: 'PRECONDITION_FAILED - cannot switch from confirm to tx mode', classId: 90, methodId: 10 });
});

t.test('a persistent message consumed and acked before its batch reaches the disk is still confirmed', async (t) => {
  const b = await withBroker(t);
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('fast', { durable: true });
  const sub = await conn.createChannel();
  let consumed = 0;
  // the consumer is on the queue: each message is delivered (and acked) while its log record is still in memory
  await sub.consume('fast', (m) => {
    if (!m) return;
    consumed++;
    sub.ack(m);
  });
  const n = 2000;
  let confirmed = 0;
  for (let i = 0; i < n; i++) ch.sendToQueue('fast', Buffer.from(`m${i}`), { persistent: true }, (err) => { if (!err) confirmed++; });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    ch.waitForConfirms(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`confirms stalled at ${confirmed} of ${n}`)), 20_000);
    }),
  ]);
  clearTimeout(timer);
  t.equal(confirmed, n, 'every publish acked');
  t.equal(consumed, n, 'every message consumed');
  await conn.close();
});
