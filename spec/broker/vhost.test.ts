// VirtualHost and Queue: the predeclared exchanges, routing through every
// exchange type and through exchange-to-exchange chains (loops included,
// each queue reached once), binding identity, the cascades when a queue or
// exchange goes away (auto-delete exchanges included), and a queue's
// delivery: round robin, skipping full consumers, requeue order, get, purge,
// auto-delete and deletion.
import t from 'tap';
import type { FieldTable } from '../../lib/amqp/field-table.js';
import { encodeBasicProperties } from '../../lib/amqp/generated/properties.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import type { Exchange } from '../../lib/broker/exchange.js';
import { Message } from '../../lib/broker/message.js';
import { Queue } from '../../lib/broker/queue.js';
import type { QueueConsumer } from '../../lib/broker/queue.js';
import type { QueueEntry } from '../../lib/broker/ready-list.js';
import { VirtualHost } from '../../lib/broker/vhost.js';

const EMPTY_PROPERTIES: Buffer = Buffer.from([0, 0]);

function message(routingKey: string, headers?: FieldTable, exchange = 'x'): Message {
  let props = EMPTY_PROPERTIES;
  if (headers) {
    const w = new WireWriter(256);
    encodeBasicProperties(w, { headers });
    props = w.take();
  }
  const body = Buffer.from(routingKey);
  return new Message(exchange, routingKey, props, [body], body.length);
}

const opts = (o: { durable?: boolean; autoDelete?: boolean; internal?: boolean } = {}) => ({
  durable: o.durable ?? false, autoDelete: o.autoDelete ?? false, internal: o.internal ?? false, arguments: {},
});
const qopts = (autoDelete = false) => ({ durable: false, exclusive: false, autoDelete, arguments: {} });

/** Names of the queues a message reaches, in routing order (duplicates would show). */
function routed(vh: VirtualHost, x: Exchange, m: Message): string[] {
  const out: Queue[] = [];
  vh.route(x, m, out);
  return out.map((q) => q.name);
}
const sortedRouted = (vh: VirtualHost, x: Exchange, m: Message): string[] => routed(vh, x, m).sort();

/** Records what it is given; takes `limit` deliveries in all. */
class FakeConsumer implements QueueConsumer {
  readonly deliveries: QueueEntry[] = [];
  readonly deletedBy: Queue[] = [];
  limit = Infinity;
  constructor(readonly tag: string, readonly noAck = false, readonly exclusive = false, readonly priority = 0) {}
  canTake = (): boolean => this.deliveries.length < this.limit;
  deliver = (_queue: Queue, entry: QueueEntry): void => void this.deliveries.push(entry);
  queueDeleted = (queue: Queue): void => void this.deletedBy.push(queue);
  get bodies(): string[] {
    return this.deliveries.map((e) => e.message.routingKey);
  }
}

t.test('the predeclared exchanges', async (t) => {
  const vh = new VirtualHost('/');
  const expected: [string, string, boolean][] = [
    ['', 'direct', false], ['amq.direct', 'direct', false], ['amq.fanout', 'fanout', false], ['amq.topic', 'topic', false],
    ['amq.headers', 'headers', false], ['amq.match', 'headers', false], ['amq.rabbitmq.trace', 'topic', true],
  ];
  t.same([...vh.exchanges.keys()].sort(), expected.map((e) => e[0]).sort(), 'exactly these');
  for (const [name, type, internal] of expected) {
    const x = vh.exchanges.get(name)!;
    t.same([x.type, x.internal, x.durable, x.autoDelete, x.vhost], [type, internal, true, false, '/'], `${name}: type, internal, durable, auto-delete, vhost`);
  }
  t.equal(vh.exchanges.get(''), vh.defaultExchange);
});

t.test('the default exchange routes by queue name', async (t) => {
  const vh = new VirtualHost('/');
  for (const n of ['q1', 'q2']) vh.addQueue(n, qopts(), null);
  const cases: [string, string[]][] = [['q1', ['q1']], ['q2', ['q2']], ['q3', []], ['', []]];
  for (const [key, want] of cases) t.same(routed(vh, vh.defaultExchange, message(key)), want, `"${key}"`);
  vh.deleteQueue(vh.queues.get('q1')!);
  t.same(routed(vh, vh.defaultExchange, message('q1')), [], 'deleted queue');
});

