/**
 * Messaging benchmark: the hot path (publish, route, deliver) and the memory
 * a queued message costs, for warren and, when it is installed, RabbitMQ, in
 * the same run: brokers alternate (warren, RabbitMQ, warren, ...) for a
 * number of rounds, each round on a freshly started broker, and the tables
 * show medians and ratios.
 *
 *   npm run bench:messaging [-- --rounds 3 --duration 10 --warmup 2
 *       --brokers warren,rabbitmq --workloads 1p1c-16B,1p1c-1KiB,fanout-10,memory-1M,confirm-persistent-1KiB
 *       --window 50000 --memory-messages 1000000 --settle 90 --confirm-window 1000
 *       --recovery-messages 1000000 --recovery-timeout 600 --retry-messages 100000 --retry-rounds 3
 *       --json bench-results/messaging.json]
 *
 * Workloads (queues non-durable, not auto-delete; bodies transient, delivery-mode 1):
 *   1p1c-16B   1 producer -> default exchange -> 1 queue -> 1 no-ack consumer, 16-byte bodies
 *   1p1c-1KiB  the same with 1 KiB bodies (MB/s counts body bytes, 10^6 per MB)
 *   fanout-10  1 producer -> fanout exchange bound to 10 queues -> 10 no-ack consumers, 16 B
 *   memory-1M  1,000,000 16-byte messages into one queue without consumer: broker RSS
 *              (VmRSS) minus RSS before publishing, read twice: the moment queue.declare
 *              passive reports them all, and once RSS has settled (4 samples 2 s apart
 *              within 2%; at most --settle s), the messages still queued. The two differ a
 *              lot for RabbitMQ: measured here, 1M messages cost it about 2.4 GiB at fill,
 *              falling to about 0.55 GiB some 30 s later (nothing paged to disk: its
 *              transient message store stays empty); the settled figure is the cost of
 *              holding the messages, the first the peak a burst of them causes.
 * Durability workloads (a durable queue, persistent bodies, publisher confirms; details,
 * and when each broker confirms, in bench/lib/durability-workloads.ts):
 *   confirm-persistent-1KiB  1 confirming producer (at most --confirm-window unconfirmed)
 *              -> 1 durable queue -> 1 consumer, manual acks, prefetch 1,000, one basic.ack
 *              per message; persistent 1 KiB bodies: confirmed and delivered msg/s, nacks,
 *              confirm latency p50/p99
 *   recovery-1M  --recovery-messages (default 1,000,000) persistent 16 B messages, all
 *              confirmed, then kill -9 of the broker and a restart on the same data dir:
 *              seconds until queue.declare passive reports them all again, RSS then, and
 *              the time to drain them. Only when asked for (--workloads recovery-1M): it
 *              takes minutes per broker and round. It runs last on each broker.
 *   retry-ttl-dlx  the TTL + dead-letter retry loop (issue 5; bench/lib/retry-workload.ts):
 *              --retry-messages (default 100,000) messages, each rejected --retry-rounds times
 *              (default 3) into a queue with a 1 s TTL that dead-letters back, then acked:
 *              time, deliveries/s, reject-to-redelivery latency, and whether every message
 *              arrived exactly once per retry. amqplib client. Only when asked for.
 * The throughput workloads run for --warmup seconds, then are measured for --duration
 * seconds; rates are counted by the clients (messages written to the producer's
 * socket, basic.deliver frames read by the consumers). memory-1M runs first on each
 * fresh broker so that its baseline is not inflated by what the others left behind.
 *
 * Rate control: the producer never has more than --window messages outstanding
 * (published minus delivered by the slowest queue's consumer; counters shared
 * between the worker threads through a SharedArrayBuffer) and pauses above it. A
 * broker that accepts publishes faster than it delivers would otherwise report a
 * publish rate it cannot sustain while its queue, and memory, grow without bound
 * (RabbitMQ pushes back through TCP via credit flow; a broker without such flow
 * control would not). With the window, the publish rate converges on the rate the
 * broker can deliver end to end; the tables still show both, and the queue depth
 * the broker reports right after the producer stops (at most about the window).
 * A 50,000-message window is far more than the bandwidth-delay product on
 * loopback, so it does not limit a broker that keeps up.
 *
 * The clients are not the bottleneck: a minimal raw AMQP client (lib/perf/raw-connection.ts)
 * writes 64 KiB batches of pre-encoded publish + header + body frames, respecting
 * socket backpressure, and the consumers only read frame headers to count
 * basic.deliver frames. Producer and consumers run in two worker threads
 * (bench/lib/messaging-worker.ts), one socket each, so the client side can use the
 * second core instead of the main thread. Each run prints the CPU the broker and
 * the clients used while measuring (% of one core) to show it: the clients use a
 * fraction of a core (with confirms and acks too: of basic.deliver and basic.ack
 * frames they read only the delivery-tag and bits, and they send the acks for one
 * read in one write). On a 2-core machine broker and clients still compete for CPU;
 * RabbitMQ, which can use both cores, loses more to that than warren, whose
 * JavaScript runs on one thread. So do other busy processes: the load average at
 * the start is printed and saved. Not a test: nothing here passes or fails.
 *
 * The brokers are started and stopped by bench/lib/brokers.ts: warren is bin/warren
 * (build first: dist/), started with --port 0 and a scratch data dir; RabbitMQ is
 * started by tools/rabbitmq-scratch.sh on a spare port with a scratch dir and stopped
 * after (recovery-1M kills and restarts both on the same dir: tools/rabbitmq-scratch.sh
 * kill9 / restart). --brokers garagemq adds the Go broker garagemq (not in the default
 * set; there is no ratio row for it). Measured here: it runs the throughput and memory
 * workloads, but in confirm-persistent-1KiB some publishes never get a basic.ack while
 * the consumer acks (with a no-ack consumer, or none, every publish is confirmed): they
 * fill the confirm window within the warm-up, the producer stalls and the table shows
 * 0 msg/s. Child processes, workers and temp dirs are cleaned up on exit, errors, Ctrl-C
 * and SIGTERM (bench/lib/bench-process.ts). A workload that fails (for example 540
 * NOT_IMPLEMENTED) is reported as failed with the error and the run goes on.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Method } from '../lib/amqp/generated/methods.js';
import { declareQueue, queueDepth, RawConnection } from '../lib/perf/raw-connection.js';
import { confirmLine, confirmMedians, printConfirmTable, printRecoveryTable, recoveryLine, recoveryMedians, runConfirm, runRecovery } from './lib/durability-workloads.js';
import type { ConfirmResult, ConfirmWorkload, DurabilityMedians, Harness, RecoveryResult, RecoveryWorkload } from './lib/durability-workloads.js';
import { printRetryTable, retryLine, retryMedians, runRetry } from './lib/retry-workload.js';
import type { RetryMedians, RetryResult, RetryWorkload } from './lib/retry-workload.js';
import { cleanupAll, cpuSeconds, errorText, installSignalHandlers, isExiting, median, registerCleanup, rssKiB, sleep, withTimeout } from './lib/bench-process.js';
import { BROKER_KINDS, BROKER_NAMES, brokerInstalled, brokerVersion, installHint, isBrokerKind, startBroker } from './lib/brokers.js';
import type { BrokerKind, RunningBroker } from './lib/brokers.js';
import { SLOT, STOP } from './lib/messaging-shared.js';
import type { FromWorker, ToWorker, WorkerData } from './lib/messaging-shared.js';

const ROOT = fileURLToPath(new URL(existsSync(new URL('../package.json', import.meta.url)) ? '..' : '../..', import.meta.url));
const WORKER_URL = new URL(`./lib/messaging-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

// ---- options ------------------------------------------------------------------

/** --brokers takes any of BROKER_KINDS (bench/lib/brokers.ts); by default these */
const DEFAULT_BROKERS: BrokerKind[] = ['warren', 'rabbitmq'];

