/**
 * Exchanges, queues and bindings in and out of RabbitMQ's definitions format
 * (the `exchanges`, `queues` and `bindings` arrays of definitions.json).
 *
 * Export: durable entities only. Transient entities, exclusive queues, the
 * default exchange and the predeclared `amq.*` exchanges are never written:
 * RabbitMQ keeps none of them across a restart. (RabbitMQ's export also
 * lists transient non-exclusive queues; warren's does not.)
 *
 * Import is planned first, then applied (planDurableEntities, then
 * applyDurableEntities), so an import that fails leaves nothing half-done:
 *  - failures (RabbitMQ refuses these too): a malformed entry, an unknown
 *    vhost (["no_such_vhost", v]), queue arguments RabbitMQ refuses
 *    (["amqp_error", "precondition_failed", text, "none"]);
 *  - skipped and reported (warren lacks them): queues of another type than
 *    classic (quorum, stream), exchanges of a type warren does not know,
 *    entities that exist already with other properties (kept as they are),
 *    bindings whose source or destination does not exist or was skipped
 *    (RabbitMQ ignores a binding to nothing silently);
 *  - ignored: existing identical entities, the built-in exchanges, bindings
 *    of the default exchange.
 * Entries may be transient ("durable": false, as RabbitMQ exports
 * non-exclusive transient queues): they are created transient.
 *
 * Arguments travel as JSON, as in RabbitMQ's exports: numbers, strings,
 * booleans, arrays and objects; the wire type of an integer is not kept.
 */
import type { FieldTable } from '../amqp/field-table.js';
import { AmqpError } from '../amqp/amqp-error.js';
import { REPLY_CODE_NAME } from '../amqp/generated/constants.js';
import type { Logger } from '../log.js';
import { exchangeArgumentsError, isExchangeType } from './exchange-types.js';
import { checkQueueArguments } from './queue-arguments.js';
import { queueResource } from './resource-names.js';
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

/** An entry an import left out, and why (logged, and listed in the HTTP answer). */
export interface SkippedEntry {
  kind: string;
  vhost?: string;
  name?: string;
  reason: string;
}

/** What planDurableEntities found: what to create, what it skips, and what makes the import fail (RabbitMQ's reason terms). */
export interface EntityPlan extends DurableEntities {
  skipped: SkippedEntry[];
  failures: unknown[];
}

