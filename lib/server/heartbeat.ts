/**
 * Heartbeats for one connection, as RabbitMQ does them: with a negotiated
 * timeout of T seconds, a heartbeat frame is sent whenever nothing else was
 * sent for T/2, and the peer is declared dead when nothing at all (frames of
 * any kind) arrived for five checks at T/2 intervals: 2.5T to 3T after the
 * last byte (RabbitMQ: "between 2 and 3 intervals"; measured 3T after a
 * connection.open with T = 1 s).
 *
 * While the connection is blocked by a resource alarm it does not read its
 * socket, so the client's heartbeats cannot arrive: the monitor is paused
 * then (RabbitMQ's pause_monitor / resume_monitor), heartbeats are still sent.
 *
 * The connection only flips booleans per read and write (`received` here,
 * and its output's "wrote" flag), so the I/O path never reads a clock; one
 * timer per connection does the rest.
 */

export interface HeartbeatPeer {
  /** whether anything was written since the last call (and reset that) */
  takeWrote(): boolean;
  sendHeartbeat(): void;
  heartbeatTimedOut(seconds: number): void;
}

export class Heartbeat {
  /** set by the connection whenever bytes arrive */
  received = false;
  private readonly peer: HeartbeatPeer;
  private readonly seconds: number;
  private timer: NodeJS.Timeout | null = null;
  private silentTicks = 0;
  private monitorPaused = false;

  constructor(peer: HeartbeatPeer, seconds: number) {
    this.peer = peer;
    this.seconds = seconds;
  }

  start(): void {
    if (this.seconds <= 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), (this.seconds * 1000) / 2);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stop expecting input (the connection stopped reading) until resumeMonitor(). */
  pauseMonitor(): void {
    this.monitorPaused = true;
  }

  /** Expect input again, the timeout counted afresh. */
  resumeMonitor(): void {
    this.monitorPaused = false;
    this.silentTicks = 0;
  }

  private tick(): void {
    if (this.received || this.monitorPaused) {
      this.received = false;
      this.silentTicks = 0;
    } else if (++this.silentTicks >= 5) {
      this.stop();
      this.peer.heartbeatTimedOut(this.seconds);
      return;
    }
    if (!this.peer.takeWrote()) {
      this.peer.sendHeartbeat();
      this.peer.takeWrote(); // our own heartbeat does not count as traffic
    }
  }
}
