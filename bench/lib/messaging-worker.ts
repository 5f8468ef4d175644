/**
 * Worker thread of bench/messaging.ts: either one producer, or a set of
 * consumers (one socket each), talking raw AMQP (lib/perf/raw-connection.ts).
 *
 * Coordination with the main thread goes through a shared Int32Array
 * (layout: SLOT in bench/lib/messaging-shared.ts) so that the hot loops
 * never wait for a message: the producer adds to SLOT.published as it
 * writes, each consumer stores its basic.deliver count into its own slot
 * after every socket chunk, and the main thread sets SLOT.control to STOP.
 * Messages (postMessage) are only used for ready / go / measure / stop / done / close / error.
 *
 * Durability workloads (bench/lib/durability-workloads.ts) add two modes. A
 * producer with confirmWindow does confirm.select, numbers its publishes
 * 1, 2, ... (the delivery-tags the broker confirms), never has more than
 * confirmWindow of them unconfirmed, settles them from basic.ack / basic.nack
 * (multiple or not, in any order; SLOT.confirmed and SLOT.nacked), and after
 * 'measure' records for each acked publish the time from the write that
 * carried it to the basic.ack. A consumer with prefetch sets basic.qos and
 * sends one basic.ack per delivery (multiple=false, the delivery-tag read from
 * the basic.deliver frame), all acks for one socket chunk in one write.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Method } from '../../lib/amqp/generated/methods.js';
import { ackFrames, publishBatch, RawConnection } from '../../lib/perf/raw-connection.js';
import { SLOT, STOP } from './messaging-shared.js';
import type { ConsumerData, FromWorker, LatencySummary, ProducerData, ToWorker, WorkerData } from './messaging-shared.js';

/** Bytes per write: big enough to amortise the syscall, small enough to keep the event loop turning. */
const BATCH_BYTES = 64 * 1024;
/** Yield to the event loop (incoming frames, messages) after this many bytes written in one go. */
const YIELD_BYTES = 4 * 1024 * 1024;
/** Per-tag state of a confirming producer, indexed by tag & RING_MASK; unconfirmed tags never span more. */
const RING = 1 << 17;
const RING_MASK = RING - 1;
/** At most this many confirm latencies are kept (8 bytes each). */
const MAX_LATENCY_SAMPLES = 8_000_000;

/** Collects confirm latencies (ms) while measuring; summary sorts them. */
class Latencies {
  private xs = new Float64Array(1 << 16);
  private n = 0;
  on = false;
  add(ms: number): void {
    if (this.n === this.xs.length) {
      if (this.n >= MAX_LATENCY_SAMPLES) return;
      const bigger = new Float64Array(this.n * 2);
      bigger.set(this.xs);
      this.xs = bigger;
    }
    this.xs[this.n++] = ms;
  }
  summary(): LatencySummary | undefined {
    if (this.n === 0) return undefined;
    const s = this.xs.subarray(0, this.n).sort();
    const at = (q: number): number => s[Math.floor(q * (this.n - 1))]!;
    return { samples: this.n, p50: at(0.5), p99: at(0.99), max: s[this.n - 1]! };
  }
}

const port = parentPort!;
const send = (m: FromWorker): void => port.postMessage(m);
const fatal = (err: unknown): void => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
};