interface ThroughputWorkload {
  name: string;
  kind: 'throughput';
  bodySize: number;
  /** number of queues, each with one consumer; more than one means a fanout exchange */
  queues: number;
}
interface MemoryWorkload {
  name: string;
  kind: 'memory';
  bodySize: number;
}
type Workload = (ThroughputWorkload | MemoryWorkload | ConfirmWorkload | RecoveryWorkload | RetryWorkload) & {
  /** not in the default set: only with --workloads */
  onlyWhenAsked?: boolean;
};

const WORKLOADS: Workload[] = [
  { name: '1p1c-16B', kind: 'throughput', bodySize: 16, queues: 1 },
  { name: '1p1c-1KiB', kind: 'throughput', bodySize: 1024, queues: 1 },
  { name: 'fanout-10', kind: 'throughput', bodySize: 16, queues: 10 },
  { name: 'memory-1M', kind: 'memory', bodySize: 16 },
  { name: 'confirm-persistent-1KiB', kind: 'confirm', bodySize: 1024 },
  { name: 'recovery-1M', kind: 'recovery', bodySize: 16, onlyWhenAsked: true },
  { name: 'retry-ttl-dlx', kind: 'retry', bodySize: 16, onlyWhenAsked: true },
];
/** the order on each broker: memory-1M first (clean baseline), recovery-1M last (it restarts the broker) */
const RUN_ORDER: Workload['kind'][] = ['memory', 'throughput', 'confirm', 'retry', 'recovery'];

