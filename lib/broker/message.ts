/**
 * A published message as the broker holds it: where it was published
 * (exchange, routing key), its properties exactly as the publisher encoded
 * them, and its body as the slices of the receive buffers it arrived in.
 * One Message is shared by every queue it is routed to; nothing here is
 * copied or re-encoded on the way from publisher to consumer.
 *
 * Properties are decoded only when something needs one (the headers
 * exchange, the user-id check), and then once.
 */
import type { FieldTable } from '../amqp/field-table.js';
import { decodeProperties } from '../amqp/content-header.js';
import type { BasicProperties } from '../amqp/generated/properties.js';

const EMPTY_BODY = Buffer.alloc(0);

export class Message {
  readonly exchange: string;
  readonly routingKey: string;
  /** property flags and properties, as received */
  readonly properties: Buffer;
  /** the body: one buffer, or the parts it arrived in */
  readonly body: Buffer | Buffer[];
  readonly bodySize: number;
  private decoded: BasicProperties | null = null;

  constructor(exchange: string, routingKey: string, properties: Buffer, body: Buffer[], bodySize: number) {
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.properties = properties;
    this.body = body.length === 1 ? body[0]! : body.length === 0 ? EMPTY_BODY : body;
    this.bodySize = bodySize;
  }

  /** The property flags word (which properties are present). */
  get propertyFlags(): number {
    return this.properties.length >= 2 ? this.properties.readUInt16BE(0) : 0;
  }

  /** All properties, decoded on first use. */
  decodedProperties(): BasicProperties {
    if (!this.decoded) this.decoded = decodeProperties(this.properties);
    return this.decoded;
  }

  get headers(): FieldTable | undefined {
    return this.decodedProperties().headers;
  }
}
