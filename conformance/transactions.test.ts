// Transactions as @cloudamqp/amqp-client (unmodified) sees them: nothing a
// transaction publishes is visible before tx.commit, nothing of a rolled-back
// one ever; acks inside a transaction take effect at commit, and a rollback
// leaves the messages unacked (requeued when the channel closes); a mandatory
// unroutable message is returned at commit; tx.commit / tx.rollback without
// tx.select and mixing tx with confirm mode are 406. Checked against
// RabbitMQ 3.10.8 first:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/transactions.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
import t from 'tap';
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { sleep, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const amqp = new AMQPClient(broker.url);
await within(amqp.connect(), 'connect');
t.teardown(() => amqp.close().catch(() => undefined));

/** A channel whose server-side close is captured: resolves with its reply text. */
async function channel(): Promise<{ ch: AMQPChannel; closed: Promise<string> }> {
  const ch = await within(amqp.channel(), 'channel.open');
  const closed = new Promise<string>((resolve) => {
    ch.onerror = (reason) => resolve(reason);
  });
  return { ch, closed };
}

async function count(q: string): Promise<number> {
  const ch = await amqp.channel();
  const ok = await ch.queueDeclare(q, { passive: true });
  await ch.close();
  return ok.messageCount;
}

t.test('publishes are visible at commit only; a rollback drops them', async (t) => {
  const { ch } = await channel();
  const q = uniqueName('tx.q');
  await ch.queueDeclare(q, { autoDelete: false });
  await ch.txSelect();
  await ch.basicPublish('', q, 'one');
  await ch.basicPublish('', q, 'two');
  await sleep(100);
  t.equal(await count(q), 0, 'nothing before the commit');
  await ch.txCommit();
  await sleep(50);
  t.equal(await count(q), 2, 'both after it');
  await ch.basicPublish('', q, 'three');
  await ch.txRollback();
  await ch.txCommit();
  await sleep(50);
  t.equal(await count(q), 2, 'the rolled-back publish never arrives');
  const got: string[] = [];
  for (let m = await ch.basicGet(q, { noAck: true }); m; m = await ch.basicGet(q, { noAck: true })) got.push(m.bodyToString() ?? '');
  t.same(got, ['one', 'two']);
  await ch.queueDelete(q);
  await ch.close();
});

t.test('acks take effect at commit; a rollback leaves them unacked', async (t) => {
  const { ch } = await channel();
  const q = uniqueName('tx.acks');
  await ch.queueDeclare(q, { autoDelete: false });
  for (const b of ['a', 'b', 'c']) await ch.basicPublish('', q, b);
  await sleep(50);
  await ch.txSelect();
  const [a, b] = [(await ch.basicGet(q, { noAck: false }))!, (await ch.basicGet(q, { noAck: false }))!];
  await a.ack();
  await ch.txRollback();
  await b.ack();
  await ch.txCommit();
  await ch.close(); // a is still unacked: it goes back
  await sleep(50);
  const { ch: ch2 } = await channel();
  const left: [string, boolean][] = [];
  for (let m = await ch2.basicGet(q, { noAck: true }); m; m = await ch2.basicGet(q, { noAck: true })) left.push([m.bodyToString() ?? '', m.redelivered]);
  t.same(left, [['a', true], ['c', false]], 'b was acked at commit; a\'s ack was rolled back');
  await ch2.queueDelete(q);
  await ch2.close();
});

t.test('a mandatory unroutable message is returned at commit', async (t) => {
  const { ch } = await channel();
  const returned: string[] = [];
  ch.onReturn = (m) => returned.push(m.bodyToString() ?? '');
  await ch.txSelect();
  await ch.basicPublish('amq.direct', uniqueName('nobody'), 'lost', {}, true);
  await sleep(150);
  t.same(returned, [], 'not before the commit');
  await ch.txCommit();
  await sleep(100);
  t.same(returned, ['lost']);
  await ch.close();
});

t.test('tx.commit and tx.rollback need tx.select; tx and confirm mode exclude each other', async (t) => {
  for (const [what, run, text] of [
    ['commit', (ch: AMQPChannel) => ch.txCommit(), 'PRECONDITION_FAILED - channel is not transactional'],
    ['rollback', (ch: AMQPChannel) => ch.txRollback(), 'PRECONDITION_FAILED - channel is not transactional'],
    ['confirm after tx', async (ch: AMQPChannel) => { await ch.txSelect(); await ch.confirmSelect(); }, 'PRECONDITION_FAILED - cannot switch from tx to confirm mode'],
    ['tx after confirm', async (ch: AMQPChannel) => { await ch.confirmSelect(); await ch.txSelect(); }, 'PRECONDITION_FAILED - cannot switch from confirm to tx mode'],
  ] as const) {
    const { ch, closed } = await channel();
    await t.rejects(run(ch), what);
    t.equal(await within(closed, 'channel close'), `channel ${ch.id} closed: ${text} (406)`, what);
  }
});
