/**
 * The `x-delay` header of the delayed-message exchange, read and served as
 * the RabbitMQ plugin does (rabbit_delayed_message_utils): a delay is an
 * integer of any width, a string of digits, or a float (truncated), and
 * counts only from 1 to 2^32-1 ms; a released message carries it negated.
 */
import { integerValue, longstrValue, Typed } from '../amqp/field-table.js';
import type { FieldValue } from '../amqp/field-table.js';
import { PropertyFlag } from '../amqp/generated/properties.js';
import { withProperties } from './message.js';
import type { Message } from './message.js';

/** the longest delay the plugin takes (an Erlang timer's limit); a longer one is no delay */
const MAX_DELAY = 4294967295;

/** A message's delay in ms by its x-delay header, 0 for none (absent, not a number, not positive, too long). */
export function delayOf(m: Message): number {
  if ((m.propertyFlags & PropertyFlag.Headers) === 0) return 0;
  const d = delayValue(m.headers?.['x-delay']);
  return d > 0 && d <= MAX_DELAY ? d : 0;
}

function delayValue(v: FieldValue | undefined): number {
  if (v === undefined) return 0;
  const int = integerValue(v);
  if (int !== undefined) return int;
  const text = longstrValue(v);
  if (text !== undefined) return /^[+-]?\d+$/.test(text) ? Number(text) : 0;
  if (typeof v === 'number') return Math.trunc(v);
  if (v instanceof Typed && (v.type === 'f' || v.type === 'd')) return Math.trunc(Number(v.value));
  if (v instanceof Typed && v.type === 'D') {
    const { scale, value } = v.value as { scale: number; value: number };
    return Math.trunc(value / 10 ** scale);
  }
  return 0;
}

/** The message as it leaves the delay: x-delay negated (a signed int, as the plugin sets it). */
export function withDelayServed(m: Message, delay: number): Message {
  const props = m.decodedProperties();
  const served = -delay >= -0x8000_0000 ? new Typed('I', -delay) : new Typed('l', -delay);
  return withProperties(m, { ...props, headers: { ...props.headers, 'x-delay': served } });
}

