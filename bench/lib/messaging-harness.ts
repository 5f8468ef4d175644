/**
 * What the workloads of bench/messaging.ts (bench/lib/memory-workload.ts,
 * recovery-workload.ts, retry-workload.ts) share besides bench/lib/bench-process.ts:
 *
 *   - PerfThread: one producer or one consumer of warren-perf (lib/perf/perf-producer.ts,
 *     perf-consumer.ts) in a worker thread of its own (lib/perf/perf-worker.ts), driven
 *     step by step from here instead of by runPerf (lib/perf/perf-run.ts), because the
 *     workloads read the broker between the steps: its RSS before the first publish, the
 *     queue depth while it fills (to notice a fill that stalls), a kill -9 between the
 *     fill and the drain. The thread counts into its own SharedArrayBuffer (layout:
 *     lib/perf/perf-shared.ts), read here with Atomics; messages only for ready / start /
 *     producers-done / close / error;
 *   - watch(): wait, but fail as soon as a thread fails or the broker dies;
 *   - freshQueue(), deleteAll(): declare an empty queue for a workload, and remove it after;
 *   - WorkloadRow: one broker's line in a workload's table.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Method } from '../../lib/amqp/generated/methods.js';
import { CONFIRMED, consumerSlot, NACKED, PUBLISHED, sharedSlots, SLOT } from '../../lib/perf/perf-shared.js';
import type { FromPerfWorker, PerfWorkerData, Role, ToPerfWorker } from '../../lib/perf/perf-shared.js';
import { declareQueue, RawConnection } from '../../lib/perf/raw-connection.js';
import { registerCleanup, sleep, withTimeout } from './bench-process.js';

const WORKER_URL = new URL(`../../lib/perf/perf-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** A producer to the default exchange (routing key = queue) or a consumer of one queue. */
export type ThreadRole =
  | {
      kind: 'producer';
      queue: string;
      size: number;
      /** delivery-mode 2 instead of 1 */
      persistent: boolean;
      /** stop after this many; 'producers-done' once they are written (with confirms: settled) */
      total: number;
      /** publisher confirms with at most this many unconfirmed (0: none) */
      confirm: number;
    }
  | {
      kind: 'consumer';
      queue: string;
      /** manual acks, one basic.ack per delivery, with this basic.qos prefetch-count */
      prefetch: number;
    };

function perfRole(r: ThreadRole): Role {
  if (r.kind === 'consumer') return { kind: 'consumer', index: 0, producers: 0, queue: r.queue, autoack: false, prefetch: r.prefetch, multiAckEvery: 1 };
  return {
    kind: 'producer', index: 0, exchange: '', routingKey: r.queue, size: r.size, persistent: r.persistent, total: r.total,
    rate: 0, confirm: r.confirm, window: 0, copies: 1, producers: 1, consumers: 0,
  };
}

/** One lib/perf worker thread with one role, and the messages it sent. */
export class PerfThread {
  private readonly worker: Worker;
  private readonly counters: Int32Array;
  private readonly seen = new Map<string, FromPerfWorker>();
  private readonly waiters: { type: string; resolve(m: FromPerfWorker): void; reject(err: Error): void }[] = [];
  private failure: Error | null = null;
  private exited = false;
  private closing = false;
  /** rejects when the thread reports an error or exits before it was asked to */
  readonly failed: Promise<never>;
  private readonly unregister: () => void;

