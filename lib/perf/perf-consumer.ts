/**
 * One warren-perf consumer: a connection with one basic.consume that counts
 * basic.deliver frames without decoding them (lib/perf/raw-connection.ts),
 * reads each body's send time for the end-to-end latency, and acks: not at
 * all (--autoack), one basic.ack per delivery sent together for each socket
 * chunk, or with multiple=true every N deliveries (--multi-ack-every).
 */
import { Method } from '../amqp/generated/methods.js';
import { Histogram } from './histogram.js';
import { SLOT, clockMs, consumerSlot } from './perf-shared.js';
import type { ConsumerRole } from './perf-shared.js';
import { ackFrame, ackFrames, RawConnection } from './raw-connection.js';

export class Consumer {
  readonly latency = new Histogram();
  private readonly shared: Int32Array;
  private readonly slot: number;

  private constructor(
    private readonly conn: RawConnection,
    private readonly role: ConsumerRole,
    shared: SharedArrayBuffer,
  ) {
    this.shared = new Int32Array(shared);
    this.slot = consumerSlot(role.producers, role.index);
    conn.onTimestamp = (sentAt) => {
      // 0 (or garbage) when the body was not written by warren-perf, e.g. by --sink
      if (sentAt > 0 && Atomics.load(this.shared, SLOT.measuring) === 1) this.latency.add(clockMs() - sentAt);
    };
    if (role.autoack) {
      conn.afterData = () => Atomics.store(this.shared, this.slot, conn.delivered);
      return;
    }
    const tags: number[] = [];
    let lastTag = 0;
    let unacked = 0;
    const every = role.multiAckEvery;
    conn.onDeliver = every === 1 ? (tag) => void tags.push(tag) : (tag) => void (lastTag = tag, unacked++);
    conn.afterData = () => {
      if (!conn.error) {
        if (tags.length > 0) conn.write(ackFrames(tags, tags.length));
        else if (unacked >= every) {
          conn.write(ackFrame(lastTag, true));
          unacked = 0;
        }
      }
      tags.length = 0;
      Atomics.store(this.shared, this.slot, conn.delivered);
    };
  }

  get received(): number {
    return this.conn.delivered;
  }

  /** basic.qos (unless autoack or unlimited); basic.consume waits for start(). */
  static async open(conn: RawConnection, role: ConsumerRole, shared: SharedArrayBuffer): Promise<Consumer> {
    if (!role.autoack && role.prefetch > 0) {
      await conn.rpc({ id: Method.BasicQos, prefetchSize: 0, prefetchCount: role.prefetch, global: false }, Method.BasicQosOk);
    }
    return new Consumer(conn, role, shared);
  }

  start(): Promise<unknown> {
    const { queue, autoack } = this.role;
    return this.conn.rpc(
      { id: Method.BasicConsume, queue, consumerTag: '', noLocal: false, noAck: autoack, exclusive: false, noWait: false, arguments: {} },
      Method.BasicConsumeOk,
    );
  }
}
