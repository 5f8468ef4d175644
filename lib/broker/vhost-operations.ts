/**
 * The exchange, queue and binding operations a client can ask for
 * (exchange.*, queue.* and the queue lookups of basic.*), with RabbitMQ's
 * checks, in RabbitMQ's order, and its reply codes and texts
 * (rabbit_channel:handle_method/6, rabbit_amqqueue, rabbit_exchange).
 * Errors are thrown as ChannelError; the caller adds the method ids.
 */
import { accessRefused, notFound, preconditionFailed, resourceLocked } from '../amqp/amqp-error.js';
import { FIELD_TYPE_NAMES } from '../amqp/erlang-term.js';
import { longstrValue, typeLetterOf } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import type { Destination } from './binding.js';
import { assertArgumentsEquivalent, assertFieldEquivalent } from './equivalence.js';
import type { Exchange } from './exchange.js';
import { exchangeArgumentsError, isExchangeType } from './exchange-types.js';
import { checkQueueArguments } from './queue-arguments.js';
import type { Queue, QueueOwner } from './queue.js';
import { exchangeResource, generatedName, queueResource } from './resource-names.js';
import type { VirtualHost } from './vhost.js';

/** Queue arguments compared on redeclare (rabbit_amqqueue:declare_args/0); unknown ones are ignored. */
const QUEUE_EQUIVALENCE_ARGS = [
  'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
  'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-max-priority', 'x-overflow',
  'x-queue-mode', 'x-queue-version', 'x-single-active-consumer', 'x-queue-type', 'x-quorum-initial-group-size',
  'x-delivery-limit', 'x-queue-master-locator',
];
/** Exchange arguments compared on redeclare. */
const EXCHANGE_EQUIVALENCE_ARGS = ['alternate-exchange'];

export type ResourceKind = 'exchange' | 'queue';

/**
 * The user's permissions on the vhost (lib/server/resource-access.ts):
 * check() throws 403 ACCESS_REFUSED when `permission` on the resource is
 * not granted. Each operation checks at the point RabbitMQ does, so the
 * error a client sees first is RabbitMQ's.
 */
export interface AccessCheck {
  check(permission: 'configure' | 'write' | 'read', kind: ResourceKind, name: string): void;
}

export interface ExchangeDeclaration {
  name: string;
  type: string;
  passive: boolean;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDeclaration {
  name: string;
  passive: boolean;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

export interface QueueDeclared {
  queue: Queue;
  created: boolean;
}

const stripCrLf = (name: string): string => name.replace(/[\r\n]/g, '');

const DEFAULT_EXCHANGE_REFUSED = 'operation not permitted on the default exchange';

function noExchange(vhost: VirtualHost, name: string): never {
  throw notFound(`no exchange '${name}' in vhost '${vhost.name}'`);
}

function noQueue(vhost: VirtualHost, name: string): never {
  throw notFound(`no queue '${name}' in vhost '${vhost.name}'`);
}

function locked(q: Queue): never {
  throw resourceLocked(
    `cannot obtain exclusive access to locked ${queueResource(q.name, q.vhost)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
  );
}

export function exchangeOrDie(vhost: VirtualHost, name: string): Exchange {
  return vhost.exchanges.get(name) ?? noExchange(vhost, name);
}

/** A queue the connection may use: it exists and is not another connection's exclusive queue. */
export function queueForUse(vhost: VirtualHost, name: string, owner: QueueOwner): Queue {
  const q = vhost.queues.get(name) ?? noQueue(vhost, name);
  if (q.owner !== null && q.owner !== owner) locked(q);
  return q;
}

export function declareExchange(vhost: VirtualHost, d: ExchangeDeclaration, access: AccessCheck): Exchange {
  const name = stripCrLf(d.name);
  if (d.passive) {
    if (name === '') throw accessRefused(DEFAULT_EXCHANGE_REFUSED);
    return exchangeOrDie(vhost, name);
  }
  // RabbitMQ 3.13+ answers an unknown type with a channel error (3.10 closed the connection with 503)
  if (!isExchangeType(d.type)) throw preconditionFailed(`invalid exchange type '${d.type}'`);
  if (name === '') throw accessRefused(DEFAULT_EXCHANGE_REFUSED);
  access.check('configure', 'exchange', name);
  const existing = vhost.exchanges.get(name);
  if (!existing) {
    if (name.startsWith('amq.')) throw accessRefused(`exchange name '${name}' contains reserved prefix 'amq.*'`);
    const ae = d.arguments['alternate-exchange'];
    if (ae !== undefined && longstrValue(ae) === undefined) {
      throw preconditionFailed(`invalid type '${FIELD_TYPE_NAMES[typeLetterOf(ae)]}' for arg 'alternate-exchange' in ${exchangeResource(name, vhost.name)}`);
    }
    if (ae !== undefined) {
      // an alternate exchange: read on the new exchange, write on the alternate
      access.check('read', 'exchange', name);
      access.check('write', 'exchange', longstrValue(ae)!);
    }
    const refused = exchangeArgumentsError(d.type, d.arguments);
    if (refused !== null) throw preconditionFailed(refused);
    return vhost.addExchange(name, d.type, { durable: d.durable, autoDelete: d.autoDelete, internal: d.internal, arguments: d.arguments });
  }
  const res = exchangeResource(name, vhost.name);
  assertFieldEquivalent('type', res, existing.type, d.type);
  assertFieldEquivalent('durable', res, existing.durable, d.durable);
  assertFieldEquivalent('auto_delete', res, existing.autoDelete, d.autoDelete);
  assertFieldEquivalent('internal', res, existing.internal, d.internal);
  assertArgumentsEquivalent(EXCHANGE_EQUIVALENCE_ARGS, res, existing.arguments, d.arguments);
  return existing;
}

export function deleteExchange(vhost: VirtualHost, rawName: string, ifUnused: boolean, access: AccessCheck): void {
  const name = stripCrLf(rawName);
  if (name === '') throw accessRefused(DEFAULT_EXCHANGE_REFUSED);
  if (name.startsWith('amq.')) throw accessRefused(`deletion of system ${exchangeResource(name, vhost.name)} not allowed`);
  access.check('configure', 'exchange', name);
  const x = vhost.exchanges.get(name);
  if (!x) return;
  if (ifUnused && x.bindings.size > 0) throw preconditionFailed(`${exchangeResource(name, vhost.name)} in use`);
  vhost.deleteExchange(x);
}

export function declareQueue(vhost: VirtualHost, d: QueueDeclaration, owner: QueueOwner, access: AccessCheck): QueueDeclared {
  const stripped = stripCrLf(d.name);
  if (d.passive) {
    const queue = queueForUse(vhost, stripped, owner);
    queue.touch(); // a passive declare renews an x-expires lease
    return { queue, created: false };
  }
  let name = stripped;
  if (name === '') name = generatedName('amq.gen');
  else if (name.startsWith('amq.')) throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`);
  access.check('configure', 'queue', name);
  const durable = d.durable && !d.exclusive;
  const existing = vhost.queues.get(name);
  if (existing) {
    // exclusivity first, strictly: the declaration's exclusive flag must match too
    if (existing.owner !== (d.exclusive ? owner : null)) locked(existing);
    const res = queueResource(name, vhost.name);
    assertFieldEquivalent('durable', res, existing.durable, durable);
    assertFieldEquivalent('auto_delete', res, existing.autoDelete, d.autoDelete);
    assertArgumentsEquivalent(QUEUE_EQUIVALENCE_ARGS, res, existing.arguments, d.arguments);
    existing.touch();
    return { queue: existing, created: false };
  }
  const dlx = longstrValue(d.arguments['x-dead-letter-exchange']);
  if (dlx !== undefined) {
    // a dead-letter exchange: read on the queue, write on the exchange
    access.check('read', 'queue', name);
    access.check('write', 'exchange', dlx);
  }
  checkQueueArguments(d.arguments, queueResource(name, vhost.name));
  const queue = vhost.addQueue(name, { durable, exclusive: d.exclusive, autoDelete: d.autoDelete, arguments: d.arguments }, d.exclusive ? owner : null);
  return { queue, created: true };
}

/** queue.delete: returns the number of ready messages deleted (0 for a missing queue). */
export function deleteQueue(vhost: VirtualHost, rawName: string, ifUnused: boolean, ifEmpty: boolean, owner: QueueOwner, access: AccessCheck): number {
  const name = stripCrLf(rawName);
  access.check('configure', 'queue', name);
  const q = vhost.queues.get(name);
  if (!q) return 0;
  if (q.owner !== null && q.owner !== owner) locked(q);
  if (ifUnused && q.consumerCount > 0) throw preconditionFailed(`${queueResource(name, vhost.name)} in use`);
  if (ifEmpty && q.messageCount > 0) throw preconditionFailed(`${queueResource(name, vhost.name)} not empty`);
  return vhost.deleteQueue(q);
}

export function purgeQueue(vhost: VirtualHost, name: string, owner: QueueOwner, access: AccessCheck): number {
  access.check('read', 'queue', stripCrLf(name));
  return queueForUse(vhost, name, owner).purge();
}

export interface BindingRequest {
  source: string;
  destination: string;
  destinationKind: 'queue' | 'exchange';
  routingKey: string;
  arguments: FieldTable;
}

/** Binding and unbinding need write on the destination and read on the source, checked around the default-exchange refusal. */
function checkBindingAccess(sourceName: string, destName: string, r: BindingRequest, access: AccessCheck): void {
  access.check('write', r.destinationKind, destName);
  if (sourceName === '' || (r.destinationKind === 'exchange' && destName === '')) throw accessRefused(DEFAULT_EXCHANGE_REFUSED);
  access.check('read', 'exchange', sourceName);
}

export function bind(vhost: VirtualHost, r: BindingRequest, owner: QueueOwner, access: AccessCheck): void {
  const sourceName = stripCrLf(r.source);
  const destName = stripCrLf(r.destination);
  checkBindingAccess(sourceName, destName, r, access);
  // RabbitMQ's order: existence (404), the binding's arguments (406), exclusive access (405)
  const source = exchangeOrDie(vhost, sourceName);
  const destination: Destination = r.destinationKind === 'exchange' ? exchangeOrDie(vhost, destName) : (vhost.queues.get(destName) ?? noQueue(vhost, destName));
  const invalid = source.validateBinding(r.arguments);
  if (invalid) throw preconditionFailed(invalid);
  if (destination.kind === 'queue' && destination.owner !== null && destination.owner !== owner) locked(destination);
  vhost.bind(source, destination, r.routingKey, r.arguments);
}

/**
 * Unbinding what is not bound succeeds, even when the source or destination
 * does not exist; only an existing binding to another connection's
 * exclusive queue is refused (405).
 */
export function unbind(vhost: VirtualHost, r: BindingRequest, owner: QueueOwner, access: AccessCheck): void {
  const sourceName = stripCrLf(r.source);
  const destName = stripCrLf(r.destination);
  checkBindingAccess(sourceName, destName, r, access);
  const source = vhost.exchanges.get(sourceName);
  const destination = r.destinationKind === 'exchange' ? vhost.exchanges.get(destName) : vhost.queues.get(destName);
  if (!source || !destination) return;
  if (!vhost.hasBinding(source, destination, r.routingKey, r.arguments)) return;
  if (destination.kind === 'queue' && destination.owner !== null && destination.owner !== owner) locked(destination);
  vhost.unbind(source, destination, r.routingKey, r.arguments);
}
