/**
 * Writes whole frames into a WireWriter: method frames from the generated
 * encoders, content (header + body frames split at frame_max) and
 * heartbeats. All outgoing frames of a connection go through here.
 */
import { FrameType } from './generated/constants.js';
import { encodeBasicProperties } from './generated/properties.js';
import type { BasicProperties } from './generated/properties.js';
import { FRAME_OVERHEAD } from './wire-writer.js';
import type { WireWriter } from './wire-writer.js';

export type MethodEncoder<A> = (w: WireWriter, args: A) => void;

export function writeMethodFrame<A>(w: WireWriter, channel: number, encode: MethodEncoder<A>, args: A): void {
  w.beginFrame(FrameType.Method, channel);
  try {
    encode(w, args);
  } catch (err) {
    w.abandonFrame();
    throw err;
  }
  w.endFrame();
}

/** A content header frame, from decoded properties or from raw property bytes kept as received. */
export function writeHeaderFrame(
  w: WireWriter,
  channel: number,
  classId: number,
  bodySize: number,
  properties: BasicProperties | Buffer,
): void {
  w.beginFrame(FrameType.Header, channel);
  w.u16(classId);
  w.u16(0);
  w.u64(bodySize);
  if (Buffer.isBuffer(properties)) w.bytes(properties);
  else encodeBasicProperties(w, properties);
  w.endFrame();
}

/** Body frames for a body held as one buffer or as the parts it arrived in, each frame at most frameMax. */
export function writeBodyFrames(w: WireWriter, channel: number, body: Buffer | readonly Buffer[], frameMax: number): void {
  const maxPayload = frameMax - FRAME_OVERHEAD;
  const parts = Buffer.isBuffer(body) ? [body] : body;
  let room = 0;
  for (const part of parts) {
    let offset = 0;
    while (offset < part.length) {
      if (room === 0) {
        if (w.framing) w.endFrame();
        w.beginFrame(FrameType.Body, channel);
        room = maxPayload;
      }
      const n = Math.min(room, part.length - offset);
      w.bytes(offset === 0 && n === part.length ? part : part.subarray(offset, offset + n));
      offset += n;
      room -= n;
    }
  }
  if (w.framing) w.endFrame();
}

/** Body frames for a body held in buf[start, end), each frame at most frameMax. */
export function writeBodyRange(w: WireWriter, channel: number, buf: Buffer, start: number, end: number, frameMax: number): void {
  const maxPayload = frameMax - FRAME_OVERHEAD;
  for (let at = start; at < end; at += maxPayload) {
    w.beginFrame(FrameType.Body, channel);
    w.range(buf, at, Math.min(end, at + maxPayload));
    w.endFrame();
  }
}

/** A content header frame whose property bytes are buf[start, end), as received. */
export function writeHeaderRange(w: WireWriter, channel: number, classId: number, bodySize: number, buf: Buffer, start: number, end: number): void {
  w.beginFrame(FrameType.Header, channel);
  w.u16(classId);
  w.u16(0);
  w.u64(bodySize);
  w.range(buf, start, end);
  w.endFrame();
}

export function writeHeartbeatFrame(w: WireWriter): void {
  w.beginFrame(FrameType.Heartbeat, 0);
  w.endFrame();
}
