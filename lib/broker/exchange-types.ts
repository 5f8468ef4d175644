/** The exchange types warren knows, by the name clients declare them with. */
import { longstrValue } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import { DELAYED_TYPE, DelayedMessageExchange, delayedTypeError } from './delayed-exchange.js';
import { DirectExchange } from './direct-exchange.js';
import type { Exchange, ExchangeOptions } from './exchange.js';
import { FanoutExchange } from './fanout-exchange.js';
import { HeadersExchange } from './headers-exchange.js';
import { TopicExchange } from './topic-exchange.js';

type ExchangeClass = new (name: string, vhost: string, o: ExchangeOptions) => Exchange;

const TYPES: ReadonlyMap<string, ExchangeClass> = new Map<string, ExchangeClass>([
  ['direct', DirectExchange],
  ['fanout', FanoutExchange],
  ['topic', TopicExchange],
  ['headers', HeadersExchange],
]);

export function isExchangeType(type: string): boolean {
  return TYPES.has(type) || type === DELAYED_TYPE;
}

/** Why a new exchange of this type cannot have these arguments (a 406 text), or null. */
export function exchangeArgumentsError(type: string, args: FieldTable): string | null {
  return type === DELAYED_TYPE ? delayedTypeError(args, (t) => TYPES.has(t)) : null;
}

/** A new exchange; its arguments must have passed exchangeArgumentsError. */
export function createExchange(type: string, name: string, vhost: string, o: ExchangeOptions): Exchange {
  if (type === DELAYED_TYPE) {
    const inner = createExchange(longstrValue(o.arguments['x-delayed-type'])!, name, vhost, o);
    return new DelayedMessageExchange(name, vhost, o, inner);
  }
  const cls = TYPES.get(type);
  if (!cls) throw new Error(`unknown exchange type ${type}`);
  return new cls(name, vhost, o);
}
