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
import { FIELD_TYPE_NAMES, erlangFloat } from '../amqp/erlang-term.js';
import { Typed } from '../amqp/field-table.js';
import type { FieldTable, FieldValue, TypeLetter } from '../amqp/field-table.js';


const INTEGER_TYPES = new Set<TypeLetter>(['b', 'B', 's', 'u', 'I', 'i', 'l']);
const FLOAT_TYPES = new Set<TypeLetter>(['f', 'd']);

interface TypedValue {
  type: TypeLetter;
  value: unknown;
}

/** A comparable, printable value: integers as exact decimal strings (64-bit ones stay exact), decimals as scale:digits. */
function typedValue(v: FieldValue): TypedValue {
  if (v instanceof Typed) {
    const x = v.value;
    let value: unknown;
    if (typeof x === 'bigint' || typeof x === 'number') value = INTEGER_TYPES.has(v.type) ? String(x) : erlangFloat(Number(x));
    else if (Buffer.isBuffer(x)) value = x.toString('latin1');
    else value = `${x.scale}:${x.value}`;
    return { type: v.type, value };
  }
  if (typeof v === 'boolean') return { type: 't', value: v };
  if (typeof v === 'string') return { type: 'S', value: v };
  if (typeof v === 'bigint') return { type: 'l', value: String(v) };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { type: 'd', value: erlangFloat(v) };
    return { type: v >= -0x8000_0000 && v <= 0x7fff_ffff ? 'I' : 'l', value: String(v) };
  }
  if (v === null) return { type: 'V', value: null };
  if (Buffer.isBuffer(v)) return { type: 'x', value: v.toString('latin1') };
  if (v instanceof Date) return { type: 'T', value: Math.floor(v.getTime() / 1000) };
  if (Array.isArray(v)) return { type: 'A', value: JSON.stringify(v) };
  return { type: 'F', value: JSON.stringify(v) };
}

function isClassic(v: FieldValue | undefined): boolean {
  return v === 'classic' || (Buffer.isBuffer(v) && v.toString() === 'classic');
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
  return `the value '${String(tv.value)}' of type '${FIELD_TYPE_NAMES[tv.type]}'`;
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
    // RabbitMQ treats a missing x-queue-type as 'classic'
    if (key === 'x-queue-type' && isClassic(a ?? b) && (a === undefined || b === undefined)) continue;
    if (a === undefined || b === undefined) throw inequivalent(key, resource, describeTyped(b), describeTyped(a));
    // both present (rabbit_misc:assert_args_equivalence1): equal when of one type class and value;
    // otherwise the bare values are quoted
    const x = typedValue(a);
    const y = typedValue(b);
    if (typeClass(x.type) === typeClass(y.type) && x.value === y.value) continue;
    throw inequivalent(key, resource, `'${String(y.value)}'`, `'${String(x.value)}'`);
  }
}
