/**
 * Worker thread of bench/messaging.ts: either one producer, or a set of
 * consumers (one socket each), talking raw AMQP (bench/lib/amqp-raw.ts).
 *
 * Coordination with the main thread goes through a shared Int32Array
 * (layout: SLOT in bench/lib/messaging-shared.ts) so that the hot loops
 * never wait for a message: the producer adds to SLOT.published as it
 * writes, each consumer stores its basic.deliver count into its own slot
 * after every socket chunk, and the main thread sets SLOT.control to STOP.
 * Messages (postMessage) are only used for ready / go / stop / done / close / error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Method } from '../../lib/amqp/generated/methods.js';
import { publishBatch, RawConnection } from './amqp-raw.js';
import { SLOT, STOP } from './messaging-shared.js';
import type { ConsumerData, FromWorker, ProducerData, ToWorker, WorkerData } from './messaging-shared.js';

/** Bytes per write: big enough to amortise the syscall, small enough to keep the event loop turning. */
const BATCH_BYTES = 64 * 1024;
/** Yield to the event loop (incoming frames, messages) after this many bytes written in one go. */
const YIELD_BYTES = 4 * 1024 * 1024;

const port = parentPort!;
const send = (m: FromWorker): void => port.postMessage(m);
const fatal = (err: unknown): void => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
};

async function producer(d: ProducerData): Promise<void> {
  const shared = new Int32Array(d.shared);
  const conn = await RawConnection.open(d.port, 'producer');
  conn.onError = fatal;
  const body = Buffer.alloc(d.bodySize, 0x61);
  const oneMessage = publishBatch({ exchange: d.exchange, routingKey: d.routingKey, body, properties: { deliveryMode: 1 }, count: 1, frameMax: conn.frameMax });
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / oneMessage.length));
  const batch = publishBatch({ exchange: d.exchange, routingKey: d.routingKey, body, properties: { deliveryMode: 1 }, count: perBatch, frameMax: conn.frameMax });
  let published = 0;
  let finished = false;

  const slowest = (): number => {
    let min = Infinity;
    for (let i = 0; i < d.queues; i++) min = Math.min(min, Atomics.load(shared, SLOT.delivered + i));
    return min;
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    send({ type: 'done', published });
  };
  const pump = (): void => {
    if (conn.error || finished) return;
    conn.socket.off('drain', pump);
    let wrote = 0;
    for (;;) {
      if (Atomics.load(shared, SLOT.control) === STOP) return finish();
      let n = perBatch;
      let buf = batch;
      if (d.total > 0) {
        const left = d.total - published;
        if (left <= 0) return finish();
        if (left < perBatch) {
          n = left;
          buf = batch.subarray(0, left * oneMessage.length);
        }
      }
      if (d.window > 0 && published - slowest() >= d.window) {
        setTimeout(pump, 1);
        return;
      }
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

  port.on('message', (m: ToWorker) => {
    if (m.type === 'go') pump();
    else if (m.type === 'stop') finish(); // also when waiting for 'drain' or below the window
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
  for (const [i, queue] of d.queues.entries()) {
    const conn = await RawConnection.open(d.port, `consumer ${i + 1}`);
    conns.push(conn);
    const slot = SLOT.delivered + d.firstSlot + i;
    conn.afterData = () => Atomics.store(shared, slot, conn.delivered);
    conn.onError = fatal;
    await conn.rpc({ id: Method.BasicConsume, queue, consumerTag: '', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} }, Method.BasicConsumeOk);
  }
  send({ type: 'ready' });
}

const data = workerData as WorkerData;
(data.role === 'producer' ? producer(data) : consumers(data)).catch(fatal);
