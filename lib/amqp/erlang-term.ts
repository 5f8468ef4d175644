/**
 * Bytes formatted as Erlang prints a binary with ~p: `<<0,20,0,10,0>>`, or
 * `<<"hello">>` when every byte is printable Latin-1. RabbitMQ's reply texts
 * for frame errors quote the offending frame this way ("FRAME_ERROR - type 1,
 * all octets = <<...>>: unknown_frame"), and warren quotes it the same.
 * Also the type names and float format of other reply texts.
 */
import type { TypeLetter } from './field-table.js';

function printable(b: number): boolean {
  return (b >= 32 && b <= 126) || b >= 160 || (b >= 8 && b <= 13) || b === 27;
}

const ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 27: '\\e', 34: '\\"', 92: '\\\\' };

/** At most `limit` bytes are shown (reply texts are short strings anyway). */
export function erlangBinary(bytes: Buffer, limit = 128): string {
  const shown = bytes.length > limit ? bytes.subarray(0, limit) : bytes;
  const more = bytes.length > limit ? ',...' : '';
  if (shown.length > 0 && shown.every(printable)) {
    let s = '';
    for (const b of shown) s += ESCAPES[b] ?? String.fromCharCode(b);
    return `<<"${s}"${more}>>`;
  }
  return `<<${shown.join(',')}${more}>>`;
}

/** "type 1, all octets = <<...>>", RabbitMQ's description of a frame. */
export function frameDescription(type: number, payload: Buffer): string {
  return `type ${type}, all octets = ${erlangBinary(payload)}`;
}

/** RabbitMQ's names for the field-table types (rabbit_binary_parser), as its reply texts print them. */
export const FIELD_TYPE_NAMES: Record<TypeLetter, string> = {
  t: 'bool', b: 'byte', B: 'unsignedbyte', s: 'short', u: 'unsignedshort', I: 'signedint',
  i: 'unsignedint', l: 'long', f: 'float', d: 'double', D: 'decimal', S: 'longstr',
  A: 'array', T: 'timestamp', F: 'table', V: 'void', x: 'binary',
};

/** A float as Erlang's ~p writes it (io_lib_format:fwrite_g): 1.0, 0.1, 1.0e3, 1.5e-7. */
export function erlangFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  if (!Number.isFinite(x)) return String(x);
  const [mantissa, e] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = Number(e);
  const len = digits.length;
  const place = exp - len + 1; // the value is digits * 10^place
  const expCost = String(exp).length + 2;
  const withExp = len === 1 ? `${digits}.0e${exp}` : `${digits[0]}.${digits.slice(1)}e${exp}`;
  let s: string;
  if (place < 0) {
    if (exp >= 0) s = `${digits.slice(0, len + place)}.${digits.slice(len + place)}`;
    else s = 2 - place - len <= expCost ? `0.${'0'.repeat(-place - len)}${digits}` : withExp;
  } else {
    const fits = expCost + (len === 1 ? 1 : 0) >= place + 2 && Math.abs(x) < 2 ** 53;
    s = fits ? `${digits}${'0'.repeat(place)}.0` : withExp;
  }
  return x < 0 ? `-${s}` : s;
}
