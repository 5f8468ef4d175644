/**
 * The retry-ttl-dlx workload of bench/messaging.ts (issue 5): the classic
 * TTL + dead-letter retry loop, timed and checked for exactly-once delivery
 * per retry. bench/messaging.ts starts the brokers, runs the rounds and
 * prints; this file owns the topology, the client, the checks and the
 * formatting of this one workload.
 *
 * Topology (declared fresh each run; non-durable queues, transient messages,
 * delivery-mode 1: this measures the dead-letter and TTL path, not the disk):
 *   retry.work  x-dead-letter-exchange '' + x-dead-letter-routing-key retry.wait
 *   retry.wait  x-message-ttl 1000, x-dead-letter-exchange '' + x-dead-letter-routing-key retry.work
 * A consumer on retry.work rejects a delivery (basic.reject requeue=false), the
 * broker dead-letters it to retry.wait (reason rejected), where it expires after
 * 1 s and is dead-lettered back to retry.work (reason expired).
 *
 * Run: one amqplib consumer on retry.work (manual acks, prefetch 1,000), then
 * --retry-messages N (default 100,000) 16-byte messages published to retry.work
 * on a second connection, each body its id (decimal, zero-padded). The consumer
 * rejects each message on its first --retry-rounds R (default 3) deliveries
 * and acks the (R+1)th. For every delivery it checks:
 *   - the count of deliveries of that id never exceeds R+1 (else: extra);
 *   - delivery k+1 (k = 0..R) carries x-death entries {queue retry.wait, reason
 *     expired, count k} and {queue retry.work, reason rejected, count k}, and the
 *     first one none (else: x-death mismatch; a duplicate shows up here too);
 *   - the body is an id that was published (else: unknown).
 * Once all N are acked it watches TTL + 2 s more for late extras, then counts
 * what is left in both queues (queue.declare passive); ids that never reached
 * R+1 deliveries (no delivery for 30 s ends the wait) are missing. Exactly once
 * per retry: no extra, missing, mismatched or unknown delivery in any round.
 * Reported: the time from the first publish to the last ack, deliveries/s
 * (N x (R+1) over that time; at least R x 1 s of it is the TTL), the retry
 * latency (client clock: the reject of a message to its next delivery, ideally
 * just above 1 s; min / median / p99 / max), the CPU of broker and client.
 *
 * The client is amqplib (decoding x-death by hand on the raw client would cost
 * more than it saves), in the main thread, one basic.reject or basic.ack per
 * delivery (multiple acks cannot carry a reject). It needs about a quarter of a
 * core at 12k deliveries/s (so some 40-50k/s at most), far more than either
 * broker delivers in this loop on a 2-core machine; the line and the table show
 * its CPU, and a client above 85% of a core is flagged as the likely bottleneck.
 */
import { once } from 'node:events';
import amqplib from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { cpuSeconds } from './bench-process.js';
import type { RunningBroker } from './brokers.js';
import { deleteAll } from './messaging-harness.js';
import type { WorkloadRow } from './messaging-harness.js';

export interface RetryWorkload {
  name: string;
  kind: 'retry';
  bodySize: number;
}

export interface RetryOptions {
  retryMessages: number;
  retryRounds: number;
}

export const WORK_QUEUE = 'retry.work';
export const WAIT_QUEUE = 'retry.wait';
const TTL_MS = 1000;
const PREFETCH = 1000;
/** no delivery for this long ends the wait: what has not arrived by then is missing */
const STALL_MS = 30_000;
/** after the last ack, watch this long for late (extra) deliveries */
const GRACE_MS = TTL_MS + 2000;
/** client CPU above this (% of one core) marks the client as the likely bottleneck */
const CLIENT_BOUND_PERCENT = 85;

export interface RetryViolations {
  /** deliveries of an id beyond R+1 */
  extra: number;
  /** ids that did not reach R+1 deliveries */
  missing: number;
  /** deliveries whose x-death counts do not match their ordinal */
  xDeath: number;
  /** bodies that are not a published id */
  unknown: number;
}

