/**
 * One client connection: the socket, the protocol header, frame dispatch to
 * the handshake and to channels, output, what its channels ask of it, and
 * blocking publishers during a resource alarm (publish-throttle.ts decides;
 * this class stops and resumes reading). Its parts: handshake.ts,
 * channel-table.ts, heartbeat.ts, frame-output.ts, publish-throttle.ts, and
 * connection-close.ts for errors and every way the connection ends.
 *
 * Errors: handlers throw AmqpError; what is thrown while a frame is handled
 * goes to connection-close.ts, which closes the channel or the connection.
 * No byte sequence a client sends can throw out of this class.
 *
 * Output: every frame is encoded into one WireWriter; what a read produced
 * is written with a single socket.write when the read has been processed,
 * and writes from elsewhere (timers, other connections) are flushed once per
 * event-loop turn (setImmediate).
 */
import type { Socket } from 'node:net';
import { channelError, unexpectedFrame } from '../amqp/amqp-error.js';
import type { AmqpError } from '../amqp/amqp-error.js';
import type { FieldTable } from '../amqp/field-table.js';
import { FrameReader } from '../amqp/frame-reader.js';
import { FrameType } from '../amqp/generated/constants.js';
import { Method, encodeConnectionBlocked, encodeConnectionUnblocked, encodeConnectionUpdateSecretOk } from '../amqp/generated/methods.js';
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
import { ConnectionCloser } from './connection-close.js';
import type { ClosingConnection } from './connection-close.js';
import { ConnectionState, managementStateName } from './connection-state.js';
import { FrameOutput } from './frame-output.js';
import { HandshakeStep, handleHandshakeMethod, sendStart } from './handshake.js';
import { Heartbeat } from './heartbeat.js';
import { ResourceAccess } from './resource-access.js';
import { checkProtocolHeader } from './protocol-header.js';
import { PublishThrottle } from './publish-throttle.js';

export class Connection implements ClosingConnection {
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

  /** where the connection is in its life; connection-close.ts moves it to Closing and Closed */
  state = ConnectionState.Header;
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
  private readonly closer: ConnectionCloser;
  private header: Buffer | null = null;
  private heartbeat: Heartbeat | null = null;

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
    this.closer = new ConnectionCloser(this, this.out, this.reader, this.channels, this.throttle, broker.config.handshakeTimeout * 1000);
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
    return this.state === ConnectionState.Open;
  }

  /** The state as RabbitMQ's management API names it: starting, running, blocked, closing, closed. */
  get stateName(): string {
    return managementStateName(this.state, this.throttle.blocked);
  }

  /** The channels open (or closing) now. */
  openChannels(): Channel[] {
    return this.channels.list();
  }

  /** Close on the broker's behalf (the HTTP API, a deleted vhost or user): 320 CONNECTION_FORCED with `text`. */
  closeForced(text: string): void {
    this.closer.closeForced(text);
  }

  /** Not reading its socket because it published during a resource alarm. */
  get blocked(): boolean {
    return this.throttle.blocked;
  }

  // ---- input -------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.heartbeat) this.heartbeat.received = true;
    if (this.state === ConnectionState.Header) {
      this.onHeaderBytes(chunk);
    } else if (this.state !== ConnectionState.Closed) {
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
  resumeInput(): void {
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
      this.closer.refuseProtocolHeader(have, verdict.reason);
      return;
    }
    this.state = ConnectionState.Handshake;
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
      this.closer.onError(err, channel);
    }
  }

  /** FrameSink: part of a body frame. */
  onBody(channel: number, part: Buffer, frameSize: number, first: boolean): void {
    try {
      if (this.state !== ConnectionState.Open) {
        if (this.state === ConnectionState.Handshake && first) this.closer.handshakeFrame(FrameType.Body, channel, part);
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
      this.closer.onError(err, channel);
    }
  }

  /** FrameSink: the byte stream is not valid framing. */
  onFrameError(text: string): void {
    this.closer.onFrameError(text);
  }

  private onMethodFrame(channel: number, buf: Buffer, start: number, end: number): void {
    const m = decodeMethodFrame(this.decoder, buf, start, end);

    switch (this.state) {
      case ConnectionState.Handshake:
        if (channel !== 0) return this.closer.handshakeFrame(FrameType.Method, channel, buf.subarray(start, end));
        return handleHandshakeMethod(this, this.handshakeStep, m);
      case ConnectionState.Closing:
        return this.closer.methodWhileClosing(channel, m.id);
      case ConnectionState.Open:
        if (channel === 0) return this.onConnectionMethod(m);
        return this.channels.onMethod(channel, m);
      default:
        return;
    }
  }

  private onConnectionMethod(m: AnyMethod): void {
    switch (m.id) {
      case Method.ConnectionClose:
        return this.closer.clientClosed(m.replyCode, m.replyText);
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
    if (this.state === ConnectionState.Handshake) return this.closer.handshakeFrame(FrameType.Header, channel, buf.subarray(start, end));
    if (this.state !== ConnectionState.Open) return;
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
    if (channel !== 0 && this.state === ConnectionState.Open) throw unexpectedFrame(frameDescription(FrameType.Heartbeat, Buffer.alloc(0)));
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
    this.closer.exclusiveQueueDeclared(q);
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
    this.closer.onError(err, channel);
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
    this.state = ConnectionState.Open;
    this.closer.handshakeDone();
    this.throttle.start(this.listener.alarms, this.blockedNotify);
    this.logger.info({ user: this.user!.name, vhost }, 'connection opened');
  }

  /** A handshake error RabbitMQ answers by closing the socket without a word, after a delay. */
  dropHandshake(reason: string): void {
    this.closer.dropHandshake(reason);
  }

  // ---- closing (connection-close.ts) -------------------------------------

  /** connection.close, then the socket is ended at once: for peers whose close-ok cannot or need not be awaited. */
  closeNow(err: AmqpError): void {
    this.closer.closeNow(err);
  }

  /** Close as the broker shuts down: 320 CONNECTION_FORCED to open connections, the socket closed for the rest. */
  forceClose(reason: string): void {
    this.closer.forceClose(reason);
  }

  heartbeatTimedOut(seconds: number): void {
    this.closer.heartbeatTimedOut(seconds);
  }

  /** Closing: no more heartbeats sent or expected. */
  stopHeartbeat(): void {
    this.heartbeat?.stop();
  }

  /** Closed and everything released (connection-close.ts): the listener forgets this connection. */
  released(reason: string): void {
    this.listener.connectionClosed(this, reason);
  }
}
