// No confirmed message is lost across kill -9 of bin/warren. Four publishers
// on their own connections publish persistent messages with unique ids
// (r{round}p{publisher}-{n}) through a direct exchange to two durable queues,
// some to both, keeping up to WINDOW confirms outstanding each; once a few
// thousand are confirmed the broker is killed while they are still
// publishing, restarted on the same data dir, and each queue is read back:
// every confirmed id is in every queue it was routed to, no id is there twice
// or was never sent there, each publisher's ids are in publish order, bodies
// are intact and the redelivered flags are the ones the log allows. Also with
// a consumer acking during the run (an acked message may come back), and over
// three kill/restart cycles on one data dir (recovering a recovered log).
//
// Routing and kill points come from a seed (printed; set KILL_TEST_SEED to
// reuse it); the interleaving of the clients is up to the scheduler.
import t from 'tap';
import type { Test } from 'tap';
import amqplib from 'amqplib';
import { bounded, until, within } from './helpers/bounded.js';
import { heldTwice } from './helpers/queue-reads.js';
import { startWarren, tempDataDir } from './helpers/warren-process.js';
import type { WarrenProcess } from './helpers/warren-process.js';

const SEED = Number(process.env.KILL_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PUBLISHERS = 4;
/** confirms outstanding per publisher before it waits */
const WINDOW = 500;
/** the kill comes after this many confirms in a round, plus up to KILL_SPREAD */
const KILL_AFTER = 3000;
const KILL_SPREAD = 2000;
const PREFETCH = 100;
const EXCHANGE = 'kill.direct';
const QUEUES = ['kill.a', 'kill.b'] as const;
type QueueName = (typeof QUEUES)[number];
/** the queue the consumer of the second scenario acks from */
const CONSUMED: QueueName = 'kill.a';
/** routing key -> the queues bound with it */
const ROUTES: Record<string, readonly QueueName[]> = { a: ['kill.a'], b: ['kill.b'], both: ['kill.a', 'kill.b'] };

/** mulberry32: a small seeded generator, so a failing run's routing can be replayed */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const pickKey = (rand: () => number): string => {
  const r = rand();
  return r < 0.45 ? 'a' : r < 0.9 ? 'b' : 'both';
};

/** What the clients did, across every round of one test. */
class Ledger {
  /** every id published, and the queues its routing key reaches */
  readonly routes = new Map<string, readonly QueueName[]>();
  readonly confirmed = new Set<string>();
  readonly nacked = new Set<string>();
  /** by the consumer of CONSUMED */
  readonly received = new Set<string>();
  readonly acked = new Set<string>();
  /** publishes whose confirm has not come (nor the close that ends the wait) */
  pending = 0;
  duplicateDeliveries = 0;
  consumerRan = false;
  /** ids a check after an earlier restart read (and left unacked): they must come back redelivered */
  readonly readBefore: Record<QueueName, Set<string>> = { 'kill.a': new Set(), 'kill.b': new Set() };

  settle(id: string, err: unknown): void {
    this.pending--;
    if (!err) this.confirmed.add(id);
    else if (err instanceof Error && err.message === 'message nacked') this.nacked.add(id);
    // else 'channel closed': the broker died before answering
  }

  summary(): string {
    return `sent ${this.routes.size}, confirmed ${this.confirmed.size}, nacked ${this.nacked.size}, consumer acked ${this.acked.size}`;
  }
}

interface Got {
  id: string;
  body: string;
  redelivered: boolean;
}

async function declareTopology(url: string): Promise<void> {
  const conn = await within(amqplib.connect(url), 'connect to declare');
  const ch = bounded(await within(conn.createChannel(), 'channel.open'), 'setup');
  await ch.assertExchange(EXCHANGE, 'direct', { durable: true });
  for (const q of QUEUES) await ch.assertQueue(q, { durable: true });
  for (const [key, queues] of Object.entries(ROUTES)) for (const q of queues) await ch.bindQueue(q, EXCHANGE, key);
  await within(conn.close(), 'connection.close');
}

/** The clients of one round: the kill is expected to close their connections, nothing before it. */
class Round {
  killed = false;
  readonly closedEarly: string[] = [];

  /** Watch a client's connection: a close before the kill (an error from the broker) is recorded. */
  watch(conn: amqplib.ChannelModel, who: string): Promise<void> {
    conn.on('error', () => undefined); // reported with the close
    return new Promise<void>((resolve) =>
      conn.on('close', (err?: Error) => {
        if (!this.killed) this.closedEarly.push(`${who}: ${err?.message ?? 'closed'}`);
        resolve();
      }),
    );
  }
}

/** One publisher: its own connection and confirm channel, publishing until its connection closes. */
async function publishUntilKilled(url: string, stream: string, ledger: Ledger, round: Round, rand: () => number): Promise<void> {
  const conn = await within(amqplib.connect(url), `${stream}: connect`);
  let open = true;
  let outstanding = 0;
  /** resolves the wait for the window to half empty (or the connection to close) */
  let wake: (() => void) | null = null;
  void round.watch(conn, stream).then(() => {
    open = false;
    wake?.();
  });
  const ch = await within(conn.createConfirmChannel(), `${stream}: confirm.select`);
  ch.on('error', () => undefined);
  for (let n = 1; open; n++) {
    const key = pickKey(rand);
    const id = `${stream}-${n}`;
    try {
      ch.publish(EXCHANGE, key, Buffer.from(id), { persistent: true, messageId: id }, (err) => {
        ledger.settle(id, err);
        if (--outstanding < WINDOW / 2) wake?.();
      });
    } catch {
      break; // the channel closed under us
    }
    ledger.routes.set(id, ROUTES[key]!);
    ledger.pending++;
    if (++outstanding >= WINDOW) {
      await within(new Promise<void>((resolve) => (wake = resolve)), `${stream}: confirms (${outstanding} outstanding; ${ledger.summary()})`, 10_000);
      wake = null;
    }
  }
}

/** A consumer on CONSUMED (prefetch PREFETCH) acking each message as it comes, until its connection closes. */
async function consumeUntilKilled(url: string, ledger: Ledger, round: Round): Promise<void> {
  const conn = await within(amqplib.connect(url), 'consumer: connect');
  const closed = round.watch(conn, 'consumer');
  const ch = await within(conn.createChannel(), 'consumer: channel.open');
  ch.on('error', () => undefined);
  await within(ch.prefetch(PREFETCH), 'basic.qos');
  ledger.consumerRan = true;
  await within(
    ch.consume(CONSUMED, (m) => {
      if (!m) return;
      const id = String(m.properties.messageId);
      if (ledger.received.has(id)) ledger.duplicateDeliveries++;
      ledger.received.add(id);
      try {
        ch.ack(m);
        ledger.acked.add(id);
      } catch {
        // the channel closed under us: not acked
      }
    }),
    'basic.consume',
  );
  await closed;
}

/** Publishers (and maybe the consumer) on a running broker; kill -9 once enough confirms are in, mid-stream. */
async function publishAndKill(t: Test, w: WarrenProcess, ledger: Ledger, n: number, withConsumer: boolean): Promise<void> {
  await declareTopology(w.url);
  const threshold = ledger.confirmed.size + KILL_AFTER + Math.floor(seeded(SEED + n)() * KILL_SPREAD);
  const round = new Round();
  const failures: unknown[] = [];
  const publishers: Promise<void>[] = [];
  for (let p = 0; p < PUBLISHERS; p++) publishers.push(publishUntilKilled(w.url, `r${n}p${p}`, ledger, round, seeded(SEED * 31 + n * 7 + p)));
  const clients = withConsumer ? [...publishers, consumeUntilKilled(w.url, ledger, round)] : publishers;
  let publishing = PUBLISHERS;
  for (const c of clients) c.catch((err: unknown) => failures.push(err));
  for (const p of publishers) p.finally(() => publishing--).catch(() => undefined);
  // a publisher the broker throws out early does not stop the others: what they had confirmed is checked
  const enough = (): boolean => ledger.confirmed.size >= threshold;
  await until(() => enough() || publishing === 0, `${threshold} confirms in round ${n} (${ledger.summary()})`, 30_000);
  round.killed = true;
  const inFlight = ledger.pending;
  t.equal(await w.stop('SIGKILL'), 'SIGKILL', `round ${n}: killed after ${ledger.summary()}`);
  await within(Promise.allSettled(clients), 'the clients to see their connections close', 5000);
  if (failures.length > 0) throw failures[0];
  const trouble = round.closedEarly.length > 0 ? `; broker log: ${brokerTrouble(w)}` : '';
  t.same(round.closedEarly, [], `round ${n}: the broker closed no client connection before the kill (${ledger.summary()})${trouble}`);
  t.ok(enough(), `round ${n}: ${threshold} confirms before the kill (${ledger.summary()})${trouble}`);
  t.ok(inFlight > 0, `round ${n}: killed mid-stream, with ${inFlight} publishes awaiting their confirm`);
}

/** Start on the data dir; the broker must not log an error while recovering. */
async function restart(t: Test, dataDir: string): Promise<WarrenProcess> {
  const w = await startWarren(t, { dataDir });
  const recovered = w.logs.find((l) => l.msg === 'recovered persistent messages from the message log');
  t.comment(`recovery: ${JSON.stringify(recovered ?? null)}`);
  for (const l of w.logs) if (l.level === 40) t.comment(`broker warning: ${JSON.stringify(l)}`);
  const errors = w.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
  t.same(errors, [], 'recovery logs no error');
  return w;
}

/** Every message of each queue, without acking (closing the connection requeues them). */
async function readQueues(w: WarrenProcess): Promise<Record<QueueName, Got[]>> {
  const conn = await within(amqplib.connect(w.url), 'connect to read');
  let closedBy = '';
  conn.on('error', (err: Error) => (closedBy = err.message));
  const ch = bounded(await within(conn.createChannel(), 'channel.open'), 'reader');
  const out: Record<QueueName, Got[]> = { 'kill.a': [], 'kill.b': [] };
  for (const q of QUEUES) {
    const { messageCount } = await ch.checkQueue(q);
    const got = out[q];
    const { consumerTag } = await ch.consume(q, (m) => {
      if (m) got.push({ id: String(m.properties.messageId), body: m.content.toString(), redelivered: m.fields.redelivered });
    });
    await until(() => got.length >= messageCount || closedBy !== '', `${messageCount} messages from ${q} (have ${got.length})`, 15_000);
    if (closedBy) throw new Error(`reading ${q}: the broker closed the connection after ${got.length} of ${messageCount} messages: ${closedBy}; broker log: ${brokerTrouble(w)}`);
    await ch.cancel(consumerTag);
  }
  await within(conn.close(), 'connection.close');
  return out;
}

/** The broker's warnings and errors, for failure messages. */
const brokerTrouble = (w: WarrenProcess): string =>
  JSON.stringify(w.logs.filter((l) => typeof l.level === 'number' && l.level >= 40).map((l) => ({ msg: l.msg, err: (l.err as { stack?: string } | undefined)?.stack })));

const first = (ids: Iterable<string>): string => [...ids].slice(0, 5).join(', ');

/** Each stream's sequence numbers, in queue order, must grow. */
function outOfOrder(got: Got[]): string[] {
  const last = new Map<string, number>();
  const bad: string[] = [];
  for (const { id } of got) {
    const dash = id.lastIndexOf('-');
    const stream = id.slice(0, dash);
    const n = Number(id.slice(dash + 1));
    if ((last.get(stream) ?? 0) >= n) bad.push(`${id} after ${stream}-${last.get(stream)}`);
    last.set(stream, n);
  }
  return bad;
}

/** The invariants for one queue after a restart, with counts in every message. */
function checkQueue(t: Test, label: string, q: QueueName, got: Got[], ledger: Ledger): void {
  const sentHere = [...ledger.routes].filter(([, qs]) => qs.includes(q)).map(([id]) => id);
  const acked = q === CONSUMED ? ledger.acked : new Set<string>();
  const held = new Set(got.map((g) => g.id));
  const confirmedHere = sentHere.filter((id) => ledger.confirmed.has(id));
  const counts = `${label} ${q}: sent ${sentHere.length}, confirmed ${confirmedHere.length}, consumer acked ${acked.size}, recovered ${got.length}, unconfirmed-but-recovered ${got.filter((g) => !ledger.confirmed.has(g.id)).length}`;
  t.comment(counts);

  const missing = confirmedHere.filter((id) => !held.has(id) && !acked.has(id));
  t.equal(missing.length, 0, `${counts}: ${missing.length} confirmed (and not acked) ids missing [${first(missing)}]`);
  const twice = heldTwice(got);
  t.equal(twice.length, 0, `${counts}: ${twice.length} ids held twice [${first(twice)}]`);
  const neverSent = got.filter((g) => !ledger.routes.get(g.id)?.includes(q)).map((g) => g.id);
  t.equal(neverSent.length, 0, `${counts}: ${neverSent.length} ids never sent to this queue [${first(neverSent)}]`);
  const corrupt = got.filter((g) => g.body !== g.id).map((g) => `${g.id}: '${g.body}'`);
  t.equal(corrupt.length, 0, `${counts}: ${corrupt.length} bodies differ from their id [${first(corrupt)}]`);
  const disordered = outOfOrder(got);
  t.equal(disordered.length, 0, `${counts}: ${disordered.length} ids out of their publisher's order [${first(disordered)}]`);

  // redelivered: exactly the ones a check read earlier, plus what the consumer had (or had in flight)
  const lostFlag = got.filter((g) => !g.redelivered && ledger.readBefore[q].has(g.id)).map((g) => g.id);
  t.equal(lostFlag.length, 0, `${counts}: ${lostFlag.length} ids read after an earlier restart come back without redelivered [${first(lostFlag)}]`);
  const unexplained = got.filter((g) => g.redelivered && !ledger.readBefore[q].has(g.id) && !(q === CONSUMED && ledger.received.has(g.id))).map((g) => g.id);
  const allowed = q === CONSUMED && ledger.consumerRan ? PREFETCH : 0;
  t.ok(unexplained.length <= allowed, `${counts}: ${unexplained.length} ids redelivered that no client received (at most ${allowed}: the consumer's prefetch in flight) [${first(unexplained)}]`);
}

/** Restart, read both queues and check them; the ids read are left unacked (redelivered next time). */
async function restartAndCheck(t: Test, dataDir: string, ledger: Ledger, label: string): Promise<WarrenProcess> {
  const w = await restart(t, dataDir);
  const got = await readQueues(w);
  for (const q of QUEUES) {
    checkQueue(t, label, q, got[q], ledger);
    for (const g of got[q]) ledger.readBefore[q].add(g.id);
  }
  return w;
}

t.comment(`seed ${SEED} (KILL_TEST_SEED=${SEED} to reuse it)`);

t.test('4 publishers, kill -9 mid-stream: every confirmed id comes back, once, in order', async (t) => {
  const dataDir = tempDataDir(t);
  const ledger = new Ledger();
  await publishAndKill(t, await startWarren(t, { dataDir }), ledger, 1, false);
  t.equal(ledger.nacked.size, 0, `no nacks (${ledger.summary()})`);
  await (await restartAndCheck(t, dataDir, ledger, 'after the kill')).stop();
});

t.test('with a consumer acking during the run: the confirmed ids it had not acked come back', async (t) => {
  const dataDir = tempDataDir(t);
  const ledger = new Ledger();
  await publishAndKill(t, await startWarren(t, { dataDir }), ledger, 1, true);
  t.ok(ledger.acked.size > 0, `the consumer acked during the run (${ledger.summary()})`);
  t.equal(ledger.duplicateDeliveries, 0, 'the consumer got no id twice before the kill');
  await (await restartAndCheck(t, dataDir, ledger, 'after the kill')).stop();
});

t.test('three kill/restart cycles on one data dir: the invariants hold cumulatively', async (t) => {
  const dataDir = tempDataDir(t);
  const ledger = new Ledger();
  let w = await startWarren(t, { dataDir });
  for (let round = 1; round <= 3; round++) {
    await publishAndKill(t, w, ledger, round, false);
    w = await restartAndCheck(t, dataDir, ledger, `after kill ${round}`);
  }
  await w.stop();
});
