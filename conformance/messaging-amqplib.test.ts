// Messaging as amqplib (npm `amqplib`, unmodified) sees it: exchanges, routing,
// queues, publish, consume, acks and prefetch. Every expectation here is what
// RabbitMQ 3.10 does, checked by running this file against a scratch RabbitMQ:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/messaging-amqplib.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
//
// Reply texts are compared in full, as amqplib shows them: an RPC the server
// refuses rejects with `Operation failed: QueueDeclare; 404 (NOT-FOUND) with
// message "NOT_FOUND - ..."`, and the channel's 'error' event (and anything
// refused asynchronously, such as a publish or an ack) says `Channel closed by
// server: 404 (NOT-FOUND) with message "..."`; both carry code, classId and
// methodId. A reply text longer than 255 characters arrives cut to 252 and
// '...' (RabbitMQ's rule for short strings).
//
// A publish reaches its queues asynchronously in RabbitMQ: a queue.declare or
// basic.get sent right after it may not see it yet, so the tests wait (bounded)
// for the expected message count before they look.
//
// Every broker operation is bounded (OP_MS), and so is every wait for
// deliveries; after the first timeout all bounds drop to DEGRADED_MS, so a
// broker that does not answer fails the file in seconds.
import t from 'tap';
import type { Test } from 'tap';
import amqplib from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage, GetMessage, Message, Options } from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { OP_MS, bounded, limit, sleep, until, within } from './helpers/bounded.js';
import { notFoundQueue, notFoundExchange, locked } from './helpers/rabbitmq-texts.js';

/** Longest wait for any one broker operation or expected delivery. */
/** How long to wait for deliveries that must not come. */
const QUIET_MS = 200;
/** Backstop per subtest. */
const SUBTEST = { timeout: 20_000 };

const broker = await brokerUnderTest(t);

// ---------------------------------------------------------------- helpers

interface AmqpError extends Error {
  code?: number | string;
  classId?: number;
  methodId?: number;
}

/** amqplib's names for reply codes (defs.constant_strs). */
const CODE_NAMES: Record<number, string> = {
  403: 'ACCESS-REFUSED',
  404: 'NOT-FOUND',
  405: 'RESOURCE-LOCKED',
  406: 'PRECONDITION-FAILED',
  503: 'COMMAND-INVALID',
  530: 'NOT-ALLOWED',
};


interface ChannelState {
  /** the server's channel.close (the 'error' event), or null if it closed otherwise */
  closed: Promise<AmqpError | null>;
}
const channelStates = new WeakMap<Channel, ChannelState>();

class Client {
  /** connection errors (the server's connection.close) */
  readonly errors: AmqpError[] = [];
  readonly closed: Promise<AmqpError | null>;
  private readonly queues: string[] = [];
  private readonly exchanges: string[] = [];

  constructor(readonly model: ChannelModel) {
    model.on('error', (e: AmqpError) => this.errors.push(e));
    this.closed = new Promise((resolve) => model.once('close', () => resolve(this.errors[0] ?? null)));
  }

  async channel(): Promise<Channel> {
    const raw = await within(this.model.createChannel(), 'channel.open');
    let error: AmqpError | null = null;
    raw.on('error', (e: AmqpError) => (error ??= e));
    const closed = new Promise<AmqpError | null>((resolve) => raw.once('close', () => resolve(error)));
    const ch = bounded(raw, 'channel');
    channelStates.set(ch, { closed });
    return ch;
  }

  /** A non-durable queue with a unique name, deleted when the test ends. */
  async queue(ch: Channel, o: Options.AssertQueue = {}, prefix = 'q'): Promise<string> {
    const name = uniqueName(`amqplib.${prefix}`);
    const ok = await ch.assertQueue(name, { durable: false, ...o });
    if (!o.exclusive) this.queues.push(name);
    return ok.queue;
  }

  async exchange(ch: Channel, type: string, o: Options.AssertExchange = {}, prefix = 'x'): Promise<string> {
    const name = uniqueName(`amqplib.${prefix}`);
    await ch.assertExchange(name, type, { durable: false, ...o });
    this.exchanges.push(name);
    return name;
  }

  trackExchange(name: string): void {
    this.exchanges.push(name);
  }

  /** Delete what the test declared (best effort, bounded), then close. */
  async end(): Promise<void> {
    const cleanup = async () => {
      let ch: Channel | null = null;
      const each = async (f: (c: Channel) => Promise<unknown>) => {
        try {
          ch ??= await this.channel();
          await f(ch);
        } catch {
          ch = null;
        }
      };
      for (const q of this.queues) await each((c) => c.deleteQueue(q));
      for (const x of this.exchanges) await each((c) => c.deleteExchange(x));
    };
    await within(cleanup(), 'cleanup', 2000).catch(() => {});
    await within(this.model.close(), 'connection.close', 2000).catch(() => {});
    // a broker that never answered connection.close must not keep the test process alive
    (this.model.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }
}

async function connect(t: Test): Promise<Client> {
  // amqplib's own handshake timeout destroys the socket of a connect that gets no answer
  const model = await within(amqplib.connect(broker.url, { timeout: limit(OP_MS) }), 'connect');
  const client = new Client(model);
  t.teardown(() => client.end());
  return client;
}

/** The server's channel.close for ch (bounded). */
async function serverClosed(ch: Channel): Promise<AmqpError | null> {
  const state = channelStates.get(ch);
  if (!state) throw new Error('not a channel from Client.channel()');
  return within(state.closed, 'channel close from the server');
}

interface Refusal {
  code: number;
  text: string;
  classId: number;
  methodId: number;
}

function closeMessage(code: number, text: string): string {
  return `${code} (${CODE_NAMES[code] ?? '?'}) with message "${text}"`;
}

function errorShape(e: AmqpError | null | undefined) {
  if (!e) return e;
  return { message: e.message, code: e.code, classId: e.classId, methodId: e.methodId };
}

/**
 * op (an RPC named method, e.g. 'QueueDeclare') is refused with r: the
 * promise rejects with it and the channel is closed by the server with it.
 */
async function refused(t: Test, ch: Channel, op: Promise<unknown>, method: string, r: Refusal): Promise<void> {
  const err = await op.then(
    () => null,
    (e: AmqpError) => e,
  );
  t.same(errorShape(err), { message: `Operation failed: ${method}; ${closeMessage(r.code, r.text)}`, code: r.code, classId: r.classId, methodId: r.methodId }, `${method} refused: ${r.code} ${r.text}`);
  t.same(errorShape(await serverClosed(ch)), { message: `Channel closed by server: ${closeMessage(r.code, r.text)}`, code: r.code, classId: r.classId, methodId: r.methodId }, 'channel closed by the server');
}

/** ch is closed by the server with r for something it did asynchronously (a publish, an ack). */
async function closedWith(t: Test, ch: Channel, r: Refusal, what: string): Promise<void> {
  t.same(errorShape(await serverClosed(ch)), { message: `Channel closed by server: ${closeMessage(r.code, r.text)}`, code: r.code, classId: r.classId, methodId: r.methodId }, `${what}: ${r.code} ${r.text}`);
}

const body = (s: string) => Buffer.from(s);
const text = (m: Message) => m.content.toString();

function publishAll(ch: Channel, queue: string, bodies: string[], o: Options.Publish = {}): void {
  for (const b of bodies) ch.sendToQueue(queue, body(b), o);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

/**
 * Wait (bounded) until the queue holds at least n ready messages, and return
 * its declare-ok. A publish reaches its queues asynchronously: RabbitMQ may
 * answer a queue.declare or basic.get sent right after it without it.
 */
async function holds(ch: Channel, queue: string, n: number): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
  const deadline = Date.now() + limit(OP_MS);
  for (;;) {
    const ok = await ch.checkQueue(queue);
    if (ok.messageCount >= n || Date.now() > deadline) return ok;
    await sleep(5);
  }
}

/**
 * The ready messages of the queue, taken with basic.get (no-ack) until
 * get-empty, as [body, redelivered]: once it holds n of them (bounded), or
 * after QUIET_MS when none are expected.
 */
async function drain(ch: Channel, queue: string, n: number): Promise<[string, boolean][]> {
  if (n === 0) await sleep(QUIET_MS);
  else await holds(ch, queue, n);
  const out: [string, boolean][] = [];
  for (let i = 0; i < 10_000; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) break;
    out.push([text(m), m.fields.redelivered]);
  }
  return out;
}

