/**
 * A connection's outgoing frames: every frame is encoded into one
 * WireWriter, and what accumulated is written with a single socket.write:
 * at the end of processing a read (the connection calls flush), or once per
 * event-loop turn for frames produced elsewhere (timers, other connections'
 * publishes), via setImmediate. Backpressure (the socket's buffer filling
 * up) will be tracked here too, for deliveries.
 */
import type { Socket } from 'node:net';
import { writeHeartbeatFrame, writeMethodFrame } from '../amqp/frame-writer.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import { WireWriter } from '../amqp/wire-writer.js';

export class FrameOutput {
  readonly writer = new WireWriter();
  /** set whenever bytes are written (the heartbeat sender skips a beat then) */
  wrote = false;
  /** once closed, nothing more is written */
  closed = false;
  private readonly socket: Socket;
  private scheduled = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(socket: Socket) {
    this.socket = socket;
  }

  method<A>(channel: number, encode: MethodEncoder<A>, args: A): void {
    if (this.closed) return;
    writeMethodFrame(this.writer, channel, encode, args);
    this.schedule();
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
    this.socket.write(this.writer.take());
    this.wrote = true;
  }
}