async function producer(d: ProducerData): Promise<void> {
  const shared = new Int32Array(d.shared);
  const conn = await RawConnection.open(d.port, 'producer');
  conn.onError = fatal;
  const confirmWindow = d.confirmWindow ?? 0;
  const confirming = confirmWindow > 0;
  if (confirming) await conn.rpc({ id: Method.ConfirmSelect, nowait: false }, Method.ConfirmSelectOk);
  const properties = { deliveryMode: d.persistent ? 2 : 1 };
  const body = Buffer.alloc(d.bodySize, 0x61);
  const oneMessage = publishBatch({ exchange: d.exchange, routingKey: d.routingKey, body, properties, count: 1, frameMax: conn.frameMax });
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / oneMessage.length));
  const batch = publishBatch({ exchange: d.exchange, routingKey: d.routingKey, body, properties, count: perBatch, frameMax: conn.frameMax });
  let published = 0;
  let finished = false;
  let allWritten = false;

  // publisher confirms: publish n has delivery-tag n; tags below `lowest` are settled,
  // settledAbove marks tags >= lowest settled out of order, sentAt is when each was written
  let confirmed = 0;
  let nacked = 0;
  let lowest = 1;
  let waitingForConfirms = false;
  const sentAt = new Float64Array(confirming ? RING : 0);
  const settledAbove = new Uint8Array(confirming ? RING : 0);
  const latencies = new Latencies();

  const slowest = (): number => {
    let min = Infinity;
    for (let i = 0; i < d.queues; i++) min = Math.min(min, Atomics.load(shared, SLOT.delivered + i));
    return min;
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    send({ type: 'done', published, ...(confirming ? { confirmed, nacked, latency: latencies.summary() } : {}) });
  };
  const pump = (): void => {
    if (conn.error || finished) return;
    conn.socket.off('drain', pump);
    waitingForConfirms = false;
    let wrote = 0;
    for (;;) {
      if (Atomics.load(shared, SLOT.control) === STOP) return finish();
      let n = perBatch;
      if (d.total > 0) {
        const left = d.total - published;
        if (left <= 0) {
          allWritten = true;
          if (!confirming || confirmed + nacked >= d.total) finish();
          return;
        }
        n = Math.min(n, left);
      }
      if (d.window > 0 && published - slowest() >= d.window) {
        setTimeout(pump, 1);
        return;
      }
      if (confirming) {
        // room under the window, and in the ring (unconfirmed tags span lowest..published)
        const room = Math.min(confirmWindow - (published - confirmed - nacked), RING - 1 - (published - lowest + 1));
        if (room <= 0) {
          waitingForConfirms = true; // the next basic.ack resumes
          return;
        }
        n = Math.min(n, room);
        const now = performance.now();
        for (let tag = published + 1; tag <= published + n; tag++) sentAt[tag & RING_MASK] = now;
      }
      const buf = n === perBatch ? batch : batch.subarray(0, n * oneMessage.length);
      published += n;
      Atomics.store(shared, SLOT.published, published);
      if (!conn.write(buf)) {
        conn.socket.once('drain', pump);
        return;
      }
      wrote += buf.length;
      if (wrote >= YIELD_BYTES) {
        setImmediate(pump);
        return;
      }
    }
  };

  if (confirming) {
    const settle = (tag: number, nack: boolean, now: number): void => {
      if (nack) nacked++;
      else {
        confirmed++;
        if (latencies.on) latencies.add(now - sentAt[tag & RING_MASK]!);
      }
    };
    conn.onConfirm = (tag, multiple, nack) => {
      const now = performance.now();
      if (tag > published) tag = published; // a broker bug; do not count publishes never made
      if (multiple) {
        for (; lowest <= tag; lowest++) {
          const i = lowest & RING_MASK;
          if (settledAbove[i]) settledAbove[i] = 0;
          else settle(lowest, nack, now);
        }
      } else if (tag >= lowest && !settledAbove[tag & RING_MASK]) {
        settle(tag, nack, now);
        settledAbove[tag & RING_MASK] = 1;
      }
      while (lowest <= published && settledAbove[lowest & RING_MASK]) settledAbove[lowest++ & RING_MASK] = 0;
    };
    conn.afterData = () => {
      Atomics.store(shared, SLOT.confirmed, confirmed);
      Atomics.store(shared, SLOT.nacked, nacked);
      if (allWritten && confirmed + nacked >= d.total) finish();
      else if (waitingForConfirms) pump();
    };
  }

  port.on('message', (m: ToWorker) => {
    if (m.type === 'go') pump();
    else if (m.type === 'measure') latencies.on = true;
    else if (m.type === 'stop') finish(); // also when waiting for 'drain', confirms or below the window
    else if (m.type === 'close') {
      finished = true;
      void conn.close().finally(() => {
        send({ type: 'closed' });
        port.close();
      });
    }
  });
  send({ type: 'ready' });
}

async function consumers(d: ConsumerData): Promise<void> {
  const shared = new Int32Array(d.shared);
  const conns: RawConnection[] = [];
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      void Promise.all(conns.map((c) => c.close())).finally(() => {
        send({ type: 'closed' });
        port.close();
      });
    }
  });
  const prefetch = d.prefetch ?? 0;
  const consumes: (() => Promise<unknown>)[] = [];
  for (const [i, queue] of d.queues.entries()) {
    const conn = await RawConnection.open(d.port, `consumer ${i + 1}`);
    conns.push(conn);
    const slot = SLOT.delivered + d.firstSlot + i;
    conn.onError = fatal;
    if (prefetch > 0) {
      await conn.rpc({ id: Method.BasicQos, prefetchSize: 0, prefetchCount: prefetch, global: false }, Method.BasicQosOk);
      const tags: number[] = [];
      conn.onDeliver = (tag) => void tags.push(tag);
      conn.afterData = () => {
        if (tags.length > 0 && !conn.error) conn.write(ackFrames(tags, tags.length));
        tags.length = 0;
        Atomics.store(shared, slot, conn.delivered);
      };
    } else {
      conn.afterData = () => Atomics.store(shared, slot, conn.delivered);
    }
    const consume = (): Promise<unknown> =>
      conn.rpc({ id: Method.BasicConsume, queue, consumerTag: '', noLocal: false, noAck: prefetch === 0, exclusive: false, noWait: false, arguments: {} }, Method.BasicConsumeOk);
    if (d.consumeOnGo) consumes.push(consume);
    else await consume();
  }
  port.on('message', (m: ToWorker) => {
    if (m.type === 'go') for (const consume of consumes.splice(0)) consume().catch(fatal);
  });
  send({ type: 'ready' });
}

const data = workerData as WorkerData;
(data.role === 'producer' ? producer(data) : consumers(data)).catch(fatal);