/** The bodies drain() takes, compared with what is expected. */
async function expectBodies(t: Test, ch: Channel, queue: string, expected: string[], what?: string): Promise<void> {
  t.same((await drain(ch, queue, expected.length)).map(([b]) => b), expected, what ?? queue);
}

async function getOne(ch: Channel, queue: string, o: Options.Get = {}): Promise<GetMessage> {
  const m = await ch.get(queue, o);
  if (!m) throw new Error(`basic.get ${queue}: get-empty, expected a message`);
  return m;
}

interface Inbox {
  tag: string;
  msgs: ConsumeMessage[];
  /** the server cancelled the consumer (amqplib calls back with null) */
  cancelled: boolean;
  bodies(): string[];
  waitFor(n: number): Promise<void>;
}

async function consume(ch: Channel, queue: string, o: Options.Consume = {}): Promise<Inbox> {
  const inbox: Inbox = {
    tag: '',
    msgs: [],
    cancelled: false,
    bodies: () => inbox.msgs.map(text),
    waitFor: (n) => until(() => inbox.msgs.length >= n, `${n} deliveries on ${inbox.tag} (have ${inbox.msgs.length})`),
  };
  const ok = await ch.consume(
    queue,
    (m) => {
      if (m) inbox.msgs.push(m);
      else inbox.cancelled = true;
    },
    o,
  );
  inbox.tag = ok.consumerTag;
  return inbox;
}

/** A round trip on ch: the server has handled everything sent on ch before it. */
async function sync(ch: Channel): Promise<void> {
  await ch.checkExchange('amq.direct');
}

async function exists(client: Client, kind: 'queue' | 'exchange', name: string): Promise<boolean> {
  const ch = await client.channel();
  try {
    if (kind === 'queue') await ch.checkQueue(name);
    else await ch.checkExchange(name);
    await ch.close();
    return true;
  } catch (e) {
    const code = (e as AmqpError).code;
    if (code === 404) return false;
    if (code === 405) return true; // another connection's exclusive queue
    throw e;
  }
}

/** Wait (bounded) until the entity is gone; RabbitMQ deletes some of them asynchronously. */
async function gone(client: Client, kind: 'queue' | 'exchange', name: string): Promise<boolean> {
  const deadline = Date.now() + limit(OP_MS);
  while (Date.now() < deadline) {
    if (!(await exists(client, kind, name))) return true;
    await sleep(20);
  }
  return false;
}


// ---------------------------------------------------------------- 1. exchanges

t.test('exchanges', async (t) => {
  t.test('declare each type, redeclare it the same way, check it passively', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    for (const type of ['direct', 'fanout', 'topic', 'headers']) {
      const name = uniqueName(`amqplib.${type}`);
      c.trackExchange(name);
      t.same(await ch.assertExchange(name, type, { durable: false }), { exchange: name }, `declare ${type}`);
      t.same(await ch.assertExchange(name, type, { durable: false }), { exchange: name }, `redeclare ${type}`);
      t.same(await ch.checkExchange(name), {}, `passive ${type}`);
    }
    for (const name of ['amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']) t.same(await ch.checkExchange(name), {}, `${name} exists`);
  });

  t.test('redeclare with a different type, durable, auto-delete or internal: 406', SUBTEST, async (t) => {
    const c = await connect(t);
    const x = await c.exchange(await c.channel(), 'direct');
    const cases: [Options.AssertExchange & { type?: string }, string][] = [
      [{ type: 'fanout' }, `inequivalent arg 'type' for exchange '${x}' in vhost '/': received 'fanout' but current is 'direct'`],
      [{ durable: true }, `inequivalent arg 'durable' for exchange '${x}' in vhost '/': received 'true' but current is 'false'`],
      [{ autoDelete: true }, `inequivalent arg 'auto_delete' for exchange '${x}' in vhost '/': received 'true' but current is 'false'`],
      [{ internal: true }, `inequivalent arg 'internal' for exchange '${x}' in vhost '/': received 'true' but current is 'false'`],
    ];
    for (const [{ type, ...o }, why] of cases) {
      const ch = await c.channel();
      await refused(t, ch, ch.assertExchange(x, type ?? 'direct', { durable: false, ...o }), 'ExchangeDeclare', { code: 406, text: `PRECONDITION_FAILED - ${why}`, classId: 40, methodId: 10 });
    }
    // other arguments are not compared
    const ch = await c.channel();
    t.same(await ch.assertExchange(x, 'direct', { durable: false, arguments: { 'x-whatever': 1 } }), { exchange: x }, 'different unknown arguments: ok');
  });

  t.test('amq.* names: declaring is 403, a passive declare of a missing one 404', SUBTEST, async (t) => {
    const c = await connect(t);
    const name = uniqueName('amq.amqplib');
    let ch = await c.channel();
    await refused(t, ch, ch.assertExchange(name, 'direct', { durable: false }), 'ExchangeDeclare', { code: 403, text: `ACCESS_REFUSED - exchange name '${name}' contains reserved prefix 'amq.*'`, classId: 40, methodId: 10 });
    ch = await c.channel();
    await refused(t, ch, ch.checkExchange(name), 'ExchangeDeclare', { code: 404, text: notFoundExchange(name), classId: 40, methodId: 10 });
    ch = await c.channel();
    t.same(await ch.checkExchange('amq.direct'), {}, 'passive amq.direct: ok');
  });

  t.test('passive declare of a missing exchange: 404', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const name = uniqueName('amqplib.missing');
    await refused(t, ch, ch.checkExchange(name), 'ExchangeDeclare', { code: 404, text: notFoundExchange(name), classId: 40, methodId: 10 });
    t.same(c.errors, [], 'the connection stays open');
    t.same(await (await c.channel()).checkExchange('amq.fanout'), {}, 'a new channel works');
  });

  t.test('the default exchange and amq.* cannot be declared, deleted or bound: 403', SUBTEST, async (t) => {
    const c = await connect(t);
    const q = await c.queue(await c.channel());
    const deflt = 'ACCESS_REFUSED - operation not permitted on the default exchange';
    const cases: [string, (ch: Channel) => Promise<unknown>, string, number, number][] = [
      ['ExchangeDeclare', (ch) => ch.assertExchange('', 'direct', { durable: false }), deflt, 40, 10],
      ['ExchangeDeclare', (ch) => ch.checkExchange(''), deflt, 40, 10], // passive
      ['ExchangeDelete', (ch) => ch.deleteExchange(''), deflt, 40, 20],
      ['QueueBind', (ch) => ch.bindQueue(q, '', 'k'), deflt, 50, 20],
      ['QueueUnbind', (ch) => ch.unbindQueue(q, '', q), deflt, 50, 50],
      ['ExchangeDelete', (ch) => ch.deleteExchange('amq.direct'), "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed", 40, 20],
    ];
    for (const [method, op, why, classId, methodId] of cases) {
      const ch = await c.channel();
      await refused(t, ch, op(ch), method, { code: 403, text: why, classId, methodId });
    }
  });

  t.test('delete: if-unused while bound is 406; a missing exchange is ok', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const x = await c.exchange(ch, 'direct');
    const q = await c.queue(ch);
    await ch.bindQueue(q, x, 'k');
    await refused(t, ch, ch.deleteExchange(x, { ifUnused: true }), 'ExchangeDelete', { code: 406, text: `PRECONDITION_FAILED - exchange '${x}' in vhost '/' in use`, classId: 40, methodId: 20 });
    ch = await c.channel();
    t.ok(await exists(c, 'exchange', x), 'still there');
    await ch.unbindQueue(q, x, 'k');
    t.same(await ch.deleteExchange(x, { ifUnused: true }), {}, 'if-unused once unbound: ok');
    t.notOk(await exists(c, 'exchange', x), 'deleted');
    t.same(await ch.deleteExchange(x), {}, 'delete again: ok');
    t.same(await ch.deleteExchange(uniqueName('amqplib.missing'), { ifUnused: true }), {}, 'delete a missing exchange with if-unused: ok');

    // exchange-to-exchange: only bindings where it is the source count
    const src = await c.exchange(ch, 'fanout');
    const dst = await c.exchange(ch, 'fanout');
    await ch.bindExchange(dst, src, '');
    await refused(t, ch, ch.deleteExchange(src, { ifUnused: true }), 'ExchangeDelete', { code: 406, text: `PRECONDITION_FAILED - exchange '${src}' in vhost '/' in use`, classId: 40, methodId: 20 });
    ch = await c.channel();
    t.same(await ch.deleteExchange(dst, { ifUnused: true }), {}, 'if-unused on an exchange that is only a binding destination: ok');
    t.same(await ch.deleteExchange(src, { ifUnused: true }), {}, 'the source, now that its binding went with the destination: ok');
  });

  t.test('exchange-to-exchange: X1 -> X2 -> queue delivers; unbind stops it', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x1 = await c.exchange(ch, 'direct');
    const x2 = await c.exchange(ch, 'fanout');
    const q = await c.queue(ch);
    await ch.bindQueue(q, x2, '');
    t.same(await ch.bindExchange(x2, x1, 'k'), {}, 'exchange.bind');
    ch.publish(x1, 'k', body('one'));
    ch.publish(x1, 'other', body('not routed'));
    await holds(ch, q, 1);
    const m = await getOne(ch, q, { noAck: true });
    t.same([text(m), m.fields.exchange, m.fields.routingKey, m.fields.messageCount], ['one', x1, 'k', 0], 'arrives with the exchange and routing key it was published with');
    t.same(await ch.unbindExchange(x2, x1, 'k'), {}, 'exchange.unbind');
    ch.publish(x1, 'k', body('two'));
    t.same(await drain(ch, q, 0), [], 'nothing after the unbind');
    t.same(await ch.unbindExchange(x2, x1, 'k'), {}, 'unbind again: ok');
  });

  t.test('a loop X1 <-> X2, both bound to the queue, delivers once', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x1 = await c.exchange(ch, 'fanout');
    const x2 = await c.exchange(ch, 'fanout');
    const q = await c.queue(ch);
    await ch.bindExchange(x2, x1, '');
    await ch.bindExchange(x1, x2, '');
    await ch.bindQueue(q, x1, '');
    await ch.bindQueue(q, x2, '');
    ch.publish(x1, '', body('via x1'));
    ch.publish(x2, '', body('via x2'));
    await holds(ch, q, 2);
    await sleep(QUIET_MS);
    t.same(await drain(ch, q, 2), [['via x1', false], ['via x2', false]], 'each message once');
  });

  t.test('auto-delete exchange: stays until it had a binding, goes with its last one', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'direct', { autoDelete: true });
    const q1 = await c.queue(ch);
    const q2 = await c.queue(ch);
    await sleep(QUIET_MS);
    t.ok(await exists(c, 'exchange', x), 'never bound: still there');
    await ch.bindQueue(q1, x, 'a');
    await ch.bindQueue(q2, x, 'b');
    await ch.unbindQueue(q1, x, 'a');
    t.ok(await exists(c, 'exchange', x), 'one binding left: still there');
    await ch.unbindQueue(q2, x, 'b');
    t.ok(await gone(c, 'exchange', x), 'last binding removed: gone (passive declare is 404)');

    const x2 = await c.exchange(ch, 'fanout', { autoDelete: true });
    await ch.bindQueue(q1, x2, '');
    await ch.deleteQueue(q1);
    t.ok(await gone(c, 'exchange', x2), 'its only bound queue deleted: gone');
  });

  t.test('internal exchange: publishing to it is 403, routing through it works', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const xi = await c.exchange(ch, 'fanout', { internal: true });
    const front = await c.exchange(ch, 'fanout');
    const q = await c.queue(ch);
    await ch.bindQueue(q, xi, '');
    await ch.bindExchange(xi, front, '');
    ch.publish(front, 'k', body('through'));
    t.same(await drain(ch, q, 1), [['through', false]], 'front -> internal -> queue');
    ch.publish(xi, '', body('direct'));
    await closedWith(t, ch, { code: 403, text: `ACCESS_REFUSED - cannot publish to internal exchange '${xi}' in vhost '/'`, classId: 60, methodId: 40 }, 'publish to the internal exchange');
    ch = await c.channel();
    t.same(await drain(ch, q, 0), [], 'not delivered');
  });
});