t.test('direct, fanout and topic exchanges', async (t) => {
  const vh = new VirtualHost('/');
  for (const n of ['a', 'b', 'c']) vh.addQueue(n, qopts(), null);
  const q = (n: string): Queue => vh.queues.get(n)!;
  const direct = vh.exchanges.get('amq.direct')!;
  for (const [n, key] of [['a', 'k1'], ['b', 'k1'], ['c', 'k2']] as const) vh.bind(direct, q(n), key, {});
  const directCases: [string, string[]][] = [['k1', ['a', 'b']], ['k2', ['c']], ['k3', []], ['', []], ['K1', []]];
  for (const [key, want] of directCases) t.same(sortedRouted(vh, direct, message(key)), want, `direct "${key}"`);

  const fanout = vh.exchanges.get('amq.fanout')!;
  for (const [n, key] of [['a', 'ignored'], ['c', '']] as const) vh.bind(fanout, q(n), key, {});
  for (const key of ['', 'x', 'ignored']) t.same(sortedRouted(vh, fanout, message(key)), ['a', 'c'], `fanout "${key}"`);

  const topic = vh.exchanges.get('amq.topic')!;
  for (const [n, key] of [['a', 'stock.*.nyse'], ['b', 'stock.#'], ['c', '#.nyse'], ['c', 'weather']] as const) vh.bind(topic, q(n), key, {});
  const topicCases: [string, string[]][] = [
    ['stock.ibm.nyse', ['a', 'b', 'c']], ['stock.ibm', ['b']], ['stock', ['b']], ['x.nyse', ['c']],
    ['nyse', ['c']], ['weather', ['c']], ['weather.x', []], ['stock.a.b.nyse', ['b', 'c']], ['', []],
  ];
  for (const [key, want] of topicCases) t.same(sortedRouted(vh, topic, message(key)), want, `topic "${key}"`);
});

t.test('headers exchange', async (t) => {
  const vh = new VirtualHost('/');
  for (const n of ['all', 'any', 'empty']) vh.addQueue(n, qopts(), null);
  const x = vh.exchanges.get('amq.headers')!;
  vh.bind(x, vh.queues.get('all')!, '', { 'x-match': 'all', format: 'pdf', type: 'report' });
  vh.bind(x, vh.queues.get('any')!, '', { 'x-match': 'any', format: 'pdf', type: 'log' });
  vh.bind(x, vh.queues.get('empty')!, 'rk-ignored', {});
  const cases: [FieldTable | undefined, string[]][] = [
    [{ format: 'pdf', type: 'report' }, ['all', 'any', 'empty']], [{ format: 'pdf', type: 'report', extra: 1 }, ['all', 'any', 'empty']],
    [{ format: 'pdf' }, ['any', 'empty']], [{ type: 'log' }, ['any', 'empty']], [{ format: 'zip' }, ['empty']],
    [{}, ['empty']], [undefined, ['empty']],
  ];
  for (const [headers, want] of cases) t.same(sortedRouted(vh, x, message('any key', headers)), want, `headers ${JSON.stringify(headers)}`);
});

