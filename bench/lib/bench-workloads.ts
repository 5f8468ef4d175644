/**
 * The workloads of `npm run bench` (issue 7), each a warren-perf command line,
 * and the figures ("metrics") the table and chart compare: which PerfResult
 * field each reads, its unit, whether lower is better, and its target as a
 * ratio to RabbitMQ.
 */
import type { PerfResult } from '../../lib/perf/perf-run.js';

export interface BenchTiming {
  /** measured seconds per timed workload */
  time: number;
  warmup: number;
  /** messages prefilled in (g) */
  prefill: number;
  /** seconds of (h) */
  publishOnly: number;
}

/** What a run leaves besides its PerfResult: broker RSS (KiB) read by the hooks. */
export interface RunExtras {
  rssPrefilledKiB?: number;
  rssEndKiB?: number;
}

export interface BenchWorkload {
  id: string;
  title: string;
  argv(t: BenchTiming): string[];
}

export interface BenchMetric {
  id: string;
  workload: string;
  label: string;
  unit: 'msg/s' | 'MB/s' | 'ms' | 'MiB';
  lowerIsBetter?: boolean;
  /** ratio to RabbitMQ: at least (or, lowerIsBetter, at most) this */
  target: number;
  read(r: PerfResult, x: RunExtras): number | undefined;
}

/** Producers never run more than this far ahead of the slowest consumer (see warren-perf --window). */
const WINDOW = ['--window', '50000'];
const timed = (t: BenchTiming): string[] => ['--time', String(t.time), '--warmup', String(t.warmup)];

export const WORKLOADS: BenchWorkload[] = [
  { id: 'a', title: '1 producer, 1 consumer, 16 B, transient, autoack', argv: (t) => [...timed(t), '-s', '16', '-a', ...WINDOW] },
  { id: 'b', title: '1 producer, 1 consumer, 1 KiB, transient, autoack', argv: (t) => [...timed(t), '-s', '1024', '-a', ...WINDOW] },
  { id: 'c', title: '1 producer, 1 consumer, 64 KiB, transient, autoack', argv: (t) => [...timed(t), '-s', '65536', '-a', '--window', '200'] }, // 13 MB in flight: under a queue's memory budget
  {
    id: 'd',
    title: 'confirms (1,000 outstanding), persistent 1 KiB, durable queue, manual ack, prefetch 1,000',
    argv: (t) => [...timed(t), '-s', '1024', '-f', '-c', '1000', '-q', '1000', ...WINDOW],
  },
  { id: 'e', title: 'fanout to 10 queues, 10 consumers, 16 B, autoack', argv: (t) => [...timed(t), '-s', '16', '-t', 'fanout', '--queues', '10', '-y', '10', '-a', ...WINDOW] },
  { id: 'f', title: '4 producers, 4 consumers, 4 queues, 16 B, autoack', argv: (t) => [...timed(t), '-s', '16', '-x', '4', '-y', '4', '--queues', '4', '-a', ...WINDOW] },
  {
    id: 'g',
    title: 'prefill persistent 16 B (confirms, 1,000 outstanding) into a durable queue, then drain (manual ack, prefetch 1,000)',
    argv: (t) => ['--prefill', String(t.prefill), '-s', '16', '-f', '-c', '1000', '-q', '1000'],
  },
  { id: 'h', title: 'publish only, 16 B transient, no consumer', argv: (t) => ['--time', String(t.publishOnly), '-s', '16', '-y', '0'] },
  { id: 'lat', title: 'end-to-end latency at 10,000 msg/s, 16 B, autoack', argv: (t) => ['--time', String(t.time), '--warmup', String(t.warmup), '-s', '16', '-a', '--rate', '10000'] },
];

const MIB = 1024;

export const METRICS: BenchMetric[] = [
  { id: 'a', workload: 'a', label: '(a) 1p/1c 16 B, delivered msg/s', unit: 'msg/s', target: 3.5, read: (r) => r.rates.received },
  { id: 'b', workload: 'b', label: '(b) 1p/1c 1 KiB, delivered msg/s', unit: 'msg/s', target: 3.0, read: (r) => r.rates.received },
  { id: 'c', workload: 'c', label: '(c) 1p/1c 64 KiB, delivered MB/s', unit: 'MB/s', target: 1.2, read: (r) => r.rates.receivedMBps },
  { id: 'd', workload: 'd', label: '(d) confirms, persistent 1 KiB, confirmed msg/s', unit: 'msg/s', target: 1.5, read: (r) => r.rates.confirmed },
  { id: 'e', workload: 'e', label: '(e) fanout to 10 queues, delivered msg/s', unit: 'msg/s', target: 3.5, read: (r) => r.rates.received },
  { id: 'f', workload: 'f', label: '(f) 4p/4c on 4 queues, delivered msg/s', unit: 'msg/s', target: 2.0, read: (r) => r.rates.received },
  { id: 'g', workload: 'g', label: '(g) drain of the persistent prefill, msg/s', unit: 'msg/s', target: 4.0, read: (r) => r.drain?.rate },
  { id: 'g-rss', workload: 'g', label: '(g) RSS with the prefill queued, MiB', unit: 'MiB', lowerIsBetter: true, target: 0.5, read: (_, x) => (x.rssPrefilledKiB === undefined ? undefined : x.rssPrefilledKiB / MIB) },
  { id: 'h', workload: 'h', label: '(h) publish only, msg/s taken in', unit: 'msg/s', target: 2.0, read: (r) => r.queued?.rate },
  { id: 'h-rss', workload: 'h', label: '(h) RSS at the end, MiB', unit: 'MiB', lowerIsBetter: true, target: 0.5, read: (_, x) => (x.rssEndKiB === undefined ? undefined : x.rssEndKiB / MIB) },
  { id: 'p50', workload: 'lat', label: 'latency p50 at 10,000 msg/s, ms', unit: 'ms', lowerIsBetter: true, target: 1.0, read: (r) => r.latency.endToEnd?.p50 },
  { id: 'p99', workload: 'lat', label: 'latency p99 at 10,000 msg/s, ms', unit: 'ms', lowerIsBetter: true, target: 1.0, read: (r) => r.latency.endToEnd?.p99 },
];