interface Options {
  rounds: number;
  /** measured seconds per throughput workload */
  duration: number;
  /** warm-up seconds before measuring */
  warmup: number;
  brokers: BrokerKind[];
  workloads: string[];
  /** max messages outstanding (published - delivered) per queue */
  window: number;
  memoryMessages: number;
  /** at most this many seconds to wait for RSS to settle after the fill */
  settle: number;
  /** max unconfirmed publishes (confirm-persistent-1KiB, recovery-1M) */
  confirmWindow: number;
  recoveryMessages: number;
  /** seconds the restarted broker has to report every message */
  recoveryTimeout: number;
  /** retry-ttl-dlx: messages, and rejects of each before the ack */
  retryMessages: number;
  retryRounds: number;
  json: string;
}

const USAGE = `usage: messaging [--rounds N] [--duration S] [--warmup S] [--brokers ${BROKER_KINDS.join(',')}]
                 [--workloads ${WORKLOADS.map((w) => w.name).join(',')}] [--window N] [--memory-messages N] [--settle S]
                 [--confirm-window N] [--recovery-messages N] [--recovery-timeout S] [--retry-messages N] [--retry-rounds N] [--json FILE]
default brokers: ${DEFAULT_BROKERS.join(',')}
default workloads: ${WORKLOADS.filter((w) => !w.onlyWhenAsked).map((w) => w.name).join(',')}`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    duration: 10,
    warmup: 2,
    brokers: [...DEFAULT_BROKERS],
    workloads: WORKLOADS.filter((w) => !w.onlyWhenAsked).map((w) => w.name),
    window: 50_000,
    memoryMessages: 1_000_000,
    settle: 90,
    confirmWindow: 1000,
    recoveryMessages: 1_000_000,
    recoveryTimeout: 600,
    retryMessages: 100_000,
    retryRounds: 3,
    json: join(ROOT, 'bench-results/messaging.json'),
  };
  // upper bounds keep the shared Int32 counters (bench/lib/messaging-shared.ts) from overflowing
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} needs a number from ${min} to ${max}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) [flag, value] = [flag.slice(0, eq), flag.slice(eq + 1)];
    else if (flag !== '--help' && flag !== '-h') value = argv[++i];
    switch (flag) {
      case '--rounds': o.rounds = Math.floor(num(flag, value, 1, 1000)); break;
      case '--duration': o.duration = num(flag, value, 0.1, 600); break;
      case '--warmup': o.warmup = num(flag, value, 0, 600); break;
      case '--window': o.window = Math.floor(num(flag, value, 0, 1e9)); break;
      case '--memory-messages': o.memoryMessages = Math.floor(num(flag, value, 1, 1e9)); break;
      case '--settle': o.settle = num(flag, value, 0, 3600); break;
      case '--confirm-window': o.confirmWindow = Math.floor(num(flag, value, 1, 100_000)); break;
      case '--recovery-messages': o.recoveryMessages = Math.floor(num(flag, value, 1, 1e8)); break;
      case '--recovery-timeout': o.recoveryTimeout = num(flag, value, 1, 7200); break;
      case '--retry-messages': o.retryMessages = Math.floor(num(flag, value, 1, 10_000_000)); break;
      case '--retry-rounds': o.retryRounds = Math.floor(num(flag, value, 1, 100)); break;
      case '--json': o.json = String(value); break;
      case '--brokers': {
        const names = String(value).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
        for (const n of names) if (!isBrokerKind(n)) throw new Error(`unknown broker ${n}\n${USAGE}`);
        o.brokers = BROKER_KINDS.filter((b) => names.includes(b));
        break;
      }
      case '--workloads': {
        const names = String(value).split(',').map((s) => s.trim()).filter(Boolean);
        for (const n of names) if (!WORKLOADS.some((w) => w.name.toLowerCase() === n.toLowerCase())) throw new Error(`unknown workload ${n}\n${USAGE}`);
        o.workloads = WORKLOADS.filter((w) => names.some((n) => n.toLowerCase() === w.name.toLowerCase())).map((w) => w.name);
        break;
      }
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return o;
}

// ---- small helpers --------------------------------------------------------------

const firstLine = (text: string): string => text.split('\n')[0]!;

// ---- worker threads -------------------------------------------------------------

