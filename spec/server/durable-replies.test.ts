// A method that changes durable definitions is answered once they are on
// disk; methods pipelined behind it on the same channel wait, and are then
// handled in order (an error among them closes the channel as usual).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { Method, encodeMethod } from '../../lib/amqp/generated/methods.js';
import type { AnyMethod } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

const declare = (queue: string, durable: boolean, passive = false): AnyMethod => ({
  id: Method.QueueDeclare, queue, passive, durable, exclusive: false, autoDelete: false, noWait: false, arguments: {},
});

function oneWrite(c: RawClient, methods: AnyMethod[]): void {
  const w = new WireWriter();
  for (const m of methods) writeMethodFrame(w, 1, encodeMethod, m);
  c.send(w.take());
}

t.test('replies come in order, the durable one after the definitions file has it', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.withChannel(b.port);
  t.teardown(() => c.destroy());
  oneWrite(c, [declare('durable-1', true), declare('transient-1', false), { id: Method.BasicGet, queue: 'transient-1', noAck: true }]);
  const first = await c.expectMethod(Method.QueueDeclareOk);
  t.equal(first.queue, 'durable-1');
  const onDisk = JSON.parse(readFileSync(join(b.config.dataDir, 'definitions.json'), 'utf8')) as { queues: { name: string }[] };
  t.same(onDisk.queues.map((q) => q.name), ['durable-1'], 'the durable queue is on disk when its declare-ok arrives; the transient one never is');
  t.equal((await c.expectMethod(Method.QueueDeclareOk)).queue, 'transient-1', 'the method held behind it is answered next');
  await c.expectMethod(Method.BasicGetEmpty);
});

t.test('an error among held methods closes the channel; what follows it is dropped', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.withChannel(b.port);
  t.teardown(() => c.destroy());
  oneWrite(c, [declare('durable-2', true), declare('missing', false, true), declare('after-error', false)]);
  t.equal((await c.expectMethod(Method.QueueDeclareOk)).queue, 'durable-2');
  t.match(await c.expectMethod(Method.ChannelClose), { replyCode: 404, replyText: "NOT_FOUND - no queue 'missing' in vhost '/'", classId: 50, methodId: 10 });
  t.notOk(b.broker.vhosts.get('/')!.queues.has('after-error'), 'the method after the error was not run');
});
