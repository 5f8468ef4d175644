/**
 * Worker side of spec/bench/shared-ring.test.ts (a file of its own so that
 * the worker loads TypeScript through tap's loader, which execArgv passes on;
 * an eval'd worker does not get it). Roles:
 * - produce: writes `count` records whose lengths (0..300) and bytes come from
 *   records(seed), in batches of 1..8 with deferred publishes, sleeping in
 *   waitForSpace when the ring is full; then posts { done, waits }.
 * - sleep-consume: posts 'ready', sleeps in waitForData(10 s), reads what woke
 *   it and posts { woke, sleptMs, got }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedRing } from '../../bench/lib/shared-ring.js';

export interface ProduceData { role: 'produce'; sab: SharedArrayBuffer; count: number; seed: number }
export interface SleepData { role: 'sleep-consume'; sab: SharedArrayBuffer }

/** A deterministic stream of records: next(buf) fills buf with one and returns its length. */
export function records(seed: number): { next(buf: Uint8Array): number } {
  let s = seed >>> 0 || 1;
  const rand = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
  return {
    next(buf: Uint8Array): number {
      const len = rand() % 301;
      for (let i = 0; i < len; i++) buf[i] = rand() & 255;
      return len;
    },
  };
}

const data = workerData as ProduceData | SleepData | undefined;
if (parentPort && data?.role === 'produce') {
  const ring = new SharedRing(data.sab);
  const gen = records(data.seed);
  const buf = new Uint8Array(301);
  let waits = 0;
  let batch = 0;
  for (let i = 0; i < data.count; i++) {
    const len = gen.next(buf);
    const last = i === data.count - 1 || ++batch === 1 + (i % 8);
    while (!ring.tryWrite(buf, 0, len, last)) {
      waits++;
      ring.waitForSpace(len, 1000);
    }
    if (last) batch = 0;
  }
  ring.publish();
  parentPort.postMessage({ done: data.count, waits });
} else if (parentPort && data?.role === 'sleep-consume') {
  const ring = new SharedRing(data.sab);
  parentPort.postMessage('ready');
  const t0 = performance.now();
  const woke = ring.waitForData(10_000);
  const sleptMs = performance.now() - t0;
  const got: number[] = [];
  ring.read((b, start, end) => got.push(...b.subarray(start, end)));
  parentPort.postMessage({ woke, sleptMs, got });
}
