/**
 * The durability workloads of bench/messaging.ts: persistent messages on a
 * durable queue with publisher confirms, and crash recovery. bench/messaging.ts
 * starts the brokers, runs the rounds and prints; this file runs one workload
 * on one running broker and formats its results. It uses the same raw client
 * (lib/perf/raw-connection.ts) and worker threads (bench/lib/messaging-worker.ts):
 * the producer in one thread, the consumer in another, counters shared through
 * a SharedArrayBuffer (bench/lib/messaging-shared.ts).
 *
 * confirm-persistent-1KiB (workload (d)): 1 producer -> default exchange -> 1 durable
 *   queue -> 1 consumer. The producer does confirm.select and publishes persistent
 *   (delivery-mode 2) 1 KiB bodies, never more than --confirm-window (default 1,000)
 *   unconfirmed: it stops writing at the window and resumes as basic.ack arrive. It
 *   settles publishes from basic.ack and basic.nack (multiple=true or not, in any
 *   order); nacks are counted apart. The consumer uses manual acks with basic.qos
 *   prefetch-count 1,000 and sends one basic.ack (multiple=false) per delivery, the
 *   default of RabbitMQ's PerfTest; the acks for one socket chunk go out in one
 *   write. --window (published minus delivered) applies as in the other throughput
 *   workloads. Measured for --duration s after --warmup s: confirmed publishes/s
 *   (basic.ack), delivered msg/s, nacks, and the confirm latency (p50 / p99 of the
 *   time from the socket write that carried a publish to the basic.ack that
 *   confirmed it, every acked publish of the measured period).
 *   When the brokers confirm: warren (fsync: always, its default) confirms a
 *   persistent message on a durable queue after the fdatasync of the message-log
 *   batch that holds it; batches form from what arrives while the previous
 *   fdatasync runs (lib/server/publisher-confirms.ts, lib/store/message-log.ts).
 *   RabbitMQ 3.10 classic queues (v1 index, its default) also confirm only once
 *   the message is on disk, and batch the fsyncs too: bodies below 4 KiB
 *   (queue_index_embed_msgs_below) live in the queue index, whose journal the queue
 *   process syncs when its mailbox runs dry or after at most 200 ms; bigger ones go
 *   to the message store, which syncs at most every 25 ms.
 *
 * recovery-1M: --recovery-messages N (default 1,000,000) persistent 16-byte
 *   messages into one durable queue with confirms (windowed as above, as fast as
 *   the broker confirms), wait for every confirm, close the clients, then SIGKILL
 *   the broker (warren's node process; RabbitMQ's beam.smp through
 *   tools/rabbitmq-scratch.sh kill9) and start it again on the same data dir and
 *   port (RabbitMQ: tools/rabbitmq-scratch.sh restart). Measured:
 *   (a) seconds from the restart until the broker accepts a connection and
 *       queue.declare passive reports every confirmed message (polled every
 *       100 ms from the moment of the restart; at most --recovery-timeout s,
 *       default 600, then reported as a timeout; a count that stays short of
 *       the confirmed ones for 30 s is reported as lost messages);
 *   (b) broker RSS (VmRSS) at that moment, next to its RSS just before the kill;
 *   (c) the time to drain the queue with one consumer, manual acks, prefetch
 *       1,000 (as above), from basic.consume to the last basic.deliver.
 *   (a) includes the broker's own start: an empty RabbitMQ node takes about 5 to 6 s
 *   to accept connections on a 2-core machine, warren well under 1 s.
 *   Runs last on its broker, since the broker it leaves is the restarted one.
 *   With 1M messages one round takes about 2 minutes for both brokers on a 2-core
 *   machine, most of it RabbitMQ's fill (about 1 minute at some 15k confirms/s);
 *   not in the default set.
 */
import { Method } from '../../lib/amqp/generated/methods.js';
import { declareQueue, queueDepth, RawConnection } from '../../lib/perf/raw-connection.js';
import { SLOT, STOP } from './messaging-shared.js';
import type { FromWorker, LatencySummary, ToWorker, WorkerData } from './messaging-shared.js';

// ---- what bench/messaging.ts provides ------------------------------------------------

export interface ConfirmWorkload {
  name: string;
  kind: 'confirm';
  bodySize: number;
}
export interface RecoveryWorkload {
  name: string;
  kind: 'recovery';
  bodySize: number;
}

export interface DurabilityOptions {
  duration: number;
  warmup: number;
  window: number;
  confirmWindow: number;
  recoveryMessages: number;
  recoveryTimeout: number;
}

/** A running broker that can be crashed and restarted on its data dir (port and pid may change). */
export interface CrashableBroker {
  readonly name: string;
  port: number;
  pid: number;
  dead(): string | null;
  /** SIGKILL the broker process and wait until it is gone */
  crash(): Promise<void>;
  /** start it again on the same data dir (and port); resolves once it listens */
  restart(timeoutMs: number): Promise<void>;
}

export interface BenchWorker {
  readonly failed: Promise<never>;
  post(m: ToWorker): void;
  waitFor<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>>;
  close(): Promise<void>;
}

export interface Harness {
  startWorker(name: string, data: WorkerData): BenchWorker;
  /** resolves after ms; rejects as soon as a worker fails or the broker dies */
  watch(ms: number, workers: BenchWorker[], broker: CrashableBroker): Promise<void>;
  deleteAll(port: number, queues: string[], exchange: string | null): Promise<void>;
  rssKiB(pid: number): number;
  cpuSeconds(pid: number): number;
}

/** basic.qos prefetch-count of the acking consumers */
const PREFETCH = 1000;
/** how long recovery may report fewer messages than were confirmed before that counts as a loss */
const SHORT_COUNT_MS = 30_000;
/** no progress for this long (filling, draining) is a failure */
const STALL_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function freshQueue(port: number, queue: string): Promise<RawConnection> {
  const ctl = await RawConnection.open(port, 'control');
  await ctl.rpc(declareQueue(queue, false, true), Method.QueueDeclareOk);
  await ctl.rpc({ id: Method.QueuePurge, queue, noWait: false }, Method.QueuePurgeOk, 60_000);
  return ctl;
}

// ---- confirm-persistent-1KiB ------------------------------------------------------------

export interface ConfirmResult {
  /** messages written to the socket per second */
  publishRate: number;
  /** publishes acked (basic.ack) per second */
  confirmRate: number;
  deliveredRate: number;
  /** publishes nacked while measuring */
  nacked: number;
  /** over the measured period; absent if nothing was acked */
  latency?: LatencySummary;
  depthAtEnd: number;
  seconds: number;
  brokerCpuPercent: number;
  clientCpuPercent: number;
}

export async function runConfirm(b: CrashableBroker, w: ConfirmWorkload, o: DurabilityOptions, h: Harness): Promise<ConfirmResult> {
  const queue = `warren-bench-${w.name}`;
  const shared = new SharedArrayBuffer(4 * (SLOT.delivered + 1));
  const counters = new Int32Array(shared);
  const workers: BenchWorker[] = [];
  let ctl: RawConnection | null = null;
  try {
    ctl = await freshQueue(b.port, queue);
    const consumers = h.startWorker('consumers', { role: 'consumer', port: b.port, shared, queues: [queue], firstSlot: 0, prefetch: PREFETCH });
    workers.push(consumers);
    await consumers.waitFor('ready', 30_000);
    const producer = h.startWorker('producer', {
      role: 'producer',
      port: b.port,
      shared,
      exchange: '',
      routingKey: queue,
      bodySize: w.bodySize,
      total: 0,
      window: o.window,
      queues: 1,
      persistent: true,
      confirmWindow: o.confirmWindow,
    });
    workers.push(producer);
    await producer.waitFor('ready', 30_000);

    const snapshot = () => {
      const u = process.cpuUsage();
      return {
        t: performance.now(),
        published: Atomics.load(counters, SLOT.published),
        confirmed: Atomics.load(counters, SLOT.confirmed),
        nacked: Atomics.load(counters, SLOT.nacked),
        delivered: Atomics.load(counters, SLOT.delivered),
        brokerCpu: h.cpuSeconds(b.pid),
        clientCpu: (u.user + u.system) / 1e6,
      };
    };
    producer.post({ type: 'go' });
    await h.watch(o.warmup * 1000, workers, b);
    producer.post({ type: 'measure' });
    const start = snapshot();
    await h.watch(o.duration * 1000, workers, b);
    const end = snapshot();
    Atomics.store(counters, SLOT.control, STOP);
    producer.post({ type: 'stop' });
    const done = await Promise.race([producer.waitFor('done', 15_000), consumers.failed]);
    const depthAtEnd = await queueDepth(ctl, queue);
    if (end.confirmed + end.nacked === 0) throw new Error(`nothing confirmed in ${o.warmup + o.duration} s (${end.published} messages published)`);
    if (end.delivered === 0) throw new Error(`nothing delivered in ${o.warmup + o.duration} s (${end.published} messages published)`);
    const seconds = (end.t - start.t) / 1000;
    return {
      publishRate: (end.published - start.published) / seconds,
      confirmRate: (end.confirmed - start.confirmed) / seconds,
      deliveredRate: (end.delivered - start.delivered) / seconds,
      nacked: end.nacked - start.nacked,
      ...(done.latency ? { latency: done.latency } : {}),
      depthAtEnd,
      seconds,
      brokerCpuPercent: (100 * (end.brokerCpu - start.brokerCpu)) / seconds,
      clientCpuPercent: (100 * (end.clientCpu - start.clientCpu)) / seconds,
    };
  } finally {
    for (const wk of workers.reverse()) await wk.close();
    await ctl?.close().catch(() => undefined);
    if (!b.dead()) await h.deleteAll(b.port, [queue], null);
  }
}

