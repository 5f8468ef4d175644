// Messaging as @cloudamqp/amqp-client (unmodified) sees it: a subset of
// messaging-amqplib.test.ts per topic, through this client's API and its way
// of encoding (integers in tables as 32-bit 'I', fractions as float 'f', a
// frame_max of 8192, Date timestamps). Every expectation is what RabbitMQ 3.10
// does, checked by running this file against a scratch RabbitMQ:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/messaging-amqp-client.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
//
// amqp-client shows a refusal as `channel 1 closed: NOT_FOUND - no queue 'x'
// in vhost '/' (404)` (the failed RPC rejects with it and the channel's
// onerror gets it) and a connection close as `connection closed: TEXT (CODE)`;
// it does not expose class and method ids. Publishes reach queues
// asynchronously in RabbitMQ, so the tests wait (bounded) for the expected
// message count before they look. Every broker operation is bounded (OP_MS),
// and so is every wait for deliveries; after the first timeout all bounds drop
// to DEGRADED_MS, so a broker that does not answer fails the file in seconds.
import t from 'tap';
import type { Test } from 'tap';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { AMQPChannel, AMQPMessage, AMQPProperties, QueueParams } from '@cloudamqp/amqp-client';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { OP_MS, bounded, limit, sleep, until, within } from './helpers/bounded.js';
import { notFoundQueue, notFoundExchange, locked } from './helpers/rabbitmq-texts.js';

const QUIET_MS = 200;
const SUBTEST = { timeout: 20_000 };

const broker = await brokerUnderTest(t);

// ---------------------------------------------------------------- helpers


interface Chan {
  ch: AMQPChannel;
  /** the message of the server's channel.close (onerror), or null when closed otherwise */
  closed: Promise<string | null>;
  returned: AMQPMessage[];
}

class Client {
  readonly errors: string[] = [];
  private readonly queues: string[] = [];
  private readonly exchanges: string[] = [];
  private readonly chans = new WeakMap<AMQPChannel, Chan>();

  constructor(readonly amqp: AMQPClient) {
    amqp.onerror = (e) => this.errors.push(e.message);
  }

  async channel(): Promise<AMQPChannel> {
    const raw = await within(this.amqp.channel(), 'channel.open');
    let resolveClosed: (why: string | null) => void = () => {};
    const state: Chan = { ch: raw, closed: new Promise((resolve) => (resolveClosed = resolve)), returned: [] };
    raw.onerror = (reason) => resolveClosed(reason);
    raw.onReturn = (m) => state.returned.push(m);
    const ch = bounded(raw, `channel ${raw.id}`);
    this.chans.set(ch, state);
    return ch;
  }

  state(ch: AMQPChannel): Chan {
    const s = this.chans.get(ch);
    if (!s) throw new Error('not a channel from Client.channel()');
    return s;
  }

  async queue(ch: AMQPChannel, o: QueueParams = {}, args: Record<string, unknown> = {}): Promise<string> {
    const name = uniqueName('amqp-client.q');
    await ch.queueDeclare(name, { durable: false, autoDelete: false, exclusive: false, ...o }, args);
    if (!o.exclusive) this.queues.push(name);
    return name;
  }

  async exchange(ch: AMQPChannel, type: string, o: { autoDelete?: boolean; internal?: boolean } = {}): Promise<string> {
    const name = uniqueName('amqp-client.x');
    await ch.exchangeDeclare(name, type, { durable: false, ...o });
    this.exchanges.push(name);
    return name;
  }

  async end(): Promise<void> {
    const cleanup = async () => {
      let ch: AMQPChannel | null = null;
      const each = async (f: (c: AMQPChannel) => Promise<unknown>) => {
        try {
          ch ??= await this.channel();
          await f(ch);
        } catch {
          ch = null;
        }
      };
      for (const q of this.queues) await each((c) => c.queueDelete(q));
      for (const x of this.exchanges) await each((c) => c.exchangeDelete(x));
    };
    if (!this.amqp.closed) await within(cleanup(), 'cleanup', 2000).catch(() => {});
    if (!this.amqp.closed) await within(this.amqp.close(), 'connection.close', 2000).catch(() => {});
    this.amqp.socket?.destroy();
  }
}

async function connect(t: Test): Promise<Client> {
  const amqp = new AMQPClient(broker.url);
  const client = new Client(amqp);
  t.teardown(() => client.end());
  await within(amqp.connect(), 'connect');
  return client;
}

