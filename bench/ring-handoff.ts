/**
 * What handing a message from one thread to another costs, for the design in
 * which I/O worker threads own the sockets and the AMQP codec and one core
 * thread owns exchanges and queues, with SPSC rings in SharedArrayBuffers
 * between them (bench/lib/shared-ring.ts).
 *
 *   npm run build && node dist/bench/ring-handoff.js [--runs 3]
 *
 * One producer and one consumer, each a worker thread (this file, by
 * workerData). The consumer reads the first 8 bytes of every record, as a
 * router reads a routing key. For 16 B, 1 KiB and 64 KiB records:
 * - throughput: the producer writes as fast as the ring takes records
 *   (publishing per record), the consumer reads in batches of up to 4096 and,
 *   when the ring is empty, spins SPIN checks and then sleeps in Atomics.wait;
 *   records/s and payload MB/s over MEASURE_MS after WARMUP_MS;
 * - latency: the producer writes RATE records/s, each stamped with
 *   process.hrtime (one monotonic clock for all threads), and the consumer
 *   takes p50 / p99 of (arrival - stamp); the consumer sleeps in Atomics.wait
 *   as soon as the ring is empty ("wait"), or never sleeps ("spin"), or is the
 *   main thread awaiting Atomics.waitAsync ("waitAsync").
 * For comparison, 16 B records sent with postMessage (a structured-clone copy
 * of a Uint8Array per record) over a MessageChannel between the two workers,
 * at most WINDOW unacknowledged. Each measurement runs --runs times
 * (interleaved); the table gives the median and the range, and
 * bench-results/ring-handoff.json every run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { MessageChannel, Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SharedRing } from './lib/shared-ring.js';

const RING_BYTES = 1 << 20;
const SIZES = [16, 1024, 65536];
const WARMUP_MS = 500;
const MEASURE_MS = 3000;
const LATENCY_WARMUP_MS = 300;
const LATENCY_MS = 2000;
const RATE = 10_000;
const SPIN = 1000;
const BATCH = 4096;
const WINDOW = 4096;
/** ctl words (Int32Array over a SharedArrayBuffer of its own) */
const STOP = 0;
const ACK = 1;
const IDLE = 2;

type Transport = 'ring' | 'postMessage';
type Wait = 'wait' | 'spin' | 'waitAsync';
interface Job { kind: 'throughput' | 'latency'; transport: Transport; size: number; wait: Wait }
interface Role { role: 'producer' | 'consumer'; job: Job; ctl: SharedArrayBuffer; sab?: SharedArrayBuffer; port?: MessagePort }
interface Result { job: Job; recordsPerSec: number; mbPerSec: number; p50us?: number; p99us?: number; maxus?: number; samples?: number; emptyReads: number; check: number }

const nowNs = (): number => Number(process.hrtime.bigint());
const stampBytes = new Uint8Array(8);
const stampF64 = new Float64Array(stampBytes.buffer);