// ---- recovery-1M ----------------------------------------------------------------------

export interface RecoveryResult {
  messages: number;
  /** of them: acked by the broker (the ones it must recover), and nacked */
  confirmed: number;
  nacked: number;
  /** seconds from the first publish until the last confirm */
  fillSeconds: number;
  /** queue.declare passive right before the kill */
  depthBeforeKill: number;
  rssBeforeKillMiB: number;
  /** (a) seconds from the restart until a connection and queue.declare passive report every confirmed message */
  recoverySeconds: number;
  /** what queue.declare passive reported then */
  recovered: number;
  /** (b) broker RSS at that moment */
  rssRecoveredMiB: number;
  /** (c) seconds from basic.consume until the last of them was delivered */
  drainSeconds: number;
}

export async function runRecovery(b: CrashableBroker, w: RecoveryWorkload, o: DurabilityOptions, h: Harness): Promise<RecoveryResult> {
  const queue = `warren-bench-${w.name}`;
  const total = o.recoveryMessages;
  const shared = new SharedArrayBuffer(4 * (SLOT.delivered + 1));
  const counters = new Int32Array(shared);
  const workers: BenchWorker[] = [];
  let ctl: RawConnection | null = null;
  try {
    // 1. fill, with confirms
    ctl = await freshQueue(b.port, queue);
    const producer = h.startWorker('producer', {
      role: 'producer',
      port: b.port,
      shared,
      exchange: '',
      routingKey: queue,
      bodySize: w.bodySize,
      total,
      window: 0,
      queues: 0,
      persistent: true,
      confirmWindow: o.confirmWindow,
    });
    workers.push(producer);
    await producer.waitFor('ready', 30_000);
    const t0 = performance.now();
    producer.post({ type: 'go' });
    let settled = 0;
    let progressAt = Date.now();
    for (;;) {
      await h.watch(100, workers, b);
      const s = Atomics.load(counters, SLOT.confirmed) + Atomics.load(counters, SLOT.nacked);
      if (s >= total) break;
      if (s > settled) {
        settled = s;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        throw new Error(`confirms stalled at ${s} of ${total} (${Atomics.load(counters, SLOT.published)} published)`);
      }
    }
    const done = await producer.waitFor('done', 30_000);
    const fillSeconds = (performance.now() - t0) / 1000;
    const confirmed = done.confirmed ?? 0;
    const nacked = done.nacked ?? 0;
    const depthBeforeKill = await queueDepth(ctl, queue, 60_000);
    const rssBeforeKillMiB = h.rssKiB(b.pid) / 1024;
    for (const wk of workers.splice(0)) await wk.close();
    await ctl.close().catch(() => undefined);
    ctl = null;

    // 2. kill -9, restart, poll until the queue reports them all
    await b.crash();
    const t1 = performance.now();
    const deadline = t1 + o.recoveryTimeout * 1000;
    let restartError: Error | null = null;
    let restarted = false;
    const restarting = b.restart(o.recoveryTimeout * 1000).then(
      () => void (restarted = true),
      (err: unknown) => void (restartError = err instanceof Error ? err : new Error(String(err))),
    );
    let recovered = -1;
    let lastCount = -1;
    let countSince = 0;
    let lastError = '';
    for (;;) {
      if (restartError) throw new Error(`the restart failed: ${errorText(restartError)}`);
      if (performance.now() > deadline) {
        await restarting; // it gives up at the same timeout; let it finish before the broker is stopped
        throw new Error(`TIMEOUT: not recovered within ${o.recoveryTimeout} s of the restart (${lastCount >= 0 ? `queue.declare passive reported ${lastCount} of ${confirmed}` : `no answer yet${lastError ? `: ${lastError}` : ''}`})`);
      }
      try {
        ctl ??= await RawConnection.open(b.port, 'recovery', 5000);
        const n = await queueDepth(ctl, queue, Math.max(1000, deadline - performance.now()));
        if (n >= confirmed) {
          recovered = n;
          break;
        }
        if (n !== lastCount) {
          lastCount = n;
          countSince = performance.now();
        } else if (performance.now() - countSince > SHORT_COUNT_MS) {
          throw new Error(`LOST: the queue holds ${n} of the ${confirmed} confirmed messages ${((performance.now() - t1) / 1000).toFixed(0)} s after the restart, for ${SHORT_COUNT_MS / 1000} s`);
        }
      } catch (err) {
        if (errorText(err).startsWith('LOST')) throw err;
        lastError = errorText(err);
        ctl?.destroy();
        ctl = null;
      }
      await sleep(100);
    }
    const recoverySeconds = (performance.now() - t1) / 1000;
    await restarting; // RabbitMQ: the pid comes with it (the script notices a little later than we do)
    if (!restarted) throw new Error(`the restart failed: ${errorText(restartError)}`);
    const rssRecoveredMiB = h.rssKiB(b.pid) / 1024;

    // 3. drain
    const consumer = h.startWorker('consumer', { role: 'consumer', port: b.port, shared, queues: [queue], firstSlot: 0, prefetch: PREFETCH, consumeOnGo: true });
    workers.push(consumer);
    await consumer.waitFor('ready', 30_000);
    const t2 = performance.now();
    consumer.post({ type: 'go' });
    let delivered = 0;
    progressAt = Date.now();
    for (;;) {
      await h.watch(20, workers, b);
      const d = Atomics.load(counters, SLOT.delivered);
      if (d >= recovered) break;
      if (d > delivered) {
        delivered = d;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        throw new Error(`the drain stalled at ${d} of ${recovered} messages`);
      }
    }
    const drainSeconds = (performance.now() - t2) / 1000;
    return {
      messages: total,
      confirmed,
      nacked,
      fillSeconds,
      depthBeforeKill,
      rssBeforeKillMiB,
      recoverySeconds,
      recovered,
      rssRecoveredMiB,
      drainSeconds,
    };
  } finally {
    for (const wk of workers.reverse()) await wk.close();
    await ctl?.close().catch(() => undefined);
    if (!b.dead()) await h.deleteAll(b.port, [queue], null);
  }
}