/** amqp-client's text for a server channel.close. */
const channelClosed = (ch: AMQPChannel, code: number, text: string) => `channel ${ch.id} closed: ${text} (${code})`;

/** op is refused: it rejects with the channel.close, which onerror also gets. */
async function refused(t: Test, c: Client, ch: AMQPChannel, op: Promise<unknown>, code: number, text: string): Promise<void> {
  const err = await op.then(
    () => null,
    (e: Error) => e,
  );
  const expected = channelClosed(ch, code, text);
  t.equal(err?.message, expected, `refused: ${code} ${text}`);
  t.equal(await within(c.state(ch).closed, 'channel close from the server'), expected, 'channel closed by the server');
}

/** ch is closed by the server for something it did asynchronously. */
async function closedWith(t: Test, c: Client, ch: AMQPChannel, code: number, text: string, what: string): Promise<void> {
  t.equal(await within(c.state(ch).closed, 'channel close from the server'), channelClosed(ch, code, text), `${what}: ${code} ${text}`);
}

const text = (m: AMQPMessage) => m.bodyString() ?? '';
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

async function publishAll(ch: AMQPChannel, queue: string, bodies: string[], props: AMQPProperties = {}): Promise<void> {
  for (const b of bodies) await ch.basicPublish('', queue, b, props);
}

/** Wait (bounded) until the queue holds n ready messages (publishes reach queues asynchronously). */
async function holds(ch: AMQPChannel, queue: string, n: number) {
  const deadline = Date.now() + limit(OP_MS);
  for (;;) {
    const ok = await ch.queueDeclare(queue, { passive: true });
    if (ok.messageCount >= n || Date.now() > deadline) return ok;
    await sleep(5);
  }
}

/** The ready messages as [body, redelivered], once there are n (bounded; QUIET_MS if none expected). */
async function drain(ch: AMQPChannel, queue: string, n: number): Promise<[string, boolean][]> {
  if (n === 0) await sleep(QUIET_MS);
  else await holds(ch, queue, n);
  const out: [string, boolean][] = [];
  for (let i = 0; i < 10_000; i++) {
    const m = await ch.basicGet(queue, { noAck: true });
    if (!m) break;
    out.push([text(m), m.redelivered]);
  }
  return out;
}

async function expectBodies(t: Test, ch: AMQPChannel, queue: string, expected: string[], what?: string): Promise<void> {
  t.same((await drain(ch, queue, expected.length)).map(([b]) => b), expected, what ?? queue);
}

async function getOne(ch: AMQPChannel, queue: string, noAck = false): Promise<AMQPMessage> {
  const m = await ch.basicGet(queue, { noAck });
  if (!m) throw new Error(`basic.get ${queue}: get-empty, expected a message`);
  return m;
}

interface Inbox {
  tag: string;
  msgs: AMQPMessage[];
  /** settles when the consumer ends: rejects if the server cancelled it */
  ended: Promise<string | null>;
  bodies(): string[];
  waitFor(n: number): Promise<void>;
}

async function consume(ch: AMQPChannel, queue: string, o: { tag?: string; noAck?: boolean; exclusive?: boolean } = {}): Promise<Inbox> {
  const msgs: AMQPMessage[] = [];
  const consumer = await ch.basicConsume(queue, { noAck: false, ...o }, (m) => {
    msgs.push(m);
  });
  return {
    tag: consumer.tag,
    msgs,
    ended: consumer.wait().then(
      () => null,
      (e: Error) => e.message,
    ),
    bodies: () => msgs.map(text),
    waitFor: (n) => until(() => msgs.length >= n, `${n} deliveries on ${consumer.tag} (have ${msgs.length})`),
  };
}

async function exists(c: Client, kind: 'queue' | 'exchange', name: string): Promise<boolean> {
  const ch = await c.channel();
  try {
    if (kind === 'queue') await ch.queueDeclare(name, { passive: true });
    else await ch.exchangeDeclare(name, 'direct', { passive: true });
    await ch.close();
    return true;
  } catch (e) {
    const m = (e as Error).message;
    if (m.endsWith('(404)')) return false;
    if (m.endsWith('(405)')) return true;
    throw e;
  }
}

