// The free disk space alarm seen by clients, over real TCP: while it is set,
// a connection that publishes is blocked (its socket is not read; clients
// with the connection.blocked capability are told "low on disk"), consumers
// go on draining queues, and heartbeats do not time a blocked connection
// out; when it clears, held publishes arrive in order. The alarm is driven
// with diskMonitor.setLimit(): a limit above any disk's free space sets it,
// 0 clears it.
import t from 'tap';
import amqplib from 'amqplib';
import { writeBodyFrames, writeHeaderFrame, writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { Method, encodeMethod } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import type { RunningBroker } from '../../lib/index.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait-for.js';

/** Far more than any disk has free: the alarm is set. */
const ABOVE_ANY_DISK = 2 ** 52;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function depth(b: RunningBroker, queue: string): number {
  return b.broker.vhosts.get('/')!.queues.get(queue)!.messageCount;
}

function blockedConnections(b: RunningBroker): number {
  return [...b.listener.connections].filter((c) => c.blocked).length;
}

/** basic.publish to the default exchange, header and body frames on channel 1. */
function publishFrames(queue: string, body: string): Buffer {
  const w = new WireWriter();
  writeMethodFrame(w, 1, encodeMethod, { id: Method.BasicPublish, exchange: '', routingKey: queue, mandatory: false, immediate: false });
  writeHeaderFrame(w, 1, 60, Buffer.byteLength(body), {});
  writeBodyFrames(w, 1, Buffer.from(body), 131072);
  return w.take();
}

async function declare(c: RawClient, queue: string): Promise<void> {
  c.sendMethod(1, { id: Method.QueueDeclare, queue, passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  await c.expectMethod(Method.QueueDeclareOk);
}

t.test('amqplib: a publisher is blocked with "low on disk", consumers drain, unblocking delivers the held publishes in order', async (t) => {
  const b = await withBroker(t, { diskFreeLimit: 0 });
  const publisher = await amqplib.connect(b.url);
  const consumer = await amqplib.connect(b.url);
  const events: string[] = [];
  publisher.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
  publisher.on('unblocked', () => events.push('unblocked'));
  consumer.on('blocked', () => events.push('consumer blocked'));
  const pubCh = await publisher.createChannel();
  const subCh = await consumer.createChannel();
  await subCh.assertQueue('alarm.drain', { durable: false });
  await subCh.assertQueue('alarm.held', { durable: false });
  for (let i = 0; i < 3; i++) pubCh.sendToQueue('alarm.drain', Buffer.from(`queued-${i}`));
  t.ok(await waitFor(() => depth(b, 'alarm.drain') === 3, 5000), 'three messages queued before the alarm');

  await b.diskMonitor.setLimit(ABOVE_ANY_DISK);
  t.equal(b.diskMonitor.alarmed, true, 'the alarm is set');
  for (let i = 0; i < 5; i++) pubCh.sendToQueue('alarm.held', Buffer.from(`held-${i}`));
  t.ok(await waitFor(() => events.length > 0, 5000), 'the publisher hears about it');
  t.same(events, ['blocked: low on disk'], "connection.blocked with RabbitMQ's reason, to the publisher only");
  t.equal(blockedConnections(b), 1, 'one connection blocked');
  await sleep(300);
  t.equal(depth(b, 'alarm.held'), 0, 'nothing published during the alarm reached the queue');

  // the consumer's connection still works: it receives and acknowledges what was queued
  const drained: string[] = [];
  await subCh.consume('alarm.drain', (m) => {
    if (!m) return;
    drained.push(m.content.toString());
    subCh.ack(m);
  });
  t.ok(await waitFor(() => drained.length === 3, 5000), 'the consumer receives the queued messages');
  t.same(drained, ['queued-0', 'queued-1', 'queued-2']);
  t.ok(await waitFor(() => depth(b, 'alarm.drain') === 0, 5000), 'and its acks are processed');
  t.equal(depth(b, 'alarm.held'), 0, 'still nothing from the blocked publisher');

  await b.diskMonitor.setLimit(0);
  t.equal(b.diskMonitor.alarmed, false, 'the alarm clears');
  t.ok(await waitFor(() => events.length === 2, 5000), 'the publisher hears about that too');
  t.same(events, ['blocked: low on disk', 'unblocked']);
  const held: string[] = [];
  await subCh.consume('alarm.held', (m) => {
    if (!m) return;
    held.push(m.content.toString());
    subCh.ack(m);
  });
  t.ok(await waitFor(() => held.length === 5, 5000), 'the held publishes arrive');
  t.same(held, ['held-0', 'held-1', 'held-2', 'held-3', 'held-4'], 'in order');
  t.equal(blockedConnections(b), 0);
  pubCh.sendToQueue('alarm.held', Buffer.from('after'));
  t.ok(await waitFor(() => held.length === 6, 5000), 'publishing works normally again');
  await publisher.close();
  await consumer.close();
  t.ok(await waitFor(() => b.diskMonitor.listenerCount === 0, 5000), 'closed connections leave no listener behind');
});

t.test('a client without the connection.blocked capability is paused but not told', async (t) => {
  const b = await withBroker(t, { diskFreeLimit: ABOVE_ANY_DISK });
  t.equal(b.diskMonitor.alarmed, true);
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.destroy());
  await c.handshake({ capabilities: { authentication_failure_close: true } });
  await c.openChannel(1);
  await declare(c, 'alarm.raw');
  t.equal(blockedConnections(b), 0, 'opening, declaring: not blocked');
  c.send(publishFrames('alarm.raw', 'one'));
  t.ok(await waitFor(() => blockedConnections(b) === 1, 5000), 'blocked by the publish');
  // what follows the publish is not read: no declare-ok comes back
  c.sendMethod(1, { id: Method.QueueDeclare, queue: 'alarm.raw', passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  t.equal(await c.next(600), null, 'no reply and no connection.blocked while blocked');
  t.equal(depth(b, 'alarm.raw'), 0, 'the publish is held: its body was not read');

  await b.diskMonitor.setLimit(0);
  const ok = await c.expectMethod(Method.QueueDeclareOk);
  t.equal(ok.messageCount, 1, 'once unblocked, the publish is taken, then the declare answered');
  await sleep(200);
  t.notOk(c.received.some((f) => f.method?.id === Method.ConnectionBlocked || f.method?.id === Method.ConnectionUnblocked), 'never sent connection.blocked or unblocked');
});

t.test('a blocked connection is not closed for missed heartbeats; once unblocked it is again', async (t) => {
  const b = await withBroker(t, { diskFreeLimit: ABOVE_ANY_DISK });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.destroy());
  // this client never sends heartbeats: with a 1 s timeout the server gives up on a silent client after 2.5 to 3 s
  await c.handshake({ capabilities: { 'connection.blocked': true }, heartbeat: 1 });
  await c.openChannel(1);
  await declare(c, 'alarm.hb');
  c.send(publishFrames('alarm.hb', 'x'));
  const blocked = await c.expectMethod(Method.ConnectionBlocked);
  t.equal(blocked.reason, 'low on disk');
  t.equal(blocked.channel, 0);
  const before = c.received.length;
  await sleep(4000);
  t.equal(c.closed, false, 'still open after 4 s of client silence while blocked');
  t.ok(c.received.slice(before).some((f) => f.type === 8), 'the server kept sending its heartbeats');

  await b.diskMonitor.setLimit(0);
  await c.expectMethod(Method.ConnectionUnblocked);
  t.ok(await waitFor(() => depth(b, 'alarm.hb') === 1, 5000), 'the held publish arrives');
  await c.waitClosed(8000);
  t.pass('unblocked and still silent: closed for missed heartbeats');
});

t.test('a blocked connection whose client goes away is cleaned up', async (t) => {
  const b = await withBroker(t, { diskFreeLimit: ABOVE_ANY_DISK });
  const c = await RawClient.connect(b.port);
  await c.handshake({ capabilities: { 'connection.blocked': true }, heartbeat: 1 });
  await c.openChannel(1);
  await declare(c, 'alarm.gone');
  t.equal(b.diskMonitor.listenerCount, 1, 'an open connection follows the alarm');
  c.send(publishFrames('alarm.gone', 'x'));
  await c.expectMethod(Method.ConnectionBlocked);
  c.destroy();
  // its socket is not read, so the loss shows as a reset, or (as with RabbitMQ) when a heartbeat cannot be written
  t.ok(await waitFor(() => b.listener.connections.size === 0, 8000), 'the connection is released');
  t.equal(b.diskMonitor.listenerCount, 0, 'and unsubscribed from the alarm');
});

t.test('a blocked connection still gets connection.close 320 and its close-ok through at shutdown', async (t) => {
  const b = await withBroker(t, { diskFreeLimit: ABOVE_ANY_DISK });
  const c = await RawClient.connect(b.port);
  t.teardown(() => c.destroy());
  await c.handshake({ capabilities: { 'connection.blocked': true } });
  await c.openChannel(1);
  await declare(c, 'alarm.shutdown');
  c.send(publishFrames('alarm.shutdown', 'x'));
  await c.expectMethod(Method.ConnectionBlocked);
  const closing = b.close();
  const close = await c.expectConnectionClose();
  t.equal(close.replyCode, 320);
  // the server reads again to take the close-ok, then ends the socket (before the 3 s shutdown grace would)
  await c.waitClosed(2000);
  await closing;
  t.equal(b.listener.connections.size, 0);
});
