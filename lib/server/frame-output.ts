/**
 * A connection's outgoing frames: every frame is encoded into one
 * WireWriter, and what accumulated is written with a single socket.write:
 * at the end of processing a read (the connection calls flush), once per
 * event-loop turn for frames produced elsewhere (timers, other connections'
 * publishes) via setImmediate, or as soon as a batch reaches BATCH_BYTES.
 *
 * Backpressure: when socket.write reports a full buffer, `blocked` is set
 * until the socket drains; consumers stop taking messages while it is set
 * (so a slow client makes its messages wait in their queues, not in our
 * memory) and `onDrain` lets the connection resume them.
 */
import type { Socket } from 'node:net';
import { writeBodyFrames, writeBodyRange, writeHeaderRange, writeHeartbeatFrame, writeMethodFrame } from '../amqp/frame-writer.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import { WireWriter } from '../amqp/wire-writer.js';
import type { Message } from '../broker/message.js';

/** A batch this large is written at once rather than at the end of the turn. */
const BATCH_BYTES = 256 * 1024;

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
    if (message.bodyParts) writeBodyFrames(w, channel, message.bodyParts, this.frameMax);
    else if (bodySize > 0) writeBodyRange(w, channel, data, offset + propertiesSize, offset + propertiesSize + bodySize, this.frameMax);
    if (w.pending >= BATCH_BYTES) this.flush();
    else this.schedule();
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

  /** Write everything encoded so far in one call. */
  flush(): void {
    if (this.writer.pending === 0 || this.socket.destroyed) return;
    if (!this.socket.write(this.writer.take())) this.blocked = true;
    this.wrote = true;
  }
}
