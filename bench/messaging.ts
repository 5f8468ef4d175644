/**
 * Messaging benchmark: what `npm run bench` (bench/run.ts, warren-perf) does not
 * measure: the memory a queued message costs, crash recovery of persistent
 * messages, and the TTL + dead-letter retry loop, for warren and, when it is
 * installed, RabbitMQ, in the same run: brokers alternate (warren, RabbitMQ,
 * warren, ...) for a number of rounds, each round on a freshly started broker,
 * and the tables show medians and ratios. This file owns the options, the
 * rounds and the summary; each workload runs and formats itself in its own
 * file under bench/lib/. (Throughput, fanout and confirm rates, which this
 * script measured too once, are workloads of `npm run bench`.)
 *
 *   npm run bench:messaging [-- --rounds 3 --brokers warren,rabbitmq
 *       --workloads memory-1M,recovery-1M,retry-ttl-dlx
 *       --memory-messages 1000000 --settle 90 --confirm-window 1000
 *       --recovery-messages 1000000 --recovery-timeout 600 --retry-messages 100000 --retry-rounds 3
 *       --json bench-results/messaging.json]
 *
 * Workloads:
 *   memory-1M  --memory-messages (default 1,000,000) 16-byte transient messages into one
 *              non-durable queue without consumer: broker RSS (VmRSS) minus RSS before
 *              publishing, read twice: the moment queue.declare passive reports them all,
 *              and once RSS has settled (4 samples 2 s apart within 2%; at most --settle s),
 *              the messages still queued. The two differ a lot for RabbitMQ: measured here,
 *              1M messages cost it about 2.4 GiB at fill, falling to about 0.55 GiB some 30 s
 *              later (nothing paged to disk: its transient message store stays empty); the
 *              settled figure is the cost of holding the messages, the first the peak a burst
 *              of them causes. bench/lib/memory-workload.ts. The default; it runs first on
 *              each fresh broker so that its baseline is not inflated by what the others left.
 *   recovery-1M  --recovery-messages (default 1,000,000) persistent 16 B messages into a
 *              durable queue, all confirmed (at most --confirm-window unconfirmed), then kill -9
 *              of the broker and a restart on the same data dir: seconds until queue.declare
 *              passive reports them all again, RSS then, and the time to drain them (manual
 *              acks, prefetch 1,000). bench/lib/recovery-workload.ts. Only when asked for
 *              (--workloads recovery-1M): it takes minutes per broker and round. It runs last
 *              on each broker.
 *   retry-ttl-dlx  the TTL + dead-letter retry loop (issue 5; bench/lib/retry-workload.ts):
 *              --retry-messages (default 100,000) messages, each rejected --retry-rounds times
 *              (default 3) into a queue with a 1 s TTL that dead-letters back, then acked:
 *              time, deliveries/s, reject-to-redelivery latency, and whether every message
 *              arrived exactly once per retry. amqplib client. Only when asked for.
 *
 * The clients of memory-1M and recovery-1M are warren-perf's producer and consumer
 * (lib/perf/perf-producer.ts, perf-consumer.ts: the raw AMQP client of
 * lib/perf/raw-connection.ts, 64 KiB batches of pre-encoded publish + header + body
 * frames, respecting socket backpressure; consumers read frame headers, the
 * delivery-tags they ack and warren-perf's send time at the start of each body, and
 * decode nothing else), each in a worker thread of its own, driven step by step by
 * bench/lib/messaging-harness.ts, so the client side can use the second core instead of
 * the main thread. On a 2-core machine broker and clients still compete for CPU; so do
 * other busy processes: the load average at the start is printed and saved. Not a test:
 * nothing here passes or fails.
 *
 * The brokers are started and stopped by bench/lib/brokers.ts: warren is bin/warren
 * (build first: dist/), started with --port 0 and a scratch data dir; RabbitMQ is
 * started by tools/rabbitmq-scratch.sh on a spare port with a scratch dir and stopped
 * after (recovery-1M kills and restarts both on the same dir: tools/rabbitmq-scratch.sh
 * kill9 / restart). --brokers garagemq adds the Go broker garagemq (not in the default
 * set; there is no ratio row for it). Child processes, workers and temp dirs are cleaned
 * up on exit, errors, Ctrl-C and SIGTERM (bench/lib/bench-process.ts). A workload that
 * fails (for example 540 NOT_IMPLEMENTED) is reported as failed with the error and the
 * run goes on.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupAll, errorText, installSignalHandlers, isExiting } from './lib/bench-process.js';
import { BROKER_KINDS, BROKER_NAMES, brokerInstalled, brokerVersion, installHint, isBrokerKind, startBroker } from './lib/brokers.js';
import type { BrokerKind, RunningBroker } from './lib/brokers.js';
import type { WorkloadRow } from './lib/messaging-harness.js';
import { memoryLine, memoryMedians, printMemoryTable, runMemory } from './lib/memory-workload.js';
import type { MemoryMedians, MemoryResult, MemoryWorkload } from './lib/memory-workload.js';
import { printRecoveryTable, recoveryLine, recoveryMedians, runRecovery } from './lib/recovery-workload.js';
import type { RecoveryMedians, RecoveryResult, RecoveryWorkload } from './lib/recovery-workload.js';
import { printRetryTable, retryLine, retryMedians, runRetry } from './lib/retry-workload.js';
import type { RetryMedians, RetryResult, RetryWorkload } from './lib/retry-workload.js';

const ROOT = fileURLToPath(new URL(existsSync(new URL('../package.json', import.meta.url)) ? '..' : '../..', import.meta.url));

// ---- options ------------------------------------------------------------------

/** --brokers takes any of BROKER_KINDS (bench/lib/brokers.ts); by default these */
const DEFAULT_BROKERS: BrokerKind[] = ['warren', 'rabbitmq'];

