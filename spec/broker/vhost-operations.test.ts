// The exchange, queue and binding operations a client asks for, with
// RabbitMQ's checks and exact reply codes and texts. Every expected text
// here was checked against RabbitMQ 3.10 (tools/rabbitmq-scratch.sh + amqplib).
import t from 'tap';
import type * as Tap from 'tap';
import { ChannelError } from '../../lib/amqp/amqp-error.js';
import { Typed } from '../../lib/amqp/field-table.js';
import type { FieldTable } from '../../lib/amqp/field-table.js';
import { Message } from '../../lib/broker/message.js';
import type { QueueConsumer } from '../../lib/broker/queue.js';
import * as ops from '../../lib/broker/vhost-operations.js';
import type { AccessCheck, BindingRequest, ExchangeDeclaration, QueueDeclaration, ResourceKind } from '../../lib/broker/vhost-operations.js';
import type { QueueOwner } from '../../lib/broker/queue.js';
import { VirtualHost } from '../../lib/broker/vhost.js';

// these tests are about everything but permissions (see the end of the file): a user allowed everything
const allowed: AccessCheck = { check: () => undefined };
const declareExchange = (vh: VirtualHost, d: ExchangeDeclaration) => ops.declareExchange(vh, d, allowed);
const deleteExchange = (vh: VirtualHost, name: string, ifUnused: boolean) => ops.deleteExchange(vh, name, ifUnused, allowed);
const declareQueue = (vh: VirtualHost, d: QueueDeclaration, owner: QueueOwner) => ops.declareQueue(vh, d, owner, allowed);
const deleteQueue = (vh: VirtualHost, name: string, ifUnused: boolean, ifEmpty: boolean, owner: QueueOwner) => ops.deleteQueue(vh, name, ifUnused, ifEmpty, owner, allowed);
const purgeQueue = (vh: VirtualHost, name: string, owner: QueueOwner) => ops.purgeQueue(vh, name, owner, allowed);
const bind = (vh: VirtualHost, r: BindingRequest, owner: QueueOwner) => ops.bind(vh, r, owner, allowed);
const unbind = (vh: VirtualHost, r: BindingRequest, owner: QueueOwner) => ops.unbind(vh, r, owner, allowed);

const me = { connection: 'me' };
const other = { connection: 'other' };

const xd = (name: string, type = 'direct', o: Partial<ExchangeDeclaration> = {}): ExchangeDeclaration => ({
  name, type, passive: false, durable: false, autoDelete: false, internal: false, arguments: {}, ...o,
});
const qd = (name: string, o: Partial<QueueDeclaration> = {}): QueueDeclaration => ({
  name, passive: false, durable: false, exclusive: false, autoDelete: false, arguments: {}, ...o,
});
const toQueue = (source: string, destination: string, routingKey = 'k', args: FieldTable = {}): BindingRequest => ({
  source, destination, destinationKind: 'queue', routingKey, arguments: args,
});
const toExchange = (source: string, destination: string, routingKey = 'k'): BindingRequest => ({
  source, destination, destinationKind: 'exchange', routingKey, arguments: {},
});

