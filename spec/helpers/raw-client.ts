// A raw AMQP 0-9-1 client over real TCP for tests: it can send any bytes or
// frames (valid or not) and records every frame the server sends back, so
// tests can assert exact reply codes, texts and when the socket closed.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { FrameReader } from '../../lib/amqp/frame-reader.js';
import type { FrameSink } from '../../lib/amqp/frame-reader.js';
import { writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import type { FieldTable } from '../../lib/amqp/field-table.js';
import { Method, decodeMethod, encodeMethod } from '../../lib/amqp/generated/methods.js';
import type { AnyMethod, ConnectionClose, ConnectionStart, ConnectionTune } from '../../lib/amqp/generated/methods.js';
import { WireReader } from '../../lib/amqp/wire-reader.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';

export const AMQP_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

export interface ReceivedFrame {
  type: number;
  channel: number;
  payload: Buffer;
  method?: AnyMethod;
  /** body parts only: the size of the whole frame this part belongs to, and whether it is the frame's first part */
  frameSize?: number;
  first?: boolean;
}

export interface HandshakeOptions {
  user?: string;
  password?: string;
  vhost?: string;
  mechanism?: string;
  /** the SASL response; built from user and password for PLAIN when omitted */
  response?: Buffer;
  capabilities?: FieldTable;
  channelMax?: number;
  frameMax?: number;
  heartbeat?: number;
}

type Waiter = (f: ReceivedFrame | null) => void;

export class RawClient implements FrameSink {
  readonly socket: Socket;
  /** every frame received, in order */
  readonly received: ReceivedFrame[] = [];
  /** raw bytes received before framing started (e.g. a protocol header sent back) */
  raw = Buffer.alloc(0);
  closed = false;
  closedAt = 0;
  private readonly reader: FrameReader;
  private cursor = 0;
  private waiters: Waiter[] = [];
  private readonly closeWaiters: (() => void)[] = [];
  private framing = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.reader = new FrameReader(this, 0);
    socket.on('data', (chunk: Buffer) => {
      if (this.framing) this.reader.push(chunk);
      else this.raw = Buffer.concat([this.raw, chunk]);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      for (const w of this.waiters.splice(0)) w(null);
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  // FrameSink
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    const payload = Buffer.from(buf.subarray(start, end));
    const frame: ReceivedFrame = { type, channel, payload };
    if (type === 1) frame.method = decodeMethod(payload.readUInt32BE(0), new WireReader(payload, 4, payload.length));
    this.deliver(frame);
  }
  onBody(channel: number, part: Buffer, frameSize: number, first: boolean): void {
    this.deliver({ type: 3, channel, payload: Buffer.from(part), frameSize, first });
  }
  onFrameError(text: string): void {
    throw new Error(`server sent bad framing: ${text}`);
  }

  private deliver(frame: ReceivedFrame): void {
    this.received.push(frame);
    const w = this.waiters.shift();
    if (w) {
      this.cursor++;
      w(frame);
    }
  }

  /** Send raw bytes. After the first call with the protocol header, replies are parsed as frames. */
  send(bytes: Buffer): void {
    this.framing = true;
    this.socket.write(bytes);
  }

  sendMethod(channel: number, m: AnyMethod): void {
    const w = new WireWriter();
    writeMethodFrame(w, channel, encodeMethod, m);
    this.send(w.take());
  }

  /** A frame with an arbitrary type, channel, payload and end octet. */
  sendFrame(type: number, channel: number, payload: Buffer, end = 0xce): void {
    const head = Buffer.alloc(7);
    head[0] = type;
    head.writeUInt16BE(channel, 1);
    head.writeUInt32BE(payload.length, 3);
    this.send(Buffer.concat([head, payload, Buffer.from([end])]));
  }

  /** The next frame not yet consumed, or null if the socket closed first (or on timeout). */
  next(timeoutMs = 2000): Promise<ReceivedFrame | null> {
    if (this.cursor < this.received.length) return Promise.resolve(this.received[this.cursor++]!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter: Waiter = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next method frame (skipping heartbeats); throws if something else or nothing comes. */
  async expectMethod<I extends AnyMethod['id']>(id: I, timeoutMs = 2000): Promise<Extract<AnyMethod, { id: I }> & { channel: number }> {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (!f) throw new Error(`expected method ${id.toString(16)}, got ${this.closed ? 'socket closed' : 'nothing'}`);
      if (f.type === 8) continue;
      if (!f.method || f.method.id !== id) throw new Error(`expected method ${id.toString(16)}, got ${JSON.stringify(f.method ?? { type: f.type })}`);
      return { ...(f.method as Extract<AnyMethod, { id: I }>), channel: f.channel };
    }
  }

  /** Wait for the server to close the connection with connection.close; answers close-ok. */
  async expectConnectionClose(timeoutMs = 2000): Promise<ConnectionClose> {
    const m = await this.expectMethod(Method.ConnectionClose, timeoutMs);
    this.sendMethod(0, { id: Method.ConnectionCloseOk });
    return m;
  }

  /** Resolves when the server closed the socket, with the time it happened; rejects on timeout. */
  waitClosed(timeoutMs = 3000): Promise<number> {
    if (this.closed) return Promise.resolve(this.closedAt);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.closedAt);
      });
    });
  }

  /** Protocol header through connection.open-ok. */
  async handshake(o: HandshakeOptions = {}): Promise<{ start: ConnectionStart; tune: ConnectionTune }> {
    this.send(AMQP_HEADER);
    const start = await this.expectMethod(Method.ConnectionStart);
    await this.login(o);
    const tune = await this.expectMethod(Method.ConnectionTune);
    this.sendMethod(0, {
      id: Method.ConnectionTuneOk,
      channelMax: o.channelMax ?? tune.channelMax,
      frameMax: o.frameMax ?? tune.frameMax,
      heartbeat: o.heartbeat ?? 0,
    });
    this.sendMethod(0, { id: Method.ConnectionOpen, virtualHost: o.vhost ?? '/' });
    await this.expectMethod(Method.ConnectionOpenOk);
    return { start, tune };
  }

  /** Send start-ok (after connection.start was received). */
  async login(o: HandshakeOptions = {}): Promise<void> {
    const user = o.user ?? 'guest';
    const password = o.password ?? 'guest';
    this.sendMethod(0, {
      id: Method.ConnectionStartOk,
      clientProperties: { product: 'warren raw test client', capabilities: o.capabilities ?? { authentication_failure_close: true } },
      mechanism: o.mechanism ?? 'PLAIN',
      response: o.response ?? Buffer.from(`\0${user}\0${password}`),
      locale: 'en_US',
    });
  }

  /** Connected, logged in, with channel 1 open: the usual start of a test. */
  static async withChannel(port: number): Promise<RawClient> {
    const c = await RawClient.connect(port);
    await c.handshake();
    await c.openChannel(1);
    return c;
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, { id: Method.ChannelOpen });
    await this.expectMethod(Method.ChannelOpenOk);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
