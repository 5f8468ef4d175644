/**
 * The `x-delayed-message` exchange type, built in (RabbitMQ needs the
 * rabbitmq_delayed_message_exchange plugin for it). It routes as the type
 * its `x-delayed-type` argument names (direct, fanout, topic, headers):
 * it wraps an exchange of that type, which keeps the bindings. A message
 * whose `x-delay` header is a delay in ms (1 to 2^32-1, as the plugin
 * accepts: an integer, a numeric string, or a float truncated) is routed
 * instead to the exchange's DelayedMessages, which holds it until then and
 * routes it through the exchange again with `x-delay` negated, as the
 * plugin does, so it is not delayed twice and consumers can tell.
 *
 * Because the held messages are a destination, publishing one behaves as
 * publishing to a queue: it is stored at tx.commit, confirmed once it is on
 * disk (persistent, durable exchange), and neither returned as unroutable
 * nor handed to an alternate exchange (the plugin returns it with
 * `mandatory`, and its alternate exchange gets a copy at once).
 */
import { longstrValue } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import type { Binding, Destination } from './binding.js';
import { DelayedMessages } from './delayed-messages.js';
import { Exchange } from './exchange.js';
import type { ExchangeOptions } from './exchange.js';
import type { Message } from './message.js';
import { delayOf } from './x-delay.js';

export const DELAYED_TYPE = 'x-delayed-message';
/** Why an x-delayed-message exchange's arguments are refused (406), or null; `known` tells the exchange types. */
export function delayedTypeError(args: FieldTable, known: (type: string) => boolean): string | null {
  const inner = longstrValue(args['x-delayed-type']);
  if (inner === undefined) return "Invalid argument, 'x-delayed-type' must be an existing exchange type";
  if (inner === DELAYED_TYPE) return "Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'";
  if (!known(inner)) return `invalid exchange type '${inner}'`;
  return null;
}

export class DelayedMessageExchange extends Exchange {
  readonly type = DELAYED_TYPE;
  /** the exchange of the x-delayed-type: its bindings and routing */
  readonly inner: Exchange;
  /** the messages waiting for their delay to pass */
  readonly delayed: DelayedMessages;

  constructor(name: string, vhost: string, o: ExchangeOptions, inner: Exchange) {
    super(name, vhost, o);
    this.inner = inner;
    this.delayed = new DelayedMessages(this);
  }

  route(message: Message, routingKey: string, out: Destination[]): void {
    if (delayOf(message) > 0) out.push(this.delayed);
    else this.inner.route(message, routingKey, out);
  }

  override validateBinding(args: FieldTable): string | null {
    return this.inner.validateBinding(args);
  }

  protected onBind(b: Binding): void {
    this.inner.addBinding(b);
  }

  protected onUnbind(b: Binding): void {
    this.inner.removeBinding(b);
  }

  override close(): void {
    this.delayed.close();
  }
}