type Workload = (MemoryWorkload | RecoveryWorkload | RetryWorkload) & {
  /** not in the default set: only with --workloads */
  onlyWhenAsked?: boolean;
};

const WORKLOADS: Workload[] = [
  { name: 'memory-1M', kind: 'memory', bodySize: 16 },
  { name: 'recovery-1M', kind: 'recovery', bodySize: 16, onlyWhenAsked: true },
  { name: 'retry-ttl-dlx', kind: 'retry', bodySize: 16, onlyWhenAsked: true },
];
/** the order on each broker: memory-1M first (clean baseline), recovery-1M last (it restarts the broker) */
const RUN_ORDER: Workload['kind'][] = ['memory', 'retry', 'recovery'];

interface Options {
  rounds: number;
  brokers: BrokerKind[];
  workloads: string[];
  memoryMessages: number;
  /** at most this many seconds to wait for RSS to settle after the fill */
  settle: number;
  /** max unconfirmed publishes (recovery-1M) */
  confirmWindow: number;
  recoveryMessages: number;
  /** seconds the restarted broker has to report every message */
  recoveryTimeout: number;
  /** retry-ttl-dlx: messages, and rejects of each before the ack */
  retryMessages: number;
  retryRounds: number;
  json: string;
}

const USAGE = `usage: messaging [--rounds N] [--brokers ${BROKER_KINDS.join(',')}] [--workloads ${WORKLOADS.map((w) => w.name).join(',')}]
                 [--memory-messages N] [--settle S] [--confirm-window N] [--recovery-messages N] [--recovery-timeout S]
                 [--retry-messages N] [--retry-rounds N] [--json FILE]
default brokers: ${DEFAULT_BROKERS.join(',')}
default workloads: ${WORKLOADS.filter((w) => !w.onlyWhenAsked).map((w) => w.name).join(',')}`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    brokers: [...DEFAULT_BROKERS],
    workloads: WORKLOADS.filter((w) => !w.onlyWhenAsked).map((w) => w.name),
    memoryMessages: 1_000_000,
    settle: 90,
    confirmWindow: 1000,
    recoveryMessages: 1_000_000,
    recoveryTimeout: 600,
    retryMessages: 100_000,
    retryRounds: 3,
    json: join(ROOT, 'bench-results/messaging.json'),
  };
  // upper bounds keep the shared Int32 counters (lib/perf/perf-shared.ts) from overflowing
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

// ---- results ------------------------------------------------------------------------

const firstLine = (text: string): string => text.split('\n')[0]!;

/** One workload on one broker in one round (the JSON's "rounds"). */
interface RoundResult {
  round: number;
  broker: string;
  workload: string;
  ok: boolean;
  error?: string;
  memory?: MemoryResult;
  recovery?: RecoveryResult;
  retry?: RetryResult;
}

// ---- output -------------------------------------------------------------------

function progressLine(r: RoundResult): string {
  const head = `round ${r.round} ${r.broker.padEnd(8)} ${r.workload.padEnd(10)}`;
  if (!r.ok) return `${head} FAILED: ${firstLine(r.error!)}`;
  if (r.recovery) return `${head} ${recoveryLine(r.recovery)}`;
  if (r.retry) return `${head} ${retryLine(r.retry)}`;
  return `${head} ${memoryLine(r.memory!)}`;
}

/** One workload on one broker over the rounds; memory-1M's medians sit at the top level (as they always have in the JSON). */
interface Summary extends Partial<MemoryMedians>, Omit<WorkloadRow<never>, 'medians'> {
  workload: string;
  /** recovery-1M (see bench/lib/recovery-workload.ts) */
  durability?: RecoveryMedians;
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
      if (ok.length > 0 && w.kind === 'recovery') s.durability = recoveryMedians(ok.map((r) => r.recovery!));
      else if (ok.length > 0 && w.kind === 'retry') s.retry = retryMedians(ok.map((r) => r.retry!));
      else if (ok.length > 0 && w.kind === 'memory') Object.assign(s, memoryMedians(ok.map((r) => r.memory!)));
      out.push(s);
    }
  }
  return out;
}

function printTables(summary: Summary[], workloads: Workload[], o: Options): void {
  for (const w of workloads) {
    const rows = summary.filter((s) => s.workload === w.name);
    if (rows.length === 0) continue;
    const row = <M>(s: Summary, medians: M | undefined): WorkloadRow<M> => ({ broker: s.broker, okRounds: s.okRounds, rounds: s.rounds, errors: s.errors, ...(medians ? { medians } : {}) });
    if (w.kind === 'recovery') printRecoveryTable(w, rows.map((s) => row(s, s.durability)), o);
    else if (w.kind === 'retry') printRetryTable(w, rows.map((s) => row(s, s.retry)), o);
    else printMemoryTable(w, rows.map((s) => row(s, s.fillSeconds === undefined ? undefined : (s as MemoryMedians))), o);
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
            else if (w.kind === 'recovery') r.recovery = await runRecovery(b, w, o);
            else r.retry = await runRetry(b, w, o);
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