/** One worker thread (a producer or a set of consumers) and the messages it sent. */
class WorkerHandle {
  readonly worker: Worker;
  private readonly seen = new Map<string, FromWorker>();
  private readonly waiters: { type: string; resolve(m: FromWorker): void; reject(err: Error): void }[] = [];
  private failure: Error | null = null;
  private exited = false;
  /** rejects when the worker reports an error or exits before it was asked to */
  readonly failed: Promise<never>;
  private readonly unregister: () => void;
  private closing = false;

  constructor(
    readonly name: string,
    data: WorkerData,
  ) {
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
    this.worker.on('message', (m: FromWorker) => {
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

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  waitFor<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    const got = this.seen.get(type);
    if (got) return Promise.resolve(got as Extract<FromWorker, { type: T }>);
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<FromWorker>((resolve, reject) => this.waiters.push({ type, resolve, reject }));
    return withTimeout(p, timeoutMs, `${this.name} (${type})`) as Promise<Extract<FromWorker, { type: T }>>;
  }

  /** Close the worker's connections gracefully, then end the thread. */
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

// ---- workloads ------------------------------------------------------------------

interface ThroughputResult {
  publishRate: number;
  deliveredRate: number;
  /** messages in the queues (sum) right after the producer stopped, from queue.declare passive */
  depthAtEnd: number;
  published: number;
  delivered: number;
  seconds: number;
  /** CPU used while measuring, in % of one core: the broker process, and this process (clients in worker threads) */
  brokerCpuPercent: number;
  clientCpuPercent: number;
}

interface MemoryResult {
  messages: number;
  /** broker RSS before publishing */
  baselineRssMiB: number;
  /** RSS growth the moment queue.declare passive reports every message */
  fillDeltaMiB: number;
  fillBytesPerMessage: number;
  /** RSS growth once RSS stopped changing (or when --settle ran out), the messages still queued */
  settledDeltaMiB: number;
  settledBytesPerMessage: number;
  /** seconds after the fill until RSS was stable; settled false if --settle ran out first */
  settleSeconds: number;
  settled: boolean;
  /** seconds from the first publish until queue.declare passive reported every message */
  fillSeconds: number;
  /** RSS samples (MiB) every 2 s from the fill on */
  rssSamplesMiB: number[];
}

interface RoundResult {
  round: number;
  broker: string;
  workload: string;
  ok: boolean;
  error?: string;
  throughput?: ThroughputResult;
  memory?: MemoryResult;
  confirm?: ConfirmResult;
  recovery?: RecoveryResult;
  retry?: RetryResult;
}

/** Delete what a workload declared, on a fresh connection (the workload's own may be dead); errors ignored. */
async function deleteAll(port: number, queues: string[], exchange: string | null): Promise<void> {
  let ctl: RawConnection | null = null;
  try {
    ctl = await RawConnection.open(port, 'cleanup', 5000);
    for (const queue of queues) {
      await ctl.rpc({ id: Method.QueuePurge, queue, noWait: false }, Method.QueuePurgeOk, 30_000).catch(() => undefined);
      if (ctl.error) ctl = await RawConnection.open(port, 'cleanup', 5000);
      await ctl.rpc({ id: Method.QueueDelete, queue, ifUnused: false, ifEmpty: false, noWait: false }, Method.QueueDeleteOk, 30_000).catch(() => undefined);
      if (ctl.error) ctl = await RawConnection.open(port, 'cleanup', 5000);
    }
    if (exchange) await ctl.rpc({ id: Method.ExchangeDelete, exchange, ifUnused: false, noWait: false }, Method.ExchangeDeleteOk, 10_000).catch(() => undefined);
  } catch {
    // the broker may be gone or not implement these
  } finally {
    await ctl?.close().catch(() => undefined);
  }
}

/** Resolves after ms, or rejects as soon as one of the workers fails or the broker dies. */
async function watch(ms: number, workers: { failed: Promise<never> }[], broker: { dead(): string | null }): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await Promise.race([sleep(Math.min(250, deadline - Date.now())), ...workers.map((w) => w.failed)]);
    const dead = broker.dead();
    if (dead) throw new Error(dead);
  }
}

async function runThroughput(b: RunningBroker, w: ThroughputWorkload, o: Options): Promise<ThroughputResult> {
  const fanout = w.queues > 1;
  const exchange = fanout ? `warren-bench-${w.name}` : '';
  const queues = Array.from({ length: w.queues }, (_, i) => `warren-bench-${w.name}${fanout ? `-${i + 1}` : ''}`);
  const shared = new SharedArrayBuffer(4 * (SLOT.delivered + w.queues));
  const counters = new Int32Array(shared);
  const workers: WorkerHandle[] = [];
  let ctl: RawConnection | null = null;
  try {
    ctl = await RawConnection.open(b.port, 'control');
    if (fanout) {
      await ctl.rpc({ id: Method.ExchangeDeclare, exchange, type: 'fanout', passive: false, durable: false, autoDelete: false, internal: false, noWait: false, arguments: {} }, Method.ExchangeDeclareOk);
    }
    for (const queue of queues) {
      await ctl.rpc(declareQueue(queue), Method.QueueDeclareOk);
      await ctl.rpc({ id: Method.QueuePurge, queue, noWait: false }, Method.QueuePurgeOk);
      if (fanout) await ctl.rpc({ id: Method.QueueBind, queue, exchange, routingKey: '', noWait: false, arguments: {} }, Method.QueueBindOk);
    }
    const consumers = new WorkerHandle('consumers', { role: 'consumer', port: b.port, shared, queues, firstSlot: 0 });
    workers.push(consumers);
    await consumers.waitFor('ready', 30_000);
    const producer = new WorkerHandle('producer', {
      role: 'producer',
      port: b.port,
      shared,
      exchange,
      routingKey: fanout ? '' : queues[0]!,
      bodySize: w.bodySize,
      total: 0,
      window: o.window,
      queues: w.queues,
    });
    workers.push(producer);
    await producer.waitFor('ready', 30_000);

    const snapshot = (): { t: number; published: number; delivered: number; brokerCpu: number; clientCpu: number } => {
      let delivered = 0;
      for (let i = 0; i < w.queues; i++) delivered += Atomics.load(counters, SLOT.delivered + i);
      const published = Atomics.load(counters, SLOT.published);
      const u = process.cpuUsage();
      return { t: performance.now(), published, delivered, brokerCpu: cpuSeconds(b.pid), clientCpu: (u.user + u.system) / 1e6 };
    };
    producer.post({ type: 'go' });
    await watch(o.warmup * 1000, workers, b);
    const start = snapshot();
    await watch(o.duration * 1000, workers, b);
    const end = snapshot();
    Atomics.store(counters, SLOT.control, STOP);
    producer.post({ type: 'stop' });
    await Promise.race([producer.waitFor('done', 15_000), consumers.failed]);
    let depthAtEnd = 0;
    for (const queue of queues) depthAtEnd += await queueDepth(ctl, queue);
    const seconds = (end.t - start.t) / 1000;
    const published = end.published - start.published;
    const delivered = end.delivered - start.delivered;
    if (end.delivered === 0) throw new Error(`nothing delivered in ${o.warmup + o.duration} s (${end.published} messages published)`);
    return {
      publishRate: published / seconds,
      deliveredRate: delivered / seconds,
      depthAtEnd,
      published,
      delivered,
      seconds,
      brokerCpuPercent: (100 * (end.brokerCpu - start.brokerCpu)) / seconds,
      clientCpuPercent: (100 * (end.clientCpu - start.clientCpu)) / seconds,
    };
  } finally {
    for (const wk of workers.reverse()) await wk.close();
    await ctl?.close().catch(() => undefined);
    if (!b.dead()) await deleteAll(b.port, queues, fanout ? exchange : null);
  }
}

/** What the durability workloads (bench/lib/durability-workloads.ts) use from here. */
const harness: Harness = { startWorker: (name, data) => new WorkerHandle(name, data), watch, deleteAll, rssKiB, cpuSeconds };

const SETTLE_INTERVAL_MS = 2000;
const SETTLE_SAMPLES = 4;

async function runMemory(b: RunningBroker, w: MemoryWorkload, o: Options): Promise<MemoryResult> {
  const queue = `warren-bench-${w.name}`;
  const total = o.memoryMessages;
  const shared = new SharedArrayBuffer(4 * SLOT.delivered);
  const workers: WorkerHandle[] = [];
  let ctl: RawConnection | null = null;
  try {
    ctl = await RawConnection.open(b.port, 'control');
    await ctl.rpc(declareQueue(queue), Method.QueueDeclareOk);
    await ctl.rpc({ id: Method.QueuePurge, queue, noWait: false }, Method.QueuePurgeOk);
    const producer = new WorkerHandle('producer', { role: 'producer', port: b.port, shared, exchange: '', routingKey: queue, bodySize: w.bodySize, total, window: 0, queues: 0 });
    workers.push(producer);
    await producer.waitFor('ready', 30_000);
    await sleep(1000);
    const before = rssKiB(b.pid);
    const t0 = performance.now();
    producer.post({ type: 'go' });
    // Wait until the queue holds every message, as long as it keeps filling up.
    let count = 0;
    let progressAt = Date.now();
    const deadline = Date.now() + 600_000;
    for (;;) {
      await watch(250, workers, b);
      const n = await queueDepth(ctl, queue, 60_000);
      if (n >= total) break;
      if (n > count) {
        count = n;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > 30_000) {
        throw new Error(`the queue stopped filling up at ${n} of ${total} messages`);
      }
      if (Date.now() > deadline) throw new Error(`the queue holds ${n} of ${total} messages after 600 s`);
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    const atFill = rssKiB(b.pid);
    // Then wait for RSS to settle: brokers free the garbage of a burst late (RabbitMQ takes
    // about half a minute). Stable: the last SETTLE_SAMPLES samples within 2% of the growth (at least 2 MiB).
    const samples = [atFill];
    const settleStart = performance.now();
    let settled = false;
    while (!settled && performance.now() - settleStart < o.settle * 1000) {
      await watch(SETTLE_INTERVAL_MS, workers, b);
      samples.push(rssKiB(b.pid));
      const last = samples.slice(-SETTLE_SAMPLES);
      const spread = Math.max(...last) - Math.min(...last);
      settled = last.length === SETTLE_SAMPLES && spread <= Math.max(2048, 0.02 * (Math.max(...last) - before));
    }
    const settleSeconds = (performance.now() - settleStart) / 1000;
    const after = samples[samples.length - 1]!;
    return {
      messages: total,
      baselineRssMiB: before / 1024,
      fillDeltaMiB: (atFill - before) / 1024,
      fillBytesPerMessage: ((atFill - before) * 1024) / total,
      settledDeltaMiB: (after - before) / 1024,
      settledBytesPerMessage: ((after - before) * 1024) / total,
      settleSeconds,
      settled,
      fillSeconds,
      rssSamplesMiB: samples.map((k) => Math.round(k / 102.4) / 10),
    };
  } finally {
    for (const wk of workers) await wk.close();
    await ctl?.close().catch(() => undefined);
    if (!b.dead()) await deleteAll(b.port, [queue], null);
  }
}

// ---- output -------------------------------------------------------------------

const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';

function progressLine(r: RoundResult): string {
  const head = `round ${r.round} ${r.broker.padEnd(8)} ${r.workload.padEnd(10)}`;
  if (!r.ok) return `${head} FAILED: ${firstLine(r.error!)}`;
  if (r.confirm) return `${head} ${confirmLine(r.confirm)}`;
  if (r.recovery) return `${head} ${recoveryLine(r.recovery)}`;
  if (r.retry) return `${head} ${retryLine(r.retry)}`;
  if (r.throughput) {
    const t = r.throughput;
    return `${head} publish ${fmtRate(t.publishRate).padStart(11)} msg/s   delivered ${fmtRate(t.deliveredRate).padStart(11)} msg/s   depth at end ${t.depthAtEnd}   CPU broker ${t.brokerCpuPercent.toFixed(0)}% clients ${t.clientCpuPercent.toFixed(0)}%`;
  }
  const m = r.memory!;
  return `${head} RSS ${m.baselineRssMiB.toFixed(1)} MiB before; ${m.messages} messages queued in ${m.fillSeconds.toFixed(1)} s: +${m.fillDeltaMiB.toFixed(1)} MiB (${m.fillBytesPerMessage.toFixed(0)} B each); ${m.settled ? 'settled' : 'not settled'} after ${m.settleSeconds.toFixed(0)} s: +${m.settledDeltaMiB.toFixed(1)} MiB (${m.settledBytesPerMessage.toFixed(0)} B each)`;
}

interface Summary {
  workload: string;
  broker: string;
  okRounds: number;
  rounds: number;
  errors: string[];
  publishRate?: number;
  deliveredRate?: number;
  deliveredMBps?: number;
  depthAtEnd?: number;
  fillDeltaMiB?: number;
  fillBytesPerMessage?: number;
  settledDeltaMiB?: number;
  settledBytesPerMessage?: number;
  /** rounds in which RSS did not settle within --settle */
  unsettledRounds?: number;
  fillSeconds?: number;
  /** confirm-persistent-1KiB and recovery-1M (see bench/lib/durability-workloads.ts) */
  durability?: DurabilityMedians;
  /** retry-ttl-dlx (see bench/lib/retry-workload.ts) */
  retry?: RetryMedians;
}

function summarise(results: RoundResult[], workloads: Workload[], brokers: string[]): Summary[] {
  const out: Summary[] = [];
  for (const w of workloads) {
    for (const broker of brokers) {
      const mine = results.filter((r) => r.workload === w.name && r.broker === broker);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => r.ok);
      const s: Summary = { workload: w.name, broker, okRounds: ok.length, rounds: mine.length, errors: [...new Set(mine.filter((r) => !r.ok).map((r) => firstLine(r.error!)))] };
      if (ok.length > 0 && w.kind === 'confirm') {
        s.durability = confirmMedians(ok.map((r) => r.confirm!), w);
      } else if (ok.length > 0 && w.kind === 'recovery') {
        s.durability = recoveryMedians(ok.map((r) => r.recovery!));
      } else if (ok.length > 0 && w.kind === 'retry') {
        s.retry = retryMedians(ok.map((r) => r.retry!));
      } else if (ok.length > 0 && w.kind === 'throughput') {
        s.publishRate = median(ok.map((r) => r.throughput!.publishRate));
        s.deliveredRate = median(ok.map((r) => r.throughput!.deliveredRate));
        s.deliveredMBps = (s.deliveredRate * w.bodySize) / 1e6;
        s.depthAtEnd = median(ok.map((r) => r.throughput!.depthAtEnd));
      } else if (ok.length > 0 && w.kind === 'memory') {
        s.fillDeltaMiB = median(ok.map((r) => r.memory!.fillDeltaMiB));
        s.fillBytesPerMessage = median(ok.map((r) => r.memory!.fillBytesPerMessage));
        s.settledDeltaMiB = median(ok.map((r) => r.memory!.settledDeltaMiB));
        s.settledBytesPerMessage = median(ok.map((r) => r.memory!.settledBytesPerMessage));
        s.unsettledRounds = ok.filter((r) => !r.memory!.settled).length;
        s.fillSeconds = median(ok.map((r) => r.memory!.fillSeconds));
      }
      out.push(s);
    }
  }
  return out;
}

function printTables(summary: Summary[], workloads: Workload[], o: Options): void {
  for (const w of workloads) {
    const rows = summary.filter((s) => s.workload === w.name);
    if (rows.length === 0) continue;
    const warren = rows.find((s) => s.broker === 'warren');
    const rabbit = rows.find((s) => s.broker === 'RabbitMQ');
    const failed = (s: Summary): string => `failed (${s.rounds - s.okRounds}/${s.rounds} rounds): ${s.errors.join(' | ')}`;
    const okNote = (s: Summary): string => (s.okRounds < s.rounds ? ` (${s.okRounds}/${s.rounds} rounds ok)` : '');
    const durabilityRows = rows.map((s) => ({ broker: s.broker, okRounds: s.okRounds, rounds: s.rounds, errors: s.errors, ...(s.durability ? { medians: s.durability } : {}) }));
    if (w.kind === 'confirm') printConfirmTable(w, durabilityRows, o);
    else if (w.kind === 'recovery') printRecoveryTable(w, durabilityRows, o);
    else if (w.kind === 'retry') printRetryTable(w, rows.map((s) => ({ broker: s.broker, okRounds: s.okRounds, rounds: s.rounds, errors: s.errors, ...(s.retry ? { medians: s.retry } : {}) })), o);
    else if (w.kind === 'throughput') {
      const mb = w.bodySize >= 1024;
      console.log(`\n${w.name}: medians of ${o.rounds} rounds, ${o.duration} s each after ${o.warmup} s warm-up, window ${o.window || 'none'}`);
      console.log(`| broker | publish msg/s | delivered msg/s |${mb ? ' delivered MB/s |' : ''} queue depth at end |`);
      console.log(`|---|---:|---:|${mb ? '---:|' : ''}---:|`);
      for (const s of rows) {
        if (s.okRounds === 0) console.log(`| ${s.broker} | ${failed(s)} |`);
        else console.log(`| ${s.broker}${okNote(s)} | ${fmtRate(s.publishRate!)} | ${fmtRate(s.deliveredRate!)} |${mb ? ` ${s.deliveredMBps!.toFixed(1)} |` : ''} ${fmtRate(s.depthAtEnd!)} |`);
      }
      if (warren && rabbit) {
        console.log(`| warren / RabbitMQ | ${ratio(warren.publishRate, rabbit.publishRate)} | ${ratio(warren.deliveredRate, rabbit.deliveredRate)} |${mb ? ` ${ratio(warren.deliveredMBps, rabbit.deliveredMBps)} |` : ''} |`);
      }
    } else {
      console.log(`\n${w.name}: medians of ${o.rounds} rounds, ${o.memoryMessages.toLocaleString('en-US')} messages of ${w.bodySize} B in one queue, broker RSS growth`);
      console.log('when the queue reports them all ("at fill"), and once RSS has settled (stable for 6 s, at most --settle s)');
      console.log('| broker | at fill (MiB) | at fill (B/msg) | settled (MiB) | settled (B/msg) | fill time (s) |');
      console.log('|---|---:|---:|---:|---:|---:|');
      for (const s of rows) {
        if (s.okRounds === 0) console.log(`| ${s.broker} | ${failed(s)} |`);
        else {
          const unsettled = s.unsettledRounds ? ` (${s.unsettledRounds} not settled)` : '';
          console.log(`| ${s.broker}${okNote(s)} | ${s.fillDeltaMiB!.toFixed(1)} | ${s.fillBytesPerMessage!.toFixed(0)} | ${s.settledDeltaMiB!.toFixed(1)}${unsettled} | ${s.settledBytesPerMessage!.toFixed(0)} | ${s.fillSeconds!.toFixed(1)} |`);
        }
      }
      if (warren && rabbit) {
        console.log(`| warren / RabbitMQ | ${ratio(warren.fillDeltaMiB, rabbit.fillDeltaMiB)} | ${ratio(warren.fillBytesPerMessage, rabbit.fillBytesPerMessage)} | ${ratio(warren.settledDeltaMiB, rabbit.settledDeltaMiB)} | ${ratio(warren.settledBytesPerMessage, rabbit.settledBytesPerMessage)} | ${ratio(warren.fillSeconds, rabbit.fillSeconds)} |`);
      }
    }
  }
}

// ---- main -------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const startLoad = loadavg()[0]!;
  installSignalHandlers();
  const starters = o.brokers.filter(brokerInstalled).map((kind) => ({ kind, name: BROKER_NAMES[kind], version: brokerVersion(kind) }));
  for (const kind of o.brokers.filter((k) => !brokerInstalled(k))) {
    console.log(`${BROKER_NAMES[kind]} not found: ${installHint(kind)}${starters.length ? ` (measuring ${starters.map((s) => s.name).join(' and ')} without it)` : ''}`);
  }
  if (starters.length === 0) {
    process.exitCode = 1;
    return;
  }
  // memory-1M first on each fresh broker, recovery-1M last (see the header); tables keep the listed order
  const selected = WORKLOADS.filter((w) => o.workloads.includes(w.name));
  const order = RUN_ORDER.flatMap((kind) => selected.filter((w) => w.kind === kind));
  console.log(`${starters.map((s) => `${s.name} ${s.version}`).join(' vs ')}: ${selected.map((w) => w.name).join(', ')}; ${o.rounds} round(s); ${cpus().length} CPUs; node ${process.version}; load average ${startLoad.toFixed(2)}`);
  if (startLoad > 0.5) console.log('note: the machine is not idle (load average above 0.5): other processes compete for the CPUs and the figures will be noisy');