  private constructor(
    readonly name: string,
    port: number,
    role: ThreadRole,
  ) {
    const producer = role.kind === 'producer';
    const shared = new SharedArrayBuffer(4 * sharedSlots(producer ? 1 : 0, producer ? 0 : 1));
    this.counters = new Int32Array(shared);
    const data: PerfWorkerData = { target: { host: '127.0.0.1', port, vhost: '/', username: 'guest', password: 'guest' }, shared, roles: [perfRole(role)] };
    this.worker = new Worker(WORKER_URL, { workerData: data });
    let fail!: (err: Error) => void;
    this.failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.failed.catch(() => undefined);
    const onFailure = (err: Error): void => {
      if (this.failure) return;
      this.failure = err;
      fail(err);
      for (const w of this.waiters.splice(0)) w.reject(err);
    };
    this.worker.on('message', (m: FromPerfWorker) => {
      if (m.type === 'error') {
        onFailure(new Error(m.message));
        return;
      }
      this.seen.set(m.type, m);
      for (const w of this.waiters.filter((x) => x.type === m.type)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    });
    this.worker.on('error', (err) => onFailure(new Error(`${name} thread: ${err.message}`)));
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.closing) onFailure(new Error(`${name} thread exited (code ${code})`));
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${name} thread exited`));
    });
    this.unregister = registerCleanup({
      async: async () => {
        await this.worker.terminate();
      },
      sync: () => void this.worker.terminate(),
    });
  }

  /** Start the thread and wait until it is connected (a consumer: with basic.qos, not yet consuming). */
  static async start(name: string, port: number, role: ThreadRole): Promise<PerfThread> {
    const t = new PerfThread(name, port, role);
    try {
      await t.waitFor('ready', 30_000);
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  /** A producer starts publishing, a consumer sends basic.consume. */
  go(): void {
    this.post({ type: 'start-producers' });
    this.post({ type: 'start-consumers' });
  }

  private post(m: ToPerfWorker): void {
    this.worker.postMessage(m);
  }

  /** messages written to the socket (a producer) */
  get published(): number {
    return Atomics.load(this.counters, SLOT.producers + PUBLISHED);
  }
  /** publishes the broker confirmed (basic.ack) */
  get confirmed(): number {
    return Atomics.load(this.counters, SLOT.producers + CONFIRMED);
  }
  /** publishes the broker refused (basic.nack) */
  get nacked(): number {
    return Atomics.load(this.counters, SLOT.producers + NACKED);
  }
  /** basic.deliver frames read (a consumer) */
  get received(): number {
    return Atomics.load(this.counters, consumerSlot(0, 0));
  }

  waitFor<T extends FromPerfWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromPerfWorker, { type: T }>> {
    const got = this.seen.get(type);
    if (got) return Promise.resolve(got as Extract<FromPerfWorker, { type: T }>);
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<FromPerfWorker>((resolve, reject) => this.waiters.push({ type, resolve, reject }));
    return withTimeout(p, timeoutMs, `${this.name} (${type})`) as Promise<Extract<FromPerfWorker, { type: T }>>;
  }

  /** Close the thread's connection gracefully, then end the thread. */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.exited && !this.failure) {
      this.post({ type: 'close' });
      await this.waitFor('closed', 5000).catch(() => undefined);
    }
    await this.worker.terminate();
    this.unregister();
  }
}

/** Resolves after ms, or rejects as soon as one of the threads fails or the broker dies. */
export async function watch(ms: number, threads: { failed: Promise<never> }[], broker: { dead(): string | null }): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await Promise.race([sleep(Math.min(250, deadline - Date.now())), ...threads.map((t) => t.failed)]);
    const dead = broker.dead();
    if (dead) throw new Error(dead);
  }
}

/** A control connection, and on it the queue declared (durable or not) and purged. */
export async function freshQueue(port: number, queue: string, durable: boolean): Promise<RawConnection> {
  const ctl = await RawConnection.open(port, 'control');
  try {
    await ctl.rpc(declareQueue(queue, false, durable), Method.QueueDeclareOk);
    await ctl.rpc({ id: Method.QueuePurge, queue, noWait: false }, Method.QueuePurgeOk, 60_000);
  } catch (err) {
    await ctl.close().catch(() => undefined);
    throw err;
  }
  return ctl;
}

/** Purge and delete the queues a workload declared, on a fresh connection (the workload's own may be dead); errors ignored. */
export async function deleteAll(port: number, queues: string[]): Promise<void> {
  let ctl: RawConnection | null = null;
  try {
    ctl = await RawConnection.open(port, 'cleanup', 5000);
    for (const queue of queues) {
      await ctl.rpc({ id: Method.QueuePurge, queue, noWait: false }, Method.QueuePurgeOk, 30_000).catch(() => undefined);
      if (ctl.error) ctl = await RawConnection.open(port, 'cleanup', 5000);
      await ctl.rpc({ id: Method.QueueDelete, queue, ifUnused: false, ifEmpty: false, noWait: false }, Method.QueueDeleteOk, 30_000).catch(() => undefined);
      if (ctl.error) ctl = await RawConnection.open(port, 'cleanup', 5000);
    }
  } catch {
    // the broker may be gone or not implement these
  } finally {
    await ctl?.close().catch(() => undefined);
  }
}

/** One broker's line in a workload's table: how many rounds went well, the errors of the others, the medians of the good ones. */
export interface WorkloadRow<M> {
  broker: string;
  okRounds: number;
  rounds: number;
  errors: string[];
  medians?: M;
}
