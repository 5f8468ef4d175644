/**
 * FrameReader: cuts a TCP byte stream into AMQP 0-9-1 frames.
 *
 * Feed it every chunk the socket delivers; it calls the sink once per frame,
 * whether a frame arrives byte by byte or many frames share one chunk.
 *
 * No copies on the common path: a frame that lies wholly inside a chunk is
 * handed over as (chunk, start, end). Body frames are never copied at all:
 * their payload is passed on as slices of the chunks it arrived in (one slice
 * per chunk it spans), so a message body is assembled from references.
 * Only method and header frames split across chunks are gathered into a
 * buffer of their own (they are small: at most frame_max).
 *
 * The price of zero copies: a slice keeps its whole chunk (up to 64 KiB) in
 * memory. Fine for messages that pass straight through; a queue that holds
 * many small messages for long should copy their bodies into compact
 * storage when it keeps them.
 *
 * Pausing: pause() (called by the sink while it handles a frame) stops the
 * reader after that frame; the rest of the chunk, and any chunk pushed
 * meanwhile, is held until resume() feeds it through.
 *
 * Frame size is checked against frame_max from the 7-byte frame header,
 * before the payload is read, so a peer cannot make us buffer more. Like
 * RabbitMQ, a payload of up to frame_max bytes is let through (an 8-byte
 * allowance for clients that forget the frame overhead); the error text
 * names the spec's limit, frame_max - 8, as RabbitMQ's does.
 */
import { frameDescription } from './erlang-term.js';
import { FRAME_END, FRAME_OVERHEAD } from './wire-writer.js';

export const FRAME_TYPE_BODY = 3;

export interface FrameSink {
  /** A method, header or heartbeat frame (or a frame of an unknown type): payload is buf[start, end). */
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void;
  /**
   * Part of a body frame's payload. `frameSize` is the whole frame's payload
   * size; `first` marks the first part of each frame (the place to validate
   * the frame), and parts of one frame arrive in order. An empty body frame
   * arrives as one empty part.
   */
  onBody(channel: number, part: Buffer, frameSize: number, first: boolean): void;
  /** The stream is not AMQP framing any more: the connection must close with 501 and this explanation. */
  onFrameError(text: string): void;
}

const enum State {
  Header,
  Payload,
  Body,
  End,
}

const EMPTY = Buffer.alloc(0);

export class FrameReader {
  /** Largest frame accepted, overhead included (the negotiated frame_max); 0 means no limit. */
  frameMax: number;
  private readonly sink: FrameSink;
  private state = State.Header;
  private readonly head = Buffer.alloc(7);
  private headLen = 0;
  private type = 0;
  private channel = 0;
  private size = 0;
  /** a method or header frame gathered across chunks */
  private acc: Buffer | null = null;
  private accLen = 0;
  private bodyLeft = 0;
  private bodyFirst = false;
  /**
   * the current body frame's parts [0, bodyPartCount), kept only to quote them if
   * its end octet is wrong; counted rather than emptied, as setting an array's
   * length costs a runtime call per frame (a stale entry keeps one chunk alive)
   */
  private readonly bodyParts: Buffer[] = [];
  private bodyPartCount = 0;
  private stopped = false;
  private isPaused = false;
  /** input that arrived or was left over while paused, in order */
  private held: Buffer[] = [];

  constructor(sink: FrameSink, frameMax: number) {
    this.sink = sink;
    this.frameMax = frameMax;
  }