// ---------------------------------------------------------------- 2. routing

t.test('routing', async (t) => {
  t.test('direct: the routing key must equal a binding key', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'direct');
    const qa = await c.queue(ch);
    const qb = await c.queue(ch);
    const qab = await c.queue(ch);
    await ch.bindQueue(qa, x, 'a');
    await ch.bindQueue(qb, x, 'b');
    await ch.bindQueue(qab, x, 'a');
    await ch.bindQueue(qab, x, 'b');
    await ch.bindQueue(qab, x, 'b'); // the same binding twice is one binding
    for (const k of ['a', 'b', 'c', 'A', '', 'a.b']) ch.publish(x, k, body(k));
    await expectBodies(t, ch, qa, ['a']);
    await expectBodies(t, ch, qb, ['b']);
    await expectBodies(t, ch, qab, ['a', 'b']);

    // the default exchange routes by queue name; amq.direct is a direct exchange
    ch.publish('', qa, body('default'));
    ch.publish('', qa.toUpperCase(), body('wrong case'));
    await ch.bindQueue(qb, 'amq.direct', qb);
    ch.publish('amq.direct', qb, body('amq.direct'));
    await expectBodies(t, ch, qa, ['default']);
    await expectBodies(t, ch, qb, ['amq.direct']);
    await ch.unbindQueue(qb, 'amq.direct', qb);
  });

  t.test('fanout: every bound queue, whatever the keys, once each', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'fanout');
    const qs = [await c.queue(ch), await c.queue(ch), await c.queue(ch)];
    await ch.bindQueue(qs[0]!, x, '');
    await ch.bindQueue(qs[1]!, x, 'some.key');
    await ch.bindQueue(qs[2]!, x, 'a');
    await ch.bindQueue(qs[2]!, x, 'b');
    ch.publish(x, '', body('1'));
    ch.publish(x, 'anything', body('2'));
    for (const q of qs) await expectBodies(t, ch, q, ['1', '2']);
  });

  t.test('topic: * is one word, # zero or more, empty words count', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'topic');
    const keys = ['a.b.c', 'a.c', 'a', '', 'a..c', 'a.b', 'b.c', 'a.b.b.c', 'x.b.y', 'c', '.', 'a.', '.a', 'b.a.b'];
    // binding key -> the routing keys (in publish order) it matches on RabbitMQ 3.10
    const table: [string, string[]][] = [
      ['a.b.c', ['a.b.c']],
      ['a.*.c', ['a.b.c', 'a..c']],
      ['a.#', ['a.b.c', 'a.c', 'a', 'a..c', 'a.b', 'a.b.b.c', 'a.']],
      ['#.c', ['a.b.c', 'a.c', 'a..c', 'b.c', 'a.b.b.c', 'c']],
      ['#', keys],
      ['#.#', keys],
      ['*', ['a', 'c']],
      ['a.*', ['a.c', 'a.b', 'a.']],
      ['*.*', ['a.c', 'a.b', 'b.c', '.', 'a.', '.a']],
      ['*.*.*', ['a.b.c', 'a..c', 'x.b.y', 'b.a.b']],
      ['a..c', ['a..c']],
      ['', ['']],
      ['a.#.c', ['a.b.c', 'a.c', 'a..c', 'a.b.b.c']],
      ['*.b.#', ['a.b.c', 'a.b', 'a.b.b.c', 'x.b.y']],
      ['a.*.#', ['a.b.c', 'a.c', 'a..c', 'a.b', 'a.b.b.c', 'a.']],
      ['#.a.#', ['a.b.c', 'a.c', 'a', 'a..c', 'a.b', 'a.b.b.c', 'a.', '.a', 'b.a.b']],
    ];
    const queues: string[] = [];
    for (const [bk] of table) {
      const q = await c.queue(ch);
      await ch.bindQueue(q, x, bk);
      queues.push(q);
    }
    for (const k of keys) ch.publish(x, k, body(k));
    for (const [i, [bk, expected]] of table.entries()) await expectBodies(t, ch, queues[i]!, expected, `binding key '${bk}'`);
  });

  t.test('a queue bound with overlapping topic patterns receives a message once', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'topic');
    const q = await c.queue(ch);
    for (const bk of ['a.*', 'a.#', '#', 'a.b', '*.b']) await ch.bindQueue(q, x, bk);
    ch.publish(x, 'a.b', body('a.b'));
    ch.publish(x, 'z', body('z'));
    await holds(ch, q, 2);
    await sleep(QUIET_MS);
    t.same(await drain(ch, q, 2), [['a.b', false], ['z', false]]);
  });

  t.test('headers: x-match all / any, void values, numbers by value', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'headers');
    // amqplib encodes 1 as a byte ('b'), 1.5 as a double, null as void ('V'); {'!': type} picks the type
    const msgs: [string, Record<string, unknown> | undefined][] = [
      ['a1 bx', { a: 1, b: 'x' }],
      ['a1', { a: 1 }],
      ['bx', { b: 'x' }],
      ['a2 bx', { a: 2, b: 'x' }],
      ['a1 by', { a: 1, b: 'y' }],
      ['a1 bx cz', { a: 1, b: 'x', c: 'z' }],
      ['no headers', undefined],
      ['a:int 1 bx', { a: { '!': 'int', value: 1 }, b: 'x' }],
      ['a:long 1 bx', { a: { '!': 'long', value: 1 }, b: 'x' }],
      ['a:double 1 bx', { a: { '!': 'double', value: 1 }, b: 'x' }],
      ["a'1' bx", { a: '1', b: 'x' }],
      ['a:void', { a: null }],
      ['x-foo', { 'x-foo': 'bar' }],
      ['n:float 1', { n: { '!': 'float', value: 1 } }],
      ['n 1.5', { n: 1.5 }],
      ["n'1'", { n: '1' }],
      ['t true', { t: true }],
      ['t 1', { t: 1 }],
    ];
    const table: [string, Record<string, unknown>, string[]][] = [
      ['all', { 'x-match': 'all', a: 1, b: 'x' }, ['a1 bx', 'a1 bx cz', 'a:int 1 bx', 'a:long 1 bx', 'a:double 1 bx']],
      ['no x-match (all)', { a: 1, b: 'x' }, ['a1 bx', 'a1 bx cz', 'a:int 1 bx', 'a:long 1 bx', 'a:double 1 bx']],
      ['any', { 'x-match': 'any', a: 1, b: 'x' }, ['a1 bx', 'a1', 'bx', 'a2 bx', 'a1 by', 'a1 bx cz', 'a:int 1 bx', 'a:long 1 bx', 'a:double 1 bx', "a'1' bx"]],
      ['all, a void', { 'x-match': 'all', a: null }, ['a1 bx', 'a1', 'a2 bx', 'a1 by', 'a1 bx cz', 'a:int 1 bx', 'a:long 1 bx', 'a:double 1 bx', "a'1' bx", 'a:void']],
      ['all, only x- arguments', { 'x-match': 'all', 'x-foo': 'bar' }, msgs.map(([name]) => name)],
      ['any, only x- arguments', { 'x-match': 'any', 'x-foo': 'bar' }, []],
      ['no arguments', {}, msgs.map(([name]) => name)],
      ['n = 1 (byte)', { n: 1 }, ['n:float 1']],
      ['n = long 1', { n: { '!': 'long', value: 1 } }, ['n:float 1']],
      ['n = 1.5', { n: 1.5 }, ['n 1.5']],
      ["n = '1'", { n: '1' }, ["n'1'"]],
      ['t = true', { t: true }, ['t true']],
    ];
    const queues: string[] = [];
    for (const [, args] of table) {
      const q = await c.queue(ch);
      await ch.bindQueue(q, x, '', args);
      queues.push(q);
    }
    for (const [name, headers] of msgs) ch.publish(x, 'ignored', body(name), headers ? { headers } : {});
    for (const [i, [name, , expected]] of table.entries()) await expectBodies(t, ch, queues[i]!, expected, name);

    // unbinding takes the arguments into account
    await ch.unbindQueue(queues[0]!, x, '', { 'x-match': 'all', a: 1, b: 'y' });
    ch.publish(x, '', body('after wrong unbind'), { headers: { a: 1, b: 'x' } });
    await ch.unbindQueue(queues[1]!, x, '', { a: 1, b: 'x' });
    ch.publish(x, '', body('after unbind'), { headers: { a: 1, b: 'x' } });
    await expectBodies(t, ch, queues[0]!, ['after wrong unbind', 'after unbind'], 'unbind with other arguments: still bound');
    await expectBodies(t, ch, queues[1]!, ['after wrong unbind'], 'unbind with the same arguments: unbound');
  });
});

