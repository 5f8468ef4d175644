/**
 * A binding: source exchange -> destination (queue or exchange), with a
 * routing key and arguments. Its identity is all four, with the arguments
 * compared as RabbitMQ compares them (as a table sorted by key), so binding
 * the same pair twice with different arguments makes two bindings.
 */
import { encodeTable } from '../amqp/field-table.js';
import type { FieldTable } from '../amqp/field-table.js';
import { WireWriter } from '../amqp/wire-writer.js';
import type { Exchange } from './exchange.js';
import type { Queue } from './queue.js';

export type Destination = Queue | Exchange;

export class Binding {
  readonly source: Exchange;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
  readonly id: string;

  constructor(source: Exchange, destination: Destination, routingKey: string, args: FieldTable) {
    this.source = source;
    this.destination = destination;
    this.routingKey = routingKey;
    this.arguments = args;
    this.id = bindingId(destination, routingKey, args);
  }
}

/** The identity of a binding within its source exchange. */
export function bindingId(destination: Destination, routingKey: string, args: FieldTable): string {
  return `${destination.kind}\u0000${destination.name}\u0000${routingKey}\u0000${argumentsKey(args)}`;
}

function argumentsKey(args: FieldTable): string {
  const keys = Object.keys(args);
  if (keys.length === 0) return '';
  const sorted: FieldTable = {};
  for (const k of keys.sort()) sorted[k] = args[k]!;
  const w = new WireWriter(256);
  encodeTable(w, sorted);
  return w.take().toString('latin1');
}
