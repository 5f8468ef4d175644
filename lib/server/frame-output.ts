/**
 * A connection's outgoing frames: every frame is encoded into one
 * WireWriter, and what accumulated is written with a single socket.write:
 * at the end of processing a read (the connection calls flush), once per
 * event-loop turn for frames produced elsewhere (timers, other connections'
 * publishes) via setImmediate, or as soon as a batch reaches BATCH_BYTES.
 *
 * Large bodies are not copied into the batch: a body part of REFERENCE_BYTES
 * or more is written as its own buffer (the slice of the receive buffer it
 * arrived in), between the encoded bytes taken before and after it. The
 * pieces of a batch then go to the socket corked, so Node hands them to the
 * kernel in one writev.
 *
 * Backpressure: when socket.write reports a full buffer, `blocked` is set
 * until the socket drains; consumers stop taking messages while it is set
 * (so a slow client makes its messages wait in their queues, not in our
 * memory) and `onDrain` lets the connection resume them.
 */
import type { Socket } from 'node:net';
import { writeBodyRange, writeHeaderRange, writeHeartbeatFrame, writeMethodFrame } from '../amqp/frame-writer.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import { FrameType } from '../amqp/generated/constants.js';
import { FRAME_END, FRAME_OVERHEAD, WireWriter } from '../amqp/wire-writer.js';
import type { Message } from '../broker/message.js';

/** A batch this large is written at once rather than at the end of the turn. */
const BATCH_BYTES = 256 * 1024;
/** Body parts this large are written by reference; smaller ones are cheaper to copy than to write separately. */
const REFERENCE_BYTES = 8 * 1024;

export class FrameOutput {
  readonly writer = new WireWriter();
  /** set whenever bytes are written (the heartbeat sender skips a beat then) */
  wrote = false;
  /** once closed, nothing more is written */
  closed = false;
  /** the socket's buffer is full: stop producing deliveries until it drains */
  blocked = false;
  /** negotiated frame_max, for splitting bodies */
  frameMax = 131072;
  private readonly socket: Socket;
  private readonly onDrain: () => void;
  private scheduled = false;
  /** the batch so far when it holds body parts by reference: taken encoded bytes and those parts, in order */
  private readonly pieces: Buffer[] = [];
  /** bytes in pieces */
  private pieceBytes = 0;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(socket: Socket, onDrain: () => void) {
    this.socket = socket;
    this.onDrain = onDrain;
    socket.on('drain', () => {
      this.blocked = false;
      this.onDrain();
    });
  }

  method<A>(channel: number, encode: MethodEncoder<A>, args: A): void {
    if (this.closed) return;
    writeMethodFrame(this.writer, channel, encode, args);
    this.schedule();
  }

  /** A content-carrying method (deliver, get-ok, return) followed by the message's header and body frames. */
  content<A>(channel: number, encode: MethodEncoder<A>, args: A, message: Message): void {
    if (this.closed) return;
    const w = this.writer;
    writeMethodFrame(w, channel, encode, args);
    const { data, offset, propertiesSize, bodySize } = message;
    writeHeaderRange(w, channel, 60, bodySize, data, offset, offset + propertiesSize);
    if (message.bodyParts) this.bodyFrames(channel, message.bodyParts, bodySize);
    else if (bodySize > 0) writeBodyRange(w, channel, data, offset + propertiesSize, offset + propertiesSize + bodySize, this.frameMax);
    if (w.pending + this.pieceBytes >= BATCH_BYTES) this.flush();
    else this.schedule();
  }

  /**
   * Body frames (split at frame_max) for a body held as slices: each frame's
   * header and end octet are encoded, large slices are referenced, small
   * ones copied. Frame sizes are known up front, so nothing is patched.
   */
  private bodyFrames(channel: number, parts: readonly Buffer[], bodySize: number): void {
    const w = this.writer;
    const maxPayload = this.frameMax - FRAME_OVERHEAD;
    let left = bodySize;
    let room = 0;
    for (const part of parts) {
      let at = 0;
      while (at < part.length) {
        if (room === 0) {
          if (left < bodySize) w.u8(FRAME_END);
          room = Math.min(maxPayload, left);
          w.u8(FrameType.Body);
          w.u16(channel);
          w.u32(room);
        }
        const n = Math.min(room, part.length - at);
        if (n >= REFERENCE_BYTES) {
          if (w.pending > 0) this.addPiece(w.take());
          this.addPiece(at === 0 && n === part.length ? part : part.subarray(at, at + n));
        } else {
          w.range(part, at, at + n);
        }
        at += n;
        room -= n;
        left -= n;
      }
    }
    w.u8(FRAME_END);
  }

  private addPiece(b: Buffer): void {
    this.pieces.push(b);
    this.pieceBytes += b.length;
  }

  heartbeat(): void {
    if (this.closed) return;
    writeHeartbeatFrame(this.writer);
    this.flush();
  }

  /** Flush within this event-loop turn. */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Write everything encoded so far: one write, or one corked series of writes when the batch holds referenced bodies. */
  flush(): void {
    const socket = this.socket;
    if (socket.destroyed) {
      this.dropPieces();
      return;
    }
    const pieces = this.pieces;
    if (pieces.length > 0) {
      if (this.writer.pending > 0) this.addPiece(this.writer.take());
      let ok = true;
      socket.cork();
      for (let i = 0; i < pieces.length; i++) ok = socket.write(pieces[i]!) && ok;
      socket.uncork();
      this.dropPieces();
      if (!ok) this.blocked = true;
      this.wrote = true;
      return;
    }
    if (this.writer.pending === 0) return;
    if (!socket.write(this.writer.take())) this.blocked = true;
    this.wrote = true;
  }

  private dropPieces(): void {
    this.pieces.length = 0;
    this.pieceBytes = 0;
  }
}
