// Persistent messages on a durable queue survive kill -9 of bin/warren:
// confirmed ones come back in order, the one delivered but not acked comes
// back redelivered, acked and transient ones do not; a torn record at the
// end of the log (a crash mid-write) is cut off and the broker starts.
import t from 'tap';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { startWarren, tempDataDir } from './helpers/warren-process.js';

async function fill(url: string): Promise<void> {
  const conn = await amqplib.connect(url);
  conn.on('error', () => undefined); // the broker is killed under this connection
  conn.on('close', () => undefined);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('dq', { durable: true });
  await ch.assertQueue('tq', { durable: false });
  for (let i = 1; i <= 10; i++) ch.sendToQueue('dq', Buffer.from(`m${i}`), { persistent: true, messageId: `id-${i}`, headers: { n: i } });
  ch.sendToQueue('dq', Buffer.from('transient'), { persistent: false });
  ch.sendToQueue('tq', Buffer.from('on a transient queue'), { persistent: true });
  await ch.waitForConfirms();
  const first = await ch.get('dq');
  const second = await ch.get('dq');
  if (!first || !second) throw new Error('expected two messages');
  ch.ack(first); // m1: gone for good
  // m2 stays unacked: it must come back redelivered
  await new Promise((r) => setTimeout(r, 300)); // let the ack's record reach the disk (acks are not waited for)
}

async function drain(url: string): Promise<[string, boolean, unknown][]> {
  const conn = await amqplib.connect(url);
  const ch = await conn.createChannel();
  const out: [string, boolean, unknown][] = [];
  for (;;) {
    const m = await ch.get('dq', { noAck: true });
    if (!m) break;
    out.push([m.content.toString(), m.fields.redelivered, m.properties.headers?.n]);
  }
  await conn.close();
  return out;
}

t.test('kill -9: confirmed persistent messages come back in order, the unacked one redelivered', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await startWarren(t, { dataDir });
  await fill(first.url);
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');

  const second = await startWarren(t, { dataDir });
  const got = await drain(second.url);
  t.same(got, [
    ['m2', true, 2], ['m3', false, 3], ['m4', false, 4], ['m5', false, 5], ['m6', false, 6],
    ['m7', false, 7], ['m8', false, 8], ['m9', false, 9], ['m10', false, 10],
  ], 'm1 (acked) and the transient message are gone; m2 is redelivered; properties intact');
  // what the second run consumed (noAck) stays consumed after another crash
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await second.stop('SIGKILL'), 'SIGKILL');
  const third = await startWarren(t, { dataDir });
  t.same(await drain(third.url), [], 'messages consumed after recovery do not come back');
  await third.stop();
});

t.test('a torn record at the end of the log is cut off; the broker starts with everything before it', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await startWarren(t, { dataDir });
  await fill(first.url);
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');
  const dir = join(dataDir, 'messages');
  const last = readdirSync(dir).filter((f) => f.endsWith('.wlog')).sort().pop()!;
  // half a record: a length that promises more than follows
  appendFileSync(join(dir, last), Buffer.from([0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]));
  const second = await startWarren(t, { dataDir });
  const got = await drain(second.url);
  t.equal(got.length, 9, 'the nine messages before the torn record are back');
  t.ok(second.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('torn record')), 'the torn tail is logged');
});

t.test('kill -9 with a queue paged out to disk: recovery pages it again and keeps the order', async (t) => {
  const dataDir = tempDataDir(t);
  const args = ['--queue-memory-budget', '65536', '--message-log-segment-size', '262144'];
  const first = await startWarren(t, { dataDir, args });
  const conn = await amqplib.connect(first.url);
  conn.on('error', () => undefined);
  conn.on('close', () => undefined);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('paged', { durable: true });
  const count = 5000;
  for (let i = 0; i < count; i++) ch.sendToQueue('paged', Buffer.from(`p${i}`.padEnd(200, '-')), { persistent: true });
  await ch.waitForConfirms();
  t.ok(readdirSync(join(dataDir, 'queues')).length > 0, 'the queue paged out before the crash');
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');

  const second = await startWarren(t, { dataDir, args });
  const c2 = await amqplib.connect(second.url);
  const ch2 = await c2.createChannel();
  let wrong = 0;
  let n = 0;
  for (;;) {
    const m = await ch2.get('paged', { noAck: true });
    if (!m) break;
    if (m.content.toString() !== `p${n}`.padEnd(200, '-')) wrong++;
    n++;
  }
  t.equal(n, count, 'every confirmed message is back');
  t.equal(wrong, 0, 'in publish order');
  await c2.close();
  // consumed: the log's segments go, all but the one being written
  await new Promise((r) => setTimeout(r, 6000));
  const segments = readdirSync(join(dataDir, 'messages')).filter((f) => f.endsWith('.wlog'));
  t.ok(segments.length <= 2, `the message log was collected: ${segments.join(' ')}`);
  await second.stop();
});

