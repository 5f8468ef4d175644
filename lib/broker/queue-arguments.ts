/**
 * The x- arguments of a new queue, checked as RabbitMQ 3.10 checks them
 * (rabbit_channel's queue.declare, then rabbit_amqqueue:check_declare_arguments
 * in its declare_args order), with its reply texts: 406 PRECONDITION_FAILED
 * "invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}".
 * The texts were recorded from RabbitMQ 3.10.8 (see
 * conformance/queue-arguments.test.ts). Unknown x- arguments are accepted
 * and kept, as RabbitMQ does. Only new queues are checked: a redeclare is
 * compared for equivalence instead (equivalence.ts).
 */
import { preconditionFailed } from '../amqp/amqp-error.js';
import { FIELD_TYPE_NAMES } from '../amqp/erlang-term.js';
import { integerValue, longstrValue, typeLetterOf } from '../amqp/field-table.js';
import type { FieldTable, FieldValue, TypeLetter } from '../amqp/field-table.js';
import { expiryError } from './expiry.js';

/** RabbitMQ's ?INTEGER_ARG_TYPES: byte, short, signedint, long and the unsigned ones. */
const INTEGER_LETTERS: ReadonlySet<TypeLetter> = new Set<TypeLetter>(['b', 's', 'I', 'l', 'B', 'u', 'i']);
const MAX_PRIORITY = 255;

/** A check returns the Erlang term RabbitMQ prints for the error, or null when the value is fine. */
type Check = (v: FieldValue, args: FieldTable) => string | null;

function typeName(v: FieldValue): string {
  return FIELD_TYPE_NAMES[typeLetterOf(v)];
}

function integer(v: FieldValue): number | string {
  if (!INTEGER_LETTERS.has(typeLetterOf(v))) return `"expected integer, got ${typeName(v)}"`;
  return integerValue(v)!;
}

const nonNegativeInt: Check = (v) => {
  const n = integer(v);
  if (typeof n === 'string') return n;
  return n < 0 ? `{value_negative,${n}}` : null;
};

const messageTtl: Check = (v) => {
  const n = integer(v);
  return typeof n === 'string' ? n : expiryError(n);
};

const expires: Check = (v) => {
  const n = integer(v);
  if (typeof n === 'string') return n;
  return n === 0 ? '{value_zero,0}' : expiryError(n);
};

const maxPriority: Check = (v) => {
  const bad = nonNegativeInt(v, {});
  if (bad) return bad;
  const n = integerValue(v)!;
  return n > MAX_PRIORITY ? `{max_value_exceeded,${n}}` : null;
};

const longstr = (ok: (s: string, args: FieldTable) => string | null): Check => (v, args) => {
  const s = longstrValue(v);
  return s === undefined ? `{unacceptable_type,${typeName(v)}}` : ok(s, args);
};

const bool: Check = (v) => (typeof v === 'boolean' ? null : `{unacceptable_type,${typeName(v)}}`);

const CHECKS: readonly (readonly [string, Check])[] = [
  ['x-expires', expires],
  ['x-message-ttl', messageTtl],
  ['x-dead-letter-exchange', longstr(() => null)],
  ['x-dead-letter-routing-key', longstr((_s, args) => (args['x-dead-letter-exchange'] === undefined ? 'routing_key_but_no_dlx_defined' : null))],
  ['x-max-length', nonNegativeInt],
  ['x-max-length-bytes', nonNegativeInt],
  ['x-max-in-memory-length', nonNegativeInt],
  ['x-max-in-memory-bytes', nonNegativeInt],
  ['x-max-priority', maxPriority],
  ['x-overflow', longstr((s) => (['drop-head', 'reject-publish', 'reject-publish-dlx'].includes(s) ? null : 'invalid_overflow'))],
  ['x-queue-mode', longstr((s) => (s === 'default' || s === 'lazy' ? null : `"unsupported queue mode '${s}'"`))],
  ['x-single-active-consumer', bool],
  // warren has classic queues only: RabbitMQ's quorum and stream queues are refused as unsupported
  ['x-queue-type', longstr((s) => (s === 'classic' ? null : `"unsupported queue type '${s}'"`))],
  // RabbitMQ 3.10 refuses x-delivery-limit on classic queues; warren supports it on every queue
  ['x-delivery-limit', nonNegativeInt],
];

/** Throw 406 for the first argument RabbitMQ would refuse, in its order. `resource` is "queue 'q' in vhost '/'". */
export function checkQueueArguments(args: FieldTable, resource: string): void {
  const dlx = args['x-dead-letter-exchange'];
  if (dlx !== undefined && longstrValue(dlx) === undefined) {
    throw preconditionFailed(`invalid type '${typeName(dlx)}' for arg 'x-dead-letter-exchange' in ${resource}`);
  }
  for (const [key, check] of CHECKS) {
    const v = args[key];
    if (v === undefined) continue;
    const error = check(v, args);
    if (error !== null) throw preconditionFailed(`invalid arg '${key}' for ${resource}: ${error}`);
  }
}

const CONSUME_CHECKS: readonly (readonly [string, Check])[] = [
  ['x-priority', (v) => {
    const n = integer(v);
    return typeof n === 'string' ? n : null;
  }],
  ['x-cancel-on-ha-failover', bool],
];

/** basic.consume arguments (rabbit_amqqueue:check_consume_arguments): 406 as for queue.declare. */
export function checkConsumeArguments(args: FieldTable, resource: string): void {
  for (const [key, check] of CONSUME_CHECKS) {
    const v = args[key];
    if (v === undefined) continue;
    const error = check(v, args);
    if (error !== null) throw preconditionFailed(`invalid arg '${key}' for ${resource}: ${error}`);
  }
}
