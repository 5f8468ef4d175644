// Warren as a library, imported by its package name as another project would.
import t from 'tap';
import amqplib from 'amqplib';

t.test("import { startBroker } from 'warren' runs a broker in-process", async (t) => {
  const { startBroker } = await import('warren');
  const broker = await startBroker();
  t.ok(broker.port > 0, `listening on a free port (${broker.port})`);
  t.match(broker.url, /^amqp:\/\/guest:guest@127\.0\.0\.1:\d+$/);
  const conn = await amqplib.connect(broker.url);
  const ch = await conn.createChannel();
  await ch.close();
  await conn.close();
  await broker.close();
  await t.rejects(amqplib.connect(broker.url), 'closed: nothing listens any more');
});
