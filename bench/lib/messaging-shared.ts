/**
 * What bench/messaging.ts and its worker threads (bench/lib/messaging-worker.ts)
 * share: the layout of the shared counters and the messages they exchange.
 *
 * The counters are Int32 (what Atomics handles without BigInt): 2^31 messages
 * per counter, which bench/messaging.ts keeps well away from by capping the
 * durations and message counts it accepts.
 */

export const SLOT = {
  /** 0 running, STOP when the main thread wants the producer to stop */
  control: 0,
  /** messages written to the producer's socket */
  published: 1,
  /** with publisher confirms: publishes the broker confirmed (basic.ack) */
  confirmed: 2,
  /** with publisher confirms: publishes the broker refused (basic.nack) */
  nacked: 3,
  /** first of one slot per queue: basic.deliver frames its consumer received */
  delivered: 4,
} as const;
export const STOP = 1;

export interface ProducerData {
  role: 'producer';
  port: number;
  shared: SharedArrayBuffer;
  exchange: string;
  routingKey: string;
  bodySize: number;
  /** stop after this many messages (0: until told to stop) */
  total: number;
  /** pause while published - (slowest queue's delivered) >= window (0: no limit) */
  window: number;
  /** number of delivered slots to look at for the window */
  queues: number;
  /** delivery-mode 2 (persistent) instead of 1 */
  persistent?: boolean;
  /**
   * confirm.select first, and never more than this many publishes unconfirmed (0 or
   * absent: no confirms). With total > 0, 'done' waits until every publish is settled.
   */
  confirmWindow?: number;
}

export interface ConsumerData {
  role: 'consumer';
  port: number;
  shared: SharedArrayBuffer;
  queues: string[];
  /** index of queues[0]'s delivered slot, relative to SLOT.delivered */
  firstSlot: number;
  /** manual acks (one basic.ack per delivery) with basic.qos prefetch-count this; 0 or absent: no-ack */
  prefetch?: number;
  /** connect (and basic.qos) before 'ready' but send basic.consume only on 'go' */
  consumeOnGo?: boolean;
}

export type WorkerData = ProducerData | ConsumerData;

/** Confirm latency (ms from the write of a publish to the basic.ack that settled it). */
export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** measure: start recording confirm latencies (a confirming producer; reported with 'done') */
export type ToWorker = { type: 'go' } | { type: 'measure' } | { type: 'stop' } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; published: number; confirmed?: number; nacked?: number; latency?: LatencySummary }
  | { type: 'closed' }
  | { type: 'error'; message: string };