// ---------------------------------------------------------------- 3. queues

t.test('queues', async (t) => {
  t.test('server-named queue: amq.gen- and 22 characters', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const a = await ch.assertQueue('', { exclusive: true });
    const b = await ch.assertQueue('', { exclusive: true });
    t.match(a.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/, a.queue);
    t.match(b.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/, b.queue);
    t.not(a.queue, b.queue, 'a new name each time');
    t.same([a.messageCount, a.consumerCount], [0, 0]);
    ch.sendToQueue(a.queue, body('to the generated name'));
    t.same(await drain(ch, a.queue, 1), [['to the generated name', false]]);
  });

  t.test('declare-ok counts ready messages and consumers', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    publishAll(ch, q, range(1, 5));
    t.same(await holds(ch, q, 5), { queue: q, messageCount: 5, consumerCount: 0 }, 'passive, 5 published');
    t.same(await ch.assertQueue(q, { durable: false }), { queue: q, messageCount: 5, consumerCount: 0 }, 'redeclare');
    const cons = await c.channel();
    await cons.prefetch(1);
    const one = await consume(cons, q);
    const two = await consume(cons, q);
    await one.waitFor(1);
    await two.waitFor(1);
    t.same(await ch.checkQueue(q), { queue: q, messageCount: 3, consumerCount: 2 }, 'two consumers holding one unacked message each');
    await cons.cancel(one.tag);
    t.same(await ch.checkQueue(q), { queue: q, messageCount: 3, consumerCount: 1 }, 'one cancelled (its message stays unacked)');
  });

  t.test('redeclare with different properties or arguments: 406', SUBTEST, async (t) => {
    const c = await connect(t);
    const q = await c.queue(await c.channel());
    const qt = await c.queue(await c.channel(), { arguments: { 'x-message-ttl': 1000 } });
    const cases: [string, Options.AssertQueue, string][] = [
      [q, { durable: true }, `inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`],
      [q, { autoDelete: true }, `inequivalent arg 'auto_delete' for queue '${q}' in vhost '/': received 'true' but current is 'false'`],
      // amqplib sends 1000 as a 16-bit int, which RabbitMQ calls 'short'
      [q, { arguments: { 'x-message-ttl': 1000 } }, `inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '/': received the value '1000' of type 'short' but current is none`],
      [qt, { arguments: { 'x-message-ttl': 2000 } }, `inequivalent arg 'x-message-ttl' for queue '${qt}' in vhost '/': received '2000' but current is '1000'`],
      [qt, {}, `inequivalent arg 'x-message-ttl' for queue '${qt}' in vhost '/': received none but current is the value '1000' of type 'short'`],
    ];
    for (const [name, o, why] of cases) {
      const ch = await c.channel();
      await refused(t, ch, ch.assertQueue(name, { durable: false, ...o }), 'QueueDeclare', { code: 406, text: `PRECONDITION_FAILED - ${why}`, classId: 50, methodId: 10 });
    }
    const ch = await c.channel();
    t.same(await ch.assertQueue(qt, { durable: false, arguments: { 'x-message-ttl': { '!': 'long', value: 1000 } } }), { queue: qt, messageCount: 0, consumerCount: 0 }, 'the same ttl as a 64-bit int: equivalent');
    t.same(await ch.assertQueue(q, { durable: false, arguments: { 'x-unknown': 'whatever' } }), { queue: q, messageCount: 0, consumerCount: 0 }, 'unknown x- arguments are ignored');
  });

  t.test('passive declare of a missing queue is 404; amq.* names are 403', SUBTEST, async (t) => {
    const c = await connect(t);
    const missing = uniqueName('amqplib.missing');
    let ch = await c.channel();
    await refused(t, ch, ch.checkQueue(missing), 'QueueDeclare', { code: 404, text: notFoundQueue(missing), classId: 50, methodId: 10 });
    const reserved = uniqueName('amq.amqplib');
    ch = await c.channel();
    await refused(t, ch, ch.assertQueue(reserved, { durable: false }), 'QueueDeclare', { code: 403, text: `ACCESS_REFUSED - queue name '${reserved}' contains reserved prefix 'amq.*'`, classId: 50, methodId: 10 });
    ch = await c.channel();
    await refused(t, ch, ch.checkQueue(reserved), 'QueueDeclare', { code: 404, text: notFoundQueue(reserved), classId: 50, methodId: 10 });
    ch = await c.channel();
    await refused(t, ch, ch.get(missing), 'BasicGet', { code: 404, text: notFoundQueue(missing), classId: 60, methodId: 70 });
    ch = await c.channel();
    await refused(t, ch, ch.consume(missing, () => {}), 'BasicConsume', { code: 404, text: notFoundQueue(missing), classId: 60, methodId: 20 });
    ch = await c.channel();
    await refused(t, ch, ch.purgeQueue(missing), 'QueuePurge', { code: 404, text: notFoundQueue(missing), classId: 50, methodId: 30 });
    ch = await c.channel();
    const x = await c.exchange(ch, 'direct');
    await refused(t, ch, ch.bindQueue(missing, x, 'k'), 'QueueBind', { code: 404, text: notFoundQueue(missing), classId: 50, methodId: 20 });
    ch = await c.channel();
    const q = await c.queue(ch);
    const mx = uniqueName('amqplib.missing');
    await refused(t, ch, ch.bindQueue(q, mx, 'k'), 'QueueBind', { code: 404, text: notFoundExchange(mx), classId: 50, methodId: 20 });
  });

  t.test("another connection's exclusive queue: 405 RESOURCE_LOCKED for everything", SUBTEST, async (t) => {
    const owner = await connect(t);
    const other = await connect(t);
    const och = await owner.channel();
    // short enough for the whole reply text to fit in a short string
    const q = (await och.assertQueue(uniqueName('excl'), { durable: false, exclusive: true })).queue;
    const x = await other.exchange(await other.channel(), 'direct');
    await och.bindQueue(q, x, 'bound');
    const cases: [string, (ch: Channel) => Promise<unknown>, number, number, string][] = [
      ['QueueDeclare', (ch) => ch.assertQueue(q, { durable: false, exclusive: true }), 50, 10, 'declare (exclusive)'],
      ['QueueDeclare', (ch) => ch.assertQueue(q, { durable: false }), 50, 10, 'declare (not exclusive)'],
      ['QueueDeclare', (ch) => ch.checkQueue(q), 50, 10, 'passive declare'],
      ['BasicConsume', (ch) => ch.consume(q, () => {}), 60, 20, 'consume'],
      ['BasicGet', (ch) => ch.get(q), 60, 70, 'get'],
      ['QueuePurge', (ch) => ch.purgeQueue(q), 50, 30, 'purge'],
      ['QueueDelete', (ch) => ch.deleteQueue(q), 50, 40, 'delete'],
      ['QueueBind', (ch) => ch.bindQueue(q, x, 'k'), 50, 20, 'bind'],
      ['QueueUnbind', (ch) => ch.unbindQueue(q, x, 'bound'), 50, 50, 'unbind'],
    ];
    for (const [method, op, classId, methodId, what] of cases) {
      const ch = await other.channel();
      t.comment(what);
      await refused(t, ch, op(ch), method, { code: 405, text: locked(q), classId, methodId });
    }
    // a reply text over 255 characters is cut to 252 and '...'
    const long = (await och.assertQueue(uniqueName('amqplib.exclusive.with.a.rather.long.name'), { durable: false, exclusive: true })).queue;
    let ch = await other.channel();
    const cut = locked(long);
    t.equal(cut.length, 255);
    t.ok(cut.endsWith('...'), cut.slice(-30));
    await refused(t, ch, ch.checkQueue(long), 'QueueDeclare', { code: 405, text: cut, classId: 50, methodId: 10 });
    // the owning connection uses it from any of its channels
    const och2 = await owner.channel();
    t.same(await och2.checkQueue(q), { queue: q, messageCount: 0, consumerCount: 0 }, 'owner, another channel: ok');
    t.same(await och2.assertQueue(q, { durable: false, exclusive: true }), { queue: q, messageCount: 0, consumerCount: 0 }, 'owner redeclares: ok');
    ch = await owner.channel();
    await refused(t, ch, ch.assertQueue(q, { durable: false, exclusive: false }), 'QueueDeclare', { code: 405, text: locked(q), classId: 50, methodId: 10 });
    // unbinding what is not bound succeeds before the exclusivity check
    t.same(await (await other.channel()).unbindQueue(q, x, 'not-bound'), {}, 'unbind of a missing binding from the other connection: ok');
  });

  t.test('an exclusive queue goes when its connection closes', SUBTEST, async (t) => {
    const c = await connect(t);
    const owner = await connect(t);
    const och = await owner.channel();
    const q = (await och.assertQueue(uniqueName('amqplib.exclusive'), { durable: false, exclusive: true })).queue;
    const named = (await och.assertQueue('', { exclusive: true })).queue;
    t.ok(await exists(c, 'queue', q), 'there while the owner is connected');
    await within(owner.model.close(), 'connection.close');
    t.ok(await gone(c, 'queue', q), 'gone after the owner closed');
    t.ok(await gone(c, 'queue', named), 'server-named exclusive queue gone as well');
  });

  t.test('auto-delete queue: stays until it had a consumer, goes with its last one', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch, { autoDelete: true });
    await sleep(QUIET_MS);
    t.ok(await exists(c, 'queue', q), 'never consumed: still there');
    const one = await consume(ch, q);
    const two = await consume(ch, q);
    await ch.cancel(one.tag);
    t.ok(await exists(c, 'queue', q), 'one consumer left: still there');
    await ch.cancel(two.tag);
    t.ok(await gone(c, 'queue', q), 'last consumer cancelled: gone');

    const q2 = await c.queue(ch, { autoDelete: true });
    const cch = await c.channel();
    await consume(cch, q2);
    await cch.close();
    t.ok(await gone(c, 'queue', q2), "its consumer's channel closed: gone");
  });

  t.test('purge returns the count of ready messages and leaves unacked ones', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    publishAll(ch, q, range(1, 4));
    await holds(ch, q, 4);
    const held = await c.channel();
    const m = await getOne(held, q);
    t.equal(text(m), '1');
    t.same(await ch.purgeQueue(q), { messageCount: 3 }, 'purge-ok: 3 (the unacked one is not purged)');
    t.same(await ch.purgeQueue(q), { messageCount: 0 }, 'purge again: 0');
    await held.close();
    t.same(await drain(ch, q, 1), [['1', true]], 'the unacked message comes back when its channel closes');
  });

  t.test('delete: if-unused / if-empty 406, delete-ok count, missing queue ok', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const q = await c.queue(ch);
    const cons = await c.channel();
    const inbox = await consume(cons, q, { noAck: true });
    await refused(t, ch, ch.deleteQueue(q, { ifUnused: true }), 'QueueDelete', { code: 406, text: `PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`, classId: 50, methodId: 40 });
    await cons.cancel(inbox.tag);
    ch = await c.channel();
    publishAll(ch, q, ['a', 'b', 'c']);
    await holds(ch, q, 3);
    await refused(t, ch, ch.deleteQueue(q, { ifEmpty: true }), 'QueueDelete', { code: 406, text: `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`, classId: 50, methodId: 40 });
    ch = await c.channel();
    t.same(await ch.deleteQueue(q, { ifUnused: true }), { messageCount: 3 }, 'delete-ok: the 3 messages it held');
    t.notOk(await exists(c, 'queue', q), 'gone');
    t.same(await ch.deleteQueue(q), { messageCount: 0 }, 'delete again: ok, 0');
    t.same(await ch.deleteQueue(uniqueName('amqplib.missing'), { ifEmpty: true, ifUnused: true }), { messageCount: 0 }, 'missing, with if-empty and if-unused: ok, 0');
  });

  t.test('unbind of a missing binding, queue or exchange: ok', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'direct');
    const q = await c.queue(ch);
    await ch.bindQueue(q, x, 'k');
    t.same(await ch.unbindQueue(q, x, 'not-bound'), {}, 'key never bound');
    t.same(await ch.unbindQueue(uniqueName('amqplib.missing'), x, 'k'), {}, 'missing queue');
    t.same(await ch.unbindQueue(q, uniqueName('amqplib.missing'), 'k'), {}, 'missing exchange');
    t.same(await ch.unbindQueue(q, x, 'k'), {}, 'the real binding');
    t.same(await ch.unbindQueue(q, x, 'k'), {}, 'the same again');
    ch.publish(x, 'k', body('x'));
    t.same(await drain(ch, q, 0), [], 'unbound');
  });
});

