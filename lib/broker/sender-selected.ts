/**
 * Sender-selected distribution (RabbitMQ's extension): the `CC` and `BCC`
 * headers of a published message, arrays of long strings, are routing keys
 * the message is routed with besides its own. `BCC` is taken off the
 * message before it is enqueued, so no consumer sees it; `CC` stays. A CC
 * or BCC header that is not an array refuses the publish (406, RabbitMQ's
 * "invalid message: {unacceptable_type_in_header,...}"); elements that are
 * not strings are ignored, as RabbitMQ ignores them.
 */
import { preconditionFailed } from '../amqp/amqp-error.js';
import { FIELD_TYPE_NAMES } from '../amqp/erlang-term.js';
import { longstrValue, typeLetterOf } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import { withProperties } from './message.js';
import type { Message } from './message.js';

/** The CC and BCC routing keys of these headers (null when there are none); throws 406 for a header that is not an array. */
export function senderSelectedKeys(headers: FieldTable): string[] | null {
  let keys: string[] | null = null;
  for (const name of ['CC', 'BCC']) {
    const v = headers[name];
    if (v === undefined) continue;
    if (!Array.isArray(v)) throw preconditionFailed(`invalid message: {unacceptable_type_in_header,"${name}",${FIELD_TYPE_NAMES[typeLetterOf(v)]}}`);
    for (const k of v) {
      const key = longstrValue(k);
      if (key !== undefined) (keys ??= []).push(key);
    }
  }
  return keys;
}

/** The message without its BCC header (properties re-encoded, body shared). */
export function withoutBcc(m: Message): Message {
  const props = { ...m.decodedProperties() };
  const headers = { ...props.headers };
  delete headers.BCC;
  props.headers = headers;
  return withProperties(m, props);
}
