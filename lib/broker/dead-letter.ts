/**
 * Dead-lettering: the copy of a message that leaves a queue for good
 * (rejected, expired, over the length limit, over the delivery limit) and
 * goes to the queue's dead-letter exchange, with the headers RabbitMQ
 * writes (rabbit_dead_letter:make_msg), as recorded from RabbitMQ 3.10.8:
 *
 * - `x-death`, an array newest first with one table per (queue, reason):
 *   count (long), reason, queue, time (timestamp, seconds), exchange,
 *   routing-keys (the routing key and any CC keys), original-expiration when
 *   the message had an expiration. Dying again in the same queue for the
 *   same reason increments that entry's count and moves it to the front
 *   (its keys then sorted, as RabbitMQ re-sorts the table it updates).
 * - `x-first-death-reason/queue/exchange`, set when the message had no
 *   x-death yet (a value the client set is overwritten), and
 *   `x-last-death-*` set every time (RabbitMQ 3.13 and later).
 * - The expiration property is removed; the headers table comes out sorted
 *   by key, as RabbitMQ's does.
 *
 * Cycles: a message that would reach a queue where it already died, with no
 * rejection anywhere on the way round, is not delivered there
 * (rabbit_dead_letter:is_cycle), so a queue with a TTL that dead-letters to
 * itself does not spin.
 */
import { Typed } from '../amqp/field-table.js';
import type { FieldTable, FieldValue } from '../amqp/field-table.js';
import { encodeBasicProperties } from '../amqp/generated/properties.js';
import type { BasicProperties } from '../amqp/generated/properties.js';
import { WireWriter } from '../amqp/wire-writer.js';
import { Message } from './message.js';

export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

const writer = new WireWriter(4096);

function isTable(v: FieldValue | undefined): v is FieldTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Typed) && !Buffer.isBuffer(v) && !(v instanceof Date);
}

function stringOf(v: FieldValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Typed && v.type === 'S') return (v.value as Buffer).toString('latin1');
  return undefined;
}

const ASCII = /^[\x00-\x7f]*$/;

/** The table with its keys in byte order, as RabbitMQ sorts them (string order is byte order for ASCII keys, the usual case). */
function sortedTable(t: FieldTable): FieldTable {
  const keys = Object.keys(t);
  if (keys.every((k) => ASCII.test(k))) keys.sort();
  else keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: FieldTable = {};
  for (const k of keys) out[k] = t[k]!;
  return out;
}

/** The routing keys a message was published with: its routing key and the CC header's strings. */
export function routingKeysOf(m: Message, headers: FieldTable | undefined): string[] {
  const keys = [m.routingKey];
  const cc = headers?.CC;
  if (Array.isArray(cc)) for (const k of cc) if (typeof k === 'string') keys.push(k);
  return keys;
}

/** The message as it leaves `queue` for its dead-letter exchange `dlx`, routed with `routingKey`. */
export function deadLetteredMessage(m: Message, queue: string, reason: DeathReason, dlx: string, routingKey: string): Message {
  const props: BasicProperties = { ...m.decodedProperties() };
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const previous = Array.isArray(headers['x-death']) ? (headers['x-death'] as FieldValue[]) : null;
  const deaths = previous ? [...previous] : [];
  const at = deaths.findIndex((d) => isTable(d) && stringOf(d.queue) === queue && stringOf(d.reason) === reason);
  if (at >= 0) {
    const entry = deaths[at] as FieldTable;
    const count = entry.count instanceof Typed ? Number(entry.count.value) : typeof entry.count === 'number' ? entry.count : 0;
    deaths.splice(at, 1);
    deaths.unshift(sortedTable({ ...entry, count: new Typed('l', count + 1) }));
  } else {
    const entry: FieldTable = {
      count: new Typed('l', 1),
      reason,
      queue,
      time: new Date(Math.floor(Date.now() / 1000) * 1000),
      exchange: m.exchange,
      'routing-keys': routingKeysOf(m, props.headers),
    };
    if (props.expiration !== undefined) entry['original-expiration'] = props.expiration;
    deaths.unshift(entry);
  }
  headers['x-death'] = deaths;
  if (!previous) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = m.exchange;
  }
  headers['x-last-death-reason'] = reason;
  headers['x-last-death-queue'] = queue;
  headers['x-last-death-exchange'] = m.exchange;
  props.headers = sortedTable(headers);
  delete props.expiration;
  encodeBasicProperties(writer, props);
  const encoded = writer.take();
  const body = m.bodyParts ?? [m.data.subarray(m.offset + m.propertiesSize, m.offset + m.propertiesSize + m.bodySize)];
  // its properties are known: routing (headers exchanges) and the cycle check need not decode them again
  return new Message(dlx, routingKey, encoded, body, m.bodySize).withDecoded(props);
}

/**
 * Whether delivering a dead-lettered message to `queue` closes a cycle with
 * no rejection in it: its x-death (newest first) reaches an entry for that
 * queue, and neither that entry nor any newer one has reason "rejected".
 */
export function isDeadLetterCycle(m: Message, queue: string): boolean {
  const deaths = m.headers?.['x-death'];
  if (!Array.isArray(deaths)) return false;
  for (const d of deaths) {
    if (!isTable(d)) return false;
    if (stringOf(d.reason) === 'rejected') return false;
    if (stringOf(d.queue) === queue) return true;
  }
  return false;
}
