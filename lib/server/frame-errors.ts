/**
 * Decoding a method frame, and the connection exceptions RabbitMQ raises for
 * frames it cannot use, with its reply texts:
 *   - a frame of an unknown type, or too short for its type: 501 "type T,
 *     all octets = <<...>>: unknown_frame";
 *   - arguments that are cut short or followed by extra bytes: 501
 *     "cannot decode <<args>>", naming the method;
 *   - a method id no class defines: see unknownMethod.
 */
import { ConnectionError, frameError } from '../amqp/amqp-error.js';
import { erlangBinary, frameDescription } from '../amqp/erlang-term.js';
import { FrameType, ReplyCode } from '../amqp/generated/constants.js';
import { decodeMethod } from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import { WireDecodeError } from '../amqp/wire-errors.js';
import type { WireReader } from '../amqp/wire-reader.js';

/** A frame of an unknown type, or a frame too short for its type (RabbitMQ's "unknown_frame"). */
export function unknownFrame(type: number, payload: Buffer): ConnectionError {
  return frameError(`${frameDescription(type, payload)}: unknown_frame`);
}

/**
 * A method id no class defines. RabbitMQ's connection process crashes on
 * one (the client sees a reset); warren answers 540 NOT_IMPLEMENTED, the
 * code for functionality the server does not have, naming the ids.
 */
export function unknownMethod(id: number): ConnectionError {
  return new ConnectionError(ReplyCode.NotImplemented, `unknown method ${id >>> 16}.${id & 0xffff}`, id >>> 16, id & 0xffff);
}

/** Decode the method frame payload buf[start, end) with the connection's reader, or throw RabbitMQ's error. */
export function decodeMethodFrame(r: WireReader, buf: Buffer, start: number, end: number): AnyMethod {
  if (end - start < 4) throw unknownFrame(FrameType.Method, buf.subarray(start, end));
  const id = buf.readUInt32BE(start);
  r.reset(buf, start + 4, end);
  let m: AnyMethod | undefined;
  try {
    m = decodeMethod(id, r);
    // RabbitMQ refuses bytes after the last argument as it refuses a short frame
    if (m && r.remaining !== 0) throw new WireDecodeError('trailing bytes');
  } catch (err) {
    if (err instanceof WireDecodeError) throw frameError(`cannot decode ${erlangBinary(buf.subarray(start + 4, end))}`).forMethod(id);
    throw err;
  }
  if (!m) throw unknownMethod(id);
  return m;
}
