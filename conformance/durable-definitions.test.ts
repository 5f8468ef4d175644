// Durable exchanges, queues and bindings survive a kill -9 of bin/warren the
// moment their declare-ok / bind-ok arrived; transient ones, exclusive
// queues and bindings to them do not (as RabbitMQ). amqplib, real process,
// real files.
import t from 'tap';
import amqplib from 'amqplib';
import { startWarren, tempDataDir } from './helpers/warren-process.js';

t.test('declared durable entities survive kill -9 right after their replies', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await startWarren(t, { dataDir });
  const c1 = await amqplib.connect(first.url);
  c1.on('error', () => undefined);
  const ch = await c1.createChannel();
  await ch.assertExchange('d.topic', 'topic', { durable: true });
  await ch.assertExchange('d.fanout', 'fanout', { durable: true, autoDelete: true, arguments: { 'alternate-exchange': 'ae' } });
  await ch.assertExchange('t.direct', 'direct', { durable: false });
  await ch.assertQueue('d.q', { durable: true, arguments: { 'x-max-length': 10 } });
  await ch.assertQueue('t.q', { durable: false });
  await ch.assertQueue('x.q', { durable: true, exclusive: true });
  await ch.bindQueue('d.q', 'd.topic', 'a.#');
  await ch.bindExchange('d.fanout', 'd.topic', '#');
  await ch.bindQueue('d.q', 'd.fanout', '');
  await ch.bindQueue('t.q', 'd.topic', 'b');
  await ch.bindQueue('d.q', 't.direct', 'k');
  // the last reply has arrived: kill at once, no chance for a polite shutdown
  t.equal(await first.stop('SIGKILL'), 'SIGKILL');

  const second = await startWarren(t, { dataDir });
  const c2 = await amqplib.connect(second.url);
  t.teardown(() => c2.close().catch(() => undefined));
  c2.on('error', () => undefined);
  const exists = async (check: (ch: amqplib.Channel) => Promise<unknown>): Promise<boolean> => {
    const probe = await c2.createChannel();
    probe.on('error', () => undefined);
    try {
      await check(probe);
      await probe.close();
      return true;
    } catch {
      return false;
    }
  };
  t.ok(await exists((p) => p.checkExchange('d.topic')), 'durable exchange kept');
  t.ok(await exists((p) => p.checkExchange('d.fanout')), 'durable auto-delete exchange kept (it still has bindings)');
  t.notOk(await exists((p) => p.checkExchange('t.direct')), 'transient exchange gone');
  t.ok(await exists((p) => p.checkQueue('d.q')), 'durable queue kept');
  t.notOk(await exists((p) => p.checkQueue('t.q')), 'transient queue gone');
  t.notOk(await exists((p) => p.checkQueue('x.q')), 'exclusive queue gone');

  const ch2 = await c2.createChannel();
  // the queue's arguments came back: redeclaring with the same ones is fine, with others 406
  await ch2.assertQueue('d.q', { durable: true, arguments: { 'x-max-length': 10 } });
  await ch2.assertExchange('d.fanout', 'fanout', { durable: true, autoDelete: true, arguments: { 'alternate-exchange': 'ae' } });
  // bindings: d.topic -a.#-> d.q, and d.topic -#-> d.fanout -> d.q; the queue gets each message once
  ch2.publish('d.topic', 'a.b', Buffer.from('one'));
  ch2.publish('d.topic', 'z', Buffer.from('two'));
  await new Promise((r) => setTimeout(r, 100));
  const got: string[] = [];
  for (;;) {
    const m = await ch2.get('d.q', { noAck: true });
    if (!m) break;
    got.push(m.content.toString());
  }
  t.same(got, ['one', 'two'], 'exchange-to-exchange and queue bindings restored, each message delivered once');
});