async function gone(c: Client, kind: 'queue' | 'exchange', name: string): Promise<boolean> {
  const deadline = Date.now() + limit(OP_MS);
  while (Date.now() < deadline) {
    if (!(await exists(c, kind, name))) return true;
    await sleep(20);
  }
  return false;
}


// ---------------------------------------------------------------- 1. exchanges

t.test('exchanges', async (t) => {
  t.test('declare each type and redeclare it; different type or durable: 406', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const names: string[] = [];
    for (const type of ['direct', 'fanout', 'topic', 'headers']) {
      const x = await c.exchange(ch, type);
      names.push(x);
      t.equal(await ch.exchangeDeclare(x, type, { durable: false }), undefined, `redeclare ${type}`);
      t.equal(await ch.exchangeDeclare(x, type, { passive: true }), undefined, `passive ${type}`);
    }
    const x = names[0]!;
    await refused(t, c, ch, ch.exchangeDeclare(x, 'topic', { durable: false }), 406, `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${x}' in vhost '/': received 'topic' but current is 'direct'`);
    ch = await c.channel();
    // amqp-client declares durable by default
    await refused(t, c, ch, ch.exchangeDeclare(x, 'direct'), 406, `PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '${x}' in vhost '/': received 'true' but current is 'false'`);
  });

  t.test('amq.* is 403, a missing exchange 404, the default exchange 403', SUBTEST, async (t) => {
    const c = await connect(t);
    const reserved = uniqueName('amq.amqp-client');
    let ch = await c.channel();
    await refused(t, c, ch, ch.exchangeDeclare(reserved, 'fanout', { durable: false }), 403, `ACCESS_REFUSED - exchange name '${reserved}' contains reserved prefix 'amq.*'`);
    const missing = uniqueName('amqp-client.missing');
    ch = await c.channel();
    await refused(t, c, ch, ch.exchangeDeclare(missing, 'direct', { passive: true }), 404, notFoundExchange(missing));
    ch = await c.channel();
    t.equal(await ch.exchangeDeclare('amq.topic', 'topic', { passive: true }), undefined, 'passive amq.topic: ok');
    await refused(t, c, ch, ch.exchangeDelete(''), 403, 'ACCESS_REFUSED - operation not permitted on the default exchange');
    ch = await c.channel();
    const q = await c.queue(ch);
    await refused(t, c, ch, ch.queueBind(q, '', 'k'), 403, 'ACCESS_REFUSED - operation not permitted on the default exchange');
    ch = await c.channel();
    t.equal(await ch.exchangeDelete(missing), undefined, 'delete a missing exchange: ok');
  });

  t.test('delete if-unused while bound: 406', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const x = await c.exchange(ch, 'topic');
    const q = await c.queue(ch);
    await ch.queueBind(q, x, '#');
    await refused(t, c, ch, ch.exchangeDelete(x, { ifUnused: true }), 406, `PRECONDITION_FAILED - exchange '${x}' in vhost '/' in use`);
    ch = await c.channel();
    await ch.queueUnbind(q, x, '#');
    t.equal(await ch.exchangeDelete(x, { ifUnused: true }), undefined, 'once unbound: ok');
    t.notOk(await exists(c, 'exchange', x), 'deleted');
  });

  t.test('exchange-to-exchange bindings, a loop delivers once, unbind stops it', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x1 = await c.exchange(ch, 'topic');
    const x2 = await c.exchange(ch, 'fanout');
    const q = await c.queue(ch);
    await ch.queueBind(q, x2, '');
    await ch.exchangeBind(x2, x1, 'a.*');
    await ch.basicPublish(x1, 'a.b', 'one');
    await ch.basicPublish(x1, 'b.a', 'not routed');
    await holds(ch, q, 1);
    const m = await getOne(ch, q, true);
    t.same([text(m), m.exchange, m.routingKey, m.messageCount], ['one', x1, 'a.b', 0], 'arrives with its original exchange and routing key');

    // loop: x2 -> x1 as well, and q bound to x1 too
    await ch.exchangeBind(x1, x2, '');
    await ch.queueBind(q, x1, '#');
    await ch.basicPublish(x1, 'a.c', 'loop');
    await holds(ch, q, 1);
    await sleep(QUIET_MS);
    t.same(await drain(ch, q, 1), [['loop', false]], 'once');

    await ch.exchangeUnbind(x2, x1, 'a.*');
    await ch.queueUnbind(q, x1, '#');
    await ch.basicPublish(x1, 'a.b', 'after unbind');
    t.same(await drain(ch, q, 0), [], 'nothing after the unbind');
  });

  t.test('auto-delete exchange goes with its last binding; internal exchange refuses publishes', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const x = await c.exchange(ch, 'direct', { autoDelete: true });
    const q = await c.queue(ch);
    await sleep(QUIET_MS);
    t.ok(await exists(c, 'exchange', x), 'never bound: still there');
    await ch.queueBind(q, x, 'k');
    await ch.queueUnbind(q, x, 'k');
    t.ok(await gone(c, 'exchange', x), 'last binding removed: gone');

    const xi = await c.exchange(ch, 'fanout', { internal: true });
    await ch.queueBind(q, xi, '');
    await ch.basicPublish(xi, '', 'refused');
    await closedWith(t, c, ch, 403, `ACCESS_REFUSED - cannot publish to internal exchange '${xi}' in vhost '/'`, 'publish to an internal exchange');
    ch = await c.channel();
    t.same(await drain(ch, q, 0), [], 'not delivered');
  });
});