/** The consumer's side of one job, on whichever thread; resolves with the job's figures. */
async function consume(r: Role): Promise<Result> {
  const { job } = r;
  const ctl = new Int32Array(r.ctl);
  const latency = job.kind === 'latency';
  const lat = new Float64Array(latency ? (RATE * (LATENCY_MS + 1000)) / 1000 : 0);
  let records = 0;
  let bytes = 0;
  let nLat = 0;
  let check = 0;
  let emptyReads = 0;
  let phase = 0; // 0 before the first record, 1 warming up, 2 measuring, 3 done
  let tWarm = 0;
  let tStart = 0;
  let base = 0;
  let baseBytes = 0;
  let result: Result | undefined;
  const onRecord = (b: Uint8Array, start: number, end: number): void => {
    const head = Math.min(end, start + 8);
    for (let i = start; i < head; i++) check = (check * 31 + b[i]!) | 0;
    records++;
    bytes += end - start;
    if (latency && phase === 2 && nLat < lat.length) {
      for (let i = 0; i < 8; i++) stampBytes[i] = b[start + i]!;
      lat[nLat++] = nowNs() - stampF64[0]!;
    }
  };
  const clock = (): void => {
    const now = performance.now();
    if (phase === 0 && records > 0) (phase = 1), (tWarm = now);
    if (phase === 1 && now - tWarm >= (latency ? LATENCY_WARMUP_MS : WARMUP_MS)) (phase = 2), (tStart = now), (base = records), (baseBytes = bytes);
    if (phase === 2 && now - tStart >= (latency ? LATENCY_MS : MEASURE_MS)) {
      phase = 3;
      Atomics.store(ctl, STOP, 1);
      const secs = (now - tStart) / 1000;
      result = { job, recordsPerSec: (records - base) / secs, mbPerSec: (bytes - baseBytes) / secs / 1e6, emptyReads, check };
      if (latency) {
        const s = lat.subarray(0, nLat).sort();
        const q = (p: number): number => s[Math.min(nLat - 1, Math.floor(p * nLat))]! / 1000;
        Object.assign(result, { p50us: q(0.5), p99us: q(0.99), maxus: s[nLat - 1]! / 1000, samples: nLat });
      }
    }
  };
  if (job.transport === 'postMessage') {
    const port = r.port!;
    return new Promise((resolve) => {
      port.on('message', (m: Uint8Array) => {
        onRecord(m, 0, m.length);
        if ((records & 255) === 0) Atomics.store(ctl, ACK, records), Atomics.notify(ctl, ACK);
        clock();
        if (result) port.close(), resolve(result);
      });
    });
  }
  const ring = new SharedRing(r.sab!);
  while (!result) {
    if (ring.read(onRecord, BATCH) === 0) {
      emptyReads++;
      if (job.wait === 'waitAsync') await ring.waitForDataAsync(50);
      else if (job.wait === 'wait') ring.waitForData(50, job.kind === 'throughput' ? SPIN : 0);
    }
    clock();
  }
  return result;
}

/** The producer's side of one job (in a worker); returns when the consumer sets STOP. */
function produce(r: Role): void {
  const { job } = r;
  const ctl = new Int32Array(r.ctl);
  const payload = new Uint8Array(job.size);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 255;
  const ring = job.transport === 'ring' ? new SharedRing(r.sab!) : undefined;
  const port = r.port;
  let sent = 0;
  const send = (): void => {
    if (ring) {
      while (!ring.tryWrite(payload)) if (!ring.waitForSpace(payload.length, 50) && Atomics.load(ctl, STOP)) return;
    } else {
      let acked: number;
      while (sent - (acked = Atomics.load(ctl, ACK)) >= WINDOW) if (Atomics.wait(ctl, ACK, acked, 50) === 'timed-out' && Atomics.load(ctl, STOP)) return;
      port!.postMessage(payload);
    }
    sent++;
  };
  if (job.kind === 'throughput') {
    while (!Atomics.load(ctl, STOP)) {
      for (let i = 0; i < 256; i++) (payload[0] = sent & 255), send();
    }
    return;
  }
  const interval = 1e9 / RATE;
  let next = nowNs();
  while (!Atomics.load(ctl, STOP)) {
    const ahead = next - nowNs();
    if (ahead > 200_000) Atomics.wait(ctl, IDLE, 0, (ahead - 100_000) / 1e6);
    while (nowNs() < next);
    stampF64[0] = nowNs();
    for (let i = 0; i < 8; i++) payload[i] = stampBytes[i]!;
    send();
    next += interval;
  }
}

function start(role: Role): { worker: Worker; done: Promise<unknown> } {
  const worker = new Worker(new URL(import.meta.url), { workerData: role, transferList: role.port ? [role.port] : [] });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, done };
}

