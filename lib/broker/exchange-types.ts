/** The exchange types warren knows, by the name clients declare them with. */
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
  return TYPES.has(type);
}

export function createExchange(type: string, name: string, vhost: string, o: ExchangeOptions): Exchange {
  const cls = TYPES.get(type);
  if (!cls) throw new Error(`unknown exchange type ${type}`);
  return new cls(name, vhost, o);
}