// ---------------------------------------------------------------- 2. routing

t.test('routing', async (t) => {
  t.test('direct and fanout', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const d = await c.exchange(ch, 'direct');
    const f = await c.exchange(ch, 'fanout');
    const q1 = await c.queue(ch);
    const q2 = await c.queue(ch);
    await ch.queueBind(q1, d, 'one');
    await ch.queueBind(q2, d, 'two');
    await ch.queueBind(q1, f, 'ignored');
    await ch.queueBind(q2, f, '');
    for (const k of ['one', 'two', 'three']) await ch.basicPublish(d, k, `direct ${k}`);
    await ch.basicPublish(f, 'whatever', 'fanout');
    await expectBodies(t, ch, q1, ['direct one', 'fanout']);
    await expectBodies(t, ch, q2, ['direct two', 'fanout']);
  });

  t.test('topic', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'topic');
    const keys = ['a.b.c', 'a.c', 'a', '', 'a..c', 'b.c', '.'];
    const table: [string, string[]][] = [
      ['a.*.c', ['a.b.c', 'a..c']],
      ['a.#', ['a.b.c', 'a.c', 'a', 'a..c']],
      ['#.c', ['a.b.c', 'a.c', 'a..c', 'b.c']],
      ['#', keys],
      ['*', ['a']],
      ['*.*', ['a.c', 'b.c', '.']],
      ['', ['']],
    ];
    const queues: string[] = [];
    for (const [bk] of table) {
      const q = await c.queue(ch);
      await ch.queueBind(q, x, bk);
      queues.push(q);
    }
    const overlap = await c.queue(ch);
    for (const bk of ['a.*', 'a.#', '#']) await ch.queueBind(overlap, x, bk);
    for (const k of keys) await ch.basicPublish(x, k, k);
    for (const [i, [bk, expected]] of table.entries()) await expectBodies(t, ch, queues[i]!, expected, `binding key '${bk}'`);
    await expectBodies(t, ch, overlap, keys, 'overlapping patterns: each message once');
  });

  t.test('headers: all / any, void, numbers by value across types', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'headers');
    // amqp-client: 1 -> 32-bit int 'I', 1n -> 64-bit 'l', 1.5 -> float 'f', null -> void
    const msgs: [string, Record<string, unknown>][] = [
      ['a1 bx', { a: 1, b: 'x' }],
      ['a1', { a: 1 }],
      ['a2 bx', { a: 2, b: 'x' }],
      ['a:long 1 bx', { a: 1n, b: 'x' }],
      ["a'1' bx", { a: '1', b: 'x' }],
      ['a1.5', { a: 1.5 }],
    ];
    const table: [string, Record<string, unknown>, string[]][] = [
      ['all', { 'x-match': 'all', a: 1, b: 'x' }, ['a1 bx', 'a:long 1 bx']],
      ['any', { 'x-match': 'any', a: 1, b: 'x' }, ['a1 bx', 'a1', 'a2 bx', 'a:long 1 bx', "a'1' bx"]],
      ['all, a void', { 'x-match': 'all', a: null }, msgs.map(([n]) => n)],
      ['a = long 1 (no x-match: all)', { a: 1n }, ['a1 bx', 'a1', 'a:long 1 bx']],
      ['a = 1.5', { a: 1.5 }, ['a1.5']],
    ];
    const queues: string[] = [];
    for (const [, args] of table) {
      const q = await c.queue(ch);
      await ch.queueBind(q, x, '', args);
      queues.push(q);
    }
    for (const [name, headers] of msgs) await ch.basicPublish(x, '', name, { headers: headers as AMQPProperties['headers'] });
    for (const [i, [name, , expected]] of table.entries()) await expectBodies(t, ch, queues[i]!, expected, name);
  });
});

