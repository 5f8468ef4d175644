/**
 * What warren-perf's main thread (perf-run.ts) and its worker threads
 * (perf-worker.ts) share: the layout of the shared counters, the roles a
 * worker is given, the messages they exchange, and the clock.
 *
 * Counters are Int32 slots that wrap: readers only ever take differences
 * ((a - b) | 0), which stay exact while they are below 2^31, and exact
 * totals come with the final report.
 */
import type { AmqpTarget } from './raw-connection.js';

export const SLOT = {
  /** 0 running, STOP when producers must stop */
  control: 0,
  /** 1 while measuring: latencies are recorded */
  measuring: 1,
  /** first producer slot; each producer has PRODUCER_SLOTS of them */
  producers: 4,
} as const;
export const STOP = 1;
export const PRODUCER_SLOTS = 3;
/** offsets within a producer's slots */
export const PUBLISHED = 0;
export const CONFIRMED = 1;
export const NACKED = 2;

/** Slot of consumer j's received count. */
export const consumerSlot = (producers: number, j: number): number => SLOT.producers + producers * PRODUCER_SLOTS + j;
export const sharedSlots = (producers: number, consumers: number): number => consumerSlot(producers, consumers);

export interface ProducerRole {
  kind: 'producer';
  index: number;
  exchange: string;
  routingKey: string;
  size: number;
  persistent: boolean;
  /** stop after this many (0: until told) */
  total: number;
  /** msg/s, 0 unlimited */
  rate: number;
  /** max unconfirmed, 0: no confirms */
  confirm: number;
  /** max unconsumed (all producers) per copy, 0: off; copies = deliveries each publish makes */
  window: number;
  copies: number;
  producers: number;
  consumers: number;
}

export interface ConsumerRole {
  kind: 'consumer';
  index: number;
  producers: number;
  queue: string;
  autoack: boolean;
  prefetch: number;
  multiAckEvery: number;
}

export type Role = ProducerRole | ConsumerRole;

export interface PerfWorkerData {
  target: AmqpTarget;
  shared: SharedArrayBuffer;
  roles: Role[];
}

/** A worker's histograms, as plain data (see Histogram). */
export interface HistogramData {
  counts: Float64Array;
  samples: number;
  min: number;
  max: number;
}

export type ToPerfWorker =
  | { type: 'start-consumers' }
  | { type: 'start-producers' }
  | { type: 'stop' }
  | { type: 'report' }
  | { type: 'reset-latency' }
  | { type: 'close' };

export type FromPerfWorker =
  | { type: 'ready' }
  /** all of this worker's producers reached their total (and have every confirm) */
  | { type: 'producers-done' }
  | { type: 'report'; endToEnd: HistogramData; confirm: HistogramData; published: number; confirmed: number; nacked: number; received: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };

/**
 * Milliseconds on one clock for every thread of the machine: performance.now()
 * differs per worker (each has its own timeOrigin), CLOCK_MONOTONIC
 * (process.hrtime) does not but costs a BigInt per read. So clockMs is
 * performance.now() plus an offset to hrtime, measured again every 200 ms:
 * measured once at start-up it was seen off by up to 6 ms in a new worker.
 * A clock read costs one addition; an error of some microseconds remains.
 */
let offset = NaN;
/** The reading bracketed most tightly by two performance.now() calls (a thread preempted in between would skew it). */
const calibrate = (): void => {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const h = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < best && (after - before < 0.05 || Number.isNaN(offset))) {
      best = after - before;
      offset = h - (before + after) / 2;
    }
  }
};
calibrate();
setInterval(calibrate, 200).unref();
export const clockMs = (): number => performance.now() + offset;