// ---------------------------------------------------------------- 4. publish

t.test('publish', async (t) => {
  t.test('mandatory and unroutable: basic.return 312 NO_ROUTE with the message intact', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    const x = await c.exchange(ch, 'direct');
    const q = await c.queue(ch);
    await ch.bindQueue(q, x, 'routed');
    const props = { contentType: 'text/plain', messageId: 'm-1', correlationId: 'c-1', headers: { h: 'v', n: 7 }, deliveryMode: 2 };
    ch.publish(x, 'nowhere', body('returned'), { ...props, mandatory: true });
    ch.publish(x, 'routed', body('routed'), { mandatory: true });
    ch.publish('', uniqueName('amqplib.missing'), body('no such queue'), { mandatory: true });
    await until(() => returned.length >= 2, 'two basic.return');
    await sync(ch);
    t.equal(returned.length, 2, 'only the unroutable ones come back');
    const [r, r2] = returned as [Message, Message];
    t.same(r.fields, { replyCode: 312, replyText: 'NO_ROUTE', exchange: x, routingKey: 'nowhere' }, 'basic.return fields');
    t.equal(text(r), 'returned');
    t.same(
      r.properties,
      {
        contentType: 'text/plain',
        contentEncoding: undefined,
        headers: { h: 'v', n: 7 },
        deliveryMode: 2,
        priority: undefined,
        correlationId: 'c-1',
        replyTo: undefined,
        expiration: undefined,
        messageId: 'm-1',
        timestamp: undefined,
        type: undefined,
        userId: undefined,
        appId: undefined,
        clusterId: undefined,
      },
      'properties as published',
    );
    const f2 = r2.fields as unknown as { replyCode: number; replyText: string; exchange: string };
    t.same([f2.replyCode, f2.replyText, f2.exchange, text(r2)], [312, 'NO_ROUTE', '', 'no such queue'], 'default exchange, no such queue: returned');
    await expectBodies(t, ch, q, ['routed']);
  });

  t.test('not mandatory and unroutable: dropped silently', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    const x = await c.exchange(ch, 'direct');
    ch.publish(x, 'nowhere', body('dropped'));
    ch.publish('', uniqueName('amqplib.missing'), body('dropped'));
    await sync(ch);
    await sleep(QUIET_MS);
    t.same(returned, [], 'no basic.return');
    t.same(c.errors, [], 'no error');
    t.same(await ch.checkExchange(x), {}, 'channel still open');
  });

  t.test('to a missing exchange: channel closed with 404', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = uniqueName('amqplib.missing');
    ch.publish(x, 'k', body('lost'));
    const after = ch.checkExchange('amq.direct').then(
      () => null,
      (e: AmqpError) => e,
    );
    await closedWith(t, ch, { code: 404, text: notFoundExchange(x), classId: 60, methodId: 40 }, 'publish to a missing exchange');
    t.same(errorShape(await after), { message: `Channel closed by server: ${closeMessage(404, notFoundExchange(x))}`, code: 404, classId: 60, methodId: 40 }, 'the next RPC on the channel fails with it');
    t.same(c.errors, [], 'the connection stays open');
    t.same(await (await c.channel()).checkExchange('amq.direct'), {}, 'a new channel works');
  });

  t.test('every basic property round-trips exactly', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const headers = {
      str: 'text',
      int: 42,
      neg: -7,
      big: 100_000,
      long: 2 ** 40,
      double: 1.5,
      yes: true,
      no: false,
      nothing: null,
      bytes: Buffer.from([0, 1, 2, 255]),
      list: [1, 'two', [3, 'four'], { five: 5 }, true],
      empty: [],
      nested: { a: { b: { c: 'deep', arr: ['x', { y: 'z' }] } }, n: 1 },
      stamp: { '!': 'timestamp', value: 1_700_000_000 },
    };
    const published: Options.Publish = {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr-1',
      replyTo: 'reply.queue',
      expiration: '60000',
      messageId: 'msg-1',
      timestamp: 1_700_000_000,
      type: 'example.type',
      userId: 'guest',
      appId: 'warren-conformance',
    };
    const expected = {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers: { ...headers, stamp: { '!': 'timestamp', value: 1_700_000_000 } },
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr-1',
      replyTo: 'reply.queue',
      expiration: '60000',
      messageId: 'msg-1',
      timestamp: 1_700_000_000,
      type: 'example.type',
      userId: 'guest',
      appId: 'warren-conformance',
      clusterId: undefined,
    };
    ch.sendToQueue(q, body('{}'), published);
    ch.sendToQueue(q, body('{}'), published);
    ch.sendToQueue(q, body('plain'));
    await holds(ch, q, 3);
    const got = await getOne(ch, q, { noAck: true });
    t.same(got.properties, expected, 'basic.get');
    const inbox = await consume(ch, q, { noAck: true });
    await inbox.waitFor(2);
    t.same(inbox.msgs[0]!.properties, expected, 'basic.deliver');
    t.same(
      inbox.msgs[1]!.properties,
      {
        contentType: undefined,
        contentEncoding: undefined,
        headers: {},
        deliveryMode: undefined,
        priority: undefined,
        correlationId: undefined,
        replyTo: undefined,
        expiration: undefined,
        messageId: undefined,
        timestamp: undefined,
        type: undefined,
        userId: undefined,
        appId: undefined,
        clusterId: undefined,
      },
      'no properties (amqplib always sends an empty headers table)',
    );
  });

  t.test('bodies of 0 bytes to several frames round-trip', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    // frame_max 131072: a body frame carries at most 131064 bytes
    const sizes = [0, 1, 131_063, 131_064, 131_065, 1024 * 1024, 1024 * 1024 + 1, 3 * 131_064];
    const bodies = sizes.map((n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)));
    for (const b of bodies) ch.sendToQueue(q, b);
    const inbox = await consume(ch, q, { noAck: true });
    await inbox.waitFor(sizes.length);
    t.same(
      inbox.msgs.map((m) => m.content.length),
      sizes,
      'sizes, in order',
    );
    for (const [i, m] of inbox.msgs.entries()) t.ok(m.content.equals(bodies[i]!), `${sizes[i]} bytes intact`);
    ch.sendToQueue(q, bodies[5]!);
    ch.sendToQueue(q, Buffer.alloc(0));
    await inbox.waitFor(sizes.length + 2);
    t.ok(inbox.msgs[sizes.length]!.content.equals(bodies[5]!), '1 MiB again');
    t.equal(inbox.msgs[sizes.length + 1]!.content.length, 0, 'empty again');
  });
});

