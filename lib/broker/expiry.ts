/**
 * Expiry values as RabbitMQ reads them (rabbit_misc:check_expiry and
 * rabbit_basic:parse_expiration): milliseconds from 0 to ten years; a
 * message's `expiration` property is a decimal string read like Erlang's
 * string:to_integer, so "10x" is refused with the rest it could not read.
 */
import { PropertyFlag } from '../amqp/generated/properties.js';
import type { Message } from './message.js';

/** Ten years in milliseconds: the longest TTL or expiration RabbitMQ accepts. */
export const MAX_EXPIRY = 315_360_000_000;

/** The error term RabbitMQ prints for a bad expiry, or null. */
export function expiryError(n: number): string | null {
  if (n < 0) return `{value_negative,${n}}`;
  return n > MAX_EXPIRY ? `{value_too_large,${n}}` : null;
}

/** An `expiration` property in ms, or the error term RabbitMQ prints for it ("invalid expiration '...': <term>"). */
export function parseExpiration(s: string): number | { error: string } {
  const m = /^([+-]?\d+)([\s\S]*)$/.exec(s);
  if (!m) return { error: 'no_integer' };
  if (m[2] !== '') return { error: `{leftover_string,${JSON.stringify(m[2])}}` };
  const n = Number(m[1]);
  const error = expiryError(n);
  return error === null ? n : { error };
}

/** The TTL a message gets in a queue: the lower of the queue's (-1 for none) and the message's expiration (ms), or -1 for none. */
export function ttlOf(queueTtl: number, m: Message): number {
  let ttl = queueTtl;
  if (m.propertyFlags & PropertyFlag.Expiration) {
    const x = Number(m.decodedProperties().expiration);
    if (x >= 0 && (ttl < 0 || x < ttl)) ttl = x;
  }
  return ttl;
}
