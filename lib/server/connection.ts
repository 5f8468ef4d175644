/**
 * One client connection: the socket, the protocol header, frame dispatch to
 * the handshake and to channels, the channel table, heartbeats, the output
 * batch, blocking publishers during a resource alarm (publish-throttle.ts
 * decides; this class stops and resumes reading), and closing in both
 * directions.
 *
 * Errors: handlers throw AmqpError. A ChannelError closes its channel
 * (channel.close, then frames on it are dropped until close-ok); a
 * ConnectionError, a malformed frame, or a bug (541) closes the connection
 * (connection.close, then everything but close/close-ok is dropped). No
 * byte sequence a client sends can throw out of this class.
 *
 * Output: every frame is encoded into one WireWriter; what a read produced
 * is written with a single socket.write when the read has been processed,
 * and writes from elsewhere (timers, other connections) are flushed once per
 * event-loop turn (setImmediate).
 */
import type { Socket } from 'node:net';
import { AmqpError, ChannelError, ConnectionError, channelError, frameError, internalError, unexpectedFrame } from '../amqp/amqp-error.js';
import type { FieldTable } from '../amqp/field-table.js';
import { FrameReader } from '../amqp/frame-reader.js';
import { FrameType, ReplyCode } from '../amqp/generated/constants.js';
import {
  Method,
  encodeConnectionBlocked,
  encodeConnectionClose,
  encodeConnectionCloseOk,
  encodeConnectionUnblocked,
  encodeConnectionUpdateSecretOk,
} from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import { frameDescription } from '../amqp/erlang-term.js';
import { decodeMethodFrame, unknownFrame } from './frame-errors.js';
import type { MethodEncoder } from '../amqp/frame-writer.js';
import { WireDecodeError } from '../amqp/wire-errors.js';
import { WireReader } from '../amqp/wire-reader.js';
import type { User } from '../auth/users.js';
import type { Broker } from '../broker/broker.js';
import type { Message } from '../broker/message.js';
import type { MessageStats } from '../broker/message-stats.js';
import type { Queue } from '../broker/queue.js';
import type { VirtualHost } from '../broker/vhost.js';
import type { Committed, PublishRecord } from '../store/message-log.js';
import type { AmqpListener } from './amqp-listener.js';
import type { ReplyToRegistry } from './direct-reply-to.js';
import type { Logger } from '../log.js';
import { ChannelTable } from './channel-table.js';
import type { Channel } from './channel.js';
import { FrameOutput } from './frame-output.js';
import { HandshakeStep, handleHandshakeMethod, sendStart } from './handshake.js';
import { Heartbeat } from './heartbeat.js';
import { ResourceAccess } from './resource-access.js';
import { checkProtocolHeader, PROTOCOL_HEADER } from './protocol-header.js';
import { PublishThrottle } from './publish-throttle.js';

const enum State {
  /** waiting for the 8-byte protocol header */
  Header,
  /** start / tune / open exchange, see handshake.ts */
  Handshake,
  Open,
  /** we sent connection.close and wait for close-ok */
  Closing,
  Closed,
}

/** How long a peer gets to answer our connection.close before the socket is dropped. */
const CLOSE_OK_TIMEOUT_MS = 10_000;
/**
 * RabbitMQ's SILENT_CLOSE_DELAY: a handshake it refuses without a word is
 * closed only after 3 s, "so they can't DOS us with repeated failed logins".
 */
const SILENT_CLOSE_DELAY_MS = 3_000;

export class Connection {
  readonly id: number;
  readonly listener: AmqpListener;
  readonly broker: Broker;
  readonly socket: Socket;
  readonly name: string;
  readonly remoteAddress: string;
  readonly logger: Logger;
  readonly maxMessageSize: number;
  /** the broker's message counters; this connection's bytes are its socket's bytesRead / bytesWritten */
  readonly stats: MessageStats;

  handshakeStep = HandshakeStep.StartOk;
  clientProperties: FieldTable = {};
  authFailureClose = false;
  consumerCancelNotify = false;
  /** the client advertised the connection.blocked capability */
  blockedNotify = false;
  user: User | null = null;
  vhost: string | null = null;
  /** the VirtualHost opened; channels exist only after connection.open, so they can rely on it */
  virtualHost!: VirtualHost;
  access!: ResourceAccess;

