// Unmodified client libraries connect, open and close 100 channels, and
// disconnect cleanly; the broker sees every connection come and go.
import t from 'tap';
import amqplib from 'amqplib';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { Connection as RabbitClient } from 'rabbitmq-client';
import { withBroker } from '../helpers/broker.js';

const settle = async (b: { listener: { connections: Set<unknown> } }, count: number): Promise<number> => {
  for (let i = 0; i < 100 && b.listener.connections.size !== count; i++) await new Promise((r) => setTimeout(r, 20));
  return b.listener.connections.size;
};

t.test('amqplib: 100 channels open and close, then a clean disconnect', async (t) => {
  const b = await withBroker(t);
  const conn = await amqplib.connect(b.url);
  const errors: Error[] = [];
  conn.on('error', (e: Error) => errors.push(e));
  const channels = await Promise.all(Array.from({ length: 100 }, () => conn.createChannel()));
  t.equal(channels.length, 100);
  t.equal([...b.listener.connections][0]!.channelCount, 100, 'the broker counts 100 open channels');
  await Promise.all(channels.map((ch) => ch.close()));
  t.equal([...b.listener.connections][0]!.channelCount, 0, 'all closed');
  await conn.close();
  t.equal(await settle(b, 0), 0, 'connection gone');
  t.same(errors, []);
});

t.test('@cloudamqp/amqp-client: 100 channels, clean disconnect', async (t) => {
  const b = await withBroker(t);
  const client = new AMQPClient(b.url);
  const conn = await client.connect();
  const channels = [];
  for (let i = 0; i < 100; i++) channels.push(await conn.channel());
  t.equal(new Set(channels.map((c) => c.id)).size, 100);
  for (const ch of channels) await ch.close();
  await conn.close();
  t.equal(await settle(b, 0), 0);
});

t.test('rabbitmq-client: connects, acquires and releases channels', async (t) => {
  const b = await withBroker(t);
  const rabbit = new RabbitClient({ url: b.url, retryLow: 50, retryHigh: 100 });
  await rabbit.onConnect(2000);
  const channels = await Promise.all(Array.from({ length: 100 }, () => rabbit.acquire()));
  t.equal(channels.length, 100);
  await Promise.all(channels.map((ch) => ch.close()));
  await rabbit.close();
  t.equal(await settle(b, 0), 0);
});

t.test('500 concurrent connections', async (t) => {
  const b = await withBroker(t);
  const conns = await Promise.all(Array.from({ length: 500 }, () => amqplib.connect(b.url)));
  t.equal(await settle(b, 500), 500, 'the broker holds 500 connections');
  const chans = await Promise.all(conns.map((c) => c.createChannel()));
  t.equal(chans.length, 500, 'each opens a channel');
  await Promise.all(conns.map((c) => c.close()));
  t.equal(await settle(b, 0), 0, 'all gone');
});

t.test('the broker closing sends 320 CONNECTION_FORCED to every client', async (t) => {
  const b = await withBroker(t);
  const conn = await amqplib.connect(b.url);
  // amqplib reports 320 through 'close' (it does not count a forced close as an error)
  const closed = new Promise<Error>((resolve) => conn.on('close', resolve));
  await b.close();
  const err = (await closed) as Error & { code?: number };
  t.equal(err.code, 320);
  t.match(err.message, /CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'/);
});
