/**
 * The memory-1M workload of bench/messaging.ts: the memory a queued message
 * costs a broker. bench/messaging.ts starts the brokers, runs the rounds and
 * prints; this file runs the workload on one running broker and formats its
 * results (progress line, medians, table).
 *
 * --memory-messages N (default 1,000,000) 16-byte transient messages (delivery-mode 1)
 * go into one non-durable queue without a consumer, from one warren-perf producer
 * (lib/perf/perf-producer.ts) in a worker thread (bench/lib/messaging-harness.ts),
 * as fast as the broker takes them. Broker RSS (VmRSS) minus its RSS before the first
 * publish (read 1 s after the producer connected) is read twice: the moment
 * queue.declare passive (polled every 250 ms) reports them all ("at fill"), and once
 * RSS has settled (the last 4 samples, 2 s apart, within 2% of the growth, at least
 * 2 MiB; at most --settle s, default 90), the messages still queued. The two differ a
 * lot for RabbitMQ: 1M messages cost it about 2.4 GiB at fill, falling to about
 * 0.55 GiB some 30 s later (nothing paged to disk: its transient message store stays
 * empty); the settled figure is the cost of holding the messages, the first the peak
 * a burst of them causes. A queue that stops filling up for 30 s, or is not full
 * after 600 s, fails the workload. It runs first on each fresh broker, so that its
 * baseline is not inflated by what other workloads left behind.
 */
import { queueDepth } from '../../lib/perf/raw-connection.js';
import type { RawConnection } from '../../lib/perf/raw-connection.js';
import { median, rssKiB, sleep } from './bench-process.js';
import type { RunningBroker } from './brokers.js';
import { deleteAll, freshQueue, PerfThread, watch } from './messaging-harness.js';
import type { WorkloadRow } from './messaging-harness.js';

export interface MemoryWorkload {
  name: string;
  kind: 'memory';
  bodySize: number;
}

export interface MemoryOptions {
  memoryMessages: number;
  /** at most this many seconds to wait for RSS to settle after the fill */
  settle: number;
}

export interface MemoryResult {
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

const SETTLE_INTERVAL_MS = 2000;
const SETTLE_SAMPLES = 4;

export async function runMemory(b: RunningBroker, w: MemoryWorkload, o: MemoryOptions): Promise<MemoryResult> {
  const queue = `warren-bench-${w.name}`;
  const total = o.memoryMessages;
  const threads: PerfThread[] = [];
  let ctl: RawConnection | null = null;
  try {
    ctl = await freshQueue(b.port, queue, false);
    const producer = await PerfThread.start('producer', b.port, { kind: 'producer', queue, size: w.bodySize, persistent: false, total, confirm: 0 });
    threads.push(producer);
    await sleep(1000);
    const before = rssKiB(b.pid);
    const t0 = performance.now();
    producer.go();
    // Wait until the queue holds every message, as long as it keeps filling up.
    let count = 0;
    let progressAt = Date.now();
    const deadline = Date.now() + 600_000;
    for (;;) {
      await watch(250, threads, b);
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
      await watch(SETTLE_INTERVAL_MS, threads, b);
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
    for (const t of threads) await t.close();
    await ctl?.close().catch(() => undefined);
    if (!b.dead()) await deleteAll(b.port, [queue]);
  }
}

// ---- output -------------------------------------------------------------------------

const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';

export function memoryLine(m: MemoryResult): string {
  return `RSS ${m.baselineRssMiB.toFixed(1)} MiB before; ${m.messages} messages queued in ${m.fillSeconds.toFixed(1)} s: +${m.fillDeltaMiB.toFixed(1)} MiB (${m.fillBytesPerMessage.toFixed(0)} B each); ${m.settled ? 'settled' : 'not settled'} after ${m.settleSeconds.toFixed(0)} s: +${m.settledDeltaMiB.toFixed(1)} MiB (${m.settledBytesPerMessage.toFixed(0)} B each)`;
}

export interface MemoryMedians {
  fillDeltaMiB: number;
  fillBytesPerMessage: number;
  settledDeltaMiB: number;
  settledBytesPerMessage: number;
  /** rounds in which RSS did not settle within --settle */
  unsettledRounds: number;
  fillSeconds: number;
}

export function memoryMedians(rs: MemoryResult[]): MemoryMedians {
  return {
    fillDeltaMiB: median(rs.map((r) => r.fillDeltaMiB)),
    fillBytesPerMessage: median(rs.map((r) => r.fillBytesPerMessage)),
    settledDeltaMiB: median(rs.map((r) => r.settledDeltaMiB)),
    settledBytesPerMessage: median(rs.map((r) => r.settledBytesPerMessage)),
    unsettledRounds: rs.filter((r) => !r.settled).length,
    fillSeconds: median(rs.map((r) => r.fillSeconds)),
  };
}

export function printMemoryTable(w: MemoryWorkload, rows: WorkloadRow<MemoryMedians>[], o: MemoryOptions & { rounds: number }): void {
  console.log(`\n${w.name}: medians of ${o.rounds} rounds, ${o.memoryMessages.toLocaleString('en-US')} messages of ${w.bodySize} B in one queue, broker RSS growth`);
  console.log('when the queue reports them all ("at fill"), and once RSS has settled (stable for 6 s, at most --settle s)');
  console.log('| broker | at fill (MiB) | at fill (B/msg) | settled (MiB) | settled (B/msg) | fill time (s) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const s of rows) {
    const m = s.medians;
    if (s.okRounds === 0 || !m) console.log(`| ${s.broker} | failed (${s.rounds - s.okRounds}/${s.rounds} rounds): ${s.errors.join(' | ')} |`);
    else {
      const okNote = s.okRounds < s.rounds ? ` (${s.okRounds}/${s.rounds} rounds ok)` : '';
      const unsettled = m.unsettledRounds ? ` (${m.unsettledRounds} not settled)` : '';
      console.log(`| ${s.broker}${okNote} | ${m.fillDeltaMiB.toFixed(1)} | ${m.fillBytesPerMessage.toFixed(0)} | ${m.settledDeltaMiB.toFixed(1)}${unsettled} | ${m.settledBytesPerMessage.toFixed(0)} | ${m.fillSeconds.toFixed(1)} |`);
    }
  }
  const warren = rows.find((s) => s.broker === 'warren')?.medians;
  const rabbit = rows.find((s) => s.broker === 'RabbitMQ')?.medians;
  if (warren && rabbit) {
    console.log(`| warren / RabbitMQ | ${ratio(warren.fillDeltaMiB, rabbit.fillDeltaMiB)} | ${ratio(warren.fillBytesPerMessage, rabbit.fillBytesPerMessage)} | ${ratio(warren.settledDeltaMiB, rabbit.settledDeltaMiB)} | ${ratio(warren.settledBytesPerMessage, rabbit.settledBytesPerMessage)} | ${ratio(warren.fillSeconds, rabbit.fillSeconds)} |`);
  }
}
