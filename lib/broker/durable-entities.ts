/**
 * Durable exchanges, queues and the bindings between durable entities, in
 * and out of RabbitMQ's definitions format (the `exchanges`, `queues` and
 * `bindings` arrays of definitions.json). Transient entities, exclusive
 * queues, the default exchange and the predeclared `amq.*` exchanges are
 * never written: RabbitMQ keeps none of them across a restart.
 *
 * Arguments travel as JSON, as in RabbitMQ's exports: numbers, strings,
 * booleans, arrays and objects; the wire type of an integer is not kept.
 */
import type { FieldTable } from '../amqp/field-table.js';
import type { Logger } from '../log.js';
import type { Exchange } from './exchange.js';
import { exchangeArgumentsError, isExchangeType } from './exchange-types.js';
import type { VirtualHost } from './vhost.js';

export interface ExchangeDefinition {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDefinition {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: FieldTable;
}

export interface BindingDefinition {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: FieldTable;
}

export interface DurableEntities {
  exchanges: ExchangeDefinition[];
  queues: QueueDefinition[];
  bindings: BindingDefinition[];
}

/** Exchanges a vhost creates itself: not part of the definitions. */
export function isBuiltInExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/** JSON-safe arguments: Typed values and Buffers become their plain values. */
function jsonArguments(args: FieldTable): FieldTable {
  return JSON.parse(JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as FieldTable;
}

export function exportDurableEntities(vhosts: Iterable<VirtualHost>): DurableEntities {
  const out: DurableEntities = { exchanges: [], queues: [], bindings: [] };
  for (const vh of vhosts) {
    for (const x of vh.exchanges.values()) {
      if (!x.durable || isBuiltInExchange(x.name)) continue;
      out.exchanges.push({ name: x.name, vhost: vh.name, type: x.type, durable: true, auto_delete: x.autoDelete, internal: x.internal, arguments: jsonArguments(x.arguments) });
    }
    for (const q of vh.queues.values()) {
      if (!q.durable || q.owner !== null) continue;
      out.queues.push({ name: q.name, vhost: vh.name, durable: true, auto_delete: q.autoDelete, arguments: jsonArguments(q.arguments) });
    }
    for (const x of vh.exchanges.values()) {
      if (!x.durable || x.name === '') continue;
      for (const b of x.bindings.values()) {
        const d = b.destination;
        if (!d.durable || (d.kind === 'queue' && d.owner !== null)) continue;
        out.bindings.push({ source: x.name, vhost: vh.name, destination: d.name, destination_type: d.kind, routing_key: b.routingKey, arguments: jsonArguments(b.arguments) });
      }
    }
  }
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const table = (v: unknown): FieldTable => (isObj(v) ? (v as FieldTable) : {});

/** Recreate durable entities from definitions; entries that do not fit are logged and skipped. */
export function importDurableEntities(defs: { exchanges: unknown[]; queues: unknown[]; bindings: unknown[] }, vhosts: ReadonlyMap<string, VirtualHost>, logger: Logger): void {
  const skip = (kind: string, entry: unknown, why: string): void => logger.warn({ entry }, 'definitions: %s skipped: %s', kind, why);
  for (const e of defs.exchanges) {
    if (!isObj(e) || typeof e.name !== 'string' || typeof e.vhost !== 'string' || typeof e.type !== 'string') { skip('exchange', e, 'malformed'); continue; }
    const vh = vhosts.get(e.vhost);
    if (!vh) { skip('exchange', e, `no vhost '${e.vhost}'`); continue; }
    if (isBuiltInExchange(e.name) || vh.exchanges.has(e.name)) continue;
    if (!isExchangeType(e.type)) { skip('exchange', e, `unknown type '${e.type}'`); continue; }
    const refused = exchangeArgumentsError(e.type, table(e.arguments));
    if (refused !== null) { skip('exchange', e, refused); continue; }
    vh.addExchange(e.name, e.type, { durable: true, autoDelete: e.auto_delete === true, internal: e.internal === true, arguments: table(e.arguments) });
  }
  for (const e of defs.queues) {
    if (!isObj(e) || typeof e.name !== 'string' || typeof e.vhost !== 'string') { skip('queue', e, 'malformed'); continue; }
    const vh = vhosts.get(e.vhost);
    if (!vh) { skip('queue', e, `no vhost '${e.vhost}'`); continue; }
    if (vh.queues.has(e.name)) continue;
    vh.addQueue(e.name, { durable: true, exclusive: false, autoDelete: e.auto_delete === true, arguments: table(e.arguments) }, null);
  }
  for (const e of defs.bindings) {
    if (!isObj(e) || typeof e.source !== 'string' || typeof e.vhost !== 'string' || typeof e.destination !== 'string') { skip('binding', e, 'malformed'); continue; }
    const vh = vhosts.get(e.vhost);
    const source: Exchange | undefined = vh?.exchanges.get(e.source);
    const destination = e.destination_type === 'exchange' ? vh?.exchanges.get(e.destination) : vh?.queues.get(e.destination);
    if (!vh || !source || !destination || e.source === '') { skip('binding', e, 'its source or destination does not exist'); continue; }
    vh.bind(source, destination, typeof e.routing_key === 'string' ? e.routing_key : '', table(e.arguments));
  }
}
