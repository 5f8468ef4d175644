// Messaging with pika (Debian's python3-pika 1.2, an unmodified client):
// queues, exchanges, publish, consume, acks — each scenario asserting the exact
// values RabbitMQ 3.10 gives (checked with CONFORMANCE_AMQP_URL pointing at
// tools/rabbitmq-scratch.sh). conformance/clients/pika_messaging.py runs one
// scenario per process and prints one JSON object with what pika observed.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, cleanEnv } from './helpers/warren-process.js';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import type { BrokerUnderTest } from './helpers/broker-under-test.js';

// Debian's Python packages are visible to /usr/bin/python3 only.
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'conformance/clients/pika_messaging.py');

const hasPika = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import pika']).status === 0;
const skip = hasPika ? false : 'python3-pika is not installed (apt-get install python3-pika; .ci/run installs it)';

type Result = Record<string, any>;

/** Set once pika could not connect or a scenario hung: the later scenarios fail at once instead of waiting too. */
let unreachable: string | null = null;

/** Run one scenario; its names all start with the returned prefix. */
async function scenario(broker: BrokerUnderTest, name: string): Promise<{ r: Result; p: string }> {
  const p = uniqueName('pika');
  if (unreachable) throw new Error(`${name}: not run, an earlier scenario found the broker unreachable (${unreachable})`);
  const out = await new Promise<string>((resolve) => {
    // the script has its own 15 s watchdog; this is the last resort
    execFile(PYTHON, [SCRIPT, broker.host, String(broker.port), p, name], { env: cleanEnv(), timeout: 25_000 }, (err, stdout, stderr) => {
      if (err) resolve(JSON.stringify({ error: `Exited: ${err.message}\n${stderr}` }));
      else resolve(stdout);
    });
  });
  const r = JSON.parse(out) as Result;
  if (typeof r.error === 'string') {
    if (/^(AMQPConnect|IncompatibleProtocol|Watchdog|Exited)/.test(r.error)) unreachable = r.error;
    // one failure for the scenario rather than one per missing field
    throw new Error(`${name}: pika reported ${r.error}`);
  }
  return { r, p };
}

const NO_PROPERTIES = {
  content_type: null,
  content_encoding: null,
  headers: null,
  delivery_mode: null,
  priority: null,
  correlation_id: null,
  reply_to: null,
  expiration: null,
  message_id: null,
  timestamp: null,
  type: null,
  user_id: null,
  app_id: null,
  cluster_id: null,
};

const RESOURCE_LOCKED = (q: string): [number, string] => [
  405,
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
];