async function runJob(job: Job): Promise<Result> {
  const ctl = new SharedArrayBuffer(64);
  const sab = job.transport === 'ring' ? SharedRing.allocate(RING_BYTES) : undefined;
  const channel = job.transport === 'postMessage' ? new MessageChannel() : undefined;
  const consumer = job.wait === 'waitAsync' ? undefined : start({ role: 'consumer', job, ctl, sab, port: channel?.port2 });
  const producer = start({ role: 'producer', job, ctl, sab, port: channel?.port1 });
  const result = (await (consumer ? consumer.done : consume({ role: 'consumer', job, ctl, sab }))) as Result;
  await producer.done;
  await Promise.all([producer.worker.terminate(), consumer?.worker.terminate()]);
  return result;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
function cell(xs: (number | undefined)[], digits: number): string {
  const v = xs.filter((x): x is number => x !== undefined);
  if (!v.length) return '';
  const f = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return v.length === 1 ? f(v[0]!) : `${f(median(v))} (${f(Math.min(...v))}–${f(Math.max(...v))})`;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 3;
  const jobs: Job[] = [
    ...SIZES.map((size): Job => ({ kind: 'throughput', transport: 'ring', size, wait: 'wait' })),
    { kind: 'throughput', transport: 'postMessage', size: 16, wait: 'wait' },
    ...SIZES.map((size): Job => ({ kind: 'latency', transport: 'ring', size, wait: 'wait' })),
    { kind: 'latency', transport: 'ring', size: 16, wait: 'spin' },
    { kind: 'latency', transport: 'ring', size: 16, wait: 'waitAsync' },
    { kind: 'latency', transport: 'postMessage', size: 16, wait: 'wait' },
  ];
  const all: Result[][] = jobs.map(() => []);
  for (let run = 1; run <= runs; run++) {
    for (const [j, job] of jobs.entries()) {
      const r = await runJob(job);
      all[j]!.push(r);
      const lat = r.p50us !== undefined ? ` p50 ${r.p50us.toFixed(1)} us p99 ${r.p99us!.toFixed(1)} us` : '';
      console.error(`run ${run}/${runs} ${job.kind} ${job.transport} ${job.size} B ${job.wait}: ${Math.round(r.recordsPerSec)} rec/s ${r.mbPerSec.toFixed(1)} MB/s${lat} (empty reads ${r.emptyReads})`);
    }
  }
  const consumerLabel = (j: Job): string =>
    j.transport === 'postMessage' ? 'event loop' : j.kind === 'throughput' ? `spin ${SPIN}, then Atomics.wait` : j.wait === 'waitAsync' ? 'Atomics.waitAsync (main thread)' : j.wait === 'spin' ? 'spins, never sleeps' : 'Atomics.wait at once';
  const lines = [
    `Throughput (${MEASURE_MS / 1000} s after ${WARMUP_MS} ms warm-up) and one-way latency at ${RATE.toLocaleString('en-US')} records/s; median (min–max) of ${runs} runs; ring ${RING_BYTES >> 10} KiB.`,
    '',
    '| measurement | transport | size | consumer when idle | records/s | MB/s | p50 µs | p99 µs |',
    '|---|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const [j, job] of jobs.entries()) {
    const rs = all[j]!;
    const size = job.size >= 1024 ? `${job.size / 1024} KiB` : `${job.size} B`;
    const tput = job.kind === 'throughput';
    lines.push(`| ${job.kind} | ${job.transport} | ${size} | ${consumerLabel(job)} | ${tput ? cell(rs.map((r) => r.recordsPerSec), 0) : ''} | ${tput ? cell(rs.map((r) => r.mbPerSec), 1) : ''} | ${cell(rs.map((r) => r.p50us), 1)} | ${cell(rs.map((r) => r.p99us), 1)} |`);
  }
  console.log(lines.join('\n'));
  mkdirSync('bench-results', { recursive: true });
  const out = {
    command: 'npm run build && node dist/bench/ring-handoff.js' + (runs !== 3 ? ` --runs ${runs}` : ''),
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    config: { RING_BYTES, WARMUP_MS, MEASURE_MS, LATENCY_WARMUP_MS, LATENCY_MS, RATE, SPIN, BATCH, WINDOW },
    jobs: jobs.map((job, j) => ({ job, runs: all[j]!.map(({ job: _job, ...r }) => r) })),
  };
  writeFileSync('bench-results/ring-handoff.json', JSON.stringify(out, null, 2) + '\n');
}

if (isMainThread) {
  await main();
} else {
  const role = workerData as Role;
  if (role.role === 'producer') produce(role), parentPort!.postMessage('done');
  else parentPort!.postMessage(await consume(role));
}