  get replyTo(): ReplyToRegistry {
    return this.listener.replyTo;
  }

  get consumerTimeout(): number {
    return this.broker.config.consumerTimeout;
  }
  channelMax = 0;
  frameMax = 0;
  heartbeatSeconds = 0;

  private state = State.Header;
  private readonly out: FrameOutput;
  private readonly reader: FrameReader;
  private readonly decoder = new WireReader();
  private readonly channels = new ChannelTable(this);
  private readonly throttle = new PublishThrottle({
    block: () => this.pauseInput(),
    unblock: () => this.resumeInput(),
    sendBlocked: (reason) => this.sendMethod(0, encodeConnectionBlocked, { reason }),
    sendUnblocked: () => this.sendMethod(0, encodeConnectionUnblocked, {}),
  });
  private header: Buffer | null = null;
  private heartbeat: Heartbeat | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private closeReason = '';
  private released = false;
  /** exclusive queues this connection declared: deleted when it closes */
  private readonly exclusiveQueues = new Set<Queue>();

  constructor(listener: AmqpListener, socket: Socket, id: number) {
    const broker = listener.broker;
    this.listener = listener;
    this.broker = broker;
    this.socket = socket;
    this.out = new FrameOutput(socket, () => this.channels.resumeDeliveries());
    this.id = id;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.name = `${socket.remoteAddress}:${socket.remotePort} -> ${socket.localAddress}:${socket.localPort}`;
    this.logger = broker.logger.child({ connection: this.name });
    this.maxMessageSize = broker.config.maxMessageSize;
    this.stats = broker.stats;
    this.stats.connectionsOpened++;
    // Before tune, frames are bounded by the largest frame_max we would agree to.
    this.reader = new FrameReader(this, broker.config.frameMax);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.onSocketError(err));
    socket.on('close', () => this.onSocketClose());
    this.handshakeTimer = setTimeout(() => this.onHandshakeTimeout(), broker.config.handshakeTimeout * 1000);
    this.handshakeTimer.unref();
  }

  get channelCount(): number {
    return this.channels.count;
  }

  // ---- for the management HTTP API (lib/admin/routes/connections.ts) -----

  /** When the socket was accepted, in ms since the epoch (connected_at). */
  readonly connectedAt = Date.now();
  /** The SASL mechanism the client logged in with, once the handshake records it (null: not recorded). */
  authMechanism: string | null = null;

  get peerPort(): number {
    return this.socket.remotePort ?? 0;
  }

  get localAddress(): string {
    return this.socket.localAddress ?? '';
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** Past connection.open (logged in, vhost opened) and not closing. */
  get isOpen(): boolean {
    return this.state === State.Open;
  }

  /** The state as RabbitMQ's management API names it: starting, running, blocked, closing, closed. */
  get stateName(): string {
    switch (this.state) {
      case State.Header:
      case State.Handshake:
        return 'starting';
      case State.Open:
        return this.throttle.blocked ? 'blocked' : 'running';
      case State.Closing:
        return 'closing';
      default:
        return 'closed';
    }
  }

  /** The channels open (or closing) now. */
  openChannels(): Channel[] {
    return this.channels.list();
  }

  /**
   * Close on the broker's behalf (DELETE /api/connections/{name}, a deleted
   * vhost or user): connection.close 320 CONNECTION_FORCED with `text`, as
   * RabbitMQ ("CONNECTION_FORCED - Closed via management plugin"); a
   * connection not open yet is dropped.
   */
  closeForced(text: string): void {
    if (this.state === State.Open) {
      this.closeWithError(new ConnectionError(ReplyCode.ConnectionForced, text));
      this.flush();
    } else if (this.state !== State.Closing && this.state !== State.Closed) {
      if (!this.closeReason) this.closeReason = text;
      this.destroy();
    }
  }

  /** Not reading its socket because it published during a resource alarm. */
  get blocked(): boolean {
    return this.throttle.blocked;
  }

  // ---- input -------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.heartbeat) this.heartbeat.received = true;
    if (this.state === State.Header) {
      this.onHeaderBytes(chunk);
    } else if (this.state !== State.Closed) {
      this.reader.push(chunk);
    }
    // a read cut short by a block goes on when reading resumes
    if (!this.reader.paused) this.channels.endOfRead();
    this.flush();
  }

  /** Blocked: read nothing more, from after the frame being handled on. */
  private pauseInput(): void {
    this.reader.pause();
    this.socket.pause();
    this.heartbeat?.pauseMonitor();
  }

  /** Unblocked (or closing): the frames held back first, then the socket again. */
  private resumeInput(): void {
    this.heartbeat?.resumeMonitor();
    this.reader.resume();
    if (!this.reader.paused) {
      this.channels.endOfRead();
      this.socket.resume();
    }
    this.flush();
  }

  private onHeaderBytes(chunk: Buffer): void {
    const have = this.header ? Buffer.concat([this.header, chunk]) : chunk;
    if (have.length < 8) {
      this.header = have;
      return;
    }
    this.header = null;
    const verdict = checkProtocolHeader(have);
    if (!verdict.ok) {
      this.logger.info({ received: have.subarray(0, 8).toString('latin1') }, 'closing connection: %s', verdict.reason);
      this.closeReason = verdict.reason;
      this.setClosed();
      this.socket.end(PROTOCOL_HEADER);
      return;
    }
    this.state = State.Handshake;
    sendStart(this);
    if (have.length > 8) this.reader.push(have.subarray(8));
  }

  /** FrameSink: a method, header, heartbeat or unknown-type frame. */
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    try {
      if (type === FrameType.Method) this.onMethodFrame(channel, buf, start, end);
      else if (type === FrameType.Header) this.onHeaderFrame(channel, buf, start, end);
      else if (type === FrameType.Heartbeat && end === start) this.onHeartbeatFrame(channel);
      else throw unknownFrame(type, buf.subarray(start, end));
    } catch (err) {
      this.onError(err, channel);
    }
  }

  /** FrameSink: part of a body frame. */
  onBody(channel: number, part: Buffer, frameSize: number, first: boolean): void {
    try {
      if (this.state !== State.Open) {
        if (this.state === State.Handshake && first) this.handshakeFrame(FrameType.Body, channel, part);
        return;
      }
      if (channel === 0) {
        if (first) throw unexpectedFrame(frameDescription(FrameType.Body, part));
        return;
      }
      const ch = this.channels.forContent(channel, first);
      if (!ch) return;
      const done = ch.content.onBody(part, frameSize, first);
      if (done) ch.handleContent(done);
      this.throttle.publishReceived();
    } catch (err) {
      this.onError(err, channel);
    }
  }

  /** FrameSink: the byte stream is not valid framing. */
  onFrameError(text: string): void {
    if (this.state === State.Handshake) {
      this.dropHandshake(`frame error: ${text}`);
      return;
    }
    // The byte stream is out of step: a close-ok could not be read any more.
    this.closeNow(frameError(text));
  }

  private onMethodFrame(channel: number, buf: Buffer, start: number, end: number): void {
    const m = decodeMethodFrame(this.decoder, buf, start, end);

    switch (this.state) {
      case State.Handshake:
        if (channel !== 0) return this.handshakeFrame(FrameType.Method, channel, buf.subarray(start, end));
        return handleHandshakeMethod(this, this.handshakeStep, m);
      case State.Closing:
        if (channel === 0 && m.id === Method.ConnectionCloseOk) return this.shutdown();
        if (channel === 0 && m.id === Method.ConnectionClose) this.sendMethod(0, encodeConnectionCloseOk, {});
        return;
      case State.Open:
        if (channel === 0) return this.onConnectionMethod(m);
        return this.channels.onMethod(channel, m);
      default:
        return;
    }
  }

  private onConnectionMethod(m: AnyMethod): void {
    switch (m.id) {
      case Method.ConnectionClose:
        this.closeReason = `client closed: ${m.replyCode} ${m.replyText}`;
        this.sendMethod(0, encodeConnectionCloseOk, {});
        this.awaitClientClose();
        return;
      case Method.ConnectionUpdateSecret:
        // The internal user database has no secret to refresh (RabbitMQ's internal backend accepts it as is).
        this.logger.info({ reason: m.reason }, 'connection.update-secret accepted');
        this.sendMethod(0, encodeConnectionUpdateSecretOk, {});
        return;
      default:
        throw channelError('unexpected method in connection state running').forMethod(m.id);
    }
  }

  private onHeaderFrame(channel: number, buf: Buffer, start: number, end: number): void {
    if (this.state === State.Handshake) return this.handshakeFrame(FrameType.Header, channel, buf.subarray(start, end));
    if (this.state !== State.Open) return;
    if (channel === 0) throw unexpectedFrame(frameDescription(FrameType.Header, buf.subarray(start, end)));
    const ch = this.channels.forContent(channel, true);
    if (!ch) return;
    try {
      const done = ch.content.onHeader(buf, start, end);
      if (done) ch.handleContent(done);
      this.throttle.publishReceived();
    } catch (err) {
      // a header too short for its fixed fields fails RabbitMQ's frame pattern: unknown_frame
      if (err instanceof WireDecodeError) throw unknownFrame(FrameType.Header, buf.subarray(start, end));
      throw err;
    }
  }

  private onHeartbeatFrame(channel: number): void {
    if (channel !== 0 && this.state === State.Open) throw unexpectedFrame(frameDescription(FrameType.Heartbeat, Buffer.alloc(0)));
  }

  /**
   * A frame on a channel other than 0 before connection.open completed:
   * after tune-ok RabbitMQ answers 505 quoting the frame; before, it just
   * closes the socket.
   */
  private handshakeFrame(type: number, channel: number, payload: Buffer): void {
    if (this.handshakeStep === HandshakeStep.Open) {
      this.closeWithError(unexpectedFrame(frameDescription(type, payload)));
    } else {
      this.dropHandshake(`frame of type ${type} on channel ${channel} during the handshake`);
    }
  }

  // ---- output ------------------------------------------------------------

  sendMethod<A>(channel: number, encode: MethodEncoder<A>, args: A): void {
    this.out.method(channel, encode, args);
  }

  sendContent<A>(channel: number, encode: MethodEncoder<A>, args: A, message: Message): void {
    this.out.content(channel, encode, args, message);
  }

  get outputBlocked(): boolean {
    return this.out.blocked;
  }

  get username(): string {
    return this.user?.name ?? '';
  }

  get queueOwner(): object {
    return this;
  }

  exclusiveQueueDeclared(q: Queue): void {
    this.exclusiveQueues.add(q);
  }

  definitionsSaved(): Promise<void> {
    return this.broker.definitionsSaved();
  }

  logMessage(record: PublishRecord, done: Committed): void {
    this.broker.messageLog.appendPublish(record, done);
  }

  newMessageId(): number {
    return this.broker.messageLog.newMessageId();
  }

  channelFailed(channel: number, err: unknown): void {
    this.onError(err, channel);
    this.flush();
  }

  sendHeartbeat(): void {
    this.out.heartbeat();
  }

  takeWrote(): boolean {
    const wrote = this.out.wrote;
    this.out.wrote = false;
    return wrote;
  }

  private flush(): void {
    this.out.flush();
  }

  /** No more input is read and no more output written. */
  private setClosed(): void {
    this.state = State.Closed;
    this.out.closed = true;
    this.reader.stop();
  }

  // ---- handshake callbacks (handshake.ts) --------------------------------

  tuned(channelMax: number, frameMax: number, heartbeat: number): void {
    this.channelMax = channelMax;
    this.channels.channelMax = channelMax;
    this.frameMax = frameMax;
    this.heartbeatSeconds = heartbeat;
    this.reader.frameMax = frameMax;
    this.out.frameMax = frameMax;
    if (heartbeat > 0) {
      this.heartbeat = new Heartbeat(this, heartbeat);
      this.heartbeat.start();
    }
  }

  opened(vhost: string): void {
    this.vhost = vhost;
    this.virtualHost = this.broker.vhosts.get(vhost)!;
    this.access = new ResourceAccess(this.broker.users, this.user!.name, vhost);
    this.state = State.Open;
    this.clearHandshakeTimer();
    this.throttle.start(this.listener.alarms, this.blockedNotify);
    this.logger.info({ user: this.user!.name, vhost }, 'connection opened');
  }

  /** A handshake error RabbitMQ answers by closing the socket without a word, after a delay. */
  dropHandshake(reason: string): void {
    this.logger.info('closing connection during handshake: %s', reason);
    this.closeReason = reason;
    this.setClosed();
    this.socket.pause();
    this.clearHandshakeTimer();
    this.closeTimer = setTimeout(() => this.destroy(), SILENT_CLOSE_DELAY_MS);
    this.closeTimer.unref();
  }

  // ---- errors and closing ------------------------------------------------

  private onError(err: unknown, channel: number): void {
    if (this.state === State.Closed) return;
    if (err instanceof ChannelError && channel !== 0 && this.channels.closeWithError(channel, err)) return;
    if (err instanceof AmqpError) {
      if (this.state === State.Handshake && !(err instanceof ConnectionError && err.code === ReplyCode.NotAllowed)) {
        return this.dropHandshake(err.message);
      }
      return this.closeWithError(err);
    }
    this.logger.error({ err, channel }, 'internal error while handling a frame');
    this.closeWithError(internalError(err instanceof Error ? err.message : String(err)));
  }

  /** Server-initiated close: connection.close, then wait for close-ok. */
  closeWithError(err: AmqpError): void {
    if (this.state === State.Closing || this.state === State.Closed) return;
    this.closeReason = err.message;
    if (err.code !== ReplyCode.ConnectionForced) this.logger.warn({ code: err.code }, 'closing connection: %s', err.message);
    this.channels.clear();
    this.sendMethod(0, encodeConnectionClose, {
      replyCode: err.code,
      replyText: err.replyText,
      classId: err.classId,
      methodId: err.methodId,
    });
    this.flush();
    this.state = State.Closing;
    this.clearHandshakeTimer();
    // a blocked connection reads again: the client's close-ok must get through
    if (this.throttle.stop()) this.resumeInput();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_OK_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  /** connection.close, then the socket is ended at once: for peers whose close-ok cannot or need not be awaited. */
  closeNow(err: AmqpError): void {
    this.closeWithError(err);
    this.shutdown();
  }

  /** Close as the broker shuts down: 320 CONNECTION_FORCED to open connections, the socket closed for the rest. */
  forceClose(reason: string): void {
    if (this.state === State.Open) {
      this.closeWithError(new ConnectionError(ReplyCode.ConnectionForced, `broker forced connection closure with reason '${reason}'`));
      return;
    }
    if (this.state !== State.Closing) {
      if (!this.closeReason) this.closeReason = reason;
      this.destroy();
    }
  }

  heartbeatTimedOut(seconds: number): void {
    this.logger.warn('missed heartbeats from client, timeout: %ds', seconds);
    this.closeReason = `missed heartbeats, timeout ${seconds}s`;
    this.destroy();
  }

  private onHandshakeTimeout(): void {
    this.handshakeTimer = null;
    if (this.state === State.Header || this.state === State.Handshake) {
      this.logger.info('closing connection: handshake timeout');
      this.closeReason = 'handshake timeout';
      this.destroy();
    }
  }

  /**
   * After our close-ok to the client's connection.close, RabbitMQ leaves
   * closing the socket to the client (so TIME_WAIT stays on the client's
   * side); input is ignored, and the socket is dropped if the client never
   * closes it.
   */
  private awaitClientClose(): void {
    this.throttle.stop();
    this.channels.clear();
    this.flush();
    this.setClosed();
    this.heartbeat?.stop();
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_OK_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  /** Flush what is pending, end the socket, release everything. */
  private shutdown(): void {
    this.channels.clear();
    this.flush();
    this.setClosed();
    this.socket.end();
    this.release();
  }

  private destroy(): void {
    this.setClosed();
    this.socket.destroy();
    this.release();
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.stats.connectionClosed(this.socket);
    this.clearHandshakeTimer();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.heartbeat?.stop();
    this.throttle.stop();
    this.channels.clear();
    for (const q of this.exclusiveQueues) this.virtualHost.deleteQueue(q);
    this.exclusiveQueues.clear();
    this.listener.connectionClosed(this, this.closeReason);
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    if (!this.closeReason) this.closeReason = `socket error: ${err.code ?? err.message}`;
  }

  private onSocketClose(): void {
    if (!this.closeReason) this.closeReason = 'client closed the socket';
    this.setClosed();
    this.release();
  }
}