// ---------------------------------------------------------------- 3. queues

t.test('queues', async (t) => {
  t.test('server-named queue and declare-ok counts', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const named = await ch.queueDeclare();
    t.match(named.name, /^amq\.gen-[A-Za-z0-9_-]{22}$/, named.name);
    t.same([named.messageCount, named.consumerCount], [0, 0]);
    const q = await c.queue(ch);
    await publishAll(ch, q, range(1, 4));
    t.same(await holds(ch, q, 4), { name: q, messageCount: 4, consumerCount: 0 }, 'passive: 4 messages');
    const cons = await c.channel();
    await cons.basicQos(1);
    const inbox = await consume(cons, q);
    await inbox.waitFor(1);
    t.same(await ch.queueDeclare(q, { durable: false }), { name: q, messageCount: 3, consumerCount: 1 }, 'one delivered (unacked), one consumer');
  });

  t.test('redeclare: different durable or x-message-ttl is 406; missing 404; amq.* 403', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const q = await c.queue(ch, {}, { 'x-message-ttl': 1000 });
    await refused(t, c, ch, ch.queueDeclare(q, { durable: true }, { 'x-message-ttl': 1000 }), 406, `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`);
    ch = await c.channel();
    await refused(t, c, ch, ch.queueDeclare(q, { durable: false }, { 'x-message-ttl': 2000 }), 406, `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '/': received '2000' but current is '1000'`);
    ch = await c.channel();
    // amqp-client sends integers as 32-bit signed ('I'), which RabbitMQ calls 'signedint'
    await refused(t, c, ch, ch.queueDeclare(q, { durable: false }), 406, `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '/': received none but current is the value '1000' of type 'signedint'`);
    ch = await c.channel();
    t.same(await ch.queueDeclare(q, { durable: false }, { 'x-message-ttl': 1000n }), { name: q, messageCount: 0, consumerCount: 0 }, 'the same ttl as a 64-bit int: equivalent');
    const missing = uniqueName('amqp-client.missing');
    await refused(t, c, ch, ch.queueDeclare(missing, { passive: true }), 404, notFoundQueue(missing));
    ch = await c.channel();
    const reserved = uniqueName('amq.amqp-client');
    await refused(t, c, ch, ch.queueDeclare(reserved, { durable: false }), 403, `ACCESS_REFUSED - queue name '${reserved}' contains reserved prefix 'amq.*'`);
  });

  t.test("another connection's exclusive queue is 405; it goes with its connection", SUBTEST, async (t) => {
    const owner = await connect(t);
    const other = await connect(t);
    const och = await owner.channel();
    const q = uniqueName('amqp-client.exclusive');
    await och.queueDeclare(q, { durable: false, exclusive: true, autoDelete: false });
    const ops: [string, (ch: AMQPChannel) => Promise<unknown>][] = [
      ['declare', (ch) => ch.queueDeclare(q, { durable: false, exclusive: true, autoDelete: false })],
      ['passive declare', (ch) => ch.queueDeclare(q, { passive: true })],
      ['consume', (ch) => ch.basicConsume(q, {}, () => {})],
      ['get', (ch) => ch.basicGet(q)],
      ['purge', (ch) => ch.queuePurge(q)],
      ['delete', (ch) => ch.queueDelete(q)],
    ];
    for (const [what, op] of ops) {
      const ch = await other.channel();
      t.comment(what);
      await refused(t, other, ch, op(ch), 405, locked(q));
    }
    await within(owner.amqp.close(), 'connection.close');
    t.ok(await gone(other, 'queue', q), 'gone after the owner closed');
  });

  t.test('auto-delete queue goes with its last consumer; purge and delete counts', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    const ad = await c.queue(ch, { autoDelete: true });
    await sleep(QUIET_MS);
    t.ok(await exists(c, 'queue', ad), 'never consumed: still there');
    const one = await consume(ch, ad);
    await ch.basicCancel(one.tag);
    t.ok(await gone(c, 'queue', ad), 'its only consumer cancelled: gone');

    const q = await c.queue(ch);
    await publishAll(ch, q, range(1, 5));
    await holds(ch, q, 5);
    t.same(await ch.queuePurge(q), { messageCount: 5 }, 'purge-ok: 5');
    await publishAll(ch, q, ['a', 'b']);
    await holds(ch, q, 2);
    await refused(t, c, ch, ch.queueDelete(q, { ifEmpty: true }), 406, `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`);
    ch = await c.channel();
    const cons = await c.channel();
    await consume(cons, q, { noAck: true });
    await refused(t, c, ch, ch.queueDelete(q, { ifUnused: true }), 406, `PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`);
    ch = await c.channel();
    await cons.close();
    await publishAll(ch, q, ['c', 'd', 'e']);
    await holds(ch, q, 3);
    t.same(await ch.queueDelete(q), { messageCount: 3 }, 'delete-ok: 3');
    t.same(await ch.queueDelete(q), { messageCount: 0 }, 'delete a missing queue: ok, 0');
    t.equal(await ch.queueUnbind(q, 'amq.direct', 'nothing'), undefined, 'unbind a missing binding: ok');
  });
});

