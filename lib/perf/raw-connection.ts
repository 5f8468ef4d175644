/**
 * A minimal raw AMQP 0-9-1 client for benchmarks: one socket, channel 1,
 * pre-encoded frames, no client library.
 *
 * Incoming bytes go through one small state machine that reads frame headers
 * only: basic.deliver method frames are counted, content header and body
 * frames are skipped without being looked at, and only the rare other method
 * frames (handshake, synchronous replies, connection.close, channel.close,
 * basic.cancel) are assembled and decoded with the repo's codec. A frame that
 * straddles two socket chunks is never re-buffered as a whole: the parser
 * keeps the bytes it still has to skip as a count. Two opt-in hooks read a
 * few fixed bytes of a method frame without the codec: onDeliver gets the
 * delivery-tag of each basic.deliver (for a consumer that acks), onConfirm the
 * delivery-tag and multiple bit of each basic.ack / basic.nack (publisher
 * confirms); ackFrames() pre-encodes the basic.ack frames a consumer sends.
 *
 * Used by bin/warren-perf (lib/perf/), and by bench/messaging.ts for its control
 * connections (its producers and consumers are lib/perf's, run by bench/lib/messaging-harness.ts).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { writeBodyFrames, writeHeaderFrame, writeMethodFrame } from '../amqp/frame-writer.js';
import { REPLY_CODE_NAME } from '../amqp/generated/constants.js';
import { decodeMethod, encodeMethod, Method, METHOD_INFO } from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import type { BasicProperties } from '../amqp/generated/properties.js';
import { WireReader } from '../amqp/wire-reader.js';
import { WireWriter } from '../amqp/wire-writer.js';

type MethodArgs = Parameters<typeof encodeMethod>[1];

const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
const DELIVER = Method.BasicDeliver;
const ACK = Method.BasicAck;
const NACK = Method.BasicNack;
const FRAME_MAX = 131072;
const CHANNEL = 1;

/** Where to connect and as whom (an amqp:// URI, parsed by lib/perf/amqp-uri.ts). */
export interface AmqpTarget {
  host: string;
  port: number;
  vhost: string;
  username: string;
  password: string;
}

/** Method frames on one channel, encoded back to back. */
export function methodFrames(channel: number, ...methods: MethodArgs[]): Buffer {
  const w = new WireWriter();
  for (const m of methods) writeMethodFrame(w, channel, encodeMethod, m);
  return w.take();
}

/** `count` copies of basic.publish + content header + body, as one buffer, ready to write. */
export function publishBatch(opts: {
  exchange: string;
  routingKey: string;
  body: Buffer;
  properties: BasicProperties;
  count: number;
  frameMax: number;
}): Buffer {
  const w = new WireWriter(64 * 1024);
  for (let i = 0; i < opts.count; i++) {
    writeMethodFrame(w, CHANNEL, encodeMethod, { id: Method.BasicPublish, exchange: opts.exchange, routingKey: opts.routingKey, mandatory: false, immediate: false });
    writeHeaderFrame(w, CHANNEL, 60, opts.body.length, opts.properties);
    writeBodyFrames(w, CHANNEL, opts.body, opts.frameMax);
  }
  return Buffer.from(w.take()); // own copy, exactly sized
}

/** A 64-bit delivery-tag (exact as a number up to 2^53). */
const readTag = (b: Buffer, at: number): number => b.readUInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4);

/** basic.ack frame on channel 1: header 7 + class/method 4 + delivery-tag 8 + bits 1 + frame-end 1 */
const ACK_FRAME_SIZE = 21;
const ACK_FRAME = ((): Buffer => {
  const b = Buffer.alloc(ACK_FRAME_SIZE);
  b[0] = 1;
  b.writeUInt16BE(CHANNEL, 1);
  b.writeUInt32BE(13, 3);
  b.writeUInt32BE(ACK, 7);
  b[20] = 0xce;
  return b;
})();

/** basic.ack (multiple=false) frames on channel 1 for tags[0..count), back to back. */
export function ackFrames(tags: ArrayLike<number>, count: number): Buffer {
  const out = Buffer.allocUnsafe(count * ACK_FRAME_SIZE);
  for (let i = 0, at = 0; i < count; i++, at += ACK_FRAME_SIZE) {
    ACK_FRAME.copy(out, at);
    const tag = tags[i]!;
    out.writeUInt32BE(Math.floor(tag / 0x1_0000_0000), at + 11);
    out.writeUInt32BE(tag >>> 0, at + 15);
  }
  return out;
}