// ---------------------------------------------------------------- 5. consume

t.test('consume', async (t) => {
  t.test('round robin across 3 consumers', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const cons = [await consume(ch, q), await consume(ch, q), await consume(ch, q)];
    const pub = await c.channel();
    publishAll(pub, q, range(1, 9));
    await until(() => cons.reduce((n, i) => n + i.msgs.length, 0) >= 9, '9 deliveries');
    t.same(
      cons.map((i) => i.bodies()),
      [
        ['1', '4', '7'],
        ['2', '5', '8'],
        ['3', '6', '9'],
      ],
      'in the order the consumers were added',
    );
    t.same(
      cons.flatMap((i) => i.msgs.map((m) => m.fields.deliveryTag)).sort((a, b) => a - b),
      range(1, 9).map(Number),
      'delivery tags 1..9 on the channel',
    );
  });

  t.test('no-ack consumer: nothing to ack, nothing comes back', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    const ch = await c.channel();
    publishAll(pub, q, range(1, 3));
    const inbox = await consume(ch, q, { noAck: true });
    await inbox.waitFor(3);
    t.same(inbox.bodies(), ['1', '2', '3']);
    t.same(
      inbox.msgs.map((m) => [m.fields.deliveryTag, m.fields.redelivered, m.fields.exchange, m.fields.routingKey, m.fields.consumerTag]),
      [1, 2, 3].map((n) => [n, false, '', q, inbox.tag]),
      'deliver fields',
    );
    await ch.close();
    t.same(await pub.checkQueue(q), { queue: q, messageCount: 0, consumerCount: 0 }, 'closing the channel requeues nothing');
  });

  t.test('exclusive consumer: other consumers are refused with 403', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const q2 = await c.queue(ch);
    await consume(ch, q, { exclusive: true });
    const refusal = (name: string) => ({ code: 403, text: `ACCESS_REFUSED - queue '${name}' in vhost '/' in exclusive use`, classId: 60, methodId: 20 });
    let other = await c.channel();
    await refused(t, other, other.consume(q, () => {}), 'BasicConsume', refusal(q));
    other = await c.channel();
    await refused(t, other, other.consume(q, () => {}, { exclusive: true }), 'BasicConsume', refusal(q));
    // an exclusive consumer needs the queue to have no consumer at all, even on its own channel
    const ch2 = await c.channel();
    await consume(ch2, q2);
    const ch3 = await c.channel();
    await refused(t, ch3, ch3.consume(q2, () => {}, { exclusive: true }), 'BasicConsume', refusal(q2));
    await refused(t, ch2, ch2.consume(q2, () => {}, { exclusive: true }), 'BasicConsume', refusal(q2));
    t.same(await ch.checkQueue(q), { queue: q, messageCount: 0, consumerCount: 1 }, 'the exclusive consumer is still there');
    other = await c.channel();
    t.equal(await other.get(q), false, 'basic.get from another channel beside an exclusive consumer: allowed (get-empty)');
  });

  t.test('consumer tags: server-generated amq.ctag-, client-chosen echoed; reuse is 530', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const a = await consume(ch, q);
    const b = await consume(ch, q);
    t.match(a.tag, /^amq\.ctag-[A-Za-z0-9_-]{22}$/, a.tag);
    t.match(b.tag, /^amq\.ctag-[A-Za-z0-9_-]{22}$/, b.tag);
    t.not(a.tag, b.tag);
    const mine = await consume(ch, q, { consumerTag: 'my-tag' });
    t.equal(mine.tag, 'my-tag');
    // the same tag on another channel is fine
    const ch2 = await c.channel();
    t.equal((await consume(ch2, q, { consumerTag: 'my-tag' })).tag, 'my-tag', 'same tag, other channel: ok');
    // on the same channel it is a connection error
    const dup = ch.consume(q, () => {}, { consumerTag: 'my-tag' }).then(
      () => null,
      (e: AmqpError) => e,
    );
    const connErr = await within(c.closed, 'connection close');
    t.same(errorShape(connErr), { message: `Connection closed: ${closeMessage(530, "NOT_ALLOWED - attempt to reuse consumer tag 'my-tag'")}`, code: 530, classId: undefined, methodId: undefined }, 'connection closed with 530');
    t.ok(await dup, 'the basic.consume fails');
  });

  t.test('basic.cancel stops deliveries; cancelling an unknown tag is ok', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const inbox = await consume(ch, q, { noAck: true });
    publishAll(ch, q, ['1', '2']);
    await inbox.waitFor(2);
    t.same(await ch.cancel(inbox.tag), { consumerTag: inbox.tag }, 'cancel-ok echoes the tag');
    publishAll(ch, q, ['3', '4']);
    await sync(ch);
    await sleep(QUIET_MS);
    t.same(inbox.bodies(), ['1', '2'], 'nothing after the cancel');
    t.same(await ch.checkQueue(q), { queue: q, messageCount: 2, consumerCount: 0 });
    t.same(await ch.cancel('no-such-consumer'), { consumerTag: 'no-such-consumer' }, 'unknown tag: cancel-ok');
    t.same(await ch.cancel(inbox.tag), { consumerTag: inbox.tag }, 'cancelled twice: cancel-ok');
  });

  t.test('deleting the queue cancels its consumers (basic.cancel from the server)', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const cancels: string[] = [];
    ch.on('cancel', (f: { consumerTag: string }) => cancels.push(f.consumerTag));
    const q = await c.queue(ch);
    const inbox = await consume(ch, q);
    const other = await c.channel();
    t.same(await other.deleteQueue(q), { messageCount: 0 });
    await until(() => inbox.cancelled, 'the consumer callback called with null');
    t.same(cancels, [inbox.tag], "basic.cancel with the consumer's tag");
    t.same(await ch.checkExchange('amq.direct'), {}, 'the channel stays open');
  });

  t.test('basic.get: message-count of what is left, then get-empty', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    publishAll(ch, q, ['a', 'b', 'c']);
    await holds(ch, q, 3);
    const got: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await getOne(ch, q);
      got.push([text(m), m.fields.deliveryTag, m.fields.redelivered, m.fields.exchange, m.fields.routingKey, m.fields.messageCount]);
    }
    t.same(got, [
      ['a', 1, false, '', q, 2],
      ['b', 2, false, '', q, 1],
      ['c', 3, false, '', q, 0],
    ]);
    t.equal(await ch.get(q), false, 'get-empty');
    ch.ackAll();
    t.same(await ch.checkQueue(q), { queue: q, messageCount: 0, consumerCount: 0 });
  });

  t.test('RPC: reply-to a server-named exclusive queue, matched by correlation id', SUBTEST, async (t) => {
    const c = await connect(t);
    const server = await c.channel();
    const rpcQueue = await c.queue(server);
    await server.consume(rpcQueue, (m) => {
      if (!m) return;
      server.sendToQueue(m.properties.replyTo as string, body(`reply to ${text(m)}`), { correlationId: m.properties.correlationId as string });
      server.ack(m);
    });
    const client = await c.channel();
    const replyTo = (await client.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    const replies = await consume(client, replyTo, { noAck: true });
    client.sendToQueue(rpcQueue, body('ping'), { replyTo, correlationId: 'call-1' });
    client.sendToQueue(rpcQueue, body('pong'), { replyTo, correlationId: 'call-2' });
    await replies.waitFor(2);
    t.same(
      replies.msgs.map((m) => [text(m), m.properties.correlationId, m.fields.exchange, m.fields.routingKey]),
      [
        ['reply to ping', 'call-1', '', replyTo],
        ['reply to pong', 'call-2', '', replyTo],
      ],
    );
  });
});