  const results: RoundResult[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const s of starters) {
      if (isExiting()) return;
      let b: RunningBroker;
      try {
        b = await startBroker(s.kind);
      } catch (err) {
        for (const w of order) {
          const r: RoundResult = { round, broker: s.name, workload: w.name, ok: false, error: `broker did not start: ${errorText(err)}` };
          results.push(r);
          console.log(progressLine(r));
        }
        continue;
      }
      try {
        for (const w of order) {
          if (isExiting()) return;
          const r: RoundResult = { round, broker: s.name, workload: w.name, ok: true };
          try {
            const dead = b.dead();
            if (dead) throw new Error(dead);
            if (w.kind === 'memory') r.memory = await runMemory(b, w, o);
            else if (w.kind === 'confirm') r.confirm = await runConfirm(b, w, o, harness);
            else if (w.kind === 'recovery') r.recovery = await runRecovery(b, w, o, harness);
            else if (w.kind === 'retry') r.retry = await runRetry(b, w, o, harness);
            else r.throughput = await runThroughput(b, w, o);
          } catch (err) {
            r.ok = false;
            r.error = errorText(err);
          }
          if (isExiting()) return;
          results.push(r);
          console.log(progressLine(r));
        }
      } finally {
        await b.stop();
      }
    }
  }

  const summary = summarise(results, selected, starters.map((s) => s.name));
  printTables(summary, selected, o);
  mkdirSync(join(o.json, '..'), { recursive: true });
  writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverageAtStart: startLoad, brokers: starters, options: o, rounds: results, medians: summary }, null, 2));
  console.log(`\nresults: ${o.json}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    if (!isExiting()) await cleanupAll();
  });