// ---- output -------------------------------------------------------------------------

const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';
const ms = (x: number | undefined): string => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));

export function confirmLine(r: ConfirmResult): string {
  const lat = r.latency ? `   confirm latency p50 ${ms(r.latency.p50)} ms p99 ${ms(r.latency.p99)} ms` : '';
  return `confirmed ${fmtRate(r.confirmRate).padStart(9)} msg/s   delivered ${fmtRate(r.deliveredRate).padStart(9)} msg/s   nacks ${r.nacked}${lat}   depth at end ${r.depthAtEnd}   CPU broker ${r.brokerCpuPercent.toFixed(0)}% clients ${r.clientCpuPercent.toFixed(0)}%`;
}

export function recoveryLine(r: RecoveryResult): string {
  return `${r.confirmed} confirmed${r.nacked ? ` (${r.nacked} nacked)` : ''} in ${r.fillSeconds.toFixed(1)} s; RSS ${r.rssBeforeKillMiB.toFixed(0)} MiB; kill -9; ${r.recovered} back ${r.recoverySeconds.toFixed(1)} s after the restart, RSS ${r.rssRecoveredMiB.toFixed(0)} MiB; drained in ${r.drainSeconds.toFixed(1)} s`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export type DurabilityMedians = Record<string, number>;

export function confirmMedians(rs: ConfirmResult[], w: ConfirmWorkload): DurabilityMedians {
  const withLatency = rs.filter((r) => r.latency);
  return {
    publishRate: median(rs.map((r) => r.publishRate)),
    confirmRate: median(rs.map((r) => r.confirmRate)),
    deliveredRate: median(rs.map((r) => r.deliveredRate)),
    deliveredMBps: (median(rs.map((r) => r.deliveredRate)) * w.bodySize) / 1e6,
    nacked: median(rs.map((r) => r.nacked)),
    depthAtEnd: median(rs.map((r) => r.depthAtEnd)),
    ...(withLatency.length ? { latencyP50: median(withLatency.map((r) => r.latency!.p50)), latencyP99: median(withLatency.map((r) => r.latency!.p99)) } : {}),
  };
}

export function recoveryMedians(rs: RecoveryResult[]): DurabilityMedians {
  return {
    fillSeconds: median(rs.map((r) => r.fillSeconds)),
    recoverySeconds: median(rs.map((r) => r.recoverySeconds)),
    rssRecoveredMiB: median(rs.map((r) => r.rssRecoveredMiB)),
    rssBeforeKillMiB: median(rs.map((r) => r.rssBeforeKillMiB)),
    drainSeconds: median(rs.map((r) => r.drainSeconds)),
    drainRate: median(rs.map((r) => r.recovered / r.drainSeconds)),
    nacked: median(rs.map((r) => r.nacked)),
  };
}

export interface DurabilityRow {
  broker: string;
  okRounds: number;
  rounds: number;
  errors: string[];
  medians?: DurabilityMedians;
}

function rowsFor(rows: DurabilityRow[], cells: (m: DurabilityMedians) => string[], ratios: (w: DurabilityMedians, r: DurabilityMedians) => string[]): string[] {
  const out: string[] = [];
  for (const s of rows) {
    if (s.okRounds === 0 || !s.medians) out.push(`| ${s.broker} | failed (${s.rounds - s.okRounds}/${s.rounds} rounds): ${s.errors.join(' | ')} |`);
    else out.push(`| ${s.broker}${s.okRounds < s.rounds ? ` (${s.okRounds}/${s.rounds} rounds ok: ${s.errors.join(' | ')})` : ''} | ${cells(s.medians).join(' | ')} |`);
  }
  const warren = rows.find((s) => s.broker === 'warren')?.medians;
  const rabbit = rows.find((s) => s.broker === 'RabbitMQ')?.medians;
  if (warren && rabbit) out.push(`| warren / RabbitMQ | ${ratios(warren, rabbit).join(' | ')} |`);
  return out;
}

export function printConfirmTable(w: ConfirmWorkload, rows: DurabilityRow[], o: DurabilityOptions & { rounds: number }): void {
  console.log(`\n${w.name}: medians of ${o.rounds} rounds, ${o.duration} s each after ${o.warmup} s warm-up; durable queue, persistent ${w.bodySize} B bodies,`);
  console.log(`at most ${o.confirmWindow} unconfirmed publishes, consumer acks each message (prefetch ${PREFETCH}); confirm latency: publish write to basic.ack`);
  console.log('| broker | confirmed msg/s | delivered msg/s | delivered MB/s | nacks | confirm p50 (ms) | confirm p99 (ms) | queue depth at end |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const line of rowsFor(
    rows,
    (m) => [fmtRate(m.confirmRate!), fmtRate(m.deliveredRate!), m.deliveredMBps!.toFixed(1), fmtRate(m.nacked!), ms(m.latencyP50), ms(m.latencyP99), fmtRate(m.depthAtEnd!)],
    (a, b) => [ratio(a.confirmRate, b.confirmRate), ratio(a.deliveredRate, b.deliveredRate), ratio(a.deliveredMBps, b.deliveredMBps), '', ratio(a.latencyP50, b.latencyP50), ratio(a.latencyP99, b.latencyP99), ''],
  )) console.log(line);
}