/** One basic.ack frame on channel 1 for `tag`, with the multiple bit as given. */
export function ackFrame(tag: number, multiple: boolean): Buffer {
  const out = Buffer.from(ACK_FRAME);
  out.writeUInt32BE(Math.floor(tag / 0x1_0000_0000), 11);
  out.writeUInt32BE(tag >>> 0, 15);
  out[19] = multiple ? 1 : 0;
  return out;
}

/** An error the broker reported: connection.close, channel.close or a server-sent basic.cancel. */
export class BrokerError extends Error {
  constructor(
    message: string,
    readonly replyCode: number = 0,
  ) {
    super(message);
  }
}

function describeClose(kind: string, m: { replyCode: number; replyText: string; classId: number; methodId: number }): string {
  const name = REPLY_CODE_NAME[m.replyCode] ?? String(m.replyCode);
  const method = m.classId ? METHOD_INFO.get((m.classId << 16) | m.methodId)?.name ?? `${m.classId}.${m.methodId}` : '';
  const text = m.replyText.startsWith(`${name} - `) ? m.replyText : `${name} - ${m.replyText}`;
  return `${kind} ${m.replyCode} ${text}${method ? ` (on ${method})` : ''}`;
}

interface Pending {
  expect: number;
  resolve(m: AnyMethod): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class RawConnection {
  readonly socket: Socket;
  /** negotiated frame_max */
  frameMax = FRAME_MAX;
  /** basic.deliver frames received so far */
  delivered = 0;
  /** true between connection.blocked and connection.unblocked (RabbitMQ's resource alarms) */
  blocked = false;
  /** the first error that ended the connection, if any */
  error: Error | null = null;
  /** called after each incoming chunk has been parsed (consumers publish their count from here) */
  afterData: (() => void) | null = null;
  /** called once when the connection fails (broker close, socket error or unexpected end) */
  onError: ((err: Error) => void) | null = null;
  /** if set, called with the delivery-tag of every basic.deliver (which then costs a small parse) */
  onDeliver: ((tag: number) => void) | null = null;
  /** if set, called for every basic.ack (nack false) and basic.nack (nack true) the broker sends */
  onConfirm: ((tag: number, multiple: boolean, nack: boolean) => void) | null = null;
  /**
   * if set, called with the first 8 bytes of each delivered body read as a little-endian
   * double (warren-perf's send time), when they arrive in one socket chunk with their
   * frame header (a body split across chunks there is skipped: a lost sample, not an error)
   */
  onTimestamp: ((sentAt: number) => void) | null = null;

  private readonly name: string;
  private readonly reader = new WireReader();
  private pending: Pending | null = null;
  private closing = false;
  // parser state
  private skip = 0;
  private readonly head = Buffer.alloc(11);
  private headLen = 0;
  private collect: Buffer | null = null;
  private collectPos = 0;
  private collectSize = 0;
  /** the next body frame is the first of its message (a content header came last) */
  private bodyStarts = false;

  private constructor(
    socket: Socket,
    name: string,
    private readonly target: AmqpTarget,
  ) {
    this.socket = socket;
    this.name = name;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.feed(chunk);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
      this.afterData?.();
    });
    socket.on('error', (err) => this.fail(new Error(`${this.name}: ${err.message}`)));
    socket.on('close', () => {
      if (!this.closing) this.fail(new Error(`${this.name}: the broker closed the socket`));
    });
  }

  /** Connect (a bare port: 127.0.0.1 as guest/guest on vhost /), log in, open channel 1. */
  static open(to: number | AmqpTarget, name: string, timeoutMs = 10_000): Promise<RawConnection> {
    const target = typeof to === 'number' ? { host: '127.0.0.1', port: to, vhost: '/', username: 'guest', password: 'guest' } : to;
    const socket = connect({ port: target.port, host: target.host });
    socket.setNoDelay(true);
    const conn = new RawConnection(socket, name, target);
    socket.once('connect', () => socket.write(PROTOCOL_HEADER));
    return conn.expect(Method.ChannelOpenOk, timeoutMs, 'handshake').then(() => conn);
  }

  private expect(id: number, timeoutMs: number, what: string): Promise<AnyMethod> {
    if (this.error) return Promise.reject(this.error);
    if (this.pending) return Promise.reject(new Error(`${this.name}: one request at a time`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        const err = new Error(`${this.name}: no reply to ${what} within ${timeoutMs / 1000} s`);
        reject(err);
        this.fail(err);
      }, timeoutMs);
      this.pending = { expect: id, resolve, reject, timer };
    });
  }

  /** Send a synchronous method on channel 1 and wait for its reply. */
  rpc(method: MethodArgs, reply: number, timeoutMs = 10_000): Promise<AnyMethod> {
    const p = this.expect(reply, timeoutMs, METHOD_INFO.get(method.id)?.name ?? 'request');
    if (!this.error) this.socket.write(methodFrames(CHANNEL, method));
    return p;
  }

  /** Write frames (or any bytes); false means wait for 'drain'. */
  write(buf: Buffer): boolean {
    return this.socket.write(buf);
  }

  /** connection.close, wait for close-ok (or a short timeout), then end the socket. */
  async close(timeoutMs = 3000): Promise<void> {
    if (this.error || this.closing) {
      this.socket.destroy();
      return;
    }
    const closed = new Promise<void>((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.once('close', () => resolve());
    });
    const okay = this.expect(Method.ConnectionCloseOk, timeoutMs, 'connection.close').catch(() => undefined);
    this.closing = true;
    this.socket.write(methodFrames(0, { id: Method.ConnectionClose, replyCode: 200, replyText: 'bench done', classId: 0, methodId: 0 }));
    await okay;
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), timeoutMs);
    await closed;
    clearTimeout(t);
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    const wasClosing = this.closing;
    this.closing = true;
    this.socket.destroy();
    if (!wasClosing) this.onError?.(err);
  }

  // ---- incoming frames ------------------------------------------------------

  private feed(b: Buffer): void {
    const n = b.length;
    let p = 0;
    while (p < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - p);
        p += k;
        this.skip -= k;
        continue;
      }
      if (this.collect) {
        const k = Math.min(this.collectSize - this.collectPos, n - p);
        b.copy(this.collect, this.collectPos, p, p + k);
        this.collectPos += k;
        p += k;
        if (this.collectPos === this.collectSize) {
          const payload = this.collect.subarray(0, this.collectSize - 1); // without frame-end
          this.collect = null;
          this.method(payload);
        }
        continue;
      }
      if (this.headLen === 0 && n - p >= 11) {
        // fast path: the whole frame header and the method id are in this chunk
        const size = b.readUInt32BE(p + 3);
        if (b[p] === 1) {
          if (b.readUInt32BE(p + 7) === DELIVER && this.onDeliver === null) {
            this.delivered++;
          } else if (p + 8 + size <= n) {
            this.method(b.subarray(p + 7, p + 7 + size));
          } else {
            this.startCollect(size);
            b.copy(this.collect!, 0, p + 7, n);
            this.collectPos = n - p - 7;
            return;
          }
        } else if (b[p] === 2) {
          this.bodyStarts = true;
        } else if (b[p] === 3 && this.bodyStarts) {
          this.bodyStarts = false;
          if (this.onTimestamp !== null && size >= 8 && p + 15 <= n) this.onTimestamp(b.readDoubleLE(p + 7));
        }
        this.skip = size + 8;
        continue;
      }
      // slow path: a frame header split across chunks
      this.head[this.headLen++] = b[p++]!;
      if (this.headLen === 7 && this.head[0] !== 1) {
        this.skip = this.head.readUInt32BE(3) + 1;
        this.bodyStarts = this.head[0] === 2; // a first body frame split here loses its timestamp
        this.headLen = 0;
      } else if (this.headLen === 11) {
        const size = this.head.readUInt32BE(3);
        this.headLen = 0;
        if (this.head.readUInt32BE(7) === DELIVER && this.onDeliver === null) {
          this.delivered++;
          this.skip = size - 4 + 1;
        } else {
          this.startCollect(size);
          this.head.copy(this.collect!, 0, 7, 11);
          this.collectPos = 4;
        }
      }
    }
  }

  private startCollect(size: number): void {
    this.collectSize = size + 1; // payload + frame-end
    this.collect = Buffer.allocUnsafe(this.collectSize);
    this.collectPos = 0;
  }

  /** A method frame: basic.deliver only with onDeliver set (payload without the frame-end octet). */
  private method(payload: Buffer): void {
    const id = payload.readUInt32BE(0);
    // the hot ones, read in place: deliver = consumer-tag (shortstr), delivery-tag, ...; ack/nack = delivery-tag, bits
    if (id === DELIVER) {
      this.delivered++;
      this.onDeliver?.(readTag(payload, 5 + payload[4]!));
      return;
    }
    if ((id === ACK || id === NACK) && this.onConfirm) {
      this.onConfirm(readTag(payload, 4), (payload[12]! & 1) === 1, id === NACK);
      return;
    }
    this.reader.reset(payload, 4, payload.length);
    const m = decodeMethod(id, this.reader);
    if (!m) throw new Error(`${this.name}: unknown method ${id >>> 16}.${id & 0xffff} from the broker`);
    switch (m.id) {
      case Method.ConnectionStart:
        this.socket.write(methodFrames(0, {
          id: Method.ConnectionStartOk,
          clientProperties: { product: 'warren-perf', capabilities: { authentication_failure_close: true, 'connection.blocked': true, consumer_cancel_notify: true } },
          mechanism: 'PLAIN',
          response: Buffer.from(`\0${this.target.username}\0${this.target.password}`),
          locale: 'en_US',
        }));
        return;
      case Method.ConnectionTune:
        this.frameMax = m.frameMax === 0 ? FRAME_MAX : Math.min(m.frameMax, FRAME_MAX);
        this.socket.write(methodFrames(0,
          { id: Method.ConnectionTuneOk, channelMax: 16, frameMax: this.frameMax, heartbeat: 0 },
          { id: Method.ConnectionOpen, virtualHost: this.target.vhost },
        ));
        return;
      case Method.ConnectionOpenOk:
        this.socket.write(methodFrames(CHANNEL, { id: Method.ChannelOpen }));
        return;
      case Method.ConnectionClose:
        this.socket.write(methodFrames(0, { id: Method.ConnectionCloseOk }));
        this.fail(new BrokerError(`${this.name}: ${describeClose('connection.close', m)}`, m.replyCode));
        return;
      case Method.ChannelClose:
        this.socket.write(methodFrames(CHANNEL, { id: Method.ChannelCloseOk }));
        this.fail(new BrokerError(`${this.name}: ${describeClose('channel.close', m)}`, m.replyCode));
        return;
      case Method.BasicCancel:
        this.fail(new BrokerError(`${this.name}: the broker cancelled consumer ${m.consumerTag}`));
        return;
      case Method.ConnectionBlocked:
        this.blocked = true;
        return;
      case Method.ConnectionUnblocked:
        this.blocked = false;
        return;
      default: {
        const p = this.pending;
        if (p && p.expect === m.id) {
          this.pending = null;
          clearTimeout(p.timer);
          p.resolve(m);
          return;
        }
        if (m.id === Method.BasicReturn || m.id === Method.BasicGetOk || m.id === Method.BasicAck || m.id === Method.BasicNack) return;
        const name = METHOD_INFO.get(m.id)?.name ?? String(m.id);
        throw new Error(`${this.name}: unexpected ${name} from the broker${p ? ` (waiting for ${METHOD_INFO.get(p.expect)?.name})` : ''}`);
      }
    }
  }
}

/** queue.declare for a benchmark queue: not exclusive, not auto-delete; `passive` only checks it. */
export const declareQueue = (queue: string, passive = false, durable = false) => ({
  id: Method.QueueDeclare,
  queue,
  passive,
  durable,
  exclusive: false,
  autoDelete: false,
  noWait: false,
  arguments: {},
} as const);

/** The ready-message count a passive queue.declare reports (0 if it does not answer declare-ok). */
export async function queueDepth(ctl: RawConnection, queue: string, timeoutMs = 30_000): Promise<number> {
  const ok = await ctl.rpc(declareQueue(queue, true), Method.QueueDeclareOk, timeoutMs);
  return ok.id === Method.QueueDeclareOk ? ok.messageCount : 0;
}
