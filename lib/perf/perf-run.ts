/**
 * warren-perf's run: declares the topology, spreads producers and consumers
 * over worker threads (lib/perf/perf-worker.ts), prints rates once a second,
 * and returns a PerfResult. Two modes:
 *  - timed: consumers and producers start together; after --warmup the rates
 *    and latencies are measured for --time seconds. With no consumers, it then
 *    waits until the broker reports every publish queued, and also reports that
 *    rate (what the broker took in, not what sat in socket buffers).
 *  - prefill: producers publish --prefill messages with no consumer; once the
 *    broker reports them all queued, consumers start and the drain is timed.
 * runPerf is what bin/warren-perf and `npm run bench` both call.
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseAmqpUri, redactUri } from './amqp-uri.js';
import { Histogram } from './histogram.js';
import type { LatencySummary } from './histogram.js';
import type { PerfOptions } from './perf-options.js';
import { formatProgress } from './perf-report.js';
import { CONFIRMED, consumerSlot, NACKED, PRODUCER_SLOTS, PUBLISHED, sharedSlots, SLOT, STOP } from './perf-shared.js';
import type { FromPerfWorker, PerfWorkerData, Role, ToPerfWorker } from './perf-shared.js';
import { declareTopology, planTopology, queuedMessages } from './perf-topology.js';
import { RawConnection } from './raw-connection.js';
import { startSink } from './sink.js';

const WORKER_URL = new URL(`./perf-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export interface Rates {
  published: number;
  confirmed: number;
  received: number;
}
export interface Phase {
  messages: number;
  seconds: number;
  rate: number;
}
export interface PerfResult {
  uri: string;
  options: Omit<PerfOptions, 'uri'>;
  mode: 'timed' | 'prefill';
  /** measured seconds (timed mode) */
  seconds: number;
  /** counted while measuring */
  counts: Rates & { nacked: number };
  /** per second while measuring */
  rates: Rates & { receivedMBps: number };
  latency: { endToEnd?: LatencySummary; confirm?: LatencySummary };
  perSecond: (Rates & { t: number })[];
  /** timed mode without consumers: from the first publish until the broker reported them all queued */
  queued?: Phase;
  prefill?: Phase;
  drain?: Phase;
  /** CPU warren-perf used while measuring, % of one core (all threads) */
  clientCpu: number;
}

export interface PerfHooks {
  /** a progress line, once a second */
  progress?(line: string): void;
  /** stop early (timed mode: the measurement ends there) */
  signal?: AbortSignal;
  /** prefill mode: called once the broker reports the prefill queued, before consumers start */
  prefilled?(): Promise<void> | void;
  /** called when the measurement is over, before anything is deleted (the broker still holds what is queued) */
  measured?(): Promise<void> | void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Worker threads with their roles: producers first, then consumers, round-robin. */
function assignRoles(o: PerfOptions, roles: Role[]): Role[][] {
  const threads = o.threads > 0 ? o.threads : Math.min(roles.length, Math.max(2, availableParallelism()));
  const out: Role[][] = Array.from({ length: Math.min(threads, roles.length) }, () => []);
  roles.forEach((r, i) => out[i % out.length]!.push(r));
  return out;
}

class Workers {
  readonly list: Worker[] = [];
  private failure: Error | null = null;
  private readonly waiters = new Set<(m: FromPerfWorker | null) => void>();

  constructor(groups: Role[][], data: Omit<PerfWorkerData, 'roles'>) {
    for (const roles of groups) {
      const w = new Worker(WORKER_URL, { workerData: { ...data, roles } satisfies PerfWorkerData });
      w.on('message', (m: FromPerfWorker) => {
        if (m.type === 'error') this.fail(new Error(m.message));
        for (const f of [...this.waiters]) f(m);
      });
      w.on('error', (err) => this.fail(err));
      this.list.push(w);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const f of [...this.waiters]) f(null);
  }

  check(): void {
    if (this.failure) throw this.failure;
  }

  send(m: ToPerfWorker, to: Worker[] = this.list): void {
    for (const w of to) w.postMessage(m);
  }

  /** Wait for one message of `type` from each of `from`. */
  collect<T extends FromPerfWorker['type']>(type: T, from: Worker[] = this.list, timeoutMs = 60_000): Promise<Extract<FromPerfWorker, { type: T }>[]> {
    this.check();
    return new Promise((resolve, reject) => {
      const got = new Map<Worker, Extract<FromPerfWorker, { type: T }>>();
      const handlers = from.map((w) => {
        const h = (m: FromPerfWorker): void => {
          if (m.type === type && !got.has(w)) got.set(w, m as Extract<FromPerfWorker, { type: T }>);
          if (got.size === from.length) done();
        };
        w.on('message', h);
        return [w, h] as const;
      });
      const onFail = (m: FromPerfWorker | null): void => void (m === null && done());
      const timer = setTimeout(() => done(new Error(`no ${type} from the workers within ${timeoutMs / 1000} s`)), timeoutMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(onFail);
        for (const [w, h] of handlers) w.off('message', h);
        if (err ?? this.failure) reject(err ?? this.failure);
        else resolve(from.map((w) => got.get(w)!));
      };
      this.waiters.add(onFail);
      if (from.length === 0) done();
    });
  }