// ---------------------------------------------------------------- 4. publish

t.test('publish', async (t) => {
  t.test('mandatory and unroutable: basic.return 312 NO_ROUTE; not mandatory: dropped', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = await c.exchange(ch, 'direct');
    const props: AMQPProperties = { contentType: 'text/plain', messageId: 'm-1', headers: { h: 'v' } };
    await ch.basicPublish(x, 'nowhere', 'returned', props, true);
    await ch.basicPublish(x, 'nowhere', 'dropped', props, false);
    const { returned } = c.state(ch);
    await until(() => returned.length >= 1, 'basic.return');
    await sleep(QUIET_MS);
    t.equal(returned.length, 1, 'only the mandatory one comes back');
    const r = returned[0]!;
    t.same([r.replyCode, r.replyText, r.exchange, r.routingKey, text(r)], [312, 'NO_ROUTE', x, 'nowhere', 'returned']);
    t.same(r.properties, props, 'properties intact');
  });

  t.test('to a missing exchange: channel closed with 404', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const x = uniqueName('amqp-client.missing');
    await ch.basicPublish(x, 'k', 'lost');
    await closedWith(t, c, ch, 404, notFoundExchange(x), 'publish to a missing exchange');
    t.same([c.errors, c.amqp.closed], [[], false], 'the connection stays open');
    const ch2 = await c.channel();
    t.equal(await ch2.exchangeDeclare('amq.direct', 'direct', { passive: true }), undefined, 'a new channel works');
  });

  t.test('properties and bodies round-trip', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const stamp = new Date(1_700_000_000_000);
    const props: AMQPProperties = {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {
        str: 'text',
        int: 42,
        neg: -7,
        long: 2n ** 40n,
        float: 1.5,
        yes: true,
        nothing: null,
        when: stamp,
        bytes: new Uint8Array([0, 1, 255]),
        list: [1, 'two', [3], { four: 4 }],
        nested: { a: { b: 'deep' } },
      },
      deliveryMode: 2,
      priority: 3,
      correlationId: 'corr',
      replyTo: 'reply',
      expiration: '60000',
      messageId: 'id-1',
      timestamp: stamp,
      type: 'kind',
      userId: 'guest',
      appId: 'conformance',
    };
    await ch.basicPublish('', q, '{}', props);
    await holds(ch, q, 1);
    const m = await getOne(ch, q, true);
    t.same(
      m.properties,
      { ...props, headers: { ...props.headers, long: 2 ** 40, bytes: new Uint8Array([0, 1, 255]) } },
      'every property (a 64-bit header comes back as a number)',
    );

    // frame_max 8192 here: a body frame carries at most 8184 bytes
    const sizes = [0, 1, 8183, 8184, 8185, 1024 * 1024];
    const bodies = sizes.map((n) => new Uint8Array(Array.from({ length: n }, (_, i) => (i * 13 + n) & 0xff)));
    for (const b of bodies) await ch.basicPublish('', q, b);
    const inbox = await consume(ch, q, { noAck: true });
    await inbox.waitFor(sizes.length);
    t.same(
      inbox.msgs.map((x) => x.bodySize),
      sizes,
      'sizes, in order',
    );
    for (const [i, x] of inbox.msgs.entries()) t.ok(Buffer.from(x.body ?? new Uint8Array()).equals(Buffer.from(bodies[i]!)), `${sizes[i]} bytes intact`);
  });
});

