/**
 * Content header frames: class-id(2) weight(2) body-size(8) then the
 * property flags and properties (lib/amqp/generated/properties.ts).
 *
 * The broker reads only the prefix on the publish path (`readHeaderPrefix`)
 * and keeps the raw property bytes, decoding properties when it needs one
 * (expiration, priority, headers...), so forwarding a message never
 * re-encodes what the publisher sent.
 */
import { decodeBasicProperties } from './generated/properties.js';
import type { BasicProperties } from './generated/properties.js';
import { WireDecodeError } from './wire-errors.js';
import { WireReader } from './wire-reader.js';

/** class-id(2) + weight(2) + body-size(8) */
export const HEADER_PREFIX_SIZE = 12;

export interface HeaderPrefix {
  classId: number;
  weight: number;
  bodySize: number;
}

/** Read class-id, weight and body size from a header frame payload buf[start, end). */
export function readHeaderPrefix(buf: Buffer, start: number, end: number): HeaderPrefix {
  if (end - start < HEADER_PREFIX_SIZE + 2) {
    throw new WireDecodeError(`content header of ${end - start} bytes is shorter than its fixed fields`);
  }
  const hi = buf.readUInt32BE(start + 4);
  const lo = buf.readUInt32BE(start + 8);
  return {
    classId: buf.readUInt16BE(start),
    weight: buf.readUInt16BE(start + 2),
    bodySize: hi * 0x1_0000_0000 + lo,
  };
}

/** Decode the properties part of a header payload (flags onwards), checking nothing trails it. */
export function decodeProperties(propertyBytes: Buffer, r: WireReader = new WireReader()): BasicProperties {
  r.reset(propertyBytes, 0, propertyBytes.length);
  const props = decodeBasicProperties(r);
  if (r.remaining !== 0) throw new WireDecodeError(`${r.remaining} bytes after the content header properties`);
  return props;
}
