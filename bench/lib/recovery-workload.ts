/**
 * The recovery-1M workload of bench/messaging.ts: crash recovery of persistent
 * messages. bench/messaging.ts starts the brokers, runs the rounds and prints;
 * this file runs the workload on one running broker and formats its results.
 * Producer and consumer are warren-perf's (lib/perf/perf-producer.ts,
 * perf-consumer.ts), each in a worker thread of its own, driven through
 * bench/lib/messaging-harness.ts.
 *
 * --recovery-messages N (default 1,000,000) persistent (delivery-mode 2) 16-byte
 * messages go into one durable queue with publisher confirms, as fast as the broker
 * confirms: the producer never has more than --confirm-window (default 1,000)
 * publishes unconfirmed (it stops writing at the window and resumes as basic.ack
 * arrive) and settles them from basic.ack and basic.nack (multiple=true or not, in
 * any order; nacks are counted apart). Once every publish is settled, the clients
 * close, the broker is SIGKILLed (warren's node process; RabbitMQ's beam.smp through
 * tools/rabbitmq-scratch.sh kill9) and started again on the same data dir and port
 * (RabbitMQ: tools/rabbitmq-scratch.sh restart). Measured:
 *   (a) seconds from the restart until the broker accepts a connection and
 *       queue.declare passive reports every confirmed message (polled every
 *       100 ms from the moment of the restart; at most --recovery-timeout s,
 *       default 600, then reported as a timeout; a count that stays short of
 *       the confirmed ones for 30 s is reported as lost messages);
 *   (b) broker RSS (VmRSS) at that moment, next to its RSS just before the kill;
 *   (c) the time to drain the queue with one consumer, manual acks with basic.qos
 *       prefetch-count 1,000 and one basic.ack (multiple=false) per delivery (the
 *       acks for one socket chunk in one write), from basic.consume to the last
 *       basic.deliver.
 * (a) includes the broker's own start: an empty RabbitMQ node takes about 5 to 6 s
 * to accept connections on a 2-core machine, warren well under 1 s. Confirms,
 * filling or draining that make no progress for 60 s fail the workload.
 *
 * When the brokers confirm: warren (fsync: always, its default) confirms a
 * persistent message on a durable queue after the fdatasync of the message-log
 * batch that holds it; batches form from what arrives while the previous
 * fdatasync runs (lib/server/publisher-confirms.ts, lib/store/message-log.ts).
 * RabbitMQ 3.10 classic queues (v1 index, its default) also confirm only once
 * the message is on disk, and batch the fsyncs too: bodies below 4 KiB
 * (queue_index_embed_msgs_below) live in the queue index, whose journal the queue
 * process syncs when its mailbox runs dry or after at most 200 ms; bigger ones go
 * to the message store, which syncs at most every 25 ms.
 *
 * Runs last on its broker, since the broker it leaves is the restarted one. With
 * 1M messages one round takes about 2 minutes for both brokers on a 2-core
 * machine, most of it RabbitMQ's fill (about 1 minute at some 15k confirms/s);
 * not in the default set.
 */
import { queueDepth, RawConnection } from '../../lib/perf/raw-connection.js';
import { errorText, median, rssKiB, sleep } from './bench-process.js';
import type { RunningBroker } from './brokers.js';
import { deleteAll, freshQueue, PerfThread, watch } from './messaging-harness.js';
import type { WorkloadRow } from './messaging-harness.js';

export interface RecoveryWorkload {
  name: string;
  kind: 'recovery';
  bodySize: number;
}

export interface RecoveryOptions {
  /** max unconfirmed publishes */
  confirmWindow: number;
  recoveryMessages: number;
  /** seconds the restarted broker has to report every message */
  recoveryTimeout: number;
}

/** basic.qos prefetch-count of the draining consumer */
const PREFETCH = 1000;
/** how long recovery may report fewer messages than were confirmed before that counts as a loss */
const SHORT_COUNT_MS = 30_000;
/** no progress for this long (filling, draining) is a failure */
const STALL_MS = 60_000;

// ---- recovery-1M ----------------------------------------------------------------------