export interface RetryResult {
  messages: number;
  rounds: number;
  deliveries: number;
  /** first publish to last ack */
  totalSeconds: number;
  publishSeconds: number;
  deliveryRate: number;
  /** ms, reject to redelivery, over all N x R retries that arrived */
  latency: { samples: number; min: number; median: number; p99: number; max: number } | null;
  violations: RetryViolations;
  /** the first violation seen, for the report */
  firstViolation: string | null;
  /** deliveries flagged redelivered (a dead-lettered message is a new one: expected 0) */
  redelivered: number;
  /** ready messages left after the grace period */
  leftInWork: number;
  leftInWait: number;
  brokerCpuPercent: number;
  clientCpuPercent: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

type Death = { queue?: unknown; reason?: unknown; count?: unknown };

/** The count of the x-death entry for (queue, reason), 0 if there is none. */
function deathCount(deaths: Death[] | undefined, queue: string, reason: string): number {
  const d = deaths?.find((e) => e?.queue === queue && e?.reason === reason);
  return d === undefined ? 0 : Number(d.count);
}

async function open(port: number): Promise<ChannelModel> {
  return amqplib.connect({ protocol: 'amqp', hostname: '127.0.0.1', port, username: 'guest', password: 'guest', heartbeat: 0 });
}

export async function runRetry(b: RunningBroker, w: RetryWorkload, o: RetryOptions): Promise<RetryResult> {
  const n = o.retryMessages;
  const rounds = o.retryRounds;
  const conns: ChannelModel[] = [];
  let closing = false;
  let fail!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const watchConn = (c: ChannelModel, name: string): void => {
    c.on('error', (err: unknown) => fail(new Error(`${name}: ${errorText(err)}`)));
    c.on('close', () => void (closing || fail(new Error(`${name}: connection closed`))));
  };
  const watchChannel = (ch: Channel, name: string): void => {
    ch.on('error', (err: unknown) => fail(new Error(`${name} channel: ${errorText(err)}`)));
    ch.on('close', () => void (closing || fail(new Error(`${name}: channel closed`))));
  };
  try {
    await deleteAll(b.port, [WORK_QUEUE, WAIT_QUEUE]);
    const consumerConn = await open(b.port);
    conns.push(consumerConn);
    watchConn(consumerConn, 'consumer');
    const ch = await consumerConn.createChannel();
    watchChannel(ch, 'consumer');
    await ch.assertQueue(WORK_QUEUE, { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': WAIT_QUEUE } });
    await ch.assertQueue(WAIT_QUEUE, { durable: false, arguments: { 'x-message-ttl': TTL_MS, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': WORK_QUEUE } });
    await ch.prefetch(PREFETCH);

    const counts = new Uint8Array(n);
    const rejectedAt = new Float64Array(n);
    const latencies = new Float64Array(n * rounds);
    let samples = 0;
    let deliveries = 0;
    let acked = 0;
    let redelivered = 0;
    let lastAckAt = 0;
    let allAcked!: () => void;
    const done = new Promise<void>((r) => (allAcked = r));
    const v: RetryViolations = { extra: 0, missing: 0, xDeath: 0, unknown: 0 };
    let firstViolation: string | null = null;
    const violation = (kind: keyof RetryViolations, text: string): void => {
      v[kind]++;
      firstViolation ??= text;
    };

    await ch.consume(WORK_QUEUE, (msg: ConsumeMessage | null) => {
      if (msg === null) return fail(new Error('the broker cancelled the consumer'));
      const now = performance.now();
      deliveries++;
      if (msg.fields.redelivered) redelivered++;
      const text = msg.content.toString('latin1');
      const id = Number(text);
      if (!/^\d+$/.test(text) || id >= n) {
        violation('unknown', `a delivery with body ${JSON.stringify(text.slice(0, 40))}`);
        return ch.ack(msg);
      }
      const k = counts[id]!; // earlier deliveries of this id: this one should be retry k
      if (k >= rounds + 1) {
        violation('extra', `message ${id} delivered a ${k + 1}th time (expected ${rounds + 1})`);
        return ch.ack(msg);
      }
      counts[id] = k + 1;
      const deaths = msg.properties.headers?.['x-death'] as Death[] | undefined;
      const expired = deathCount(deaths, WAIT_QUEUE, 'expired');
      const rejected = deathCount(deaths, WORK_QUEUE, 'rejected');
      if (expired !== k || rejected !== k) {
        violation('xDeath', `message ${id}, delivery ${k + 1}: x-death count ${expired} (${WAIT_QUEUE}, expired) and ${rejected} (${WORK_QUEUE}, rejected), expected ${k}`);
      }
      if (k > 0) latencies[samples++] = now - rejectedAt[id]!;
      if (k < rounds) {
        rejectedAt[id] = performance.now();
        ch.reject(msg, false);
      } else {
        ch.ack(msg);
        if (++acked === n) {
          lastAckAt = performance.now();
          allAcked();
        }
      }
    });

    const publisherConn = await open(b.port);
    conns.push(publisherConn);
    watchConn(publisherConn, 'publisher');
    const pub = await publisherConn.createChannel();
    watchChannel(pub, 'publisher');
    const width = Math.max(w.bodySize, String(n - 1).length);

    const cpu0 = { broker: cpuSeconds(b.pid), client: process.cpuUsage() };
    const t0 = performance.now();
    for (let id = 0; id < n; id++) {
      const ok = pub.sendToQueue(WORK_QUEUE, Buffer.from(String(id).padStart(width, '0'), 'latin1'), { deliveryMode: 1 });
      if (!ok) await Promise.race([once(pub, 'drain'), failed]);
      else if (id % 2000 === 1999) await new Promise((r) => setImmediate(r)); // let the consumer's socket be read
    }
    const publishSeconds = (performance.now() - t0) / 1000;

    // Wait for the last ack, or until nothing arrives for STALL_MS.
    let seen = -1;
    let progressAt = performance.now();
    while (acked < n) {
      await Promise.race([done, sleep(100), failed]);
      const dead = b.dead();
      if (dead) throw new Error(dead);
      if (deliveries > seen) {
        seen = deliveries;
        progressAt = performance.now();
      } else if (performance.now() - progressAt > STALL_MS) break;
    }
    const end = acked === n ? lastAckAt : performance.now();
    const cpu1 = { broker: cpuSeconds(b.pid), client: process.cpuUsage(cpu0.client) };
    const seconds = (end - t0) / 1000;
    if (acked === n) await Promise.race([sleep(GRACE_MS), failed]); // late extras are counted by the consumer
    v.missing = n - acked;
    if (v.missing > 0) {
      const lost = counts.findIndex((c) => c < rounds + 1);
      firstViolation ??= `${v.missing} messages did not arrive ${rounds + 1} times (message ${lost}: ${counts[lost]} times); nothing delivered for ${STALL_MS / 1000} s`;
    }
    const leftInWork = (await ch.checkQueue(WORK_QUEUE)).messageCount;
    const leftInWait = (await ch.checkQueue(WAIT_QUEUE)).messageCount;

    const lat = latencies.subarray(0, samples).sort();
    const at = (q: number): number => lat[Math.floor(q * (samples - 1))]!;
    return {
      messages: n,
      rounds,
      deliveries,
      totalSeconds: seconds,
      publishSeconds,
      deliveryRate: deliveries / seconds,
      latency: samples ? { samples, min: lat[0]!, median: at(0.5), p99: at(0.99), max: lat[samples - 1]! } : null,
      violations: v,
      firstViolation,
      redelivered,
      leftInWork,
      leftInWait,
      brokerCpuPercent: (100 * (cpu1.broker - cpu0.broker)) / seconds,
      clientCpuPercent: (100 * (cpu1.client.user + cpu1.client.system)) / 1e6 / seconds,
    };
  } finally {
    closing = true;
    for (const c of conns.reverse()) await c.close().catch(() => undefined);
    if (!b.dead()) await deleteAll(b.port, [WORK_QUEUE, WAIT_QUEUE]);
  }
}

// ---- output -------------------------------------------------------------------------

const fmtRate = (x: number): string => Math.round(x).toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';
const total = (v: RetryViolations): number => v.extra + v.missing + v.xDeath + v.unknown;
const violationText = (v: RetryViolations): string =>
  total(v) === 0 ? 'yes' : `NO (extra ${v.extra}, missing ${v.missing}, x-death mismatches ${v.xDeath}, unknown ${v.unknown})`;

export function retryLine(r: RetryResult): string {
  const l = r.latency;
  const lat = l ? `retry latency min/median/p99/max ${l.min.toFixed(0)}/${l.median.toFixed(0)}/${l.p99.toFixed(0)}/${l.max.toFixed(0)} ms` : 'no retries';
  const bound = r.clientCpuPercent > CLIENT_BOUND_PERCENT ? ' (client-bound)' : '';
  const left = r.leftInWork + r.leftInWait ? `   left in queues ${r.leftInWork} + ${r.leftInWait}` : '';
  const redelivered = r.redelivered ? `   redelivered flag on ${r.redelivered}` : '';
  return `${r.deliveries} deliveries in ${r.totalSeconds.toFixed(2)} s (publish ${r.publishSeconds.toFixed(2)} s): ${fmtRate(r.deliveryRate)}/s   ${lat}   exactly once per retry: ${violationText(r.violations)}${r.firstViolation ? ` [first: ${r.firstViolation}]` : ''}${left}${redelivered}   CPU broker ${r.brokerCpuPercent.toFixed(0)}% client ${r.clientCpuPercent.toFixed(0)}%${bound}`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Medians over the rounds, except the violations and leftovers: summed over all rounds. */
export type RetryMedians = Record<string, number>;

export function retryMedians(rs: RetryResult[]): RetryMedians {
  const withLatency = rs.filter((r) => r.latency);
  const sum = (f: (r: RetryResult) => number): number => rs.reduce((a, r) => a + f(r), 0);
  return {
    totalSeconds: median(rs.map((r) => r.totalSeconds)),
    deliveryRate: median(rs.map((r) => r.deliveryRate)),
    ...(withLatency.length
      ? {
          latencyMin: median(withLatency.map((r) => r.latency!.min)),
          latencyMedian: median(withLatency.map((r) => r.latency!.median)),
          latencyP99: median(withLatency.map((r) => r.latency!.p99)),
          latencyMax: median(withLatency.map((r) => r.latency!.max)),
        }
      : {}),
    brokerCpuPercent: median(rs.map((r) => r.brokerCpuPercent)),
    clientCpuPercent: median(rs.map((r) => r.clientCpuPercent)),
    extra: sum((r) => r.violations.extra),
    missing: sum((r) => r.violations.missing),
    xDeath: sum((r) => r.violations.xDeath),
    unknown: sum((r) => r.violations.unknown),
    leftInQueues: sum((r) => r.leftInWork + r.leftInWait),
    redelivered: sum((r) => r.redelivered),
  };
}

export function printRetryTable(w: RetryWorkload, rows: WorkloadRow<RetryMedians>[], o: RetryOptions & { rounds: number }): void {
  const r = o.retryRounds;
  console.log(`\n${w.name}: medians of ${o.rounds} rounds; ${o.retryMessages.toLocaleString('en-US')} messages of ${w.bodySize} B, each rejected ${r} times (${WORK_QUEUE} -> ${WAIT_QUEUE}, TTL ${TTL_MS} ms -> ${WORK_QUEUE}) and acked on`);
  console.log(`delivery ${r + 1}; amqplib consumer, prefetch ${PREFETCH}; time: first publish to last ack (at least ${((r * TTL_MS) / 1000).toFixed(0)} s of TTL); retry latency: reject to redelivery;`);
  console.log('exactly once: every message delivered exactly once originally and once per retry with matching x-death counts, in every round');
  console.log('| broker | total (s) | deliveries/s | retry latency min / median / p99 / max (ms) | exactly once per retry | CPU broker / client |');
  console.log('|---|---:|---:|---:|---|---:|');
  for (const s of rows) {
    const m = s.medians;
    if (s.okRounds === 0 || !m) {
      console.log(`| ${s.broker} | failed (${s.rounds - s.okRounds}/${s.rounds} rounds): ${s.errors.join(' | ')} |`);
      continue;
    }
    const lat = m.latencyMedian === undefined ? '-' : [m.latencyMin!, m.latencyMedian, m.latencyP99!, m.latencyMax!].map((x) => x.toFixed(0)).join(' / ');
    const v = { extra: m.extra!, missing: m.missing!, xDeath: m.xDeath!, unknown: m.unknown! };
    const bound = m.clientCpuPercent! > CLIENT_BOUND_PERCENT ? ' (client-bound)' : '';
    const note = s.okRounds < s.rounds ? ` (${s.okRounds}/${s.rounds} rounds ok: ${s.errors.join(' | ')})` : '';
    console.log(`| ${s.broker}${note} | ${m.totalSeconds!.toFixed(2)} | ${fmtRate(m.deliveryRate!)} | ${lat} | ${violationText(v)} | ${m.brokerCpuPercent!.toFixed(0)}% / ${m.clientCpuPercent!.toFixed(0)}%${bound} |`);
  }
  const warren = rows.find((s) => s.broker === 'warren')?.medians;
  const rabbit = rows.find((s) => s.broker === 'RabbitMQ')?.medians;
  if (warren && rabbit) {
    console.log(`| warren / RabbitMQ | ${ratio(warren.totalSeconds, rabbit.totalSeconds)} | ${ratio(warren.deliveryRate, rabbit.deliveryRate)} | median ${ratio(warren.latencyMedian, rabbit.latencyMedian)} | | |`);
  }
}