const LOCKED = (q: string): string =>
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`;
const DEFAULT_REFUSED = 'ACCESS_REFUSED - operation not permitted on the default exchange';
const ineq = (key: string, resource: string, received: string, current: string): string =>
  `PRECONDITION_FAILED - inequivalent arg '${key}' for ${resource} in vhost '/': received ${received} but current is ${current}`;

/** fn must throw a ChannelError with exactly this code and text (extra: e.g. { todo } for a known bug). */
function refuses(t: Tap.Test, fn: () => unknown, code: number, text: string, name = text, extra: object = {}): void {
  try {
    fn();
    t.fail(`${name}: no error`, extra);
  } catch (e) {
    if (!(e instanceof ChannelError)) throw e;
    t.same({ code: e.code, text: e.message }, { code, text }, name, extra);
  }
}


function enqueue(vh: VirtualHost, queue: string, n: number): void {
  for (let i = 0; i < n; i++) vh.queues.get(queue)!.enqueue(new Message('', queue, Buffer.from([0, 0]), [], 0));
}

const consumer: QueueConsumer = {
  tag: 'c', exclusive: false, noAck: false, priority: 0, canTake: () => false, deliver: () => {}, queueDeleted: () => {},
};

t.test('exchange.declare', async (t) => {
  const vh = new VirtualHost('/');
  const x = declareExchange(vh, xd('x', 'direct', { arguments: { 'alternate-exchange': 'ae1' } }));
  t.match(x, { name: 'x', type: 'direct', durable: false, autoDelete: false, internal: false });
  t.equal(vh.exchanges.get('x'), x, 'created');
  t.equal(declareExchange(vh, xd('x', 'direct', { arguments: { 'alternate-exchange': 'ae1', other: 1 } })), x,
    'an equivalent redeclare returns it (arguments other than alternate-exchange are ignored)');
  t.equal(declareExchange(vh, xd('x', 'fanout', { passive: true })), x, 'passive ignores the type');
  t.equal(declareExchange(vh, xd('x', 'nonsense', { passive: true, durable: true })), x, 'passive checks nothing else');
  t.equal(declareExchange(vh, xd('a\r\nb')).name, 'ab', 'CR and LF are stripped from the name');
  t.equal(declareExchange(vh, xd('amq.direct', 'direct', { durable: true })), vh.exchanges.get('amq.direct'),
    'redeclaring amq.direct with its own parameters');
  t.ok(declareExchange(vh, xd('amq.rabbitmq.trace', 'topic', { durable: true, internal: true })), 'and amq.rabbitmq.trace');

  const cases: [string, ExchangeDeclaration, number, string][] = [
    ['passive, missing', xd('nope', 'direct', { passive: true }), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"],
    ['passive, missing amq.*', xd('amq.foo', 'direct', { passive: true }), 404, "NOT_FOUND - no exchange 'amq.foo' in vhost '/'"],
    ['passive, default', xd('', 'direct', { passive: true }), 403, DEFAULT_REFUSED],
    ['active, default', xd(''), 403, DEFAULT_REFUSED],
    ['unknown type', xd('y', 'foo'), 406, "PRECONDITION_FAILED - invalid exchange type 'foo'"],
    ['unknown type on an existing exchange', xd('x', 'x-delayed'), 406, "PRECONDITION_FAILED - invalid exchange type 'x-delayed'"],
    ['reserved prefix', xd('amq.foo'), 403, "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'"],
    ['type', xd('x', 'fanout', { arguments: { 'alternate-exchange': 'ae1' } }), 406,
      ineq('type', "exchange 'x'", "'fanout'", "'direct'")],
    ['durable', xd('x', 'direct', { durable: true, arguments: { 'alternate-exchange': 'ae1' } }), 406,
      ineq('durable', "exchange 'x'", "'true'", "'false'")],
    ['auto_delete', xd('x', 'direct', { autoDelete: true, arguments: { 'alternate-exchange': 'ae1' } }), 406,
      ineq('auto_delete', "exchange 'x'", "'true'", "'false'")],
    ['internal', xd('x', 'direct', { internal: true, arguments: { 'alternate-exchange': 'ae1' } }), 406,
      ineq('internal', "exchange 'x'", "'true'", "'false'")],
    ['alternate-exchange missing', xd('x'), 406,
      ineq('alternate-exchange', "exchange 'x'", 'none', "the value 'ae1' of type 'longstr'")],
    ['amq.direct as fanout', xd('amq.direct', 'fanout', { durable: true }), 406,
      ineq('type', "exchange 'amq.direct'", "'fanout'", "'direct'")],
    ['amq.direct, not durable', xd('amq.direct'), 406, ineq('durable', "exchange 'amq.direct'", "'false'", "'true'")],
  ];
  for (const [name, d, code, text] of cases) refuses(t, () => declareExchange(vh, d), code, text, name);

  const v1 = new VirtualHost('v1');
  refuses(t, () => declareExchange(v1, xd('nope', 'direct', { passive: true })), 404, "NOT_FOUND - no exchange 'nope' in vhost 'v1'",
    'texts name the vhost');
});

t.test('exchange.declare: alternate-exchange with another value', async (t) => {
  const vh = new VirtualHost('/');
  declareExchange(vh, xd('x', 'direct', { arguments: { 'alternate-exchange': 'ae1' } }));
  refuses(t, () => declareExchange(vh, xd('x', 'direct', { arguments: { 'alternate-exchange': 'ae2' } })), 406,
    ineq('alternate-exchange', "exchange 'x'", "'ae2'", "'ae1'"), 'alternate-exchange ae1 -> ae2');
});

t.test('exchange.delete', async (t) => {
  const vh = new VirtualHost('/');
  refuses(t, () => deleteExchange(vh, '', false), 403, DEFAULT_REFUSED);
  refuses(t, () => deleteExchange(vh, 'amq.direct', false), 403,
    "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed");
  refuses(t, () => deleteExchange(vh, 'amq.missing', false), 403,
    "ACCESS_REFUSED - deletion of system exchange 'amq.missing' in vhost '/' not allowed");
  t.ok(vh.exchanges.has('amq.direct'), 'still there');
  t.doesNotThrow(() => deleteExchange(vh, 'missing', false), 'a missing exchange');
  t.doesNotThrow(() => deleteExchange(vh, 'missing', true), 'a missing exchange, if-unused');

  declareExchange(vh, xd('x'));
  declareExchange(vh, xd('src', 'fanout'));
  declareQueue(vh, qd('q'), me);
  bind(vh, toQueue('x', 'q'), me);
  bind(vh, toExchange('src', 'x'), me);
  refuses(t, () => deleteExchange(vh, 'x', true), 406, "PRECONDITION_FAILED - exchange 'x' in vhost '/' in use");
  unbind(vh, toQueue('x', 'q'), me);
  deleteExchange(vh, 'x', true);
  t.notOk(vh.exchanges.has('x'), 'if-unused: being a destination does not count as used');
  t.equal(vh.exchanges.get('src')!.bindings.size, 0, 'its incoming binding is gone');
});

t.test('queue.declare: names', async (t) => {
  const vh = new VirtualHost('/');
  const a = declareQueue(vh, qd(''), me);
  const b = declareQueue(vh, qd(''), me);
  t.match(a.queue.name, /^amq\.gen-[A-Za-z0-9_-]{22}$/, 'server-named');
  t.not(a.queue.name, b.queue.name, 'a new name each time');
  t.equal(a.created, true);
  t.equal(vh.queues.get(a.queue.name), a.queue);
  t.same(declareQueue(vh, qd(a.queue.name, { passive: true }), me), { queue: a.queue, created: false }, 'passive by its name');
  refuses(t, () => declareQueue(vh, qd(a.queue.name), me), 403,
    `ACCESS_REFUSED - queue name '${a.queue.name}' contains reserved prefix 'amq.*'`, 'active redeclare of a server-named queue');
  refuses(t, () => declareQueue(vh, qd('amq.x'), me), 403, "ACCESS_REFUSED - queue name 'amq.x' contains reserved prefix 'amq.*'");
  refuses(t, () => declareQueue(vh, qd('nope', { passive: true }), me), 404, "NOT_FOUND - no queue 'nope' in vhost '/'");
  t.equal(declareQueue(vh, qd('a\r\nb'), me).queue.name, 'ab', 'CR and LF are stripped');
});

t.test('queue.declare: redeclaring', async (t) => {
  const vh = new VirtualHost('/');
  const q = declareQueue(vh, qd('q', { arguments: { 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' } }), me).queue;
  const same = (args: FieldTable, name: string): void => {
    t.same(declareQueue(vh, qd('q', { arguments: args }), me), { queue: q, created: false }, name);
  };
  same({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' }, 'identical');
  same({ 'x-message-ttl': new Typed('s', 1000), 'x-dead-letter-exchange': 'dlx' }, 'ttl as a short');
  same({ 'x-message-ttl': new Typed('l', 1000n), 'x-dead-letter-exchange': 'dlx' }, 'ttl as a long');
  same({ 'x-message-ttl': 1000n, 'x-dead-letter-exchange': 'dlx' }, 'ttl as a bigint');
  same({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx', 'x-unknown': 1 }, 'unknown x- arguments are ignored');
  same({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx', 'x-priority-foo': 'a', other: true }, 'and other arguments');
  t.equal(declareQueue(vh, qd('q', { passive: true, durable: true }), me).queue, q, 'passive checks nothing');

  const Q = "queue 'q'";
  const cases: [string, QueueDeclaration, string][] = [
    ['durable', qd('q', { durable: true, arguments: q.arguments }), ineq('durable', Q, "'true'", "'false'")],
    ['auto_delete', qd('q', { autoDelete: true, arguments: q.arguments }), ineq('auto_delete', Q, "'true'", "'false'")],
    ['ttl missing', qd('q', { arguments: { 'x-dead-letter-exchange': 'dlx' } }),
      ineq('x-message-ttl', Q, 'none', "the value '1000' of type 'signedint'")],
    ['dlx missing', qd('q', { arguments: { 'x-message-ttl': 1000 } }),
      ineq('x-dead-letter-exchange', Q, 'none', "the value 'dlx' of type 'longstr'")],
    ['new argument', qd('q', { arguments: { ...q.arguments, 'x-max-length': new Typed('b', 5) } }),
      ineq('x-max-length', Q, "the value '5' of type 'byte'", 'none')],
  ];
  for (const [name, d, text] of cases) refuses(t, () => declareQueue(vh, d, me), 406, text, name);
});

t.test('queue.declare: arguments with other values', async (t) => {
  const vh = new VirtualHost('/');
  declareQueue(vh, qd('q', { arguments: { 'x-message-ttl': 1000 } }), me);
  refuses(t, () => declareQueue(vh, qd('q', { arguments: { 'x-message-ttl': 2000 } }), me), 406,
    ineq('x-message-ttl', "queue 'q'", "'2000'", "'1000'"), 'x-message-ttl 1000 -> 2000');
  refuses(t, () => declareQueue(vh, qd('q', { arguments: { 'x-message-ttl': '1000' } }), me), 406,
    ineq('x-message-ttl', "queue 'q'", "'1000'", "'1000'"), 'x-message-ttl 1000 -> "1000"');
});

t.test('queue.declare: x-queue-type classic equals no x-queue-type', async (t) => {
  const vh = new VirtualHost('/');
  declareQueue(vh, qd('q'), me);
  t.doesNotThrow(() => declareQueue(vh, qd('q', { arguments: { 'x-queue-type': 'classic' } }), me), 'none, then classic');
  declareQueue(vh, qd('c', { arguments: { 'x-queue-type': 'classic' } }), me);
  t.doesNotThrow(() => declareQueue(vh, qd('c'), me), 'classic, then none');
  refuses(t, () => declareQueue(vh, qd('c', { arguments: { 'x-queue-type': 'quorum' } }), me), 406,
    ineq('x-queue-type', "queue 'c'", "'quorum'", "'classic'"), 'classic, then quorum');
});

t.test('queue.declare: exclusive queues', async (t) => {
  const vh = new VirtualHost('/');
  const e = declareQueue(vh, qd('e', { exclusive: true, durable: true }), me).queue;
  t.equal(e.durable, false, 'durable && exclusive makes a non-durable queue');
  t.equal(e.owner, me);
  t.equal(declareQueue(vh, qd('e', { exclusive: true, durable: true }), me).queue, e, 'redeclared the same way');
  t.equal(declareQueue(vh, qd('e', { exclusive: true, durable: false }), me).queue, e, 'durable is moot for exclusive queues');
  t.equal(declareQueue(vh, qd('e', { passive: true }), me).queue, e, 'passive, by the owner');
  declareQueue(vh, qd('shared'), me);
  const cases: [string, () => unknown][] = [
    ['declared by another connection', () => declareQueue(vh, qd('e', { exclusive: true }), other)],
    ['declared non-exclusive by another connection', () => declareQueue(vh, qd('e'), other)],
    ['passive, by another connection', () => declareQueue(vh, qd('e', { passive: true }), other)],
    ['exclusivity is checked before equivalence', () => declareQueue(vh, qd('e', { autoDelete: true }), other)],
    ['redeclared non-exclusive by its owner', () => declareQueue(vh, qd('e'), me)],
  ];
  for (const [name, fn] of cases) refuses(t, fn, 405, LOCKED('e'), name);
  refuses(t, () => declareQueue(vh, qd('shared', { exclusive: true }), me), 405, LOCKED('shared'), 'a shared queue redeclared exclusive');
  t.equal(declareQueue(vh, qd('shared', { passive: true }), other).queue.owner, null, 'a shared queue is for everyone');
});

t.test('queue.delete and queue.purge', async (t) => {
  const vh = new VirtualHost('/');
  t.equal(deleteQueue(vh, 'missing', true, true, me), 0, 'a missing queue: 0');
  declareQueue(vh, qd('q'), me);
  enqueue(vh, 'q', 3);
  refuses(t, () => deleteQueue(vh, 'q', false, true, me), 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty");
  vh.queues.get('q')!.addConsumer(consumer);
  refuses(t, () => deleteQueue(vh, 'q', true, false, me), 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' in use");
  t.equal(deleteQueue(vh, 'q', false, false, me), 3, 'returns the ready count');
  t.notOk(vh.queues.has('q'));

  declareQueue(vh, qd('empty'), me);
  t.equal(deleteQueue(vh, 'empty', true, true, me), 0, 'if-unused and if-empty on an unused, empty queue');
  t.notOk(vh.queues.has('empty'));

  declareQueue(vh, qd('p'), me);
  enqueue(vh, 'p', 4);
  t.equal(purgeQueue(vh, 'p', me), 4);
  t.equal(purgeQueue(vh, 'p', me), 0);
  refuses(t, () => purgeQueue(vh, 'missing', me), 404, "NOT_FOUND - no queue 'missing' in vhost '/'");

  declareQueue(vh, qd('e', { exclusive: true }), me);
  enqueue(vh, 'e', 2);
  refuses(t, () => purgeQueue(vh, 'e', other), 405, LOCKED('e'), 'purge of another connection\'s exclusive queue');
  refuses(t, () => deleteQueue(vh, 'e', false, false, other), 405, LOCKED('e'), 'delete of another connection\'s exclusive queue');
  t.equal(purgeQueue(vh, 'e', me), 2, 'the owner may purge');
  t.equal(deleteQueue(vh, 'e', false, false, me), 0, 'and delete');
});

t.test('queue.bind and exchange.bind', async (t) => {
  const vh = new VirtualHost('/');
  declareQueue(vh, qd('q'), me);
  declareQueue(vh, qd('e', { exclusive: true }), me);
  declareExchange(vh, xd('x'));
  bind(vh, toQueue('x', 'q'), me);
  t.equal(vh.exchanges.get('x')!.bindings.size, 1, 'bound');
  bind(vh, toExchange('amq.fanout', 'x'), me);
  t.equal(vh.exchanges.get('x')!.incoming.size, 1, 'exchange to exchange');
  bind(vh, toQueue('x', 'e'), me);
  t.equal(vh.queues.get('e')!.bindings.size, 1, 'the owner binds its exclusive queue');

  const cases: [string, BindingRequest, number, string][] = [
    ['missing source', toQueue('nope', 'q'), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"],
    ['missing queue', toQueue('x', 'nope'), 404, "NOT_FOUND - no queue 'nope' in vhost '/'"],
    ['both missing: the exchange is reported', toQueue('nope-x', 'nope-q'), 404, "NOT_FOUND - no exchange 'nope-x' in vhost '/'"],
    ['missing destination exchange', toExchange('x', 'nope'), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"],
    ['the default exchange as source', toQueue('', 'q'), 403, DEFAULT_REFUSED],
    ['the default exchange as destination', toExchange('x', ''), 403, DEFAULT_REFUSED],
    ['invalid x-match', toQueue('amq.headers', 'q', '', { 'x-match': 'foo' }), 406,
      'PRECONDITION_FAILED - Invalid x-match field value <<"foo">>; expected all, any, all-with-x, or any-with-x'],
    ['another connection\'s exclusive queue', toQueue('x', 'e', 'k2'), 405, LOCKED('e')],
  ];
  for (const [name, r, code, text] of cases) refuses(t, () => bind(vh, r, other), code, text, name);
  t.equal(vh.exchanges.get('amq.headers')!.bindings.size, 0, 'the invalid headers binding was not added');
});

t.test('queue.unbind and exchange.unbind', async (t) => {
  const vh = new VirtualHost('/');
  declareQueue(vh, qd('q'), me);
  declareQueue(vh, qd('e', { exclusive: true }), me);
  declareExchange(vh, xd('x'));
  bind(vh, toQueue('x', 'q'), me);
  bind(vh, toQueue('x', 'e'), me);
  t.doesNotThrow(() => unbind(vh, toQueue('x', 'q', 'not-bound'), me), 'a missing binding');
  refuses(t, () => unbind(vh, toQueue('', 'q'), me), 403, DEFAULT_REFUSED, 'the default exchange');
  refuses(t, () => unbind(vh, toQueue('x', 'e'), other), 405, LOCKED('e'), 'another connection\'s exclusive queue');
  unbind(vh, toQueue('x', 'q'), me);
  t.equal(vh.queues.get('q')!.bindings.size, 0, 'unbound');
  t.equal(vh.queues.get('e')!.bindings.size, 1, 'the other binding stays');
});

t.test('unbind with a missing source or queue succeeds', async (t) => {
  const vh = new VirtualHost('/');
  declareQueue(vh, qd('q'), me);
  declareQueue(vh, qd('e', { exclusive: true }), me);
  t.doesNotThrow(() => unbind(vh, toQueue('nope', 'q'), me), 'missing source');
  t.doesNotThrow(() => unbind(vh, toQueue('amq.direct', 'nope'), me), 'missing queue');
  t.doesNotThrow(() => unbind(vh, toExchange('amq.direct', 'nope'), me), 'missing destination exchange');
  t.doesNotThrow(() => unbind(vh, toQueue('amq.direct', 'e', 'never-bound'), other), 'never-bound, another\'s exclusive queue');
});

t.test('invalid x-match beats exclusivity', async (t) => {
  const vh = new VirtualHost('/');
  declareQueue(vh, qd('e', { exclusive: true }), me);
  refuses(t, () => bind(vh, toQueue('amq.headers', 'e', '', { 'x-match': 'foo' }), other), 406,
    'PRECONDITION_FAILED - Invalid x-match field value <<"foo">>; expected all, any, all-with-x, or any-with-x',
    'invalid x-match on another connection\'s exclusive queue');
});

t.test('permission checks: which ones each operation makes, in RabbitMQ order, and that a refusal stops it', async (t) => {
  const vh = new VirtualHost('/');
  const seen: string[] = [];
  let refuse = '';
  const recorder: AccessCheck = {
    check(permission, kind: ResourceKind, name) {
      const c = `${permission} ${kind} ${name}`;
      seen.push(c);
      if (c === refuse) throw new Error(`refused: ${c}`);
    },
  };
  const run = (fn: () => unknown): string[] => {
    seen.length = 0;
    fn();
    return [...seen];
  };
  t.same(run(() => ops.declareExchange(vh, xd('ae'), recorder)), ['configure exchange ae']);
  t.same(run(() => ops.declareExchange(vh, xd('x', 'direct', { arguments: { 'alternate-exchange': 'ae' } }), recorder)),
    ['configure exchange x', 'read exchange x', 'write exchange ae']);
  t.same(run(() => ops.declareExchange(vh, xd('x', 'direct', { arguments: { 'alternate-exchange': 'ae' } }), recorder)),
    ['configure exchange x'], 'redeclared: configure only');
  t.same(run(() => ops.declareExchange(vh, xd('x', 'direct', { passive: true }), recorder)), [], 'passive: none');
  t.same(run(() => ops.declareQueue(vh, qd('q', { arguments: { 'x-dead-letter-exchange': 'x' } }), me, recorder)),
    ['configure queue q', 'read queue q', 'write exchange x']);
  t.same(run(() => ops.declareQueue(vh, qd('q', { passive: true }), me, recorder)), []);
  t.same(run(() => ops.bind(vh, { source: 'x', destination: 'q', destinationKind: 'queue', routingKey: 'k', arguments: {} }, me, recorder)),
    ['write queue q', 'read exchange x']);
  t.same(run(() => ops.bind(vh, { source: 'ae', destination: 'x', destinationKind: 'exchange', routingKey: 'k', arguments: {} }, me, recorder)),
    ['write exchange x', 'read exchange ae']);
  t.same(run(() => ops.unbind(vh, { source: 'nope', destination: 'q', destinationKind: 'queue', routingKey: 'k', arguments: {} }, me, recorder)),
    ['write queue q', 'read exchange nope'], 'unbinding checks even what does not exist');
  t.same(run(() => ops.purgeQueue(vh, 'q', me, recorder)), ['read queue q']);
  t.same(run(() => ops.deleteQueue(vh, 'nope', false, false, me, recorder)), ['configure queue nope']);
  t.same(run(() => ops.deleteExchange(vh, 'nope', false, recorder)), ['configure exchange nope']);

  refuse = 'configure queue q2';
  t.throws(() => ops.declareQueue(vh, qd('q2'), me, recorder), /refused: configure queue q2/);
  t.notOk(vh.queues.has('q2'), 'a refused declare creates nothing');
  refuse = 'write exchange ae';
  t.throws(() => ops.declareExchange(vh, xd('z', 'direct', { arguments: { 'alternate-exchange': 'ae' } }), recorder), /refused: write exchange ae/);
  t.notOk(vh.exchanges.has('z'), 'nor does a declare refused on its alternate exchange');
});