export interface RecoveryResult {
  messages: number;
  /** of them: acked by the broker (the ones it must recover), and nacked */
  confirmed: number;
  nacked: number;
  /** seconds from the first publish until the last confirm */
  fillSeconds: number;
  /** queue.declare passive right before the kill */
  depthBeforeKill: number;
  rssBeforeKillMiB: number;
  /** (a) seconds from the restart until a connection and queue.declare passive report every confirmed message */
  recoverySeconds: number;
  /** what queue.declare passive reported then */
  recovered: number;
  /** (b) broker RSS at that moment */
  rssRecoveredMiB: number;
  /** (c) seconds from basic.consume until the last of them was delivered */
  drainSeconds: number;
}

export async function runRecovery(b: RunningBroker, w: RecoveryWorkload, o: RecoveryOptions): Promise<RecoveryResult> {
  const queue = `warren-bench-${w.name}`;
  const total = o.recoveryMessages;
  const threads: PerfThread[] = [];
  let ctl: RawConnection | null = null;
  try {
    // 1. fill, with confirms
    ctl = await freshQueue(b.port, queue, true);
    const producer = await PerfThread.start('producer', b.port, { kind: 'producer', queue, size: w.bodySize, persistent: true, total, confirm: o.confirmWindow });
    threads.push(producer);
    const t0 = performance.now();
    producer.go();
    let settled = 0;
    let progressAt = Date.now();
    for (;;) {
      await watch(100, threads, b);
      const s = producer.confirmed + producer.nacked;
      if (s >= total) break;
      if (s > settled) {
        settled = s;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        throw new Error(`confirms stalled at ${s} of ${total} (${producer.published} published)`);
      }
    }
    await producer.waitFor('producers-done', 30_000);
    const fillSeconds = (performance.now() - t0) / 1000;
    const { confirmed, nacked } = producer;
    const depthBeforeKill = await queueDepth(ctl, queue, 60_000);
    const rssBeforeKillMiB = rssKiB(b.pid) / 1024;
    for (const t of threads.splice(0)) await t.close();
    await ctl.close().catch(() => undefined);
    ctl = null;

    // 2. kill -9, restart, poll until the queue reports them all
    await b.crash();
    const t1 = performance.now();
    const deadline = t1 + o.recoveryTimeout * 1000;
    let restartError: Error | null = null;
    let restarted = false;
    const restarting = b.restart(o.recoveryTimeout * 1000).then(
      () => void (restarted = true),
      (err: unknown) => void (restartError = err instanceof Error ? err : new Error(String(err))),
    );
    let recovered = -1;
    let lastCount = -1;
    let countSince = 0;
    let lastError = '';
    for (;;) {
      if (restartError) throw new Error(`the restart failed: ${errorText(restartError)}`);
      if (performance.now() > deadline) {
        await restarting; // it gives up at the same timeout; let it finish before the broker is stopped
        throw new Error(`TIMEOUT: not recovered within ${o.recoveryTimeout} s of the restart (${lastCount >= 0 ? `queue.declare passive reported ${lastCount} of ${confirmed}` : `no answer yet${lastError ? `: ${lastError}` : ''}`})`);
      }
      try {
        ctl ??= await RawConnection.open(b.port, 'recovery', 5000);
        const n = await queueDepth(ctl, queue, Math.max(1000, deadline - performance.now()));
        if (n >= confirmed) {
          recovered = n;
          break;
        }
        if (n !== lastCount) {
          lastCount = n;
          countSince = performance.now();
        } else if (performance.now() - countSince > SHORT_COUNT_MS) {
          throw new Error(`LOST: the queue holds ${n} of the ${confirmed} confirmed messages ${((performance.now() - t1) / 1000).toFixed(0)} s after the restart, for ${SHORT_COUNT_MS / 1000} s`);
        }
      } catch (err) {
        if (errorText(err).startsWith('LOST')) throw err;
        lastError = errorText(err);
        ctl?.destroy();
        ctl = null;
      }
      await sleep(100);
    }
    const recoverySeconds = (performance.now() - t1) / 1000;
    await restarting; // RabbitMQ: the pid comes with it (the script notices a little later than we do)
    if (!restarted) throw new Error(`the restart failed: ${errorText(restartError)}`);
    const rssRecoveredMiB = rssKiB(b.pid) / 1024;

    // 3. drain
    const consumer = await PerfThread.start('consumer', b.port, { kind: 'consumer', queue, prefetch: PREFETCH });
    threads.push(consumer);
    const t2 = performance.now();
    consumer.go();
    let delivered = 0;
    progressAt = Date.now();
    for (;;) {
      await watch(20, threads, b);
      const d = consumer.received;
      if (d >= recovered) break;
      if (d > delivered) {
        delivered = d;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        throw new Error(`the drain stalled at ${d} of ${recovered} messages`);
      }
    }
    const drainSeconds = (performance.now() - t2) / 1000;
    return {
      messages: total,
      confirmed,
      nacked,
      fillSeconds,
      depthBeforeKill,
      rssBeforeKillMiB,
      recoverySeconds,
      recovered,
      rssRecoveredMiB,
      drainSeconds,
    };
  } finally {
    for (const t of threads.reverse()) await t.close();
    await ctl?.close().catch(() => undefined);
    if (!b.dead()) await deleteAll(b.port, [queue]);
  }
}