t.test('exchange-to-exchange chains and loops', async (t) => {
  const vh = new VirtualHost('/');
  const x1 = vh.addExchange('x1', 'direct', opts());
  const x2 = vh.addExchange('x2', 'fanout', opts());
  const x3 = vh.addExchange('x3', 'topic', opts());
  const [q1, q2, q3] = ['q1', 'q2', 'q3'].map((n) => vh.addQueue(n, qopts(), null));
  vh.bind(x1, x2, 'k', {});
  vh.bind(x2, x3, '', {});
  vh.bind(x3, q3!, 'k.#', {});
  vh.bind(x3, q2!, 'k', {});
  vh.bind(x2, q1!, '', {});
  t.same(sortedRouted(vh, x1, message('k')), ['q1', 'q2', 'q3'], 'through three exchanges');
  t.same(sortedRouted(vh, x1, message('k.x')), [], 'x1 does not route k.x');
  t.same(sortedRouted(vh, x2, message('k.x')), ['q1', 'q3'], 'from the middle of the chain');
  t.same(sortedRouted(vh, x3, message('other')), []);

  // a loop: x1 -> x2 -> x1, both bound to q1 as well
  const loop = new VirtualHost('/');
  const l1 = loop.addExchange('l1', 'fanout', opts());
  const l2 = loop.addExchange('l2', 'fanout', opts());
  const lq = loop.addQueue('lq', qopts(), null);
  for (const [src, dest] of [[l1, l2], [l2, l1], [l1, lq], [l2, lq]] as const) loop.bind(src, dest, '', {});
  t.same(routed(loop, l1, message('m')), ['lq'], 'loop from l1: the queue once');
  t.same(routed(loop, l2, message('m')), ['lq'], 'loop from l2: the queue once');
  t.same(routed(loop, l1, message('again')), ['lq'], 'a second routing pass is independent of the first');

  // an exchange bound to itself
  const self = loop.addExchange('self', 'fanout', opts());
  loop.bind(self, self, '', {});
  loop.bind(self, lq, '', {});
  t.same(routed(loop, self, message('m')), ['lq'], 'self-loop');
});

t.test('a queue reached by several matching bindings gets the message once', async (t) => {
  const vh = new VirtualHost('/');
  const q = vh.addQueue('q', qopts(), null);
  const topic = vh.addExchange('t', 'topic', opts());
  for (const key of ['a.*', 'a.#', '#']) vh.bind(topic, q, key, {});
  t.same(routed(vh, topic, message('a.b')), ['q'], 'three topic bindings');
  const headers = vh.addExchange('h', 'headers', opts());
  vh.bind(headers, q, '', { a: 1 });
  vh.bind(headers, q, '', { 'x-match': 'any', a: 1, b: 2 });
  t.same(routed(vh, headers, message('', { a: 1, b: 2 })), ['q'], 'two headers bindings');
  // directly and through another exchange
  const fan = vh.addExchange('f', 'fanout', opts());
  vh.bind(fan, q, '', {});
  vh.bind(fan, topic, '', {});
  t.same(routed(vh, fan, message('a.b')), ['q'], 'directly and through an exchange');
});

t.test('binding identity', async (t) => {
  for (const type of ['direct', 'fanout', 'topic']) {
    const vh = new VirtualHost('/');
    const x = vh.addExchange('x', type, opts());
    const q = vh.addQueue('q', qopts(), null);
    t.equal(vh.bind(x, q, 'k', {}), true, `${type}: first bind`);
    t.equal(vh.bind(x, q, 'k', {}), false, `${type}: the same binding again`);
    t.same([x.bindings.size, q.bindings.size], [1, 1], `${type}: one binding, on the exchange and on the queue`);
    vh.unbind(x, q, 'k', {});
    t.same([routed(vh, x, message('k')), q.bindings.size], [[], 0], `${type}: one unbind removes it`);

    t.equal(vh.bind(x, q, 'k', { a: 1, b: 'x' }), true);
    t.equal(vh.bind(x, q, 'k', { b: 'x', a: 1 }), false, `${type}: argument order does not matter`);
    t.equal(vh.bind(x, q, 'k', { a: 2, b: 'x' }), true, `${type}: different arguments make another binding`);
    t.equal(x.bindings.size, 2);
    t.same(routed(vh, x, message('k')), ['q'], `${type}: two bindings, delivered once`);
    vh.unbind(x, q, 'k', { a: 1, b: 'x' });
    t.equal(x.bindings.size, 1, `${type}: unbind removed one`);
    t.same(routed(vh, x, message('k')), ['q'], `${type}: the other still routes`);
    vh.unbind(x, q, 'k', { a: 1, b: 'x' });
    t.equal(x.bindings.size, 1, `${type}: unbinding a missing binding changes nothing`);
    vh.unbind(x, q, 'k', { a: 2, b: 'x' });
    t.same(routed(vh, x, message('k')), [], `${type}: both gone`);
  }
});

