/**
 * AMQP transactions on a channel (tx.select, tx.commit, tx.rollback), as
 * RabbitMQ runs them: after tx.select, publishes are checked and routed at
 * once but held, and acks, nacks and rejects are checked (unknown delivery
 * tags are 406 at once) but held; tx.commit stores the publishes in order
 * (mandatory returns go out then), applies the acknowledgements, and answers
 * commit-ok only once the persistent messages among them are on disk;
 * tx.rollback drops the publishes and puts the acknowledged deliveries back
 * among the channel's unacked ones. A channel cannot be both transactional
 * and in confirm mode (406 either way round).
 */
import { internalError, preconditionFailed } from '../amqp/amqp-error.js';
import { Method, encodeTxCommitOk, encodeTxRollbackOk, encodeTxSelectOk } from '../amqp/generated/methods.js';
import type { AnyMethod } from '../amqp/generated/methods.js';
import type { Committed } from '../store/message-log.js';
import type { Channel } from './channel.js';
import { storePublish } from './publish.js';
import type { RoutedPublish } from './publish.js';
import type { Delivery } from './unacked-deliveries.js';

export type HeldSettle = { deliveries: Delivery[]; action: 'ack' | 'reject' | 'requeue' };

export class Transaction {
  publishes: RoutedPublish[] = [];
  settles: HeldSettle[] = [];

  /** Every delivery an ack, nack or reject of this transaction took from the channel. */
  heldDeliveries(): Delivery[] {
    return this.settles.flatMap((s) => s.deliveries);
  }

  clear(): void {
    this.publishes = [];
    this.settles = [];
  }
}

/** tx.select, tx.commit, tx.rollback; false for other methods. */
export function handleTxMethod(ch: Channel, m: AnyMethod): boolean {
  switch (m.id) {
    case Method.TxSelect:
      if (ch.confirms) throw preconditionFailed('cannot switch from confirm to tx mode').forMethod(m.id);
      ch.tx ??= new Transaction();
      ch.host.sendMethod(ch.id, encodeTxSelectOk, {});
      return true;
    case Method.TxCommit:
      if (!ch.tx) throw preconditionFailed('channel is not transactional').forMethod(m.id);
      commit(ch, ch.tx);
      return true;
    case Method.TxRollback: {
      if (!ch.tx) throw preconditionFailed('channel is not transactional').forMethod(m.id);
      ch.unacked.restore(ch.tx.heldDeliveries());
      ch.tx.clear();
      ch.host.sendMethod(ch.id, encodeTxRollbackOk, {});
      return true;
    }
    default:
      return false;
  }
}

function commit(ch: Channel, tx: Transaction): void {
  const { publishes, settles } = tx;
  tx.clear();
  let waiting = 1;
  let failed: Error | null = null;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stored: Committed = (err) => {
    if (err) failed = err;
    if (--waiting === 0) finish();
  };
  const awaitDisk = (): Committed => {
    waiting++;
    return stored;
  };
  for (const p of publishes) storePublish(ch, p.message, p.queues, p.mandatory, p.exchange, p.routingKey, 0, awaitDisk);
  for (const s of settles) {
    if (s.action === 'requeue') ch.requeue(s.deliveries);
    else ch.settle(s.deliveries, s.action === 'reject');
  }
  stored(null); // the commit itself: done once every logged publish is
  ch.waitFor(done, () => {
    if (failed) throw internalError(`tx.commit: the message store could not write: ${(failed as Error).message}`).forMethod(Method.TxCommit);
    ch.host.sendMethod(ch.id, encodeTxCommitOk, {});
  });
}