// ---------------------------------------------------------------- 5. consume

t.test('consume', async (t) => {
  t.test('round robin, consumer tags, exclusive consumer 403', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const cons = [await consume(ch, q), await consume(ch, q, { tag: 'chosen' }), await consume(ch, q)];
    t.match(cons[0]!.tag, /^amq\.ctag-[A-Za-z0-9_-]{22}$/, cons[0]!.tag);
    t.equal(cons[1]!.tag, 'chosen');
    await publishAll(ch, q, range(1, 6));
    await until(() => cons.reduce((n, i) => n + i.msgs.length, 0) >= 6, '6 deliveries');
    t.same(
      cons.map((i) => i.bodies()),
      [
        ['1', '4'],
        ['2', '5'],
        ['3', '6'],
      ],
    );
    t.same(
      cons.map((i) => i.msgs.map((m) => m.consumerTag)),
      cons.map((i) => [i.tag, i.tag]),
    );
    const other = await c.channel();
    await refused(t, c, other, other.basicConsume(q, { exclusive: true }, () => {}), 403, `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
  });

  t.test('basic.cancel stops deliveries; deleting the queue cancels its consumer', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    const inbox = await consume(ch, q, { noAck: true });
    await publishAll(ch, q, ['1', '2']);
    await inbox.waitFor(2);
    await ch.basicCancel(inbox.tag);
    t.equal(await within(inbox.ended, 'consumer end'), null, 'cancelled by the client');
    await publishAll(ch, q, ['3']);
    await sleep(QUIET_MS);
    t.same(inbox.bodies(), ['1', '2'], 'nothing after the cancel');

    const watched = await consume(ch, q);
    await watched.waitFor(1);
    const other = await c.channel();
    t.same(await other.queueDelete(q), { messageCount: 0 }, 'the unacked message is not counted');
    t.equal(await within(watched.ended, 'basic.cancel from the server'), 'Consumer cancelled by the server');
    t.equal(await ch.exchangeDeclare('amq.direct', 'direct', { passive: true }), undefined, 'the channel stays open');
  });

  t.test('basic.get: message-count, then get-empty', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    await publishAll(ch, q, ['a', 'b', 'c']);
    await holds(ch, q, 3);
    const got: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await getOne(ch, q);
      got.push([text(m), m.deliveryTag, m.redelivered, m.exchange, m.routingKey, m.messageCount]);
    }
    t.same(got, [
      ['a', 1, false, '', q, 2],
      ['b', 2, false, '', q, 1],
      ['c', 3, false, '', q, 0],
    ]);
    t.equal(await ch.basicGet(q), null, 'get-empty');
  });

  t.test('RPC through a server-named reply queue', SUBTEST, async (t) => {
    const c = await connect(t);
    const server = await c.channel();
    const rpcQueue = await c.queue(server);
    await server.basicConsume(rpcQueue, { noAck: false }, async (m) => {
      await server.basicPublish('', m.properties.replyTo ?? '', `reply to ${text(m)}`, { correlationId: m.properties.correlationId ?? '' });
      await m.ack();
    });
    const client = await c.channel();
    const { name: replyTo } = await client.queueDeclare();
    const replies = await consume(client, replyTo, { noAck: true });
    await client.basicPublish('', rpcQueue, 'ping', { replyTo, correlationId: 'call-1' });
    await replies.waitFor(1);
    const r = replies.msgs[0]!;
    t.same([text(r), r.properties.correlationId, r.routingKey], ['reply to ping', 'call-1', replyTo]);
  });
});

// ---------------------------------------------------------------- 6. acks

t.test('acks', async (t) => {
  t.test('reject with requeue comes back first; nack multiple; channel close requeues in order', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    await publishAll(pub, q, range(1, 6));
    await holds(pub, q, 6);
    const ch = await c.channel();
    const ms = [await getOne(ch, q), await getOne(ch, q), await getOne(ch, q)];
    await ms[0]!.ack();
    await ms[1]!.reject(true);
    const next = await getOne(ch, q);
    t.same([text(next), next.redelivered, next.deliveryTag, next.messageCount], ['2', true, 4, 3], 'the rejected 2 is next, redelivered');
    const four = await getOne(ch, q);
    await ch.basicNack(four.deliveryTag, true, true); // 3, 2, 4 back
    t.same(await drain(pub, q, 5), [
      ['2', true],
      ['3', true],
      ['4', true],
      ['5', false],
      ['6', false],
    ]);

    await publishAll(pub, q, ['a', 'b', 'c']);
    await holds(pub, q, 3);
    const ch2 = await c.channel();
    const held = [await getOne(ch2, q), await getOne(ch2, q)];
    await held[0]!.reject(false);
    await ch2.close();
    t.same(await drain(pub, q, 2), [
      ['b', true],
      ['c', false],
    ], 'a dropped; b requeued by the close');
  });

  t.test('basic.recover requeue=true redelivers the unacked', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    const q = await c.queue(ch);
    await publishAll(ch, q, range(1, 3));
    const inbox = await consume(ch, q);
    await inbox.waitFor(3);
    await inbox.msgs[0]!.ack();
    await ch.basicRecover(true);
    await inbox.waitFor(5);
    await sleep(QUIET_MS);
    t.same(
      inbox.msgs.map((m) => [text(m), m.redelivered, m.deliveryTag]),
      [
        ['1', false, 1],
        ['2', false, 2],
        ['3', false, 3],
        ['2', true, 4],
        ['3', true, 5],
      ],
    );
  });

  t.test('unknown or double-acked delivery tag: 406', SUBTEST, async (t) => {
    const c = await connect(t);
    let ch = await c.channel();
    await ch.basicAck(99);
    await closedWith(t, c, ch, 406, 'PRECONDITION_FAILED - unknown delivery tag 99', 'ack 99');
    ch = await c.channel();
    const q = await c.queue(ch);
    await publishAll(ch, q, ['x']);
    await holds(ch, q, 1);
    const m = await getOne(ch, q);
    await ch.basicAck(m.deliveryTag);
    await ch.basicAck(m.deliveryTag);
    await closedWith(t, c, ch, 406, 'PRECONDITION_FAILED - unknown delivery tag 1', 'double ack');
  });
});

// ---------------------------------------------------------------- 7. prefetch

t.test('prefetch', async (t) => {
  t.test('per consumer 2; global for the channel; 0 unlimited', SUBTEST, async (t) => {
    const c = await connect(t);
    const pub = await c.channel();
    const q = await c.queue(pub);
    await publishAll(pub, q, range(1, 12));
    await holds(pub, q, 12);

    const ch = await c.channel();
    await ch.basicQos(2);
    const a = await consume(ch, q);
    const b = await consume(ch, q);
    await a.waitFor(2);
    await b.waitFor(2);
    await sleep(QUIET_MS);
    t.same([a.msgs.length, b.msgs.length], [2, 2], 'per consumer: 2 each');
    await a.msgs[0]!.ack();
    await a.waitFor(3);
    await sleep(QUIET_MS);
    t.same([a.msgs.length, b.msgs.length], [3, 2], 'one ack, one more for that consumer');
    await ch.close();

    const g = await c.channel();
    await g.basicQos(3, 0, true);
    const d = await consume(g, q);
    const e = await consume(g, q);
    await until(() => d.msgs.length + e.msgs.length >= 3, '3 deliveries');
    await sleep(QUIET_MS);
    t.equal(d.msgs.length + e.msgs.length, 3, 'global 3: 3 for the channel');
    await g.close();

    const u = await c.channel();
    await u.basicQos(0);
    const all = await consume(u, q);
    await all.waitFor(11);
    t.equal(all.msgs.length, 11, 'prefetch 0: all 11 left (one was acked)');
  });
});

// ---------------------------------------------------------------- 8. channel.flow

t.test('channel.flow', async (t) => {
  t.test('flow active=true is answered with flow-ok active=true', SUBTEST, async (t) => {
    const c = await connect(t);
    const ch = await c.channel();
    t.equal(await ch.basicFlow(true), true);
    const q = await c.queue(ch);
    await publishAll(ch, q, ['still flowing']);
    t.same(await drain(ch, q, 1), [['still flowing', false]]);
  });
});
