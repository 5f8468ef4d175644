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
  /** first of one slot per queue: basic.deliver frames its consumer received */
  delivered: 2,
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
}

export interface ConsumerData {
  role: 'consumer';
  port: number;
  shared: SharedArrayBuffer;
  queues: string[];
  /** index of queues[0]'s delivered slot, relative to SLOT.delivered */
  firstSlot: number;
}

export type WorkerData = ProducerData | ConsumerData;

export type ToWorker = { type: 'go' } | { type: 'stop' } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; published: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };
