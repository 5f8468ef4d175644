/**
 * How a connection ends, in each of the ways it can, as RabbitMQ ends it:
 *   - an error (below): connection.close, then everything but close /
 *     close-ok is dropped until the client's close-ok, or for at most
 *     CLOSE_OK_TIMEOUT_MS, before the socket is closed;
 *   - the client's connection.close: close-ok, then the client closes the
 *     socket (it is dropped if the client never does);
 *   - a refused handshake: the socket is closed without a word after
 *     SILENT_CLOSE_DELAY_MS; a handshake not done in time is dropped;
 *   - a protocol header warren does not speak: the one it speaks, and the
 *     socket closed;
 *   - missed heartbeats, or the socket failing or closing: dropped at once;
 *   - the broker's decision (shutdown, a deleted vhost or user, the HTTP
 *     API): 320 CONNECTION_FORCED to an open connection, the socket closed
 *     for the rest.
 * Whichever way, what the connection holds is released exactly once: its
 * channels, its exclusive queues, the alarms it follows, its heartbeats and
 * timers, and its place in the listener.
 *
 * Errors: handlers throw AmqpError. A ChannelError closes its channel
 * (channel.close, then frames on it are dropped until close-ok); a
 * ConnectionError, a malformed frame, or a bug (541) closes the connection.
 * During the handshake an error drops the connection silently, but for
 * 530 NOT_ALLOWED (a vhost that does not exist or is refused), which gets
 * connection.close.
 *
 * None of this is on the path of a frame that is handled without error: the
 * connection calls in here on errors, on connection.close either way, and
 * on timers and socket events.
 */
import type { Socket } from 'node:net';
import { AmqpError, ChannelError, ConnectionError, frameError, internalError, unexpectedFrame } from '../amqp/amqp-error.js';
import { frameDescription } from '../amqp/erlang-term.js';
import type { FrameReader } from '../amqp/frame-reader.js';
import { ReplyCode } from '../amqp/generated/constants.js';
import { Method, encodeConnectionClose, encodeConnectionCloseOk } from '../amqp/generated/methods.js';
import type { MessageStats } from '../broker/message-stats.js';
import type { Queue } from '../broker/queue.js';
import type { VirtualHost } from '../broker/vhost.js';
import type { Logger } from '../log.js';
import type { ChannelTable } from './channel-table.js';
import { ConnectionState } from './connection-state.js';
import type { FrameOutput } from './frame-output.js';
import { HandshakeStep } from './handshake.js';
import { PROTOCOL_HEADER } from './protocol-header.js';
import type { PublishThrottle } from './publish-throttle.js';

/** How long a peer gets to answer our connection.close before the socket is dropped. */
const CLOSE_OK_TIMEOUT_MS = 10_000;
/**
 * RabbitMQ's SILENT_CLOSE_DELAY: a handshake it refuses without a word is
 * closed only after 3 s, "so they can't DOS us with repeated failed logins".
 */
const SILENT_CLOSE_DELAY_MS = 3_000;

/** What closing asks of its connection; the connection's parts it works on are given to the constructor. */
export interface ClosingConnection {
  /** read here, and moved to Closing and Closed here */
  state: ConnectionState;
  readonly logger: Logger;
  readonly socket: Socket;
  readonly stats: MessageStats;
  /** how far the handshake got: a frame on a channel during it is refused by this */
  readonly handshakeStep: HandshakeStep;
  /** the vhost opened (exclusive queues exist only after connection.open) */
  readonly virtualHost: VirtualHost;
  /** read input again, what was held back first */
  resumeInput(): void;
  stopHeartbeat(): void;
  /** everything is released: the listener forgets the connection, logging `reason` */
  released(reason: string): void;
}

export class ConnectionCloser {
  private readonly conn: ClosingConnection;
  private readonly out: FrameOutput;
  private readonly reader: FrameReader;
  private readonly channels: ChannelTable;
  private readonly throttle: PublishThrottle;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  /** why the connection ended, for the listener's log line */
  private reason = '';
  private isReleased = false;
  /** exclusive queues the connection declared: deleted when it closes */
  private readonly exclusiveQueues = new Set<Queue>();

  /** Also listens for the socket's error and close, and starts the handshake deadline. */
  constructor(
    conn: ClosingConnection,
    out: FrameOutput,
    reader: FrameReader,
    channels: ChannelTable,
    throttle: PublishThrottle,
    handshakeTimeoutMs: number,
  ) {
    this.conn = conn;
    this.out = out;
    this.reader = reader;
    this.channels = channels;
    this.throttle = throttle;
    conn.socket.on('error', (err) => this.onSocketError(err));
    conn.socket.on('close', () => this.onSocketClose());
    this.handshakeTimer = setTimeout(() => this.onHandshakeTimeout(), handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  exclusiveQueueDeclared(q: Queue): void {
    this.exclusiveQueues.add(q);
  }

  /** connection.open is done: no handshake deadline any more. */
  handshakeDone(): void {
    this.clearHandshakeTimer();
  }

  // ---- errors --------------------------------------------------------------

  /** A handler threw while handling a frame on `channel` (or replaying one). */
  onError(err: unknown, channel: number): void {
    const conn = this.conn;
    if (conn.state === ConnectionState.Closed) return;
    if (err instanceof ChannelError && channel !== 0 && this.channels.closeWithError(channel, err)) return;
    if (err instanceof AmqpError) {
      if (conn.state === ConnectionState.Handshake && !(err instanceof ConnectionError && err.code === ReplyCode.NotAllowed)) {
        return this.dropHandshake(err.message);
      }
      return this.closeWithError(err);
    }
    conn.logger.error({ err, channel }, 'internal error while handling a frame');
    this.closeWithError(internalError(err instanceof Error ? err.message : String(err)));
  }

  /** The byte stream is not valid framing. */
  onFrameError(text: string): void {
    if (this.conn.state === ConnectionState.Handshake) {
      this.dropHandshake(`frame error: ${text}`);
      return;
    }
    // The byte stream is out of step: a close-ok could not be read any more.
    this.closeNow(frameError(text));
  }

  /** The first 8 bytes are not a protocol header warren speaks (`reason` says why). */
  refuseProtocolHeader(received: Buffer, reason: string): void {
    this.conn.logger.info({ received: received.subarray(0, 8).toString('latin1') }, 'closing connection: %s', reason);
    this.reason = reason;
    this.setClosed();
    this.conn.socket.end(PROTOCOL_HEADER);
  }

  /**
   * A frame on a channel other than 0 before connection.open completed:
   * after tune-ok RabbitMQ answers 505 quoting the frame; before, it just
   * closes the socket.
   */
  handshakeFrame(type: number, channel: number, payload: Buffer): void {
    if (this.conn.handshakeStep === HandshakeStep.Open) {
      this.closeWithError(unexpectedFrame(frameDescription(type, payload)));
    } else {
      this.dropHandshake(`frame of type ${type} on channel ${channel} during the handshake`);
    }
  }

  /** A handshake error RabbitMQ answers by closing the socket without a word, after a delay. */
  dropHandshake(reason: string): void {
    this.conn.logger.info('closing connection during handshake: %s', reason);
    this.reason = reason;
    this.setClosed();
    this.conn.socket.pause();
    this.clearHandshakeTimer();
    this.closeTimer = setTimeout(() => this.destroy(), SILENT_CLOSE_DELAY_MS);
    this.closeTimer.unref();
  }

  // ---- connection.close ----------------------------------------------------

  /** Server-initiated close: connection.close, then wait for close-ok. */
  closeWithError(err: AmqpError): void {
    const conn = this.conn;
    if (conn.state === ConnectionState.Closing || conn.state === ConnectionState.Closed) return;
    this.reason = err.message;
    if (err.code !== ReplyCode.ConnectionForced) conn.logger.warn({ code: err.code }, 'closing connection: %s', err.message);
    this.channels.clear();
    this.out.method(0, encodeConnectionClose, {
      replyCode: err.code,
      replyText: err.replyText,
      classId: err.classId,
      methodId: err.methodId,
    });
    this.out.flush();
    conn.state = ConnectionState.Closing;
    this.clearHandshakeTimer();
    // a blocked connection reads again: the client's close-ok must get through
    if (this.throttle.stop()) conn.resumeInput();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_OK_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  /** connection.close, then the socket is ended at once: for peers whose close-ok cannot or need not be awaited. */
  closeNow(err: AmqpError): void {
    this.closeWithError(err);
    this.shutdown();
  }

  /** A method on any channel while our connection.close awaits its close-ok. */
  methodWhileClosing(channel: number, id: number): void {
    if (channel === 0 && id === Method.ConnectionCloseOk) return this.shutdown();
    if (channel === 0 && id === Method.ConnectionClose) this.out.method(0, encodeConnectionCloseOk, {});
  }

  /**
   * The client's connection.close on an open connection: close-ok, and then,
   * as RabbitMQ does, closing the socket is left to the client (so TIME_WAIT
   * stays on the client's side); input is ignored, and the socket is dropped
   * if the client never closes it.
   */
  clientClosed(replyCode: number, replyText: string): void {
    this.reason = `client closed: ${replyCode} ${replyText}`;
    this.out.method(0, encodeConnectionCloseOk, {});
    this.throttle.stop();
    this.channels.clear();
    this.out.flush();
    this.setClosed();
    this.conn.stopHeartbeat();
    this.closeTimer = setTimeout(() => this.conn.socket.destroy(), CLOSE_OK_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  // ---- closes the broker decides on ---------------------------------------

  /**
   * Close on the broker's behalf (DELETE /api/connections/{name}, a deleted
   * vhost or user): connection.close 320 CONNECTION_FORCED with `text`, as
   * RabbitMQ ("CONNECTION_FORCED - Closed via management plugin"); a
   * connection not open yet is dropped.
   */
  closeForced(text: string): void {
    const state = this.conn.state;
    if (state === ConnectionState.Open) {
      this.closeWithError(new ConnectionError(ReplyCode.ConnectionForced, text));
      this.out.flush();
    } else if (state !== ConnectionState.Closing && state !== ConnectionState.Closed) {
      if (!this.reason) this.reason = text;
      this.destroy();
    }
  }

  /** Close as the broker shuts down: 320 CONNECTION_FORCED to open connections, the socket closed for the rest. */
  forceClose(reason: string): void {
    const state = this.conn.state;
    if (state === ConnectionState.Open) {
      this.closeWithError(new ConnectionError(ReplyCode.ConnectionForced, `broker forced connection closure with reason '${reason}'`));
      return;
    }
    if (state !== ConnectionState.Closing) {
      if (!this.reason) this.reason = reason;
      this.destroy();
    }
  }

  heartbeatTimedOut(seconds: number): void {
    this.conn.logger.warn('missed heartbeats from client, timeout: %ds', seconds);
    this.reason = `missed heartbeats, timeout ${seconds}s`;
    this.destroy();
  }

  private onHandshakeTimeout(): void {
    this.handshakeTimer = null;
    const state = this.conn.state;
    if (state === ConnectionState.Header || state === ConnectionState.Handshake) {
      this.conn.logger.info('closing connection: handshake timeout');
      this.reason = 'handshake timeout';
      this.destroy();
    }
  }

  // ---- the socket and the release ----------------------------------------

  /** No more input is read and no more output written. */
  private setClosed(): void {
    this.conn.state = ConnectionState.Closed;
    this.out.closed = true;
    this.reader.stop();
  }

  /** Flush what is pending, end the socket, release everything. */
  private shutdown(): void {
    this.channels.clear();
    this.out.flush();
    this.setClosed();
    this.conn.socket.end();
    this.release();
  }

  private destroy(): void {
    this.setClosed();
    this.conn.socket.destroy();
    this.release();
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    const conn = this.conn;
    conn.stats.connectionClosed(conn.socket);
    this.clearHandshakeTimer();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    conn.stopHeartbeat();
    this.throttle.stop();
    this.channels.clear();
    for (const q of this.exclusiveQueues) conn.virtualHost.deleteQueue(q);
    this.exclusiveQueues.clear();
    conn.released(this.reason);
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    if (!this.reason) this.reason = `socket error: ${err.code ?? err.message}`;
  }

  private onSocketClose(): void {
    if (!this.reason) this.reason = 'client closed the socket';
    this.setClosed();
    this.release();
  }
}
