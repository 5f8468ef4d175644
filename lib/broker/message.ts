/**
 * A published message as the broker holds it: where it was published
 * (exchange, routing key), its properties exactly as the publisher encoded
 * them, and its body. One Message is shared by every queue it is routed to,
 * and nothing is re-encoded on the way from publisher to consumer.
 *
 * Memory: a queue may hold millions of small messages, so a message is kept
 * as compactly as JavaScript allows. The property bytes, and the body when
 * it is small (up to COPY_LIMIT), are copied into a shared slab
 * (message-slab.ts), so a message costs one object and its bytes: no Buffer
 * view objects, and the receive buffers (with their frame headers) are
 * released. A large body stays in the slices of the receive buffers it
 * arrived in, not copied.
 *
 * Properties are decoded only when something needs one (the headers
 * exchange, the user-id check), and then once.
 */
import { copyBytes } from '../amqp/copy-bytes.js';
import { Typed } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import type { BasicProperties } from '../amqp/generated/properties.js';
import { decodeBasicProperties, encodeBasicProperties } from '../amqp/generated/properties.js';
import { WireDecodeError } from '../amqp/wire-errors.js';
import { WireReader } from '../amqp/wire-reader.js';
import { WireWriter } from '../amqp/wire-writer.js';
import type { PublishRecord } from '../store/message-log.js';
import { messageSlab } from './message-slab.js';

/** Bodies up to this size are copied next to the properties; larger ones keep their receive slices. */
const COPY_LIMIT = 16 * 1024;

const reader = new WireReader();

export class Message {
  readonly exchange: string;
  readonly routingKey: string;
  /** holds the properties at [offset, offset + propertiesSize), then the body unless bodyParts is set */
  readonly data: Buffer;
  readonly offset: number;
  readonly propertiesSize: number;
  readonly bodySize: number;
  /** a large body, as the slices it arrived in; null when the body follows the properties in data */
  readonly bodyParts: Buffer[] | null;
  /** its id in the message log when it was written there (persistent, on a durable queue); 0 otherwise */
  logId = 0;
  private decoded: BasicProperties | null = null;

  constructor(exchange: string, routingKey: string, properties: Buffer, body: Buffer[], bodySize: number) {
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.propertiesSize = properties.length;
    this.bodySize = bodySize;
    const inline = bodySize <= COPY_LIMIT;
    const size = properties.length + (inline ? bodySize : 0);
    this.offset = messageSlab.allocate(size);
    this.data = messageSlab.slab;
    copyBytes(properties, 0, properties.length, this.data, this.offset);
    if (inline) {
      let at = this.offset + properties.length;
      for (const part of body) at += copyBytes(part, 0, part.length, this.data, at);
      this.bodyParts = null;
    } else {
      this.bodyParts = body;
    }
  }

  /** The property flags word (which properties are present). */
  get propertyFlags(): number {
    return this.propertiesSize >= 2 ? this.data.readUInt16BE(this.offset) : 0;
  }

  /** All properties, decoded on first use; throws WireDecodeError when they are malformed. */
  decodedProperties(): BasicProperties {
    if (!this.decoded) {
      reader.reset(this.data, this.offset, this.offset + this.propertiesSize);
      const props = decodeBasicProperties(reader);
      if (reader.remaining !== 0) throw new WireDecodeError(`${reader.remaining} bytes after the content header properties`);
      this.decoded = props;
    }
    return this.decoded;
  }

  /** Give a message built here from known properties their decoded form (they must be what decoding its bytes gives). */
  withDecoded(props: BasicProperties): this {
    this.decoded = props;
    return this;
  }

  get headers(): FieldTable | undefined {
    return this.decodedProperties().headers;
  }
}

const propertiesWriter = new WireWriter(1024);

/** The same message with other properties (re-encoded; the body is shared). */
export function withProperties(m: Message, props: BasicProperties): Message {
  encodeBasicProperties(propertiesWriter, props);
  const start = m.offset + m.propertiesSize;
  return new Message(m.exchange, m.routingKey, propertiesWriter.take(), m.bodyParts ?? [m.data.subarray(start, start + m.bodySize)], m.bodySize);
}

/** The message as a queue with a delivery limit delivers it: with an x-delivery-count header (a long, the times it came back), as RabbitMQ's quorum queues send it. */
export function withDeliveryCount(m: Message, count: number): Message {
  const props = m.decodedProperties();
  return withProperties(m, { ...props, headers: { ...props.headers, 'x-delivery-count': new Typed('l', count) } });
}

/** The message log's record of a message routed to these durable queues of a vhost. */
export function publishRecord(m: Message, vhost: string, queues: readonly string[]): PublishRecord {
  const start = m.offset + m.propertiesSize;
  return {
    messageId: m.logId,
    vhost,
    queues,
    exchange: m.exchange,
    routingKey: m.routingKey,
    data: m.data,
    offset: m.offset,
    propertiesSize: m.propertiesSize,
    body: m.bodyParts ?? m.data.subarray(start, start + m.bodySize),
    bodySize: m.bodySize,
  };
}
