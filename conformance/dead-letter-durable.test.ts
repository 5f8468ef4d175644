// Dead-lettering of persistent messages is durable across kill -9 of
// bin/warren (issue 5). Durable `dl.src` (published to through the durable
// direct exchange `dl.in` with routing key `src`) dead-letters to the durable
// fanout `dl.dlx`, bound to the durable `dl.dst`; every message is persistent
// and confirmed. A message leaves dl.src dead (rejected without requeue,
// expired, dropped by x-max-length drop-head), bin/warren is killed with
// SIGKILL, restarted on the same data dir, and both queues are read back.
//
// What warren guarantees (lib/broker/vhost.ts deadLetter, lib/broker/queue.ts,
// lib/store/message-log.ts), and what is asserted:
//
// - The dead-lettered copy is a new Publish record of the one message log,
//   appended before the source queue's Remove record, in the same
//   synchronous step (so in the same group-commit batch, written by one
//   write()). The log is written strictly in order and recovery keeps a
//   prefix of it (a torn tail is cut off). So after a crash a message is in
//   dl.dst, or still in dl.src, never in neither; never twice in one queue.
//   In both only when the crash cut the log between its two records (a write
//   torn by SIGKILL): allowed (at least once), counted in a comment.
// - Nothing tells a client when a reject's or an expiry's records are on
//   disk, so a kill right after the broker has processed them (a checkQueue
//   round trip on the rejecting channel shows dl.src empty and dl.dst full)
//   may still find some messages in dl.src: only the guarantee above is
//   asserted there. A "fence" makes it exact: a persistent message published
//   with a confirm after that round trip is appended after those records, and
//   its confirm comes once its batch (and so every earlier one) is on disk;
//   after a confirmed fence every message is in dl.dst exactly once, with
//   x-death (count 1, the reason, queue dl.src, exchange dl.in, routing-keys
//   [src]), x-first-death-*, its headers and its body intact, and none in
//   dl.src (2,000 rejected; 500 expired by x-message-ttl).
// - Killed in the middle of the rejecting (rejects still in flight), or while
//   messages expire one by one (their own expirations, 2 ms apart), only the
//   guarantee above is asserted: plus, for the rejects, that some were still
//   in dl.src; for the expiries, that once their time has passed none is (a
//   recovered message's expiration counts from when it was logged).
// - Drop-head needs no fence: the drop happens while the publish that causes
//   it is handled, so its records are in that publish's batch and the
//   publisher's confirms cover them.
// - What was recovered can be consumed and acked; after another kill -9 (the
//   acks' Remove records fenced the same way) none of it comes back.
// - A message recovered into a queue with a TTL still expires (its TTL
//   counts from when it was logged) and is dead-lettered after the restart.
//
// The kill point of the mid-reject and mid-expiry cases comes from a seed
// (printed; KILL_TEST_SEED reuses it). The file needs a bin/warren it can
// kill, so it is skipped when CONFORMANCE_AMQP_URL names an external broker.
import t from 'tap';
import type { Test } from 'tap';
import amqplib from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { bounded, sleep, until, within } from './helpers/bounded.js';
import { heldTwice } from './helpers/queue-reads.js';
import { startWarren, tempDataDir } from './helpers/warren-process.js';
import type { WarrenProcess } from './helpers/warren-process.js';

