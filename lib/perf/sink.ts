/**
 * A do-nothing AMQP 0-9-1 server, to measure warren-perf's own ceiling
 * (`warren-perf --sink`): it runs in its own worker thread, answers the
 * handshake and every synchronous method the tool sends, counts publishes
 * by their frame headers and drops them (confirming them all after each
 * socket chunk when confirm.select was sent), and to a basic.consume answers
 * with an endless stream of pre-encoded deliveries, written as fast as the
 * socket drains. No routing, no queues, no state: whatever rate the tool
 * reports against it is the tool's limit, not a broker's.
 */
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { writeBodyFrames, writeHeaderFrame, writeMethodFrame } from '../amqp/frame-writer.js';
import { decodeMethod, encodeMethod, Method } from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import { WireReader } from '../amqp/wire-reader.js';
import { WireWriter } from '../amqp/wire-writer.js';

type MethodArgs = Parameters<typeof encodeMethod>[1];
const FRAME_MAX = 131072;
const YIELD_BYTES = 4 * 1024 * 1024;

function frames(channel: number, ...methods: MethodArgs[]): Buffer {
  const w = new WireWriter();
  for (const m of methods) writeMethodFrame(w, channel, encodeMethod, m);
  return w.take();
}

/** About 64 KiB of basic.deliver + header + body frames on channel 1 (bodies of zeros: no timestamps). */
function deliveryBatch(size: number): Buffer {
  const w = new WireWriter(64 * 1024);
  const body = Buffer.alloc(size);
  for (let tag = 1; w.pending < 64 * 1024 || tag === 1; tag++) {
    writeMethodFrame(w, 1, encodeMethod, { id: Method.BasicDeliver, consumerTag: 'sink', deliveryTag: tag, redelivered: false, exchange: '', routingKey: 'sink' });
    writeHeaderFrame(w, 1, 60, size, {});
    writeBodyFrames(w, 1, body, FRAME_MAX);
  }
  return Buffer.from(w.take());
}

class SinkConnection {
  private skip = 0;
  private started = false;
  private readonly partial: Buffer[] = [];
  private partialBytes = 0;
  private published = 0;
  private confirmedUpTo = 0;
  private confirming = false;
  private flooding = false;

  constructor(
    private readonly socket: Socket,
    private readonly batch: Buffer,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (b: Buffer) => this.feed(b));
    socket.on('error', () => socket.destroy());
  }

  private feed(chunk: Buffer): void {
    let b = chunk;
    if (this.partialBytes > 0) {
      // only a method frame (or a frame header) is ever kept: small
      this.partial.push(chunk);
      b = Buffer.concat(this.partial);
      this.partial.length = 0;
      this.partialBytes = 0;
    }
    let p = 0;
    if (!this.started) {
      if (b.length < 8) return this.keep(b, 0);
      this.started = true;
      p = 8;
      this.socket.write(frames(0, { id: Method.ConnectionStart, versionMajor: 0, versionMinor: 9, serverProperties: { product: 'warren-perf sink' }, mechanisms: Buffer.from('PLAIN AMQPLAIN'), locales: Buffer.from('en_US') }));
    }
    while (p < b.length) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, b.length - p);
        p += k;
        this.skip -= k;
        continue;
      }
      if (b.length - p < 7) return this.keep(b, p);
      const size = b.readUInt32BE(p + 3);
      if (b[p] !== 1) {
        this.skip = size + 8;
        continue;
      }
      if (b.length - p < size + 8) return this.keep(b, p);
      if (b.readUInt32BE(p + 7) === Method.BasicPublish) this.published++;
      else this.method(b.readUInt16BE(p + 1), b.subarray(p + 7, p + 7 + size));
      p += size + 8;
    }
    if (this.confirming && this.published > this.confirmedUpTo) {
      this.confirmedUpTo = this.published;
      this.socket.write(frames(1, { id: Method.BasicAck, deliveryTag: this.published, multiple: true }));
    }
  }

  private keep(b: Buffer, from: number): void {
    const rest = Buffer.from(b.subarray(from));
    this.partial.push(rest);
    this.partialBytes += rest.length;
  }

  private method(channel: number, payload: Buffer): void {
    const r = new WireReader();
    r.reset(payload, 4, payload.length);
    const m = decodeMethod(payload.readUInt32BE(0), r) as AnyMethod | null;
    const reply = (a: MethodArgs): void => void this.socket.write(frames(channel, a));
    switch (m?.id) {
      case Method.ConnectionStartOk: return reply({ id: Method.ConnectionTune, channelMax: 2047, frameMax: FRAME_MAX, heartbeat: 0 });
      case Method.ConnectionOpen: return reply({ id: Method.ConnectionOpenOk });
      case Method.ConnectionClose:
        reply({ id: Method.ConnectionCloseOk });
        this.socket.end();
        return;
      case Method.ChannelOpen: return reply({ id: Method.ChannelOpenOk });
      case Method.ChannelClose: return reply({ id: Method.ChannelCloseOk });
      case Method.ConfirmSelect:
        this.confirming = true;
        return reply({ id: Method.ConfirmSelectOk });
      case Method.BasicQos: return reply({ id: Method.BasicQosOk });
      case Method.ExchangeDeclare: return reply({ id: Method.ExchangeDeclareOk });
      case Method.ExchangeDelete: return reply({ id: Method.ExchangeDeleteOk });
      case Method.QueueDeclare: return reply({ id: Method.QueueDeclareOk, queue: m.queue, messageCount: 0, consumerCount: 0 });
      case Method.QueueBind: return reply({ id: Method.QueueBindOk });
      case Method.QueueDelete: return reply({ id: Method.QueueDeleteOk, messageCount: 0 });
      case Method.BasicConsume:
        reply({ id: Method.BasicConsumeOk, consumerTag: 'sink' });
        if (!this.flooding) {
          this.flooding = true;
          this.flood();
        }
        return;
      default: // basic.ack and the like: dropped
    }
  }

  private readonly flood = (): void => {
    let wrote = 0;
    while (!this.socket.destroyed && !this.socket.writableEnded) {
      if (!this.socket.write(this.batch)) {
        this.socket.once('drain', this.flood);
        return;
      }
      wrote += this.batch.length;
      if (wrote >= YIELD_BYTES) {
        setImmediate(this.flood);
        return;
      }
    }
  };
}

/** Start the sink in a worker thread on a free 127.0.0.1 port. */
export function startSink(size: number): Promise<{ port: number; close(): Promise<void> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { warrenPerfSink: { size } } });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { port: number }) =>
      resolve({ port: m.port, close: async () => void (await worker.terminate()) }),
    );
  });
}

const sinkData = isMainThread ? undefined : (workerData as { warrenPerfSink?: { size: number } } | undefined)?.warrenPerfSink;
if (sinkData) {
  const batch = deliveryBatch(sinkData.size);
  const server = createServer((socket) => new SinkConnection(socket, batch));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    parentPort!.postMessage({ port: typeof address === 'object' && address ? address.port : 0 });
  });
}