// ---- output -------------------------------------------------------------------------

const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';

export function recoveryLine(r: RecoveryResult): string {
  return `${r.confirmed} confirmed${r.nacked ? ` (${r.nacked} nacked)` : ''} in ${r.fillSeconds.toFixed(1)} s; RSS ${r.rssBeforeKillMiB.toFixed(0)} MiB; kill -9; ${r.recovered} back ${r.recoverySeconds.toFixed(1)} s after the restart, RSS ${r.rssRecoveredMiB.toFixed(0)} MiB; drained in ${r.drainSeconds.toFixed(1)} s`;
}

export type RecoveryMedians = Record<string, number>;

export function recoveryMedians(rs: RecoveryResult[]): RecoveryMedians {
  return {
    fillSeconds: median(rs.map((r) => r.fillSeconds)),
    recoverySeconds: median(rs.map((r) => r.recoverySeconds)),
    rssRecoveredMiB: median(rs.map((r) => r.rssRecoveredMiB)),
    rssBeforeKillMiB: median(rs.map((r) => r.rssBeforeKillMiB)),
    drainSeconds: median(rs.map((r) => r.drainSeconds)),
    drainRate: median(rs.map((r) => r.recovered / r.drainSeconds)),
    nacked: median(rs.map((r) => r.nacked)),
  };
}

export function printRecoveryTable(w: RecoveryWorkload, rows: WorkloadRow<RecoveryMedians>[], o: RecoveryOptions & { rounds: number }): void {
  console.log(`\n${w.name}: medians of ${o.rounds} rounds; ${o.recoveryMessages.toLocaleString('en-US')} persistent ${w.bodySize} B messages in a durable queue, all confirmed, then kill -9 and restart;`);
  console.log(`recovered = connection + queue.declare passive reports them all (timeout ${o.recoveryTimeout} s); drain: 1 consumer, manual acks, prefetch ${PREFETCH}`);
  console.log('| broker | fill + confirms (s) | RSS before kill (MiB) | restart to recovered (s) | RSS recovered (MiB) | drain (s) | drain msg/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const s of rows) {
    const m = s.medians;
    if (s.okRounds === 0 || !m) console.log(`| ${s.broker} | failed (${s.rounds - s.okRounds}/${s.rounds} rounds): ${s.errors.join(' | ')} |`);
    else {
      const note = s.okRounds < s.rounds ? ` (${s.okRounds}/${s.rounds} rounds ok: ${s.errors.join(' | ')})` : '';
      console.log(`| ${s.broker}${note} | ${m.fillSeconds!.toFixed(1)} | ${m.rssBeforeKillMiB!.toFixed(0)} | ${m.recoverySeconds!.toFixed(1)} | ${m.rssRecoveredMiB!.toFixed(0)} | ${m.drainSeconds!.toFixed(1)} | ${fmtRate(m.drainRate!)} |`);
    }
  }
  const a = rows.find((s) => s.broker === 'warren')?.medians;
  const b = rows.find((s) => s.broker === 'RabbitMQ')?.medians;
  if (a && b) {
    console.log(`| warren / RabbitMQ | ${ratio(a.fillSeconds, b.fillSeconds)} | ${ratio(a.rssBeforeKillMiB, b.rssBeforeKillMiB)} | ${ratio(a.recoverySeconds, b.recoverySeconds)} | ${ratio(a.rssRecoveredMiB, b.rssRecoveredMiB)} | ${ratio(a.drainSeconds, b.drainSeconds)} | ${ratio(a.drainRate, b.drainRate)} |`);
  }
}
