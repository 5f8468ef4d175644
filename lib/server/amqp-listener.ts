/**
 * The AMQP listener: accepts TCP connections for a broker, keeps the set of
 * live connections, hands them the resource alarms they obey (the free disk
 * space alarm), and shuts them down (320 CONNECTION_FORCED) when the broker
 * stops.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { ReplyToRegistry } from './direct-reply-to.js';
import type { Broker } from '../broker/broker.js';
import { Connection } from './connection.js';
import type { ResourceAlarm } from './publish-throttle.js';

/** How long shutdown waits for clients to answer connection.close before dropping them. */
const SHUTDOWN_GRACE_MS = 3_000;

export class AmqpListener {
  readonly broker: Broker;
  readonly connections = new Set<Connection>();
  /** alarms that block publishing connections while set */
  readonly alarms: readonly ResourceAlarm[];
  /** channels with a direct reply-to consumer, across connections */
  readonly replyTo = new ReplyToRegistry();
  private readonly server: Server;
  private nextId = 1;
  private closing = false;

  constructor(broker: Broker, alarms: readonly ResourceAlarm[] = []) {
    this.broker = broker;
    this.alarms = alarms;
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => broker.logger.error({ err }, 'listener error'));
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** the port it listens on (0 before listen) */
  get port(): number {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new Connection(this, socket, this.nextId++);
    this.connections.add(conn);
    conn.logger.debug('accepting AMQP connection');
  }

  /** Called by a connection exactly once, when it is gone. */
  connectionClosed(conn: Connection, reason: string): void {
    if (!this.connections.delete(conn)) return;
    if (conn.user) {
      conn.logger.info({ user: conn.user.name, vhost: conn.vhost, reason }, 'connection closed');
    } else {
      conn.logger.debug({ reason }, 'connection closed before login');
    }
  }

  /** Stop accepting, close every connection with 320, and wait (briefly) for them to go. */
  async close(reason = 'shutdown'): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const gone = [...this.connections].map(
      (c) => new Promise<void>((resolve) => {
        if (c.socket.destroyed) return resolve();
        c.socket.once('close', () => resolve());
        c.forceClose(reason);
      }),
    );
    const grace = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([Promise.all(gone), grace]);
    for (const c of this.connections) c.socket.destroy();
    await stopped;
  }
}
