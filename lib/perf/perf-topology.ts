/**
 * warren-perf's exchange, queues and bindings: where each producer publishes,
 * which queue each consumer reads, how many deliveries one publish makes, and
 * declaring and removing them. Queues that existed before the run are used as
 * they are and left in place; the ones warren-perf declared are deleted at the
 * end, with the exchange if it has the default name warren-perf-TYPE.
 */
import { Method } from '../amqp/generated/methods.js';
import { queueNames } from './perf-options.js';
import type { PerfOptions } from './perf-options.js';
import { declareQueue, RawConnection } from './raw-connection.js';
import type { AmqpTarget } from './raw-connection.js';

export interface Topology {
  queues: string[];
  exchange: string;
  /** producer i's routing key */
  routingKey(i: number): string;
  /** consumer j's queue */
  queueOf(j: number): string;
  /** deliveries one publish makes (all queues for fanout / headers / a shared routing key) */
  copies: number;
}

export function planTopology(o: PerfOptions): Topology {
  const queues = queueNames(o);
  const everyQueue = o.exchangeType === 'fanout' || o.exchangeType === 'headers' || (o.exchangeType !== '' && o.routingKey !== '');
  return {
    queues,
    exchange: o.exchange,
    routingKey: (i) => o.routingKey || (o.exchangeType === 'fanout' || o.exchangeType === 'headers' ? '' : queues[i % queues.length]!),
    queueOf: (j) => queues[j % queues.length]!,
    copies: everyQueue ? queues.length : 1,
  };
}

/** Which of the queues exist already (a passive declare per queue; a refused one costs a connection). */
async function existing(target: AmqpTarget, queues: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  let conn: RawConnection | null = null;
  for (const q of queues) {
    conn ??= await RawConnection.open(target, 'warren-perf setup');
    try {
      await conn.rpc(declareQueue(q, true), Method.QueueDeclareOk);
      found.add(q);
    } catch {
      conn = null; // 404 closed the channel and with it this connection
    }
  }
  await conn?.close();
  return found;
}

/** Declare everything; returns what to undo. */
export async function declareTopology(ctl: RawConnection, target: AmqpTarget, t: Topology, o: PerfOptions): Promise<() => Promise<void>> {
  const before = await existing(target, t.queues);
  const created = t.queues.filter((q) => !before.has(q));
  if (o.exchangeType !== '') {
    await ctl.rpc(
      { id: Method.ExchangeDeclare, exchange: t.exchange, type: o.exchangeType, passive: false, durable: o.persistent, autoDelete: false, internal: false, noWait: false, arguments: {} },
      Method.ExchangeDeclareOk,
    );
  }
  for (const q of created) await ctl.rpc(declareQueue(q, false, o.persistent), Method.QueueDeclareOk);
  if (o.exchangeType !== '') {
    for (const q of t.queues) {
      const key = o.exchangeType === 'fanout' || o.exchangeType === 'headers' ? '' : o.routingKey || q;
      await ctl.rpc({ id: Method.QueueBind, queue: q, exchange: t.exchange, routingKey: key, noWait: false, arguments: {} }, Method.QueueBindOk);
    }
  }
  return async () => {
    if (ctl.error) return;
    for (const q of created) await ctl.rpc({ id: Method.QueueDelete, queue: q, ifUnused: false, ifEmpty: false, noWait: false }, Method.QueueDeleteOk, 60_000);
    if (o.exchangeType !== '' && o.exchange === `warren-perf-${o.exchangeType}`) { // only the one it named
      await ctl.rpc({ id: Method.ExchangeDelete, exchange: t.exchange, ifUnused: false, noWait: false }, Method.ExchangeDeleteOk);
    }
  };
}

/** Ready messages in all the queues (passive declares). */
export async function queuedMessages(ctl: RawConnection, t: Topology): Promise<number> {
  let n = 0;
  for (const q of t.queues) {
    const ok = await ctl.rpc(declareQueue(q, true), Method.QueueDeclareOk, 60_000);
    if (ok.id === Method.QueueDeclareOk) n += ok.messageCount;
  }
  return n;
}
