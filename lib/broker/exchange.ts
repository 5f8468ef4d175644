/**
 * What every exchange type shares: identity and flags, its bindings (the
 * ones it is the source of, and the exchange-to-exchange ones it is the
 * destination of), and the routing contract. Each type (one file each)
 * keeps its own precomputed structure for route(): a map for direct, a
 * list for fanout, a trie for topic, compiled matchers for headers.
 */
import { longstrValue } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import type { Binding, Destination } from './binding.js';
import type { Message } from './message.js';

export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export abstract class Exchange {
  readonly kind = 'exchange' as const;
  readonly name: string;
  readonly vhost: string;
  abstract readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  /** bindings with this exchange as source, by binding id */
  readonly bindings = new Map<string, Binding>();
  /** exchange-to-exchange bindings with this exchange as destination */
  readonly incoming = new Set<Binding>();
  /** Router bookkeeping: the routing pass that last reached this exchange. */
  routeMark = 0;
  /** the `alternate-exchange` argument: where messages it routes nowhere go, or null */
  readonly alternateExchange: string | null;

  constructor(name: string, vhost: string, o: ExchangeOptions) {
    this.name = name;
    this.vhost = vhost;
    this.durable = o.durable;
    this.autoDelete = o.autoDelete;
    this.internal = o.internal;
    this.arguments = o.arguments;
    this.alternateExchange = longstrValue(o.arguments['alternate-exchange']) ?? null;
  }

  /** Push the destinations this message goes to with this routing key (duplicates allowed; the router removes them). */
  abstract route(message: Message, routingKey: string, out: Destination[]): void;

  /** Check a new binding's arguments; returns a PRECONDITION_FAILED text, or null. */
  validateBinding(_args: FieldTable): string | null {
    return null;
  }

  /** Add a binding; false if an identical one exists. */
  addBinding(b: Binding): boolean {
    if (this.bindings.has(b.id)) return false;
    this.bindings.set(b.id, b);
    this.onBind(b);
    return true;
  }

  removeBinding(b: Binding): void {
    if (this.bindings.get(b.id) !== b) return;
    this.bindings.delete(b.id);
    this.onUnbind(b);
  }

  /** The exchange is deleted: let go of anything it holds besides its bindings. */
  close(): void {}

  protected abstract onBind(b: Binding): void;
  protected abstract onUnbind(b: Binding): void;
}

/** Remove one occurrence of an item from an array (order kept). */
export function removeOne<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
