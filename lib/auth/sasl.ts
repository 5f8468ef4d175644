/**
 * SASL responses from connection.start-ok: the PLAIN and AMQPLAIN
 * mechanisms, parsed exactly as RabbitMQ's rabbit_auth_mechanism_plain and
 * rabbit_auth_mechanism_amqplain do. Parsing never throws; a malformed
 * response is `{ ok: false, reason }`, which the connection turns into the
 * error RabbitMQ raises (a syntax_error connection close for a malformed
 * response, command_invalid for an unknown mechanism).
 *
 * PLAIN (RFC 4616 `authzid NUL authcid NUL passwd`): RabbitMQ only accepts
 * an EMPTY authzid. Its parser requires the response to start with NUL, then
 * reads the user up to the next NUL and the password up to the end, and
 * rejects any further NUL ("response ... invalid"). A non-empty authzid is
 * therefore refused, not ignored (checked in 3.10.8 and current main).
 *
 * AMQPLAIN: the response is the entries of a field table without its 4-byte
 * length prefix; LOGIN and PASSWORD must be present and hold strings (the
 * first occurrence of a key wins, as with lists:keysearch).
 */
import { isUtf8 } from 'node:buffer';
import { decodeFieldValue } from '../amqp/field-table.js';
import type { FieldValue } from '../amqp/field-table.js';
import { Typed } from '../amqp/field-table.js';
import { WireReader } from '../amqp/wire-reader.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The mechanisms advertised in connection.start, in RabbitMQ's order. */
export const SASL_MECHANISMS: readonly string[] = Object.freeze(['PLAIN', 'AMQPLAIN']);

export type SaslResult = { ok: true; credentials: Credentials } | { ok: false; reason: string };

function fail(reason: string): SaslResult {
  return { ok: false, reason };
}

function text(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}

export function parsePlain(response: Buffer): SaslResult {
  if (response.length === 0 || response[0] !== 0) {
    return fail(
      response.indexOf(0) > 0
        ? 'PLAIN response invalid: a non-empty authorization identity (authzid) is not supported'
        : 'PLAIN response invalid: expected NUL username NUL password',
    );
  }
  const second = response.indexOf(0, 1);
  if (second < 0) return fail('PLAIN response invalid: expected NUL username NUL password, found no password');
  if (response.indexOf(0, second + 1) >= 0) {
    return fail('PLAIN response invalid: expected NUL username NUL password, found more than two NUL separators');
  }
  const username = text(response.subarray(1, second));
  const password = text(response.subarray(second + 1));
  if (username === null || password === null) return fail('PLAIN response invalid: username or password is not valid UTF-8');
  return { ok: true, credentials: { username, password } };
}

/** A string field value: S (long string) or its non-UTF-8 Typed form. */
function stringValue(v: FieldValue): string | null | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Typed && v.type === 'S' && Buffer.isBuffer(v.value)) return null;
  return undefined;
}

export function parseAmqplain(response: Buffer): SaslResult {
  const reader = new WireReader(response, 0, response.length);
  const fields = new Map<string, FieldValue>();
  try {
    while (reader.pos < reader.end) {
      const key = reader.shortstr();
      const value = decodeFieldValue(reader);
      if (!fields.has(key)) fields.set(key, value);
    }
  } catch (err) {
    return fail(`AMQPLAIN auth info is not a valid field table: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!fields.has('LOGIN') || !fields.has('PASSWORD')) {
    return fail('AMQPLAIN auth info is missing LOGIN or PASSWORD field');
  }
  const username = stringValue(fields.get('LOGIN')!);
  const password = stringValue(fields.get('PASSWORD')!);
  if (username === undefined || password === undefined) {
    return fail('AMQPLAIN auth info uses unsupported type for LOGIN or PASSWORD field');
  }
  if (username === null || password === null) {
    return fail('AMQPLAIN auth info LOGIN or PASSWORD is not valid UTF-8');
  }
  return { ok: true, credentials: { username, password } };
}

/** Parse a start-ok response for `mechanism`; never throws. */
export function parseSaslResponse(mechanism: string, response: Buffer): SaslResult {
  try {
    switch (mechanism) {
      case 'PLAIN':
        return parsePlain(response);
      case 'AMQPLAIN':
        return parseAmqplain(response);
      default:
        return fail(`unknown authentication mechanism '${mechanism}'`);
    }
  } catch (err) {
    // Defensive: the parsers above do not throw, but a connection must never crash here.
    return fail(`${mechanism} response invalid: ${err instanceof Error ? err.message : String(err)}`);
  }
}
