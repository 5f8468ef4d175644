// A connection's life after the handshake: channels, closing in both
// directions, flow, heartbeats, and the 540 answer for what is not built yet.
import t from 'tap';
import { writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { Method, encodeMethod } from '../../lib/amqp/generated/methods.js';
import type { AnyMethod } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

t.test('client connection.close gets close-ok; the client closes the socket, as with RabbitMQ', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  await c.handshake();
  await c.openChannel(1);
  c.sendMethod(0, { id: Method.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
  await c.expectMethod(Method.ConnectionCloseOk);
  c.sendMethod(1, { id: Method.BasicQos, prefetchSize: 0, prefetchCount: 1, global: false });
  t.equal(await c.next(500), null, 'frames after close-ok are ignored');
  t.notOk(c.closed, 'the server leaves closing to the client (TIME_WAIT stays client side)');
  c.socket.end();
  await c.waitClosed();
  for (let i = 0; i < 50 && b.listener.connections.size; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(b.listener.connections.size, 0, 'released once the client closed');
});

t.test('frames the client sent behind its channel.close are dropped; other channels are not', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  await c.handshake();
  await c.openChannel(1);
  const w = new WireWriter();
  writeMethodFrame(w, 1, encodeMethod, { id: Method.ChannelClose, replyCode: 200, replyText: '', classId: 0, methodId: 0 });
  writeMethodFrame(w, 1, encodeMethod, { id: Method.ChannelFlow, active: true });
  c.send(w.take());
  await c.expectMethod(Method.ChannelCloseOk);
  t.equal(await c.next(300), null, 'the flow behind the close is dropped');
  c.sendMethod(1, { id: Method.ChannelFlow, active: true });
  const close = await c.expectConnectionClose();
  t.match(close, { replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'" }, 'a later frame on the closed channel is an error again');
});

t.test('channel.close gets close-ok and the number can be opened again', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  await c.handshake();
  await c.openChannel(5);
  c.sendMethod(5, { id: Method.ChannelClose, replyCode: 200, replyText: 'done', classId: 0, methodId: 0 });
  const ok = await c.expectMethod(Method.ChannelCloseOk);
  t.equal(ok.channel, 5);
  await c.openChannel(5);
  t.pass('reopened');
  c.destroy();
});

t.test('channel.flow is acknowledged with the same active flag', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  await c.handshake();
  await c.openChannel(1);
  for (const active of [false, true]) {
    c.sendMethod(1, { id: Method.ChannelFlow, active });
    const ok = await c.expectMethod(Method.ChannelFlowOk);
    t.equal(ok.active, active);
  }
  c.destroy();
});

t.test('tx.select is answered with select-ok (transactions are implemented)', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.destroy());
  await c.handshake();
  await c.openChannel(1);
  c.sendMethod(1, { id: Method.TxSelect });
  t.ok(await c.expectMethod(Method.TxSelectOk));
});

t.test('heartbeats: sent when idle, and a silent peer is dropped after two intervals', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  await c.handshake({ heartbeat: 1 });
  const opened = Date.now();
  const closedAt = await c.waitClosed(5000);
  const heartbeats = c.received.filter((f) => f.type === 8 && f.channel === 0).length;
  const lifetime = closedAt - opened;
  t.ok(lifetime >= 2300 && lifetime <= 3400, `silent client dropped after ${lifetime} ms (RabbitMQ: 3.0 s for a 1 s heartbeat)`);
  t.ok(heartbeats >= 3, `${heartbeats} heartbeat frames sent at about half the interval`);
});

t.test('heartbeats from the client keep the connection alive', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  await c.handshake({ heartbeat: 1 });
  const timer = setInterval(() => c.sendFrame(8, 0, Buffer.alloc(0)), 400);
  await new Promise((r) => setTimeout(r, 3500));
  clearInterval(timer);
  t.notOk(c.closed, 'still open after 3.5 intervals');
  c.destroy();
});

t.test('heartbeat 0 from the client disables heartbeats', async (t) => {
  const b = await withBroker(t, { heartbeat: 1 });
  const c = await RawClient.connect(b.port);
  await c.handshake({ heartbeat: 0 });
  await new Promise((r) => setTimeout(r, 2500));
  t.notOk(c.closed, 'not dropped');
  t.equal(c.received.filter((f) => f.type === 8).length, 0, 'no heartbeats sent');
  c.destroy();
});

t.test('basic.cancel-ok or basic.deliver from the client: 503 unimplemented method, as RabbitMQ 3.10', async (t) => {
  const b = await withBroker(t);
  const cases: [string, AnyMethod][] = [
    ['basic.cancel-ok', { id: Method.BasicCancelOk, consumerTag: 'none' }],
    ['basic.get-empty', { id: Method.BasicGetEmpty }],
  ];
  for (const [name, m] of cases) {
    const c = await RawClient.connect(b.port);
    t.teardown(() => c.destroy());
    await c.handshake();
    await c.openChannel(1);
    c.sendMethod(1, m);
    const close = await c.expectConnectionClose();
    t.match(close, { replyCode: 503, replyText: 'COMMAND_INVALID - unimplemented method', classId: 60 }, name);
  }
});