t.test('unbind removes exactly the binding named', async (t) => {
  const vh = new VirtualHost('/');
  const x = vh.addExchange('x', 'direct', opts());
  const q1 = vh.addQueue('q1', qopts(), null);
  const q2 = vh.addQueue('q2', qopts(), null);
  vh.bind(x, q1, 'k1', {});
  vh.bind(x, q1, 'k2', {});
  vh.bind(x, q2, 'k1', {});
  vh.unbind(x, q1, 'k1', {});
  t.same([routed(vh, x, message('k1')), routed(vh, x, message('k2'))], [['q2'], ['q1']]);
  t.same([q1.bindings.size, q2.bindings.size], [1, 1]);
});

t.test('deleting a queue removes its bindings', async (t) => {
  const vh = new VirtualHost('/');
  const x = vh.addExchange('x', 'fanout', opts());
  const y = vh.addExchange('y', 'topic', opts());
  const q = vh.addQueue('q', qopts(), null);
  const other = vh.addQueue('other', qopts(), null);
  vh.bind(x, q, '', {});
  vh.bind(y, q, '#', {});
  vh.bind(x, other, '', {});
  vh.deleteQueue(q);
  t.equal(vh.queues.has('q'), false);
  t.equal(x.bindings.size, 1, 'x keeps only the other binding');
  t.equal(y.bindings.size, 0);
  t.same(routed(vh, x, message('m')), ['other']);
  t.same(routed(vh, y, message('m')), []);
  t.equal(vh.exchanges.has('x') && vh.exchanges.has('y'), true, 'exchanges that are not auto-delete stay');
});

t.test('deleting an exchange removes its bindings both ways', async (t) => {
  const vh = new VirtualHost('/');
  const up = vh.addExchange('up', 'fanout', opts());
  const mid = vh.addExchange('mid', 'fanout', opts());
  const down = vh.addExchange('down', 'fanout', opts());
  const q = vh.addQueue('q', qopts(), null);
  vh.bind(up, mid, '', {});
  vh.bind(mid, down, '', {});
  vh.bind(mid, q, '', {});
  vh.bind(down, q, '', {});
  vh.deleteExchange(mid);
  t.equal(vh.exchanges.has('mid'), false);
  t.equal(up.bindings.size, 0, 'binding to it removed');
  t.equal(down.incoming.size, 0, 'binding from it removed');
  t.equal(q.bindings.size, 1, 'the queue keeps its binding from down');
  t.same(routed(vh, up, message('m')), []);
  t.same(routed(vh, down, message('m')), ['q']);
});

t.test('auto-delete exchanges', async (t) => {
  t.test('stay until they had a binding, and while one is left', async (t) => {
    const vh = new VirtualHost('/');
    const x = vh.addExchange('x', 'direct', opts({ autoDelete: true }));
    const q = vh.addQueue('q', qopts(), null);
    t.equal(vh.exchanges.get('x'), x, 'a new one with no bindings stays');
    vh.bind(x, q, 'a', {});
    vh.bind(x, q, 'b', {});
    vh.unbind(x, q, 'a', {});
    t.equal(vh.exchanges.get('x'), x, 'one binding left');
    vh.unbind(x, q, 'b', {});
    t.equal(vh.exchanges.has('x'), false, 'gone with its last binding');
  });
  t.test('being a destination does not keep one alive or delete it', async (t) => {
    const vh = new VirtualHost('/');
    const src = vh.addExchange('src', 'fanout', opts());
    const x = vh.addExchange('x', 'fanout', opts({ autoDelete: true }));
    vh.bind(src, x, '', {});
    vh.unbind(src, x, '', {});
    t.equal(vh.exchanges.get('x'), x, 'losing an incoming binding does not delete it');
  });
  t.test('go when their last queue is deleted, and cascade', async (t) => {
    const vh = new VirtualHost('/');
    const x0 = vh.addExchange('x0', 'fanout', opts({ autoDelete: true }));
    const x1 = vh.addExchange('x1', 'fanout', opts({ autoDelete: true }));
    const keep = vh.addExchange('keep', 'fanout', opts());
    const q = vh.addQueue('q', qopts(), null);
    vh.bind(x1, q, '', {});
    vh.bind(x0, x1, '', {});
    vh.bind(keep, x1, '', {});
    vh.deleteQueue(q);
    t.same([vh.exchanges.has('x1'), vh.exchanges.has('x0')], [false, false], 'x1 lost its last binding; x0 its binding to x1');
    t.same([vh.exchanges.get('keep'), keep.bindings.size], [keep, 0], 'a non-auto-delete source stays, without its binding');
    t.equal(x0.bindings.size + x1.bindings.size + x1.incoming.size, 0, 'no binding left on the deleted ones');
  });
  t.test('go when their destination exchange is deleted', async (t) => {
    const vh = new VirtualHost('/');
    vh.bind(vh.addExchange('x', 'fanout', opts({ autoDelete: true })), vh.addExchange('dest', 'fanout', opts()), '', {});
    vh.deleteExchange(vh.exchanges.get('dest')!);
    t.equal(vh.exchanges.has('x'), false);
  });
});

