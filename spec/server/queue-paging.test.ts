// A broker with a small queue memory budget, driven by amqplib: a queue far
// larger than its budget pages out to disk, and a consumer gets every
// message back in order with its properties; the page files go once the
// queue is drained; purge counts what was paged.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { startBroker } from '../../lib/index.js';
import { withBroker } from '../helpers/broker.js';

const COUNT = 20_000;

t.test('a queue 30 times its budget pages out and is consumed in order', async (t) => {
  const running = await withBroker(t, { queueMemoryBudget: 128 * 1024 });
  const conn = await amqplib.connect(running.url);
  t.teardown(() => conn.close());
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('big', { durable: true });
  await ch.assertQueue('transient', { durable: false });
  for (let i = 0; i < COUNT; i++) {
    const body = Buffer.from(`message ${i} `.padEnd(100 + (i % 200), '.'));
    ch.sendToQueue('big', body, { persistent: i % 2 === 0, headers: { i } });
    if (i % 4 === 0) ch.sendToQueue('transient', body);
  }
  await ch.waitForConfirms();
  const big = running.broker.vhosts.get('/')!.queues.get('big')!;
  t.equal(big.messageCount, COUNT);
  t.ok(big.pagedCount > COUNT * 0.9, `${big.pagedCount} of ${COUNT} messages are on disk`);
  const dirs = readdirSync(join(running.config.dataDir, 'queues'));
  t.equal(dirs.length, 2, 'each paging queue has its own directory');

  const declared = await ch.checkQueue('big');
  t.equal(declared.messageCount, COUNT, 'queue.declare counts the paged messages');

  await ch.prefetch(500);
  let next = 0;
  let wrong = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${next} messages`)), 60_000);
    void ch.consume('big', (m) => {
      if (!m) return;
      const i = m.properties.headers?.i as number;
      const expected = `message ${i} `.padEnd(100 + (i % 200), '.');
      if (i !== next || m.content.toString() !== expected || m.properties.deliveryMode !== (i % 2 === 0 ? 2 : 1)) wrong++;
      next++;
      ch.ack(m);
      if (next === COUNT) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  t.equal(wrong, 0, `all ${COUNT} in order with their bodies and delivery modes`);
  t.equal(big.messageCount, 0);
  const purged = await ch.purgeQueue('transient');
  t.equal(purged.messageCount, COUNT / 4, 'purge counts the paged messages');
  t.same(readdirSync(join(running.config.dataDir, 'queues', dirs[0]!)), [], 'no page files left');
});

t.test('a priority queue pages each priority on its own and keeps the order after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-prio-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await startBroker({ dataDir, bind: '127.0.0.1', queueMemoryBudget: 16 * 1024 });
  const conn = await amqplib.connect(first.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('prio', { durable: true, arguments: { 'x-max-priority': 3 } });
  for (let i = 0; i < 2000; i++) ch.sendToQueue('prio', Buffer.from(`${i % 4}:${i}`.padEnd(64, '.')), { persistent: true, priority: i % 4 });
  await ch.waitForConfirms();
  t.ok(first.broker.vhosts.get('/')!.queues.get('prio')!.pagedCount > 1000, 'paged out');
  await conn.close();
  await first.close();
  const second = await startBroker({ dataDir, bind: '127.0.0.1', queueMemoryBudget: 16 * 1024 });
  t.teardown(() => second.close());
  const c2 = await amqplib.connect(second.url);
  const ch2 = await c2.createChannel();
  const got: string[] = [];
  for (let m = await ch2.get('prio', { noAck: true }); m; m = await ch2.get('prio', { noAck: true })) got.push(m.content.toString().replace(/\.+$/, ''));
  const expected = [3, 2, 1, 0].flatMap((p) => Array.from({ length: 500 }, (_, k) => `${p}:${k * 4 + p}`));
  t.same(got, expected, 'priority order, FIFO within each, after the restart');
  await c2.close();
});