t.test('a corrupt segment in the middle of the log costs only its own messages, and the broker starts', async (t) => {
  const dataDir = tempDataDir(t);
  const args = ['--message-log-segment-size', '65536'];
  const first = await startWarren(t, { dataDir, args });
  const conn = await amqplib.connect(first.url);
  conn.on('error', () => undefined);
  conn.on('close', () => undefined);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('seg', { durable: true });
  const count = 600; // ~1 KiB each: about ten segments
  for (let i = 0; i < count; i++) {
    ch.sendToQueue('seg', Buffer.from(`s${i}:`.padEnd(1000, '-')), { persistent: true });
    if (i % 30 === 29) await ch.waitForConfirms(); // small batches: segments rotate between batches
  }
  await ch.waitForConfirms();
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');

  const dir = join(dataDir, 'messages');
  const segments = readdirSync(dir).filter((f) => f.endsWith('.wlog')).sort();
  t.ok(segments.length >= 5, `${segments.length} segments`);
  const middle = join(dir, segments[Math.floor(segments.length / 2)]!);
  const bytes = readFileSync(middle);
  bytes.writeUInt32BE(0xffffffff, 0); // its first record's length: nothing after it in that segment can be found
  writeFileSync(middle, bytes);

  const second = await startWarren(t, { dataDir, args });
  const c2 = await amqplib.connect(second.url);
  const ch2 = await c2.createChannel();
  const got: number[] = [];
  for (let m = await ch2.get('seg', { noAck: true }); m; m = await ch2.get('seg', { noAck: true })) got.push(Number(/^s(\d+):/.exec(m.content.toString())![1]));
  await c2.close();
  const lost = count - got.length;
  t.ok(lost > 0 && lost < count / 4, `only the corrupt segment's messages are lost (${lost} of ${count})`);
  t.same(got, [...got].sort((a, b) => a - b), 'the others in order');
  t.ok(got.includes(0) && got.includes(count - 1), 'segments before and after it are intact');
  const line = second.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('corrupt record'));
  t.ok(line && typeof line.bytes === 'number' && line.bytes > 0, 'the damage is logged with the bytes skipped');
  await second.stop();
});

t.test('kill -9: a recovered message expires its TTL after publication, not after the restart', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await startWarren(t, { dataDir });
  const conn = await amqplib.connect(first.url);
  conn.on('error', () => undefined);
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => undefined);
  await ch.assertQueue('ttl.dead', { durable: true });
  await ch.assertQueue('ttl.src', { durable: true, arguments: { 'x-message-ttl': 1500, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttl.dead' } });
  const published = Date.now();
  // the shorter one first: expiry happens at the head of the queue
  ch.sendToQueue('ttl.src', Buffer.from('message ttl'), { persistent: true, expiration: '800' });
  ch.sendToQueue('ttl.src', Buffer.from('queue ttl'), { persistent: true });
  await ch.waitForConfirms();
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');

  const second = await startWarren(t, { dataDir });
  const conn2 = await amqplib.connect(second.url);
  t.teardown(() => conn2.close().catch(() => undefined));
  const ch2 = await conn2.createChannel();
  const dead: [string, number, unknown][] = [];
  await ch2.consume('ttl.dead', (m) => m && dead.push([m.content.toString(), Date.now() - published, m.properties.headers?.['x-first-death-reason']]), { noAck: true });
  const deadline = Date.now() + 5000;
  while (dead.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.same(dead.map(([body, , reason]) => [body, reason]), [['message ttl', 'expired'], ['queue ttl', 'expired']], 'both expired into the dead-letter queue');
  t.ok(dead[0]![1] >= 800, `the 800 ms one not before its time (${dead[0]![1]} ms)`);
  t.ok(dead[1]![1] >= 1500 && dead[1]![1] < 1500 + 2500, `the queue's 1,500 ms counted from publication (${dead[1]![1]} ms after it)`);
  t.equal((await ch2.checkQueue('ttl.src')).messageCount, 0);
});