// ---------------------------------------------------------------- 6. acks

t.test('acks', async (t) => {
  t.test('ack and ack multiple remove messages for good', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    publishAll(pub, q, range(1, 5));
    await holds(pub, q, 5);
    const ch = await c.channel();
    const ms = [await getOne(ch, q), await getOne(ch, q), await getOne(ch, q), await getOne(ch, q)];
    ch.ack(ms[0]!);
    ch.ack(ms[2]!, true); // 2 and 3
    await ch.close(); // 4 comes back
    t.same(await drain(pub, q, 2), [
      ['4', true],
      ['5', false],
    ]);
  });

  t.test('nack multiple with requeue: all back, in their original order, redelivered', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    publishAll(ch, q, range(1, 5));
    await holds(ch, q, 5);
    const ms = [await getOne(ch, q), await getOne(ch, q), await getOne(ch, q)];
    ch.nack(ms[2]!, true, true);
    t.same(await drain(ch, q, 5), [
      ['1', true],
      ['2', true],
      ['3', true],
      ['4', false],
      ['5', false],
    ]);
  });

  t.test('reject: requeue=false drops, requeue=true puts it back at its position', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    publishAll(ch, q, range(1, 5));
    await holds(ch, q, 5);
    const ms = [await getOne(ch, q), await getOne(ch, q), await getOne(ch, q)];
    ch.reject(ms[0]!, false);
    ch.reject(ms[1]!, true);
    const next = await getOne(ch, q);
    t.same([text(next), next.fields.redelivered, next.fields.deliveryTag, next.fields.messageCount], ['2', true, 4, 2], 'the rejected 2 comes first, redelivered, with a new tag');
    ch.ack(ms[2]!);
    ch.ack(next);
    t.same(await drain(ch, q, 2), [
      ['4', false],
      ['5', false],
    ]);
    await ch.close();
    const ch2 = await c.channel();
    t.same(await ch2.checkQueue(q), { queue: q, messageCount: 0, consumerCount: 0 }, '1 was dropped, not requeued');
  });

  t.test('closing a channel requeues its unacked messages in their original order', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    publishAll(pub, q, range(1, 6));
    await holds(pub, q, 6);
    const ch = await c.channel();
    await ch.prefetch(10);
    const inbox = await consume(ch, q);
    await inbox.waitFor(6);
    ch.reject(inbox.msgs[1]!, true); // 2 back now, redelivered to the same consumer
    await inbox.waitFor(7);
    t.same([inbox.bodies()[6], inbox.msgs[6]!.fields.redelivered], ['2', true], 'rejected 2 redelivered to the consumer');
    ch.ack(inbox.msgs[3]!); // 4 done
    await ch.close();
    t.same(await drain(pub, q, 5), [
      ['1', true],
      ['2', true],
      ['3', true],
      ['5', true],
      ['6', true],
    ]);
  });

  t.test('basic.recover requeues and redelivers everything unacked', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    publishAll(ch, q, range(1, 4));
    const inbox = await consume(ch, q);
    await inbox.waitFor(4);
    ch.ack(inbox.msgs[1]!);
    t.same(await ch.recover(), {}, 'recover-ok');
    await inbox.waitFor(7);
    await sleep(QUIET_MS);
    t.same(
      inbox.msgs.map((m) => [text(m), m.fields.redelivered, m.fields.deliveryTag]),
      [
        ['1', false, 1],
        ['2', false, 2],
        ['3', false, 3],
        ['4', false, 4],
        ['1', true, 5],
        ['3', true, 6],
        ['4', true, 7],
      ],
    );
  });

  t.test('acking an unknown or already acked tag: 406', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const q = await c.queue(ch);
    ch.ack({ fields: { deliveryTag: 99 } } as Message);
    await closedWith(t, ch, { code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 99', classId: 60, methodId: 80 }, 'ack 99');
    ch = await c.channel();
    publishAll(ch, q, ['x']);
    await holds(ch, q, 1);
    const m = await getOne(ch, q);
    ch.ack(m);
    ch.ack(m);
    await closedWith(t, ch, { code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 1', classId: 60, methodId: 80 }, 'double ack');
    ch = await c.channel();
    publishAll(ch, q, ['y']);
    await holds(ch, q, 1);
    const n = await getOne(ch, q);
    ch.reject(n, false);
    ch.nack(n, false, true);
    await closedWith(t, ch, { code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 1', classId: 60, methodId: 120 }, 'nack after reject');
    ch = await c.channel();
    ch.reject({ fields: { deliveryTag: 5 } } as Message, true);
    await closedWith(t, ch, { code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 5', classId: 60, methodId: 90 }, 'reject 5');
    t.same(c.errors, [], 'all channel errors, the connection stays open');
  });
});

// ---------------------------------------------------------------- 7. prefetch

t.test('prefetch', async (t) => {
  t.test('per consumer: 2 unacked at a time', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    publishAll(pub, q, range(1, 5));
    await holds(pub, q, 5);
    const ch = await c.channel();
    t.same(await ch.prefetch(2), {}, 'qos-ok');
    const inbox = await consume(ch, q);
    await inbox.waitFor(2);
    await sleep(QUIET_MS);
    t.same(inbox.bodies(), ['1', '2'], 'exactly 2 until it acks');
    ch.ack(inbox.msgs[0]!);
    await inbox.waitFor(3);
    await sleep(QUIET_MS);
    t.same(inbox.bodies(), ['1', '2', '3'], 'one ack, one more');
    ch.ack(inbox.msgs[2]!, true);
    await inbox.waitFor(5);
    t.same(inbox.bodies(), range(1, 5), 'ack multiple of 2, two more');
    t.same(await pub.checkQueue(q), { queue: q, messageCount: 0, consumerCount: 1 });

    // each consumer on the channel gets its own 2
    const q2 = await c.queue(pub);
    publishAll(pub, q2, range(1, 10));
    await holds(pub, q2, 10);
    const a = await consume(ch, q2);
    const b = await consume(ch, q2);
    await a.waitFor(2);
    await b.waitFor(2);
    await sleep(QUIET_MS);
    t.same([a.msgs.length, b.msgs.length], [2, 2], 'two consumers on one channel: 2 each');
  });

  t.test('global: the limit is for the channel as a whole', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q1 = await c.queue(pub);
    const q2 = await c.queue(pub);
    publishAll(pub, q1, range(1, 5));
    publishAll(pub, q2, range(1, 5));
    await holds(pub, q1, 5);
    await holds(pub, q2, 5);
    const ch = await c.channel();
    t.same(await ch.prefetch(3, true), {}, 'qos-ok (global)');
    const a = await consume(ch, q1);
    await a.waitFor(3);
    const b = await consume(ch, q2);
    await sleep(QUIET_MS);
    t.same([a.msgs.length, b.msgs.length], [3, 0], 'the first consumer took the channel limit');
    ch.ack(a.msgs[0]!);
    ch.ack(a.msgs[1]!);
    await until(() => a.msgs.length + b.msgs.length === 5, '2 more deliveries');
    await sleep(QUIET_MS);
    t.equal(a.msgs.length + b.msgs.length, 5, 'two acks, two more in total on the channel');
  });

  t.test('prefetch 0 is unlimited', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    publishAll(pub, q, range(1, 50));
    await holds(pub, q, 50);
    const ch = await c.channel();
    await ch.prefetch(1);
    await ch.prefetch(0);
    const inbox = await consume(ch, q);
    await inbox.waitFor(50);
    t.same(inbox.bodies(), range(1, 50), 'all 50 unacked at once');
  });

  t.test('changing qos: global applies at once, per-consumer only to new consumers', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    publishAll(pub, q, range(1, 20));
    await holds(pub, q, 20);

    const ch = await c.channel();
    await ch.prefetch(1);
    const a = await consume(ch, q);
    await a.waitFor(1);
    await ch.prefetch(3);
    ch.ack(a.msgs[0]!);
    await a.waitFor(2);
    await sleep(QUIET_MS);
    t.equal(a.msgs.length, 2, 'the existing consumer keeps prefetch 1');
    const b = await consume(ch, q);
    await b.waitFor(3);
    await sleep(QUIET_MS);
    t.equal(b.msgs.length, 3, 'a new consumer gets prefetch 3');
    await ch.close();

    const g = await c.channel();
    await g.prefetch(1, true);
    const d = await consume(g, q);
    await d.waitFor(1);
    await sleep(QUIET_MS);
    t.equal(d.msgs.length, 1, 'global 1');
    await g.prefetch(4, true);
    await d.waitFor(4);
    await sleep(QUIET_MS);
    t.equal(d.msgs.length, 4, 'global raised to 4: delivered without an ack');
  });
});
