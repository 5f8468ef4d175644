// The delayed-message exchange in-process: x-delay parsed as the plugin
// reads it, and many messages with random delays (ties included) released
// in due order, arrival order within a tie, each exactly once, compared
// with a sort of what was published; deleting the exchange drops them.
import t from 'tap';
import type { FieldTable, FieldValue } from '../../lib/amqp/field-table.js';
import { Typed } from '../../lib/amqp/field-table.js';
import { encodeBasicProperties } from '../../lib/amqp/generated/properties.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { DelayedMessageExchange } from '../../lib/broker/delayed-exchange.js';
import type { Exchange } from '../../lib/broker/exchange.js';
import { Message } from '../../lib/broker/message.js';
import type { Queue } from '../../lib/broker/queue.js';
import { VirtualHost } from '../../lib/broker/vhost.js';
import { delayOf } from '../../lib/broker/x-delay.js';
import { prng } from '../helpers/prng.js';
import { waitFor } from '../helpers/wait-for.js';

function message(body: string, headers?: FieldTable): Message {
  const w = new WireWriter(256);
  encodeBasicProperties(w, headers ? { headers } : {});
  const b = Buffer.from(body);
  return new Message('d', '', w.take(), [b], b.length);
}

const delayed = (v: FieldValue): number => delayOf(message('m', { 'x-delay': v }));

t.test('x-delay: integers of every width, digit strings, floats truncated; 1 to 2^32-1 ms counts', async (t) => {
  t.equal(delayOf(message('m')), 0, 'no properties');
  t.equal(delayOf(message('m', {})), 0, 'no header');
  t.equal(delayed(250), 250);
  t.equal(delayed(new Typed('b', 12)), 12);
  t.equal(delayed(new Typed('s', 300)), 300);
  t.equal(delayed(new Typed('l', 5000)), 5000);
  t.equal(delayed(BigInt(4294967295)), 4294967295, 'the longest delay');
  t.equal(delayed(4294967296), 0, 'longer: no delay');
  t.equal(delayed('1500'), 1500);
  t.equal(delayed('+20'), 20);
  t.equal(delayed('15s'), 0);
  t.equal(delayed(99.9), 99);
  t.equal(delayed(new Typed('f', 7.5)), 7);
  t.equal(delayed(new Typed('D', { scale: 2, value: 12345 })), 123);
  t.equal(delayed(-5), 0);
  t.equal(delayed(0), 0);
  t.equal(delayed(true), 0);
});

function setup(): { vh: VirtualHost; x: Exchange; q: Queue; publish: (m: Message) => void } {
  const vh = new VirtualHost('/');
  const x = vh.addExchange('d', 'x-delayed-message', { durable: false, autoDelete: false, internal: false, arguments: { 'x-delayed-type': 'fanout' } });
  const q = vh.addQueue('q', { durable: false, exclusive: false, autoDelete: false, arguments: {} }, null);
  vh.bind(x, q, '', {});
  const publish = (m: Message): void => {
    const out: Queue[] = [];
    vh.route(x, m, out);
    for (const target of out) target.enqueue(m);
  };
  return { vh, x, q, publish };
}

t.test('random delays are released in due order, ties in arrival order, each once', async (t) => {
  const { x, q, publish } = setup();
  t.type(x, DelayedMessageExchange);
  const rand = prng(Number(process.env.DELAY_SEED ?? 12345));
  const sent: { body: string; due: number; n: number }[] = [];
  const start = Date.now();
  // one clock reading for the whole burst, so due times (and ties) are exactly known
  const realNow = Date.now;
  Date.now = () => start;
  try {
    for (let n = 0; n < 500; n++) {
      const delay = 1 + Math.floor(rand() * 40) * 5; // 1..196 ms, many ties
      const body = `m${n}`;
      sent.push({ body, due: start + delay, n });
      publish(message(body, { 'x-delay': delay }));
    }
  } finally {
    Date.now = realNow;
  }
  t.equal(q.messageCount, 0, 'nothing in the queue before its time');
  await waitFor(() => q.messageCount === 500, 3000);
  t.ok(Date.now() - start >= 190, 'took at least the longest delay');
  const got: string[] = [];
  for (let e = q.get(true); e; e = q.get(true)) {
    got.push(e.message.data.subarray(e.message.offset + e.message.propertiesSize, e.message.offset + e.message.propertiesSize + e.message.bodySize).toString());
    t.equal(e.message.headers?.['x-delay'] !== undefined && Number(e.message.headers['x-delay']) < 0, true);
  }
  const expected = [...sent].sort((a, b) => a.due - b.due || a.n - b.n).map((s) => s.body);
  t.same(got, expected);
});

t.test('an undelayed message routes at once; deleting the exchange drops what it holds', async (t) => {
  const { vh, x, q, publish } = setup();
  publish(message('now'));
  t.equal(q.messageCount, 1);
  publish(message('later', { 'x-delay': 30 }));
  t.equal((x as DelayedMessageExchange).delayed.messageCount, 1);
  vh.deleteExchange(x);
  t.equal((x as DelayedMessageExchange).delayed.messageCount, 0);
  await new Promise((r) => setTimeout(r, 80));
  t.equal(q.messageCount, 1, 'the held one never arrived');
});
