/**
 * Broker-wide message counters and their rates, for /api/overview's
 * message_stats and the Prometheus endpoint (/metrics).
 *
 * One MessageStats per broker (messageStatsOf). The hot path (publish,
 * route, deliver, get, ack, confirm) only increments plain number fields:
 * no allocation, no lookup. What each counts follows RabbitMQ 3.x
 * (rabbit_channel and rabbit_global_counters):
 *   publish          basic.publish received (messages_received), in or out of a transaction
 *   publishConfirm   of those, on a channel in confirm mode (messages_received_confirm)
 *   routed           queue copies stored: one per queue a message was routed to (messages_routed)
 *   returnUnroutable mandatory and unroutable: basic.return (messages_unroutable_returned)
 *   dropUnroutable   not mandatory and unroutable: dropped (messages_unroutable_dropped)
 *   confirm          basic.ack confirms sent to publishers, one per message (messages_confirmed)
 *   deliver          basic.deliver to a consumer with manual acks (messages_delivered_consume_manual_ack)
 *   deliverNoAck     basic.deliver to a no-ack consumer (messages_delivered_consume_auto_ack)
 *   get / getNoAck   basic.get-ok with manual / automatic ack (messages_delivered_get_*)
 *   getEmpty         basic.get-empty (messages_get_empty)
 *   redeliver        deliveries and get-oks with the redelivered flag (messages_redelivered)
 *   ack              messages acknowledged by basic.ack (or at tx.commit); not nack / reject
 * Direct reply-to deliveries are not counted, as in RabbitMQ.
 *
 * Bytes: a live connection's counts are its socket's (bytesRead,
 * bytesWritten, kept by Node at no cost to us); a connection adds its
 * final counts here when it closes, so the broker-wide totals never go
 * backwards.
 *
 * Rates, as RabbitMQ's 'basic' rates mode: every SAMPLE_INTERVAL_MS (one
 * unref'd timer, started by startBroker) the counters are sampled and each
 * rate is its change over that last interval, per second. The queue totals
 * (ready, unacknowledged) are sampled the same way when a source for them
 * is given.
 */

/** RabbitMQ's collect_statistics_interval default: 5 s. */
export const SAMPLE_INTERVAL_MS = 5_000;

/** The counters that get a rate. */
export const RATED = [
  'publish', 'publishConfirm', 'routed', 'returnUnroutable', 'dropUnroutable', 'confirm',
  'deliver', 'deliverNoAck', 'get', 'getNoAck', 'getEmpty', 'redeliver', 'ack',
] as const;
export type RatedCounter = (typeof RATED)[number];

/** Ready and unacknowledged messages over every queue. */
export interface QueueTotals {
  ready: number;
  unacked: number;
}

/** What a connection's socket counts (net.Socket has both). */
export interface ByteCounts {
  readonly bytesRead: number;
  readonly bytesWritten?: number;
}

export class MessageStats {
  publish = 0;
  publishConfirm = 0;
  routed = 0;
  returnUnroutable = 0;
  dropUnroutable = 0;
  confirm = 0;
  deliver = 0;
  deliverNoAck = 0;
  get = 0;
  getNoAck = 0;
  getEmpty = 0;
  redeliver = 0;
  ack = 0;

  /** connections accepted / gone since the broker started */
  connectionsOpened = 0;
  connectionsClosed = 0;
  /** bytes read and written by connections that have closed */
  closedBytesIn = 0;
  closedBytesOut = 0;

  /** per second over the last sample interval (0 until two samples exist) */
  readonly rates: Record<RatedCounter, number> = zeroes();
  /** change per second of the queue totals over the last interval */
  readonly totalsRates: { ready: number; unacked: number; messages: number } = { ready: 0, unacked: 0, messages: 0 };

  private readonly previous: Record<RatedCounter, number> = zeroes();
  private previousTotals: QueueTotals | null = null;
  private sampledAt = 0;
  private sampled = false;
  private timer: NodeJS.Timeout | null = null;
  private totalsSource: (() => QueueTotals) | null = null;

  /** Sample every `intervalMs` from now on (one unref'd timer); `totals` reads the queue totals for their rates. */
  start(totals: (() => QueueTotals) | null = null, intervalMs = SAMPLE_INTERVAL_MS): void {
    this.stop();
    this.totalsSource = totals;
    this.sample(Date.now());
    this.timer = setInterval(() => this.sample(Date.now()), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Take a sample at `now` (ms): the rates become the change since the previous sample. */
  sample(now: number): void {
    const seconds = (now - this.sampledAt) / 1000;
    const first = !this.sampled;
    for (const name of RATED) {
      const value = this[name];
      this.rates[name] = first || seconds <= 0 ? 0 : (value - this.previous[name]) / seconds;
      this.previous[name] = value;
    }
    const totals = this.totalsSource?.() ?? null;
    if (totals) {
      const before = this.previousTotals;
      if (before && !first && seconds > 0) {
        this.totalsRates.ready = (totals.ready - before.ready) / seconds;
        this.totalsRates.unacked = (totals.unacked - before.unacked) / seconds;
        this.totalsRates.messages = this.totalsRates.ready + this.totalsRates.unacked;
      }
      this.previousTotals = totals;
    }
    this.sampledAt = now;
    this.sampled = true;
  }

  /** A connection is gone: its socket's final byte counts join the totals. */
  connectionClosed(socket: ByteCounts): void {
    this.connectionsClosed++;
    this.closedBytesIn += socket.bytesRead;
    this.closedBytesOut += socket.bytesWritten ?? 0;
  }

  /** Bytes read and written by every connection so far: the closed ones' plus the live ones' sockets. */
  bytes(live: Iterable<{ readonly socket: ByteCounts }>): { bytesIn: number; bytesOut: number } {
    let bytesIn = this.closedBytesIn;
    let bytesOut = this.closedBytesOut;
    for (const c of live) {
      bytesIn += c.socket.bytesRead;
      bytesOut += c.socket.bytesWritten ?? 0;
    }
    return { bytesIn, bytesOut };
  }

  /** Messages handed out by deliveries and basic.get (RabbitMQ's deliver_get, messages_delivered). */
  get deliverGet(): number {
    return this.deliver + this.deliverNoAck + this.get + this.getNoAck;
  }

  get deliverGetRate(): number {
    const r = this.rates;
    return r.deliver + r.deliverNoAck + r.get + r.getNoAck;
  }
}

function zeroes(): Record<RatedCounter, number> {
  const o = {} as Record<RatedCounter, number>;
  for (const name of RATED) o[name] = 0;
  return o;
}