const SEED = Number(process.env.KILL_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const skip = process.env.CONFORMANCE_AMQP_URL ? 'kills bin/warren with SIGKILL: not against the external broker CONFORMANCE_AMQP_URL names' : false;

const IN = 'dl.in';
const KEY = 'src';
const SRC = 'dl.src';
const DLX = 'dl.dlx';
const DST = 'dl.dst';
const FENCE = 'dl.fence';
const QUEUES = [SRC, DST] as const;
type QueueName = (typeof QUEUES)[number];

/** mulberry32: a small seeded generator, so a failing run's kill point can be replayed */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const idOf = (i: number): string => `m${i}`;
/** bodies of different sizes, so a body recovered from another record shows */
const bodyOf = (i: number): Buffer => Buffer.from(`${idOf(i)}:${'abcdefghij'.repeat(i % 37)}`);

/** What the publisher sent: id -> its number. */
type Sent = Map<string, number>;

interface Got {
  id: string;
  n: unknown;
  body: Buffer;
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  deliveryMode: unknown;
  expiration: unknown;
  headers: Record<string, unknown>;
}

const got = (m: ConsumeMessage): Got => ({
  id: String(m.properties.messageId),
  n: m.properties.headers?.n,
  body: m.content,
  redelivered: m.fields.redelivered,
  exchange: m.fields.exchange,
  routingKey: m.fields.routingKey,
  deliveryMode: m.properties.deliveryMode,
  expiration: m.properties.expiration,
  headers: (m.properties.headers ?? {}) as Record<string, unknown>,
});

/** A connection the broker may die under: its errors are expected, not thrown. */
async function connect(url: string, who: string): Promise<ChannelModel> {
  const conn = await within(amqplib.connect(url), `${who}: connect`);
  conn.on('error', () => undefined);
  return conn;
}

async function confirmChannel(conn: ChannelModel, who: string): Promise<ConfirmChannel> {
  const ch = await within(conn.createConfirmChannel(), `${who}: confirm.select`);
  ch.on('error', () => undefined);
  return ch;
}

async function declareTopology(url: string, srcArgs: Record<string, unknown> = {}): Promise<void> {
  const conn = await connect(url, 'declare');
  const ch = bounded(await within(conn.createChannel(), 'channel.open'), 'declare');
  await ch.assertExchange(IN, 'direct', { durable: true });
  await ch.assertExchange(DLX, 'fanout', { durable: true });
  await ch.assertQueue(SRC, { durable: true, arguments: { 'x-dead-letter-exchange': DLX, ...srcArgs } });
  await ch.bindQueue(SRC, IN, KEY);
  await ch.assertQueue(DST, { durable: true });
  await ch.bindQueue(DST, DLX, '');
  await ch.assertQueue(FENCE, { durable: true });
  await within(conn.close(), 'connection.close');
}

/** Publish messages 0..n-1 to dl.in (persistent, each with its id and header n) and wait for every confirm. */
async function publishAll(url: string, n: number, expiration?: (i: number) => string): Promise<Sent> {
  const conn = await connect(url, 'publisher');
  const ch = await confirmChannel(conn, 'publisher');
  const sent: Sent = new Map();
  for (let i = 0; i < n; i++) {
    const options = { persistent: true, messageId: idOf(i), headers: { n: i }, ...(expiration ? { expiration: expiration(i) } : {}) };
    ch.publish(IN, KEY, bodyOf(i), options);
    sent.set(idOf(i), i);
  }
  await within(ch.waitForConfirms(), `confirms of ${n} publishes`, 10_000);
  await within(conn.close(), 'connection.close');
  return sent;
}

/**
 * A persistent message published with a confirm: it is logged after every
 * record the broker appended before it took the publish, and confirmed once
 * its batch, and so every earlier one, is on disk.
 */
async function fence(ch: ConfirmChannel): Promise<void> {
  ch.sendToQueue(FENCE, Buffer.from('fence'), { persistent: true });
  await within(ch.waitForConfirms(), 'the fence confirm');
}

/** Start on the data dir; the broker must not log an error while recovering. */
async function restart(t: Test, dataDir: string): Promise<WarrenProcess> {
  const w = await startWarren(t, { dataDir });
  const recovered = w.logs.find((l) => l.msg === 'recovered persistent messages from the message log');
  t.comment(`recovery: ${JSON.stringify(recovered ?? null)}`);
  for (const l of w.logs) if (l.level === 40) t.comment(`broker warning: ${JSON.stringify(l)}`);
  t.same(w.logs.filter((l) => typeof l.level === 'number' && l.level >= 50), [], 'recovery logs no error');
  return w;
}

async function kill(t: Test, w: WarrenProcess, what: string): Promise<void> {
  t.equal(await w.stop('SIGKILL'), 'SIGKILL', `kill -9 ${what}`);
}

/**
 * Take everything ready in q with a consumer (no prefetch limit), acking each
 * if `ack`: once a passive declare on the same channel says none is left
 * ready, every delivery has arrived (they come before its declare-ok).
 */
async function takeAll(ch: Channel, q: QueueName, ack: boolean, closed: () => string): Promise<Got[]> {
  const list: Got[] = [];
  const { consumerTag } = await within(
    ch.consume(q, (m) => {
      if (!m) return;
      list.push(got(m));
      if (ack) ch.ack(m);
    }),
    `basic.consume ${q}`,
  );
  const deadline = Date.now() + 10_000;
  while ((await within(ch.checkQueue(q), `queue.declare passive ${q}`)).messageCount > 0) {
    if (closed()) throw new Error(`reading ${q}: the broker closed the connection: ${closed()}`);
    if (Date.now() > deadline) throw new Error(`reading ${q}: still messages ready after 10 s (${list.length} taken)`);
    await sleep(10);
  }
  await within(ch.cancel(consumerTag), `basic.cancel ${q}`);
  return list;
}

/** Every message of both queues, dl.src first, read without acking (the close requeues them). */
async function readQueues(w: WarrenProcess): Promise<Record<QueueName, Got[]>> {
  const conn = await connect(w.url, 'reader');
  let closedBy = '';
  conn.on('error', (err: Error) => (closedBy = err.message));
  const ch = await within(conn.createChannel(), 'channel.open');
  const src = await takeAll(ch, SRC, false, () => closedBy);
  const dst = await takeAll(ch, DST, false, () => closedBy);
  await within(conn.close(), 'connection.close');
  return { [SRC]: src, [DST]: dst };
}

const first = (items: Iterable<string>): string => [...items].slice(0, 5).join('; ');

interface Death {
  reason: string;
  /** original-expiration of message i, if it had an expiration */
  expiration?: (i: number) => string;
}

/** What is wrong with a dead-lettered copy of message i, or '' if nothing. */
function deadLetterFault(g: Got, i: number, death: Death): string {
  const faults: string[] = [];
  if (!g.body.equals(bodyOf(i))) faults.push(`body '${g.body.toString().slice(0, 20)}...'`);
  if (g.n !== i) faults.push(`header n ${String(g.n)}`);
  if (g.exchange !== DLX || g.routingKey !== KEY) faults.push(`routed from '${g.exchange}' with '${g.routingKey}'`);
  if (g.redelivered) faults.push('redelivered');
  if (g.deliveryMode !== 2) faults.push(`delivery mode ${String(g.deliveryMode)}`);
  if (g.expiration !== undefined) faults.push(`expiration ${String(g.expiration)} kept`);
  const deaths = g.headers['x-death'];
  if (!Array.isArray(deaths) || deaths.length !== 1) faults.push(`x-death ${JSON.stringify(deaths)}`);
  else {
    const { time, ...rest } = deaths[0] as Record<string, unknown>;
    const want: Record<string, unknown> = { count: 1, reason: death.reason, queue: SRC, exchange: IN, 'routing-keys': [KEY] };
    if (death.expiration) want['original-expiration'] = death.expiration(i);
    if (JSON.stringify(rest) !== JSON.stringify(want)) faults.push(`x-death ${JSON.stringify(rest)}, not ${JSON.stringify(want)}`);
    if ((time as { '!'?: string } | undefined)?.['!'] !== 'timestamp') faults.push(`x-death time ${JSON.stringify(time)}`);
  }
  const firstDeath = [g.headers['x-first-death-reason'], g.headers['x-first-death-queue'], g.headers['x-first-death-exchange']];
  if (JSON.stringify(firstDeath) !== JSON.stringify([death.reason, SRC, IN])) faults.push(`x-first-death-* ${JSON.stringify(firstDeath)}`);
  return faults.length === 0 ? '' : `${g.id}: ${faults.join(', ')}`;
}

/** What is wrong with a message still in dl.src, or ''. */
function sourceFault(g: Got, i: number): string {
  const faults: string[] = [];
  if (!g.body.equals(bodyOf(i))) faults.push(`body '${g.body.toString().slice(0, 20)}...'`);
  if (g.n !== i) faults.push(`header n ${String(g.n)}`);
  if (g.exchange !== IN || g.routingKey !== KEY) faults.push(`routed from '${g.exchange}' with '${g.routingKey}'`);
  if (g.headers['x-death'] !== undefined) faults.push('has x-death');
  return faults.length === 0 ? '' : `${g.id}: ${faults.join(', ')}`;
}

interface Outcome {
  src: number;
  dst: number;
  both: number;
}

/**
 * The guarantee after any crash: each message sent is in dl.dst (dead-lettered,
 * intact) or in dl.src (intact), at least one of them; never twice in one queue.
 */
function checkAtLeastOnce(t: Test, label: string, got: Record<QueueName, Got[]>, sent: Sent, death: Death): Outcome {
  const src = got[SRC];
  const dst = got[DST];
  const inSrc = new Set(src.map((g) => g.id));
  const inDst = new Set(dst.map((g) => g.id));
  const both = [...inDst].filter((id) => inSrc.has(id));
  const counts = `${label}: sent ${sent.size}, in ${SRC} ${src.length}, in ${DST} ${dst.length}, in both ${both.length}`;
  t.comment(counts);
  if (both.length > 0) t.comment(`${counts}: in both (the crash tore the log between a dead-lettered copy and its Remove): ${first(both)}`);
  const lost = [...sent.keys()].filter((id) => !inSrc.has(id) && !inDst.has(id));
  t.equal(lost.length, 0, `${counts}: ${lost.length} messages in neither queue [${first(lost)}]`);
  for (const [q, list] of [[SRC, src], [DST, dst]] as const) {
    const twice = heldTwice(list);
    t.equal(twice.length, 0, `${counts}: ${twice.length} messages twice in ${q} [${first(twice)}]`);
    const strangers = list.filter((g) => !sent.has(g.id)).map((g) => g.id);
    t.equal(strangers.length, 0, `${counts}: ${strangers.length} messages in ${q} never sent [${first(strangers)}]`);
  }
  const dstFaults = dst.filter((g) => sent.has(g.id)).map((g) => deadLetterFault(g, sent.get(g.id)!, death)).filter((f) => f !== '');
  t.equal(dstFaults.length, 0, `${counts}: ${dstFaults.length} dead-lettered copies in ${DST} not as sent and dead-lettered (${death.reason}) [${first(dstFaults)}]`);
  const srcFaults = src.filter((g) => sent.has(g.id)).map((g) => sourceFault(g, sent.get(g.id)!)).filter((f) => f !== '');
  t.equal(srcFaults.length, 0, `${counts}: ${srcFaults.length} messages in ${SRC} not as sent [${first(srcFaults)}]`);
  // in publish order in each queue (dead-lettering keeps the order it happened in)
  for (const [q, list] of [[SRC, src], [DST, dst]] as const) {
    const order = list.map((g) => sent.get(g.id) ?? -1);
    const disordered = order.filter((n, k) => k > 0 && n < order[k - 1]!).length;
    t.equal(disordered, 0, `${counts}: ${q} in publish order`);
  }
  return { src: src.length, dst: dst.length, both: both.length };
}

/** After a fenced dead-lettering: every message in dl.dst exactly once, none left in dl.src. */
function checkAllDeadLettered(t: Test, label: string, got: Record<QueueName, Got[]>, sent: Sent, death: Death): void {
  const o = checkAtLeastOnce(t, label, got, sent, death);
  t.equal(o.dst, sent.size, `${label}: all ${sent.size} dead-lettered copies in ${DST}`);
  t.equal(o.src, 0, `${label}: none left in ${SRC}`);
}

/**
 * Consume and ack everything in both queues (on a confirm channel, then a
 * fence: the acks' Remove records are on disk), kill -9, restart: both empty.
 */
async function consumeAckAndKill(t: Test, w: WarrenProcess, dataDir: string, recovered: Record<QueueName, Got[]>): Promise<void> {
  const expected = recovered[SRC].length + recovered[DST].length;
  const conn = await connect(w.url, 'acker');
  const ch = await confirmChannel(conn, 'acker');
  const src = await takeAll(ch, SRC, true, () => '');
  const dst = await takeAll(ch, DST, true, () => '');
  t.equal(src.length + dst.length, expected, `consumed and acked the ${expected} recovered messages (${src.length} from ${SRC}, ${dst.length} from ${DST})`);
  await fence(ch);
  await kill(t, w, 'after the recovered messages were acked');
  const again = await restart(t, dataDir);
  const c2 = await connect(again.url, 'check');
  const ch2 = bounded(await within(c2.createChannel(), 'channel.open'), 'check');
  for (const q of QUEUES) t.equal((await ch2.checkQueue(q)).messageCount, 0, `${q}: the acked messages do not come back`);
  await within(c2.close(), 'connection.close');
  await again.stop();
}

interface Rejecter {
  ch: ConfirmChannel;
  conn: ChannelModel;
  rejected: () => number;
}

/** A consumer of dl.src on a confirm channel rejecting (requeue=false) every message; onReject after each. */
async function rejectAll(url: string, onReject: (rejected: number) => void = () => undefined): Promise<Rejecter> {
  const conn = await connect(url, 'rejecter');
  const ch = await confirmChannel(conn, 'rejecter');
  await within(ch.prefetch(100), 'basic.qos');
  let rejected = 0;
  await within(
    ch.consume(SRC, (m) => {
      if (!m) return;
      try {
        ch.reject(m, false);
      } catch {
        return; // the channel closed under us (the kill)
      }
      onReject(++rejected);
    }),
    'basic.consume',
  );
  return { ch, conn, rejected: () => rejected };
}

t.comment(`seed ${SEED} (KILL_TEST_SEED=${SEED} to reuse it)`);

t.test('rejected without requeue', { skip }, async (t) => {
  const N = 2000;
  const rejected: Death = { reason: 'rejected' };

  t.test('kill -9 once the rejects reached the broker: each message in dl.dst or still in dl.src', async (t) => {
    const dataDir = tempDataDir(t);
    const w = await startWarren(t, { dataDir });
    await declareTopology(w.url);
    const sent = await publishAll(w.url, N);
    const r = await rejectAll(w.url);
    await until(() => r.rejected() >= N, `${N} rejects sent (${r.rejected()})`, 10_000);
    // a round trip on the rejecting channel: the broker has taken every reject before answering
    const src = await within(r.ch.checkQueue(SRC), 'queue.declare passive');
    const dst = await within(r.ch.checkQueue(DST), 'queue.declare passive');
    t.same([src.messageCount, dst.messageCount], [0, N], `before the kill: ${SRC} empty, ${DST} holds ${N}`);
    await kill(t, w, 'right after the rejects');
    const w2 = await restart(t, dataDir);
    const got = await readQueues(w2);
    checkAtLeastOnce(t, 'after the kill', got, sent, rejected);
    await consumeAckAndKill(t, w2, dataDir, got);
  });

  t.test('kill -9 after the rejects and a confirmed fence: all in dl.dst exactly once', async (t) => {
    const dataDir = tempDataDir(t);
    const w = await startWarren(t, { dataDir });
    await declareTopology(w.url);
    const sent = await publishAll(w.url, N);
    const r = await rejectAll(w.url);
    await until(() => r.rejected() >= N, `${N} rejects sent (${r.rejected()})`, 10_000);
    await fence(r.ch);
    await kill(t, w, 'after the rejects and the fence');
    const w2 = await restart(t, dataDir);
    const got = await readQueues(w2);
    checkAllDeadLettered(t, 'after the kill', got, sent, rejected);
    await consumeAckAndKill(t, w2, dataDir, got);
  });

  t.test('kill -9 in the middle of the rejecting: each message in dl.dst or dl.src, never lost, never twice in one', async (t) => {
    const dataDir = tempDataDir(t);
    const w = await startWarren(t, { dataDir });
    await declareTopology(w.url);
    const sent = await publishAll(w.url, N);
    const killAt = Math.floor(N / 4 + seeded(SEED)() * (N / 2));
    t.comment(`the kill comes after ${killAt} rejects`);
    let killed: Promise<void> | null = null;
    const r = await rejectAll(w.url, (n) => {
      if (n === killAt) killed = kill(t, w, `after ${killAt} rejects, more in flight`);
    });
    await until(() => killed !== null, `${killAt} rejects (${r.rejected()})`, 10_000);
    await killed;
    t.ok(r.rejected() < N, `killed mid-stream: ${r.rejected()} of ${N} rejected when the connection closed`);
    const w2 = await restart(t, dataDir);
    const got = await readQueues(w2);
    const o = checkAtLeastOnce(t, 'after the kill', got, sent, rejected);
    t.ok(o.src > 0, `some messages were not rejected before the kill: ${o.src} still in ${SRC}`);
    await consumeAckAndKill(t, w2, dataDir, got);
  });
});

t.test('expired by x-message-ttl', { skip }, async (t) => {
  const N = 500;

  t.test('kill -9 once every message expired, after a confirmed fence: all in dl.dst, none in dl.src', async (t) => {
    const dataDir = tempDataDir(t);
    const w = await startWarren(t, { dataDir });
    await declareTopology(w.url, { 'x-message-ttl': 500 });
    const sent = await publishAll(w.url, N);
    const conn = await connect(w.url, 'watcher');
    const ch = await confirmChannel(conn, 'watcher');
    let inDst = 0;
    const deadline = Date.now() + 5000;
    while ((inDst = (await within(ch.checkQueue(DST), 'queue.declare passive')).messageCount) < N && Date.now() < deadline) await sleep(10);
    t.equal(inDst, N, `all ${N} expired into ${DST} before the kill`);
    await fence(ch);
    await kill(t, w, 'after the expiries and the fence');
    const w2 = await restart(t, dataDir);
    const got = await readQueues(w2);
    checkAllDeadLettered(t, 'after the kill', got, sent, { reason: 'expired' });
    await consumeAckAndKill(t, w2, dataDir, got);
  });

  t.test('kill -9 in the middle of the expiries (per-message expiration): each message in dl.dst or dl.src', async (t) => {
    const dataDir = tempDataDir(t);
    const w = await startWarren(t, { dataDir });
    await declareTopology(w.url, { 'x-message-ttl': 60_000 });
    // message i expires 300 + 2i ms after its publish: one every 2 ms, in queue order (the kill leaves 250 ms at least)
    const expiration = (i: number): string => String(300 + 2 * i);
    const publishedAt = Date.now();
    const sent = await publishAll(w.url, N, expiration);
    const conn = await connect(w.url, 'watcher');
    const ch = bounded(await within(conn.createChannel(), 'channel.open'), 'watcher');
    ch.on('error', () => undefined);
    const killAt = Math.floor(N / 4 + seeded(SEED + 1)() * (N / 2));
    t.comment(`the kill comes once ${killAt} expired`);
    let inDst = 0;
    const deadline = Date.now() + 5000;
    while ((inDst = (await ch.checkQueue(DST)).messageCount) < killAt && Date.now() < deadline) await sleep(2);
    await kill(t, w, `with ${inDst} expired`);
    t.ok(inDst >= killAt && inDst < N, `killed mid-expiry: ${inDst} of ${N} in ${DST}`);
    const w2 = await restart(t, dataDir);
    // those recovered into dl.src expire there too, their expirations counted from publication
    await sleep(Math.max(0, publishedAt + 300 + 2 * N + 200 - Date.now()));
    const got = await readQueues(w2);
    const o = checkAtLeastOnce(t, 'after the kill', got, sent, { reason: 'expired', expiration });
    t.equal(o.src, 0, `all expired on time after the restart: none left in ${SRC}`);
    await consumeAckAndKill(t, w2, dataDir, got);
  });
});

t.test('dropped by x-max-length drop-head: kill -9 after the confirms, 10 in dl.src and 90 in dl.dst', { skip }, async (t) => {
  const dataDir = tempDataDir(t);
  const w = await startWarren(t, { dataDir });
  await declareTopology(w.url, { 'x-max-length': 10 });
  // the drops are logged in the batches of the publishes that cause them: the confirms cover them
  const sent = await publishAll(w.url, 100);
  await kill(t, w, 'after the confirms');
  const w2 = await restart(t, dataDir);
  const got = await readQueues(w2);
  checkAtLeastOnce(t, 'after the kill', got, sent, { reason: 'maxlen' });
  t.same(got[SRC].map((g) => g.id), [...sent.keys()].slice(90), `the newest 10 in ${SRC}`);
  t.same(got[DST].map((g) => g.id), [...sent.keys()].slice(0, 90), `the oldest 90 in ${DST}, in order, once each`);
  await consumeAckAndKill(t, w2, dataDir, got);
});

// The TTL half of the guarantee: when the crash comes before an expiry's
// records are on disk, the message comes back in dl.src (allowed above), and
// there it still expires, its TTL counted from publication (the log records
// when it was written), and is dead-lettered, never delivered from dl.src.
t.test('a message recovered into a queue with x-message-ttl still expires and is dead-lettered', { skip }, async (t) => {
  const N = 20;
  const TTL = 1000;
  const dataDir = tempDataDir(t);
  const w = await startWarren(t, { dataDir });
  await declareTopology(w.url, { 'x-message-ttl': TTL });
  const sent = await publishAll(w.url, N);
  await kill(t, w, `before the ${TTL} ms TTL ran out`);
  const w2 = await restart(t, dataDir);
  const conn = await connect(w2.url, 'watcher');
  const ch = bounded(await within(conn.createChannel(), 'channel.open'), 'watcher');
  // RabbitMQ keeps a message's expiry across a restart; at the latest the TTL counts again from the recovery
  const deadline = Date.now() + TTL + 2000;
  let inDst = 0;
  while ((inDst = (await ch.checkQueue(DST)).messageCount) < N && Date.now() < deadline) await sleep(20);
  const inSrc = (await ch.checkQueue(SRC)).messageCount;
  await within(conn.close(), 'connection.close');
  t.same({ [SRC]: inSrc, [DST]: inDst }, { [SRC]: 0, [DST]: N }, `${TTL + 2000} ms after the restart all ${N} expired into ${DST}`);
  const got = await readQueues(w2);
  checkAtLeastOnce(t, 'after the restart', got, sent, { reason: 'expired' });
  await w2.stop();
});