export function printRecoveryTable(w: RecoveryWorkload, rows: DurabilityRow[], o: DurabilityOptions & { rounds: number }): void {
  console.log(`\n${w.name}: medians of ${o.rounds} rounds; ${o.recoveryMessages.toLocaleString('en-US')} persistent ${w.bodySize} B messages in a durable queue, all confirmed, then kill -9 and restart;`);
  console.log(`recovered = connection + queue.declare passive reports them all (timeout ${o.recoveryTimeout} s); drain: 1 consumer, manual acks, prefetch ${PREFETCH}`);
  console.log('| broker | fill + confirms (s) | RSS before kill (MiB) | restart to recovered (s) | RSS recovered (MiB) | drain (s) | drain msg/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const line of rowsFor(
    rows,
    (m) => [m.fillSeconds!.toFixed(1), m.rssBeforeKillMiB!.toFixed(0), m.recoverySeconds!.toFixed(1), m.rssRecoveredMiB!.toFixed(0), m.drainSeconds!.toFixed(1), fmtRate(m.drainRate!)],
    (a, b) => [ratio(a.fillSeconds, b.fillSeconds), ratio(a.rssBeforeKillMiB, b.rssBeforeKillMiB), ratio(a.recoverySeconds, b.recoverySeconds), ratio(a.rssRecoveredMiB, b.rssRecoveredMiB), ratio(a.drainSeconds, b.drainSeconds), ratio(a.drainRate, b.drainRate)],
  )) console.log(line);
}