  /** Ignore all further input (the connection is closing). */
  stop(): void {
    this.stopped = true;
    this.acc = null;
    this.held = [];
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** Hand over no more frames after the one being handled until resume(). */
  pause(): void {
    this.isPaused = true;
  }

  /** Feed what was held back through (which may pause again). */
  resume(): void {
    this.isPaused = false;
    while (this.held.length > 0 && !this.isPaused && !this.stopped) this.push(this.held.shift()!);
  }

  push(chunk: Buffer): void {
    if (this.isPaused) {
      if (!this.stopped) this.held.push(chunk);
      return;
    }
    const len = chunk.length;
    let pos = 0;
    while (pos < len && !this.stopped) {
      if (this.isPaused) {
        // the rest of this chunk comes before anything still held
        this.held.unshift(chunk.subarray(pos));
        return;
      }
      switch (this.state) {
        case State.Header: {
          if (this.headLen === 0 && len - pos >= 7) {
            this.type = chunk[pos]!;
            this.channel = (chunk[pos + 1]! << 8) | chunk[pos + 2]!;
            this.size = chunk.readUInt32BE(pos + 3);
            pos += 7;
          } else {
            const n = Math.min(7 - this.headLen, len - pos);
            chunk.copy(this.head, this.headLen, pos, pos + n);
            this.headLen += n;
            pos += n;
            if (this.headLen < 7) return;
            this.headLen = 0;
            this.type = this.head[0]!;
            this.channel = this.head.readUInt16BE(1);
            this.size = this.head.readUInt32BE(3);
          }
          const size = this.size;
          if (this.frameMax > 0 && size > this.frameMax) {
            this.fail(`type ${this.type}, all octets = <<>>: {frame_too_large,${size},${this.frameMax - FRAME_OVERHEAD}}`);
            return;
          }
          if (this.type === FRAME_TYPE_BODY) {
            this.bodyLeft = size;
            this.bodyFirst = true;
            if (size === 0) {
              this.sink.onBody(this.channel, EMPTY, 0, true);
              this.state = State.End;
            } else {
              this.state = State.Body;
            }
          } else if (len - pos > size) {
            // whole payload and its end octet are in this chunk
            if (chunk[pos + size] !== FRAME_END) {
              this.badEnd(chunk[pos + size]!, chunk.subarray(pos, pos + size));
              return;
            }
            const start = pos;
            pos += size + 1;
            this.sink.onFrame(this.type, this.channel, chunk, start, start + size);
          } else {
            this.acc = Buffer.allocUnsafe(size);
            this.accLen = 0;
            this.state = size === 0 ? State.End : State.Payload;
          }
          break;
        }
        case State.Payload: {
          const acc = this.acc!;
          const n = Math.min(acc.length - this.accLen, len - pos);
          chunk.copy(acc, this.accLen, pos, pos + n);
          this.accLen += n;
          pos += n;
          if (this.accLen === acc.length) this.state = State.End;
          break;
        }
        case State.Body: {
          const n = Math.min(this.bodyLeft, len - pos);
          const first = this.bodyFirst;
          this.bodyFirst = false;
          this.bodyLeft -= n;
          const part = chunk.subarray(pos, pos + n);
          pos += n;
          if (first) this.bodyPartCount = 0;
          this.bodyParts[this.bodyPartCount++] = part;
          if (this.bodyLeft === 0) this.state = State.End;
          this.sink.onBody(this.channel, part, this.size, first);
          break;
        }
        case State.End: {
          const octet = chunk[pos++]!;
          if (octet !== FRAME_END) {
            const payload = this.type === FRAME_TYPE_BODY ? Buffer.concat(this.bodyParts.slice(0, this.bodyPartCount)) : this.acc ?? Buffer.alloc(0);
            this.badEnd(octet, payload);
            return;
          }
          this.bodyPartCount = 0;
          this.state = State.Header;
          const acc = this.acc;
          if (acc) {
            this.acc = null;
            this.sink.onFrame(this.type, this.channel, acc, 0, acc.length);
          }
          break;
        }
      }
    }
  }

  private badEnd(octet: number, payload: Buffer): void {
    this.fail(`${frameDescription(this.type, payload)}: {invalid_frame_end_marker,${octet}}`);
  }

  private fail(text: string): void {
    this.stop();
    this.sink.onFrameError(text);
  }
}
