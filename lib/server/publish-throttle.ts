/**
 * Blocking a connection's publishers while a resource alarm (free disk
 * space) is set, as RabbitMQ's rabbit_reader does it (control_throttle,
 * publish_received, maybe_block, maybe_unblock):
 *
 *   - a connection follows the alarms from connection.open on;
 *   - while an alarm is set, the first content frame it accepts (the header
 *     or body of a basic.publish) blocks it: it reads nothing more from its
 *     socket, not even the rest of what it already received, so TCP pushes
 *     back on the publisher. Connections that do not publish are never
 *     blocked: consumers keep draining queues;
 *   - a blocked connection's heartbeat monitor is paused (the client's
 *     heartbeats are not read); its own heartbeats are still sent;
 *   - clients whose client-properties capabilities say `connection.blocked`
 *     get connection.blocked "low on disk" once when blocked, and
 *     connection.unblocked once every alarm has cleared;
 *   - when every alarm has cleared, reading resumes.
 *
 * This class keeps the state; the connection does the I/O (ThrottleHost).
 */

/** A resource alarm connections obey (lib/broker/disk-monitor.ts is one). */
export interface ResourceAlarm {
  /** the resource, as the blocked reason names it: "disk" gives "low on disk" */
  readonly resource: string;
  readonly alarmed: boolean;
  /** `listener(alarmed)` on every change; returns the function that unsubscribes */
  subscribe(listener: (alarmed: boolean) => void): () => void;
}

/** What the throttle asks of its connection. */
export interface ThrottleHost {
  /** stop reading input after the frame being processed; pause the heartbeat monitor */
  block(): void;
  /** read input again, what was held back first; resume the heartbeat monitor */
  unblock(): void;
  sendBlocked(reason: string): void;
  sendUnblocked(): void;
}

export class PublishThrottle {
  private readonly host: ThrottleHost;
  /** resources whose alarm is set (RabbitMQ's blocked_by) */
  private readonly blockedBy = new Set<string>();
  /** a publish arrived while an alarm was set (RabbitMQ's should_block) */
  private publishSeen = false;
  private isBlocked = false;
  /** the client advertised the connection.blocked capability */
  private notify = false;
  /** connection.blocked was sent and connection.unblocked is owed */
  private notified = false;
  private unsubscribes: (() => void)[] = [];
  private stopped = false;

  constructor(host: ThrottleHost) {
    this.host = host;
  }

  get blocked(): boolean {
    return this.isBlocked;
  }

  /** The reason connection.blocked gives: "low on disk" (RabbitMQ joins several with " & "). */
  get reason(): string {
    return `low on ${[...this.blockedBy].join(' & ')}`;
  }

  /** Follow these alarms from now on (at connection.open, where RabbitMQ registers with rabbit_alarm). */
  start(alarms: readonly ResourceAlarm[], notify: boolean): void {
    if (this.stopped) return;
    this.notify = notify;
    for (const alarm of alarms) {
      if (alarm.alarmed) this.blockedBy.add(alarm.resource);
      this.unsubscribes.push(alarm.subscribe((alarmed) => this.onAlarm(alarm.resource, alarmed)));
    }
  }

  /** A content header or body frame was accepted for a channel (RabbitMQ's publish_received). */
  publishReceived(): void {
    if (this.blockedBy.size === 0 || this.isBlocked || this.stopped) return;
    this.publishSeen = true;
    this.maybeBlock();
  }

  /**
   * The connection is closing: forget the alarms (no leak in their listener
   * lists). Returns whether it was blocked, so the caller reads input again
   * (a close-ok must get through); no connection.unblocked is sent.
   */
  stop(): boolean {
    this.stopped = true;
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes = [];
    this.blockedBy.clear();
    const wasBlocked = this.isBlocked;
    this.isBlocked = false;
    return wasBlocked;
  }

  private onAlarm(resource: string, alarmed: boolean): void {
    if (this.stopped) return;
    if (alarmed) this.blockedBy.add(resource);
    else this.blockedBy.delete(resource);
    if (this.isBlocked) this.maybeUnblock();
    this.maybeBlock();
  }

  private maybeBlock(): void {
    if (!this.publishSeen || this.blockedBy.size === 0) return;
    if (!this.isBlocked) {
      this.isBlocked = true;
      this.host.block();
    }
    // one connection.blocked until unblocked, whatever other alarms come on meanwhile
    if (this.notify && !this.notified) {
      this.notified = true;
      this.host.sendBlocked(this.reason);
    }
  }

  private maybeUnblock(): void {
    if (this.blockedBy.size > 0) return;
    this.isBlocked = false;
    this.publishSeen = false;
    if (this.notified) {
      this.notified = false;
      this.host.sendUnblocked();
    }
    this.host.unblock();
  }
}