t.test('queue: round robin between consumers', async (t) => {
  const q = new Queue('q', '/', qopts(), null);
  const cs = [new FakeConsumer('c1'), new FakeConsumer('c2'), new FakeConsumer('c3')];
  for (const c of cs) q.addConsumer(c);
  for (let i = 1; i <= 7; i++) q.enqueue(message(`m${i}`));
  t.same(cs.map((c) => c.bodies), [['m1', 'm4', 'm7'], ['m2', 'm5'], ['m3', 'm6']]);
  t.equal(q.unacked, 7, 'every delivery is unacked');
  t.same([q.messageCount, q.consumerCount], [0, 3]);
  const noAck = new Queue('n', '/', qopts(), null);
  noAck.addConsumer(new FakeConsumer('c', true));
  noAck.enqueue(message('m'));
  t.equal(noAck.unacked, 0, 'no-ack deliveries are not unacked');
});

t.test('queue: a consumer that cannot take is skipped; messages wait when none can', async (t) => {
  const q = new Queue('q', '/', qopts(), null);
  const [c1, c2, c3] = [new FakeConsumer('c1'), new FakeConsumer('c2'), new FakeConsumer('c3')];
  c2.limit = 0;
  c3.limit = 1;
  for (const c of [c1, c2, c3]) q.addConsumer(c);
  for (let i = 1; i <= 5; i++) q.enqueue(message(`m${i}`));
  t.same([c1.bodies, c2.bodies, c3.bodies], [['m1', 'm3', 'm4', 'm5'], [], ['m2']]);
  c1.limit = 4;
  q.enqueue(message('m6'));
  t.equal(q.messageCount, 1, 'nobody can take: it waits');
  c2.limit = 1;
  q.drain();
  t.same(c2.bodies, ['m6'], 'drain hands it over once someone can');
  t.equal(q.messageCount, 0);
});

t.test('queue: requeue puts messages back at their positions, redelivered', async (t) => {
  const q = new Queue('q', '/', qopts(), null);
  const c = new FakeConsumer('c');
  c.limit = 5;
  q.addConsumer(c);
  for (let i = 1; i <= 8; i++) q.enqueue(message(`m${i}`));
  t.same(c.bodies, ['m1', 'm2', 'm3', 'm4', 'm5']);
  t.equal(q.messageCount, 3);
  const [e1, e2, , e4] = c.deliveries;
  q.requeue([e4!, e2!]);
  q.requeue([e1!]);
  t.equal(q.unacked, 2, 'five delivered, three requeued');
  t.equal(q.messageCount, 6);
  const order: [string, boolean][] = [];
  for (let e = q.get(true); e; e = q.get(true)) order.push([e.message.routingKey, e.redelivered]);
  t.same(order, [['m1', true], ['m2', true], ['m4', true], ['m6', false], ['m7', false], ['m8', false]]);
});

t.test('queue: requeue hands messages to a consumer that can take them', async (t) => {
  const q = new Queue('q', '/', qopts(), null);
  const c = new FakeConsumer('c');
  c.limit = 2;
  q.addConsumer(c);
  for (let i = 1; i <= 3; i++) q.enqueue(message(`m${i}`));
  q.requeue(c.deliveries.splice(0, 1)); // m1 leaves the consumer's hands: room for one more
  t.same([c.bodies, c.deliveries[1]!.redelivered, q.messageCount], [['m2', 'm1'], true, 1], 'm1 is redelivered before m3');
});

