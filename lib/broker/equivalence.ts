/**
 * Redeclaring an exchange or queue must match the existing one; where it
 * does not, RabbitMQ answers 406 PRECONDITION_FAILED with
 * "inequivalent arg 'KEY' for RESOURCE: received NEW but current is OLD".
 * This file compares flags and arguments the way rabbit_misc does
 * (integers of any width are equal by value, a missing argument is 'none')
 * and formats the values as RabbitMQ prints them.
 */
import { preconditionFailed } from '../amqp/amqp-error.js';
import type { ChannelError } from '../amqp/amqp-error.js';
import { Typed } from '../amqp/field-table.js';
import type { FieldTable, FieldValue, TypeLetter } from '../amqp/field-table.js';

/** RabbitMQ's names for the field types, used in the reply text. */
const TYPE_NAMES: Record<TypeLetter, string> = {
  t: 'bool', b: 'byte', B: 'unsignedbyte', s: 'short', u: 'unsignedshort', I: 'signedint', i: 'unsignedint',
  l: 'long', f: 'float', d: 'double', D: 'decimal', S: 'longstr', A: 'array', T: 'timestamp', F: 'table',
  V: 'void', x: 'binary',
};

const INTEGER_TYPES = new Set<TypeLetter>(['b', 'B', 's', 'u', 'I', 'i', 'l']);
const FLOAT_TYPES = new Set<TypeLetter>(['f', 'd']);

interface TypedValue {
  type: TypeLetter;
  value: unknown;
}

function typedValue(v: FieldValue): TypedValue {
  if (v instanceof Typed) {
    const value = typeof v.value === 'bigint' ? Number(v.value) : Buffer.isBuffer(v.value) ? v.value.toString('latin1') : v.value;
    return { type: v.type, value };
  }
  if (typeof v === 'boolean') return { type: 't', value: v };
  if (typeof v === 'string') return { type: 'S', value: v };
  if (typeof v === 'bigint') return { type: 'l', value: Number(v) };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { type: 'd', value: v };
    return { type: v >= -0x8000_0000 && v <= 0x7fff_ffff ? 'I' : 'l', value: v };
  }
  if (v === null) return { type: 'V', value: null };
  if (Buffer.isBuffer(v)) return { type: 'x', value: v.toString('latin1') };
  if (v instanceof Date) return { type: 'T', value: Math.floor(v.getTime() / 1000) };
  if (Array.isArray(v)) return { type: 'A', value: JSON.stringify(v) };
  return { type: 'F', value: JSON.stringify(v) };
}

function typeClass(t: TypeLetter): string {
  if (INTEGER_TYPES.has(t)) return 'int';
  if (FLOAT_TYPES.has(t)) return 'float';
  return t;
}

/** rabbit_misc:val/1 of a {Type, Value} pair, or of nothing */
function describeTyped(v: FieldValue | undefined): string {
  if (v === undefined) return 'none';
  const tv = typedValue(v);
  return `the value '${String(tv.value)}' of type '${TYPE_NAMES[tv.type]}'`;
}

function inequivalent(key: string, resource: string, received: string, current: string): ChannelError {
  return preconditionFailed(`inequivalent arg '${key}' for ${resource}: received ${received} but current is ${current}`);
}

/** A flag or type that must match: durable, auto_delete, internal, type. */
export function assertFieldEquivalent(key: string, resource: string, current: boolean | string, received: boolean | string): void {
  if (current !== received) throw inequivalent(key, resource, `'${String(received)}'`, `'${String(current)}'`);
}

/** The listed arguments must match (others are ignored, as RabbitMQ ignores them). */
export function assertArgumentsEquivalent(keys: readonly string[], resource: string, current: FieldTable, received: FieldTable): void {
  for (const key of keys) {
    const a = current[key];
    const b = received[key];
    if (a === undefined && b === undefined) continue;
    if (a === undefined || b === undefined) throw inequivalent(key, resource, describeTyped(b), describeTyped(a));
    // both present (rabbit_misc:assert_args_equivalence1): equal when of one type class and value;
    // otherwise the bare values are quoted
    const x = typedValue(a);
    const y = typedValue(b);
    if (typeClass(x.type) === typeClass(y.type) && x.value === y.value) continue;
    throw inequivalent(key, resource, `'${String(y.value)}'`, `'${String(x.value)}'`);
  }
}
