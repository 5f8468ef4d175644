// GET /metrics (Prometheus text format 0.0.4) after real amqplib traffic:
// served without credentials with the right content type, every line
// parses, each family has HELP and TYPE before its samples, the message
// counters match what was published, routed, returned, dropped, confirmed,
// delivered, fetched and acknowledged, the per-queue gauges match the
// queues, bytes, memory and disk are there. Also: the 5 s rate sampling
// (MessageStats.sample) and label escaping.
import t from 'tap';
import type { Test } from 'tap';
import amqplib from 'amqplib';
import { labels } from '../../lib/admin/metrics.js';
import { MessageStats } from '../../lib/broker/message-stats.js';
import { withBroker } from '../helpers/broker.js';
import { waitFor } from '../helpers/wait-for.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the exposition text strictly: fails the test on a line it does not understand. */
function parse(t: Test, text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helped = new Set<string>();
  t.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      t.notOk(helped.has(help[1]!), `one HELP for ${help[1]}`);
      helped.add(help[1]!);
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|untyped)$/.exec(line);
    if (type) {
      t.notOk(types.has(type[1]!), `one TYPE for ${type[1]}`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    if (!sample) {
      t.fail(`unparsable line: ${JSON.stringify(line)}`);
      continue;
    }
    const name = sample[1]!;
    t.ok(types.has(name) && helped.has(name), `${name}: HELP and TYPE before its samples`);
    const l: Record<string, string> = {};
    if (sample[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let m: RegExpExecArray | null;
      let at = 0;
      while (at < sample[3].length && (m = re.exec(sample[3]))) {
        l[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        at = re.lastIndex;
      }
      t.equal(at, sample[3].length, `labels of ${JSON.stringify(line)} parse`);
    }
    samples.push({ name, labels: l, value: Number(sample[4]) });
  }
  if (types.get('rabbitmq_connections') !== 'gauge') t.fail('rabbitmq_connections is a gauge');
  return { samples, types };
}

function value(samples: Sample[], name: string, where: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(where)}: ${found.length} samples`);
  return found[0]?.value;
}

t.test('/metrics after real traffic: counters, per-queue gauges, bytes, memory, disk', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const url = `${b.httpUrl!}/metrics`;
  const conn = await amqplib.connect(b.url);
  t.teardown(() => conn.close().catch(() => undefined));

  // 10 routed, 2 returned (mandatory), 3 dropped: 15 received, all confirmed
  const pub = await conn.createConfirmChannel();
  await pub.assertQueue('m-q', { durable: false });
  await pub.assertQueue('m-empty', { durable: false });
  let returned = 0;
  pub.on('return', () => returned++);
  for (let i = 0; i < 10; i++) pub.sendToQueue('m-q', Buffer.from(`m${i}`));
  for (let i = 0; i < 2; i++) pub.publish('amq.direct', 'nowhere', Buffer.from('r'), { mandatory: true });
  for (let i = 0; i < 3; i++) pub.publish('amq.direct', 'nowhere', Buffer.from('d'));
  await pub.waitForConfirms();
  t.ok(await waitFor(() => returned === 2, 2000), 'both mandatory messages came back');

  const ch = await conn.createChannel();
  // basic.get: one without ack, one with (acked), one on an empty queue
  t.ok(await ch.get('m-q', { noAck: true }));
  const got = await ch.get('m-q', { noAck: false });
  t.ok(got);
  if (got) ch.ack(got);
  t.equal(await ch.get('m-empty', { noAck: true }), false);
  // a consumer with prefetch 5 gets 5 of the 8 left; cancelled, it acks 3 and holds 2
  await ch.prefetch(5);
  const deliveries: amqplib.ConsumeMessage[] = [];
  const { consumerTag } = await ch.consume('m-q', (m) => {
    if (m) deliveries.push(m);
  });
  t.ok(await waitFor(() => deliveries.length === 5, 2000), '5 deliveries');
  await ch.cancel(consumerTag);
  for (const m of deliveries.slice(0, 3)) ch.ack(m);
  await ch.checkQueue('m-q'); // a round trip: the acks have been handled

  const res = await fetch(url); // no credentials: scrapers need none
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const { samples, types } = parse(t, await res.text());
  const amqp = { protocol: 'amqp091' };
  const classic = { protocol: 'amqp091', queue_type: 'rabbit_classic_queue' };
  t.equal(value(samples, 'rabbitmq_global_messages_received_total', amqp), 15);
  t.equal(value(samples, 'rabbitmq_global_messages_received_confirm_total', amqp), 15);
  t.equal(value(samples, 'rabbitmq_global_messages_routed_total', amqp), 10);
  t.equal(value(samples, 'rabbitmq_global_messages_unroutable_returned_total', amqp), 2);
  t.equal(value(samples, 'rabbitmq_global_messages_unroutable_dropped_total', amqp), 3);
  t.equal(value(samples, 'rabbitmq_global_messages_confirmed_total', amqp), 15);
  t.equal(value(samples, 'rabbitmq_global_messages_delivered_total', classic), 7);
  t.equal(value(samples, 'rabbitmq_global_messages_delivered_consume_manual_ack_total', classic), 5);
  t.equal(value(samples, 'rabbitmq_global_messages_delivered_consume_auto_ack_total', classic), 0);
  t.equal(value(samples, 'rabbitmq_global_messages_delivered_get_manual_ack_total', classic), 1);
  t.equal(value(samples, 'rabbitmq_global_messages_delivered_get_auto_ack_total', classic), 1);
  t.equal(value(samples, 'rabbitmq_global_messages_get_empty_total', classic), 1);
  t.equal(value(samples, 'rabbitmq_global_messages_redelivered_total', classic), 0);
  t.equal(value(samples, 'rabbitmq_global_messages_acknowledged_total', classic), 4);
  t.equal(types.get('rabbitmq_global_messages_received_total'), 'counter');

  const q = { vhost: '/', queue: 'm-q' };
  t.equal(value(samples, 'rabbitmq_queue_messages_ready', q), 3);
  t.equal(value(samples, 'rabbitmq_queue_messages_unacked', q), 2);
  t.equal(value(samples, 'rabbitmq_queue_messages', q), 5);
  t.equal(value(samples, 'rabbitmq_queue_consumers', q), 0);
  t.equal(value(samples, 'rabbitmq_queue_messages_ready', { vhost: '/', queue: 'm-empty' }), 0);
  t.equal(types.get('rabbitmq_queue_messages_ready'), 'gauge');
  t.equal(value(samples, 'rabbitmq_connections'), 1);
  t.equal(value(samples, 'rabbitmq_channels'), 2);
  t.equal(value(samples, 'rabbitmq_queues'), 2);
  t.equal(value(samples, 'rabbitmq_consumers'), 0);
  t.equal(value(samples, 'rabbitmq_connections_opened_total'), 1);
  t.equal(value(samples, 'rabbitmq_connections_closed_total'), 0);
  const bytesIn = value(samples, 'rabbitmq_connection_incoming_bytes_total')!;
  const bytesOut = value(samples, 'rabbitmq_connection_outgoing_bytes_total')!;
  t.ok(bytesIn > 15 * 8, `bytes in (${bytesIn})`);
  t.ok(bytesOut > 7 * 8, `bytes out (${bytesOut})`);
  t.ok(value(samples, 'rabbitmq_process_resident_memory_bytes')! > 1e6, 'resident memory');
  // the monitor's last reading (it may have measured again since: other processes write to the disk)
  t.ok(value(samples, 'rabbitmq_disk_space_available_bytes')! > 0, 'free disk space');
  t.equal(value(samples, 'rabbitmq_disk_space_available_limit_bytes'), b.diskMonitor.limit);
  t.equal(value(samples, 'rabbitmq_identity_info'), 1);

  // closing the channel requeues the 2 held (redelivered); a get takes one of them
  await ch.close();
  const again = await conn.createChannel();
  const redelivered = await again.get('m-q', { noAck: true });
  t.ok(redelivered && redelivered.fields.redelivered, 'a redelivered message');
  await conn.close();
  t.ok(await waitFor(() => b.listener.connections.size === 0, 2000));
  const after = parse(t, await (await fetch(url)).text()).samples;
  t.equal(value(after, 'rabbitmq_global_messages_redelivered_total', classic), 1);
  t.equal(value(after, 'rabbitmq_global_messages_delivered_get_auto_ack_total', classic), 2);
  t.equal(value(after, 'rabbitmq_queue_messages_ready', q), 4);
  t.equal(value(after, 'rabbitmq_queue_messages_unacked', q), 0);
  t.equal(value(after, 'rabbitmq_connections'), 0);
  t.equal(value(after, 'rabbitmq_connections_closed_total'), 1);
  t.ok(value(after, 'rabbitmq_connection_incoming_bytes_total')! >= bytesIn, 'bytes of a closed connection stay counted');
  t.ok(value(after, 'rabbitmq_connection_outgoing_bytes_total')! >= bytesOut);

  t.equal((await fetch(url, { method: 'POST' })).status, 405, 'only GET');
  t.equal((await fetch(`${b.httpUrl!}/api/overview`)).status, 401, 'the API still needs credentials');
});

t.test('rates: the change over the last sample interval, per second', async (t) => {
  const s = new MessageStats();
  let totals = { ready: 0, unacked: 0 };
  s.start(() => totals, 60_000);
  t.teardown(() => s.stop());
  s.sample(1_000_000);
  s.publish += 50;
  s.deliver += 20;
  s.ack += 10;
  totals = { ready: 30, unacked: 10 };
  s.sample(1_005_000);
  t.equal(s.rates.publish, 10);
  t.equal(s.rates.deliver, 4);
  t.equal(s.rates.ack, 2);
  t.equal(s.deliverGetRate, 4);
  t.same(s.totalsRates, { ready: 6, unacked: 2, messages: 8 });
  s.sample(1_010_000);
  t.equal(s.rates.publish, 0, 'nothing new: rate 0');
  t.same(s.totalsRates, { ready: 0, unacked: 0, messages: 0 });
});

t.test('label values are escaped', async (t) => {
  t.equal(labels({ vhost: '/', queue: 'a"b\\c\nd' }), '{vhost="/",queue="a\\"b\\\\c\\nd"}');
});

t.test('no /metrics without the HTTP API', async (t) => {
  const b = await withBroker(t);
  t.equal(b.httpUrl, null);
  t.equal(b.stats.publish, 0);
});