t.test('queue: get and messageCount', async (t) => {
  const q = new Queue('q', '/', qopts(), null);
  t.same([q.get(false), q.unacked], [undefined, 0], 'an empty get gives and counts nothing');
  for (let i = 1; i <= 3; i++) q.enqueue(message(`m${i}`));
  t.equal(q.messageCount, 3);
  t.equal(q.get(false)?.message.routingKey, 'm1');
  t.equal(q.unacked, 1, 'get with ack');
  const e = q.get(true);
  t.equal(e?.message.routingKey, 'm2');
  t.equal(q.unacked, 1, 'get no-ack');
  t.equal(q.messageCount, 1);
  q.settle(e!);
  t.equal(q.unacked, 0, 'settle');
});

t.test('queue: purge', async (t) => {
  const q = new Queue('q', '/', qopts(), null);
  t.equal(q.purge(), 0);
  for (let i = 1; i <= 4; i++) q.enqueue(message(`m${i}`));
  t.equal(q.purge(), 4);
  t.equal(q.messageCount, 0);
  q.enqueue(message('m5'));
  t.equal(q.get(true)?.message.routingKey, 'm5', 'works after a purge');
});

t.test('queue: auto-delete and removeConsumer', async (t) => {
  const ad = new Queue('ad', '/', qopts(true), null);
  const stranger = new FakeConsumer('s');
  t.equal(ad.removeConsumer(stranger), false, 'never had consumers');
  const [c1, c2] = [new FakeConsumer('c1'), new FakeConsumer('c2')];
  ad.addConsumer(c1);
  ad.addConsumer(c2);
  t.equal(ad.removeConsumer(stranger), false, 'not one of its consumers');
  t.equal(ad.removeConsumer(c1), false, 'not the last');
  t.equal(ad.removeConsumer(c1), false, 'removed already');
  t.equal(ad.removeConsumer(c2), true, 'the last consumer of an auto-delete queue');
  t.equal(ad.consumerCount, 0);

  const plain = new Queue('plain', '/', qopts(false), null);
  plain.addConsumer(c1);
  t.equal(plain.removeConsumer(c1), false, 'not auto-delete');

  // round robin carries on correctly after a removal
  const q = new Queue('q', '/', qopts(), null);
  const cs = [new FakeConsumer('a'), new FakeConsumer('b'), new FakeConsumer('c')];
  for (const c of cs) q.addConsumer(c);
  q.enqueue(message('m1')); // a; b is next
  q.removeConsumer(cs[0]!);
  q.enqueue(message('m2'));
  q.enqueue(message('m3'));
  t.same(cs.map((c) => c.bodies), [['m1'], ['m2'], ['m3']], 'b then c after a leaves');
});

t.test('queue: deletion tells the consumers and drops the messages', async (t) => {
  const vh = new VirtualHost('/');
  const q = vh.addQueue('q', qopts(), null);
  const [c1, c2] = [new FakeConsumer('c1'), new FakeConsumer('c2')];
  c1.limit = 1;
  c2.limit = 1;
  q.addConsumer(c1);
  q.addConsumer(c2);
  for (let i = 1; i <= 5; i++) q.enqueue(message(`m${i}`));
  t.equal(vh.deleteQueue(q), 3, 'returns the ready count');
  t.same([c1.deletedBy, c2.deletedBy], [[q], [q]], 'each consumer told once');
  t.same([q.deleted, q.consumerCount, q.messageCount], [true, 0, 0], 'deleted, no consumers, no messages');
  t.equal(vh.deleteQueue(q), 0, 'deleting again is a no-op');
  q.requeue([c1.deliveries[0]!]);
  t.equal(q.messageCount, 0, 'requeue into a deleted queue drops the message');

  const lone = new Queue('lone', '/', qopts(), null);
  lone.addConsumer(c1);
  lone.close();
  t.same(c1.deletedBy, [q, lone], 'close() alone tells consumers');
});