t.test('pika messaging', { skip }, async (t) => {
  const broker = await brokerUnderTest(t);

  t.test('work queue: 10 messages with every property, prefetch 3, manual acks', async (t) => {
    const { r, p } = await scenario(broker, 'work_queue');
    const q = `${p}.work`;
    t.same(r.declare_ok, [q, 0, 0], 'declare-ok: queue name, 0 messages, 0 consumers');
    t.equal(r.deliveries?.length, 10, '10 deliveries');
    t.strictSame(
      r.deliveries,
      Array.from({ length: 10 }, (_, i) => ({
        body: String(i),
        redelivered: false,
        delivery_tag: i + 1,
        exchange: '',
        routing_key: q,
        properties: {
          ...NO_PROPERTIES,
          content_type: 'application/json',
          // pika decodes the field table back into the same Python types
          headers: { a: 1, b: 'x', n: { m: [1, 'two'] } },
          delivery_mode: 2,
          priority: 3,
          correlation_id: `corr-${i}`,
          reply_to: 'reply.q',
          message_id: `msg-${i}`,
          timestamp: 1700000000 + i,
          type: 'work.item',
          app_id: 'warren-conformance',
        },
      })),
      'in order 0..9, delivery tags 1..10, properties round-trip exactly',
    );
    t.same(r.after, [0, 0], 'all acked: 0 messages, 0 consumers after basic.cancel');
  });

  t.test('prefetch 3 without acks: exactly 3 deliveries; each ack frees a slot', async (t) => {
    const { r } = await scenario(broker, 'prefetch');
    t.strictSame(r.first_300ms, [['p0', 1], ['p1', 2], ['p2', 3]], '3 deliveries within 300 ms');
    t.strictSame(r.after_one_ack, [['p0', 1], ['p1', 2], ['p2', 3], ['p3', 4]], 'one ack: one more delivery');
    t.strictSame(
      r.after_multiple_ack,
      [['p0', 1], ['p1', 2], ['p2', 3], ['p3', 4], ['p4', 5], ['p5', 6]],
      'ack multiple=True of tag 4: the last two arrive',
    );
    t.equal(r.ready_left, 0);
  });

  t.test('nack requeue=True returns a message to its place, redelivered; reject requeue=False drops it', async (t) => {
    const { r } = await scenario(broker, 'nack_requeue');
    const got = (body: string, delivery_tag: number, redelivered: boolean, message_count: number) => ({ body, delivery_tag, redelivered, message_count });
    t.strictSame(r.first_three, [got('m0', 1, false, 3), got('m1', 2, false, 2), got('m2', 3, false, 1)]);
    t.strictSame(r.after_nack, got('m1', 4, true, 1), 'the nacked message is at the head again, redelivered, with a new tag');
    t.strictSame(r.next, got('m3', 5, false, 0));
    t.equal(r.empty, null, 'basic.get-empty');
    t.equal(r.count_after_close, 3, 'rejected m1 is gone; unacked m0, m2, m3 are back after the channel closed');
    t.strictSame(r.after_close, [got('m0', 1, true, 2), got('m2', 2, true, 1), got('m3', 3, true, 0), null], 'in their original order, redelivered');
  });

  t.test('basic.get: empty queue, get-ok fields and message_count', async (t) => {
    const { r, p } = await scenario(broker, 'basic_get');
    t.strictSame(r.empty, [null, null, null], 'pika returns (None, None, None) for basic.get-empty');
    t.strictSame(
      r.gets,
      [0, 1, 2].map((i) => ({
        body: `g${i}`,
        delivery_tag: i + 1,
        redelivered: false,
        exchange: '',
        routing_key: `${p}.get`,
        message_count: 2 - i,
        properties: NO_PROPERTIES,
      })),
      'message_count counts the messages left behind',
    );
    t.equal(r.empty_again, true);
  });

  t.test('routing: topic, direct, fanout, headers, default exchange, amq.direct', async (t) => {
    const { r } = await scenario(broker, 'routing');
    t.strictSame(r.topic, {
      hash: ['t:a', 't:a.b', 't:b.b', 't:a.b.c', 't:x.y.z', 't:', 't:a.', 't:.b'],
      star_b: ['t:a.b', 't:b.b', 't:.b'],
      a_hash: ['t:a', 't:a.b', 't:a.b.c', 't:a.'],
      exact: ['t:a.b.c'],
      star_star: ['t:a.b', 't:b.b', 't:a.', 't:.b'],
      hash_c: ['t:a.b.c'],
    }, 'topic: # matches zero or more words, * exactly one (empty words count)');
    t.strictSame(r.direct, { one: ['d:k1'], both: ['d:k1', 'd:k2'], empty_key: ['d:'] }, 'direct');
    t.strictSame(r.fanout, { f1: ['f:x', 'f:', 'f:y.z'], f2: ['f:x', 'f:', 'f:y.z'] }, 'fanout ignores the routing key');
    t.strictSame(r.headers, {
      any: ['h:a1', 'h:a1b2', 'h:b2c3', 'h:a1b2c3', 'h:a1b3'],
      all: ['h:a1b2', 'h:a1b2c3'],
      default_all: ['h:a1b2', 'h:a1b2c3'],
      only_xmatch: ['h:a1', 'h:a1b2', 'h:b2c3', 'h:none', 'h:a1b2c3', 'h:a_str', 'h:a1b3'],
    }, 'headers: any/all (all by default); "1" does not match 1; no binding headers match everything');
    t.strictSame(r.default_and_amq, ['default', 'amq.direct']);
  });

  t.test('mandatory publish without a route comes back as basic.return 312 NO_ROUTE', async (t) => {
    const { r, p } = await scenario(broker, 'mandatory_return');
    t.strictSame(r.returns, [
      {
        reply_code: 312,
        reply_text: 'NO_ROUTE',
        exchange: '',
        routing_key: `${p}.nowhere`,
        body: 'r1',
        properties: { ...NO_PROPERTIES, content_type: 'text/plain', headers: { k: 'v' } },
      },
      { reply_code: 312, reply_text: 'NO_ROUTE', exchange: `${p}.mand.x`, routing_key: 'unbound', body: 'r2', properties: NO_PROPERTIES },
    ], 'only the two mandatory unroutable messages come back, with their properties');
    t.strictSame(r.routable_arrived, ['routable']);
  });

  t.test('channel errors: exact codes and texts; the connection survives', async (t) => {
    const { r, p } = await scenario(broker, 'errors');
    const q = `${p}.err`;
    t.strictSame(r.passive_missing, [404, `NOT_FOUND - no queue '${p}.missing' in vhost '/'`]);
    t.strictSame(r.durable_mismatch, [406, `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`]);
    t.strictSame(r.exclusive_mismatch, RESOURCE_LOCKED(q), 'exclusive=True for an existing non-exclusive queue');
    t.strictSame(r.amq_prefix, [403, "ACCESS_REFUSED - exchange name 'amq.x' contains reserved prefix 'amq.*'"]);
    t.strictSame(r.exchange_type_mismatch, [406, `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${p}.err.x' in vhost '/': received 'fanout' but current is 'direct'`]);
    t.strictSame(r.passive_missing_exchange, [404, `NOT_FOUND - no exchange '${p}.missing.x' in vhost '/'`]);
    t.strictSame(r.bind_missing_exchange, [404, `NOT_FOUND - no exchange '${p}.missing.x' in vhost '/'`]);
    t.strictSame(r.bind_missing_queue, [404, `NOT_FOUND - no queue '${p}.missing' in vhost '/'`]);
    t.strictSame(r.publish_missing_exchange, [404, `NOT_FOUND - no exchange '${p}.missing.x' in vhost '/'`]);
    t.strictSame(r.ack_unknown_tag, [406, 'PRECONDITION_FAILED - unknown delivery tag 42']);
    for (const key of ['passive_missing', 'durable_mismatch', 'exclusive_mismatch', 'amq_prefix', 'exchange_type_mismatch', 'passive_missing_exchange', 'bind_missing_exchange', 'bind_missing_queue', 'publish_missing_exchange', 'ack_unknown_tag']) {
      t.equal(r[`${key}_channel_closed`], true, `${key}: the channel is closed`);
    }
    t.strictSame(r.exclusive_other_declare, RESOURCE_LOCKED(`${p}.exclusive`), 'declare from another connection');
    t.strictSame(r.exclusive_other_passive, RESOURCE_LOCKED(`${p}.exclusive`), 'passive declare from another connection');
    t.strictSame(r.exclusive_other_consume, RESOURCE_LOCKED(`${p}.exclusive`), 'consume from another connection');
    t.equal(r.connection_open, true);
    t.equal(r.still_usable, true);
  });

  t.test('declare-ok, purge-ok and delete-ok counts', async (t) => {
    const { r, p } = await scenario(broker, 'counts');
    t.strictSame(r.declare_new, [0, 0]);
    t.strictSame(r.declare_5, [5, 0]);
    t.strictSame(r.consumer_got, ['c0'], 'prefetch 1: one delivery');
    t.strictSame(r.declare_with_consumer, [4, 1], 'message_count counts ready messages only; consumer_count 1');
    t.equal(r.purge, 4, 'purge removes the 4 ready messages, not the unacked one');
    t.strictSame(r.after_purge, [0, 1]);
    t.strictSame(r.after_consumer_closed, [1, 0], 'the unacked message is requeued when its channel closes');
    t.equal(r.delete, 3, 'delete-ok counts the 3 messages deleted');
    t.equal(r.delete_empty, 0);
    t.equal(r.empty_declared, `${p}.counts.empty`);
  });

  t.test('deleting a queue cancels its consumer with a server basic.cancel', async (t) => {
    const { r } = await scenario(broker, 'consumer_cancel');
    t.equal(r.server_consumer_cancel_notify, true, 'the server advertises consumer_cancel_notify');
    t.equal(r.consumer_tag, true, 'basic.consume-ok echoes the client consumer tag');
    t.equal(r.delete_ok, 0);
    t.strictSame(r.cancels, [{ method: 'Basic.Cancel', consumer_tag: true, nowait: true }], 'one basic.cancel for that consumer tag (no-wait set)');
    t.equal(r.channel_open, true, 'the consumer channel stays open');
    t.strictSame(r.consumer_tags_after, [], 'pika forgot the consumer');
    t.strictSame(r.generator, ['before-delete'], 'the consume() generator yields the message then ends on the cancel');
    t.equal(r.generator_channel_open, true);
  });

  t.test('publisher confirms: mandatory unroutable raises UnroutableError', async (t) => {
    const { r, p } = await scenario(broker, 'mandatory_confirms');
    t.strictSame(r.unroutable, { error: 'UnroutableError', returned: [[312, 'NO_ROUTE', '', `${p}.nowhere`, 'c1']] });
    t.equal(r.routable, 'published');
    t.equal(r.unroutable_not_mandatory, 'published', 'not mandatory: confirmed (ack), nothing raised');
    t.strictSame(r.queue, ['c2']);
    t.strictSame(r.missing_exchange, [404, `NOT_FOUND - no exchange '${p}.missing.x' in vhost '/'`], 'publish to a missing exchange closes the channel');
  });
});