  async close(): Promise<void> {
    this.send({ type: 'close' });
    await this.collect('closed', this.list, 10_000).catch(() => undefined);
    await Promise.all(this.list.map((w) => w.terminate()));
  }
}

export async function runPerf(o: PerfOptions, hooks: PerfHooks = {}): Promise<PerfResult> {
  const sink = o.sink ? await startSink(o.size) : null;
  const uri = sink ? `amqp://guest:guest@127.0.0.1:${sink.port}/%2F` : o.uri;
  const target = parseAmqpUri(uri);
  const topology = planTopology(o);
  const slots = new SharedArrayBuffer(4 * sharedSlots(o.producers, o.consumers));
  const shared = new Int32Array(slots);
  const roles: Role[] = [];
  const prefillShare = (i: number): number => Math.floor(o.prefill / o.producers) + (i < o.prefill % o.producers ? 1 : 0);
  for (let i = 0; i < o.producers; i++) {
    roles.push({
      kind: 'producer', index: i, exchange: topology.exchange, routingKey: topology.routingKey(i), size: o.size, persistent: o.persistent,
      total: o.prefill > 0 ? prefillShare(i) : 0, rate: o.rate, confirm: o.confirm, window: o.window, copies: topology.copies,
      producers: o.producers, consumers: o.consumers,
    });
  }
  for (let j = 0; j < o.consumers; j++) {
    roles.push({ kind: 'consumer', index: j, producers: o.producers, queue: topology.queueOf(j), autoack: o.autoack, prefetch: o.prefetch, multiAckEvery: o.multiAckEvery });
  }
  const ctl = await RawConnection.open(target, 'warren-perf control');
  let undo: (() => Promise<void>) | null = null;
  let workers: Workers | null = null;
  try {
    undo = sink ? null : await declareTopology(ctl, target, topology, o);
    const groups = assignRoles(o, roles);
    workers = new Workers(groups, { target, shared: slots });
    await workers.collect('ready');
    const producerWorkers = workers.list.filter((_, i) => groups[i]!.some((r) => r.kind === 'producer'));

    const totals = (): { published: number; confirmed: number; nacked: number; received: number } => {
      let published = 0, confirmed = 0, nacked = 0, received = 0;
      for (let i = 0; i < o.producers; i++) {
        const b = SLOT.producers + i * PRODUCER_SLOTS;
        published += Atomics.load(shared, b + PUBLISHED);
        confirmed += Atomics.load(shared, b + CONFIRMED);
        nacked += Atomics.load(shared, b + NACKED);
      }
      for (let j = 0; j < o.consumers; j++) received += Atomics.load(shared, consumerSlot(o.producers, j));
      return { published, confirmed, nacked, received };
    };
    const perSecond: (Rates & { t: number })[] = [];
    let last = { ...totals(), at: performance.now() };
    const started = performance.now();
    const tick = setInterval(() => {
      const now = { ...totals(), at: performance.now() };
      const s = (now.at - last.at) / 1000;
      const r = { t: Math.round((now.at - started) / 1000), published: ((now.published - last.published) | 0) / s, confirmed: ((now.confirmed - last.confirmed) | 0) / s, received: ((now.received - last.received) | 0) / s };
      perSecond.push(r);
      hooks.progress?.(formatProgress(r, (now.published * topology.copies - now.received) | 0, o));
      last = now;
    }, 1000);
    let cpuFrom = process.cpuUsage();
    let measuredFrom = performance.now();
    let clientCpu = 0;
    const measure = (): void => {
      cpuFrom = process.cpuUsage();
      measuredFrom = performance.now();
      Atomics.store(shared, SLOT.measuring, 1);
    };
    const measured = (): void => {
      const cpu = process.cpuUsage(cpuFrom);
      clientCpu = (100 * (cpu.user + cpu.system)) / 1e6 / Math.max(1e-3, (performance.now() - measuredFrom) / 1000);
    };
    const aborted = (): boolean => hooks.signal?.aborted === true;
    const waitFor = async (done: () => boolean | Promise<boolean>, what: string): Promise<number> => {
      const t0 = performance.now();
      while (!(await done())) {
        workers!.check();
        if (aborted()) throw new Error(`stopped while waiting for ${what}`);
        await sleep(20);
      }
      return (performance.now() - t0) / 1000;
    };

    let result: Omit<PerfResult, 'latency' | 'clientCpu' | 'perSecond'>;
    const base = { uri: redactUri(uri), options: { ...o, uri: undefined } as Omit<PerfOptions, 'uri'> };
    try {
      if (o.prefill > 0) {
        const goAt = performance.now();
        workers.send({ type: 'start-producers' }, producerWorkers);
        await workers.collect('producers-done', producerWorkers, 3_600_000);
        const expected = o.prefill * topology.copies;
        if (!sink) await waitFor(async () => (await queuedMessages(ctl, topology)) >= expected, 'the prefill to be queued');
        const prefillSeconds = (performance.now() - goAt) / 1000;
        await hooks.prefilled?.();
        measure();
        const c0 = totals();
        workers.send({ type: 'start-consumers' });
        const drainSeconds = o.consumers === 0 ? 0 : await waitFor(() => ((totals().received - c0.received) | 0) >= expected, 'the drain');
        measured();
        const c1 = totals();
        result = {
          ...base, mode: 'prefill', seconds: drainSeconds,
          counts: { published: o.prefill, confirmed: c1.confirmed, nacked: c1.nacked, received: (c1.received - c0.received) | 0 },
          rates: { published: 0, confirmed: 0, received: drainSeconds > 0 ? expected / drainSeconds : 0, receivedMBps: drainSeconds > 0 ? (expected * o.size) / drainSeconds / 1e6 : 0 },
          prefill: { messages: o.prefill, seconds: prefillSeconds, rate: o.prefill / prefillSeconds },
          ...(o.consumers > 0 ? { drain: { messages: expected, seconds: drainSeconds, rate: expected / drainSeconds } } : {}),
        };
      } else {
        const goAt = performance.now();
        workers.send({ type: 'start-consumers' });
        workers.send({ type: 'start-producers' });
        const until = async (ms: number): Promise<void> => {
          const end = performance.now() + ms;
          while (performance.now() < end && !aborted()) {
            workers!.check();
            await sleep(Math.min(50, end - performance.now()));
          }
        };
        await until(o.warmup * 1000);
        measure();
        const c0 = totals();
        await until(o.time * 1000);
        const c1 = totals();
        const seconds = (performance.now() - measuredFrom) / 1000;
        measured();
        Atomics.store(shared, SLOT.control, STOP);
        workers.send({ type: 'stop' });
        const counts = { published: (c1.published - c0.published) | 0, confirmed: (c1.confirmed - c0.confirmed) | 0, nacked: (c1.nacked - c0.nacked) | 0, received: (c1.received - c0.received) | 0 };
        let queued: Phase | undefined;
        if (o.consumers === 0 && o.producers > 0 && !sink) {
          workers.send({ type: 'report' });
          const reports = await workers.collect('report');
          const all = reports.reduce((a, r) => a + r.published, 0) * topology.copies;
          let seen = -1, stableSince = performance.now();
          await waitFor(async () => {
            const n = await queuedMessages(ctl, topology);
            if (n !== seen) [seen, stableSince] = [n, performance.now()];
            return n >= all || performance.now() - stableSince > 5000;
          }, 'the publishes to be queued');
          const s = (performance.now() - goAt) / 1000;
          queued = { messages: seen, seconds: s, rate: seen / s };
        }
        result = {
          ...base, mode: 'timed', seconds, counts,
          rates: { published: counts.published / seconds, confirmed: counts.confirmed / seconds, received: counts.received / seconds, receivedMBps: (counts.received * o.size) / seconds / 1e6 },
          ...(queued ? { queued } : {}),
        };
      }
    } finally {
      clearInterval(tick);
    }
    Atomics.store(shared, SLOT.measuring, 0);
    workers.send({ type: 'report' });
    const reports = await workers.collect('report');
    await hooks.measured?.();
    const e2e = new Histogram();
    const confirm = new Histogram();
    for (const r of reports) {
      e2e.merge(r.endToEnd);
      confirm.merge(r.confirm);
    }
    const latency: PerfResult['latency'] = {};
    const e2eSummary = e2e.summary();
    const confirmSummary = confirm.summary();
    if (e2eSummary) latency.endToEnd = e2eSummary;
    if (confirmSummary) latency.confirm = confirmSummary;
    return { ...result, latency, perSecond, clientCpu };
  } finally {
    Atomics.store(shared, SLOT.control, STOP);
    await workers?.close();
    await undo?.().catch(() => undefined);
    await ctl.close();
    await sink?.close();
  }
}