/** Exchanges a vhost creates itself: not part of the definitions. */
export function isBuiltInExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/** JSON-safe arguments: Typed values and Buffers become their plain values. */
export function jsonArguments(args: FieldTable): FieldTable {
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
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Checks one entry's fields; a problem is recorded as a failure "queues[3]: name is missing". */
class EntryReader {
  ok = true;
  constructor(private readonly e: Obj, private readonly at: string, private readonly failures: unknown[]) {}

  private fail(problem: string): void {
    if (this.ok) this.failures.push(`${this.at}: ${problem}`);
    this.ok = false;
  }

  str(key: string, fallback?: string): string {
    const v = this.e[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') this.fail(`${key} ${v === undefined ? 'is missing' : 'must be a string'}`);
    return typeof v === 'string' ? v : '';
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.e[key];
    if (v === undefined || v === null) return fallback;
    if (v === 'true' || v === 'false') return v === 'true';
    if (typeof v !== 'boolean') this.fail(`${key} must be a boolean`);
    return v === true;
  }

  table(key: string): FieldTable {
    const v = this.e[key];
    if (v === undefined || v === null) return {};
    if (!isObj(v)) this.fail(`${key} must be an object`);
    return isObj(v) ? jsonArguments(v as FieldTable) : {};
  }
}

/**
 * Plan the creation of the entities `defs` lists in `vhosts` (existing
 * vhosts and the ones the same import creates, not yet registered): see the
 * header for what fails, what is skipped and what is ignored.
 */
export function planDurableEntities(defs: { exchanges: unknown[]; queues: unknown[]; bindings: unknown[] }, vhosts: ReadonlyMap<string, VirtualHost>): EntityPlan {
  const plan: EntityPlan = { exchanges: [], queues: [], bindings: [], skipped: [], failures: [] };
  const exchanges = new Map<string, ExchangeDefinition | 'skipped'>();
  const queues = new Map<string, QueueDefinition | 'skipped'>();
  const key = (vhost: string, name: string): string => `${vhost}\u0000${name}`;
  const entry = (kind: string, list: unknown[], i: number): EntryReader | null => {
    const e = list[i];
    if (!isObj(e)) {
      plan.failures.push(`${kind}[${i}]: must be an object`);
      return null;
    }
    return new EntryReader(e, `${kind}[${i}]`, plan.failures);
  };
  const vhostOf = (r: EntryReader): VirtualHost | undefined => {
    const name = r.str('vhost');
    const vh = vhosts.get(name);
    if (r.ok && !vh) plan.failures.push(['no_such_vhost', name]);
    return r.ok ? vh : undefined;
  };

  defs.exchanges.forEach((_, i) => {
    const r = entry('exchanges', defs.exchanges, i);
    if (!r) return;
    const d: ExchangeDefinition = {
      name: r.str('name'), vhost: r.str('vhost'), type: r.str('type'), durable: r.bool('durable', true),
      auto_delete: r.bool('auto_delete', false), internal: r.bool('internal', false), arguments: r.table('arguments'),
    };
    const vh = vhostOf(r);
    if (!vh || isBuiltInExchange(d.name)) return;
    const skip = (reason: string): void => {
      plan.skipped.push({ kind: 'exchange', vhost: d.vhost, name: d.name, reason });
      exchanges.set(key(d.vhost, d.name), 'skipped');
    };
    const existing = vh.exchanges.get(d.name);
    if (existing) {
      const same = existing.type === d.type && existing.durable === d.durable && existing.autoDelete === d.auto_delete
        && existing.internal === d.internal && sameJson(jsonArguments(existing.arguments), d.arguments);
      if (!same) plan.skipped.push({ kind: 'exchange', vhost: d.vhost, name: d.name, reason: 'exists with other properties: kept as it is' });
      return;
    }
    const planned = exchanges.get(key(d.vhost, d.name));
    if (planned !== undefined) {
      if (planned !== 'skipped' && !sameJson(planned, d)) plan.skipped.push({ kind: 'exchange', vhost: d.vhost, name: d.name, reason: 'listed twice: the first entry is used' });
      return;
    }
    if (!isExchangeType(d.type)) return skip(`unknown exchange type '${d.type}'`);
    const refused = exchangeArgumentsError(d.type, d.arguments);
    if (refused !== null) return skip(refused);
    exchanges.set(key(d.vhost, d.name), d);
    plan.exchanges.push(d);
  });

  defs.queues.forEach((_, i) => {
    const r = entry('queues', defs.queues, i);
    if (!r) return;
    const d: QueueDefinition = { name: r.str('name'), vhost: r.str('vhost'), durable: r.bool('durable', true), auto_delete: r.bool('auto_delete', false), arguments: r.table('arguments') };
    const vh = vhostOf(r);
    if (!vh) return;
    const existing = vh.queues.get(d.name);
    if (existing) {
      const same = existing.durable === d.durable && existing.autoDelete === d.auto_delete && existing.owner === null && sameJson(jsonArguments(existing.arguments), d.arguments);
      if (!same) plan.skipped.push({ kind: 'queue', vhost: d.vhost, name: d.name, reason: 'exists with other properties: kept as it is' });
      return;
    }
    const planned = queues.get(key(d.vhost, d.name));
    if (planned !== undefined) {
      if (planned !== 'skipped' && !sameJson(planned, d)) plan.skipped.push({ kind: 'queue', vhost: d.vhost, name: d.name, reason: 'listed twice: the first entry is used' });
      return;
    }
    const type = d.arguments['x-queue-type'];
    if (typeof type === 'string' && type !== 'classic') {
      plan.skipped.push({ kind: 'queue', vhost: d.vhost, name: d.name, reason: `${type} queues are not supported (warren has classic queues only)` });
      queues.set(key(d.vhost, d.name), 'skipped');
      return;
    }
    try {
      checkQueueArguments(d.arguments, queueResource(d.name, d.vhost));
    } catch (err) {
      if (!(err instanceof AmqpError)) throw err;
      const name = (REPLY_CODE_NAME[err.code] ?? String(err.code)).toLowerCase();
      plan.failures.push(['amqp_error', name, err.explanation, 'none']);
      return;
    }
    queues.set(key(d.vhost, d.name), d);
    plan.queues.push(d);
  });

  defs.bindings.forEach((_, i) => {
    const r = entry('bindings', defs.bindings, i);
    if (!r) return;
    const destinationType = r.str('destination_type', 'queue');
    if (r.ok && destinationType !== 'queue' && destinationType !== 'exchange') {
      plan.failures.push(`bindings[${i}]: destination_type must be "queue" or "exchange"`);
      return;
    }
    const d: BindingDefinition = {
      source: r.str('source'), vhost: r.str('vhost'), destination: r.str('destination'), destination_type: destinationType as 'queue' | 'exchange',
      routing_key: r.str('routing_key', ''), arguments: r.table('arguments'),
    };
    const vh = vhostOf(r);
    if (!vh || d.source === '') return;
    const name = `${d.source} -> ${d.destination_type} ${d.destination} (${JSON.stringify(d.routing_key)})`;
    const source = vh.exchanges.has(d.source) ? 'exists' : exchanges.get(key(d.vhost, d.source));
    const destination = d.destination_type === 'exchange'
      ? (vh.exchanges.has(d.destination) ? 'exists' : exchanges.get(key(d.vhost, d.destination)))
      : (vh.queues.has(d.destination) ? 'exists' : queues.get(key(d.vhost, d.destination)));
    if (source === undefined || destination === undefined) {
      plan.skipped.push({ kind: 'binding', vhost: d.vhost, name, reason: `its ${source === undefined ? 'source' : 'destination'} does not exist` });
      return;
    }
    if (source === 'skipped' || destination === 'skipped') {
      plan.skipped.push({ kind: 'binding', vhost: d.vhost, name, reason: `its ${source === 'skipped' ? 'source' : 'destination'} was skipped` });
      return;
    }
    plan.bindings.push(d);
  });
  return plan;
}

/** Create what a plan lists (its vhosts registered by now); bindings that exist already are left alone. */
export function applyDurableEntities(plan: DurableEntities, vhosts: ReadonlyMap<string, VirtualHost>): void {
  for (const e of plan.exchanges) {
    vhosts.get(e.vhost)!.addExchange(e.name, e.type, { durable: e.durable, autoDelete: e.auto_delete, internal: e.internal, arguments: e.arguments });
  }
  for (const e of plan.queues) {
    vhosts.get(e.vhost)!.addQueue(e.name, { durable: e.durable, exclusive: false, autoDelete: e.auto_delete, arguments: e.arguments }, null);
  }
  for (const e of plan.bindings) {
    const vh = vhosts.get(e.vhost)!;
    const source = vh.exchanges.get(e.source);
    const destination = e.destination_type === 'exchange' ? vh.exchanges.get(e.destination) : vh.queues.get(e.destination);
    // an auto-delete exchange may have gone with its last binding meanwhile
    if (source && destination) vh.bind(source, destination, e.routing_key, e.arguments);
  }
}

/** The data dir's own definitions at start: what does not fit is logged and left out, the rest created. */
export function importDurableEntities(defs: { exchanges: unknown[]; queues: unknown[]; bindings: unknown[] }, vhosts: ReadonlyMap<string, VirtualHost>, logger: Logger): void {
  const plan = planDurableEntities(defs, vhosts);
  for (const f of plan.failures) logger.warn({ failure: f }, 'definitions: entry skipped');
  for (const s of plan.skipped) logger.warn({ entry: s }, 'definitions: %s skipped: %s', s.kind, s.reason);
  applyDurableEntities(plan, vhosts);
}
