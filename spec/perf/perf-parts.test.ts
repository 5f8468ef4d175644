// warren-perf's parts that need no broker: amqp:// URIs, the latency
// histogram (percentiles against exact ones from sorted samples), option
// parsing and its errors, and the topology plan (routing keys, copies).
import t from 'tap';
import { parseAmqpUri, redactUri } from '../../lib/perf/amqp-uri.js';
import { Histogram } from '../../lib/perf/histogram.js';
import { DEFAULTS, parsePerfOptions, queueNames } from '../../lib/perf/perf-options.js';
import { planTopology } from '../../lib/perf/perf-topology.js';
import { prng } from '../helpers/prng.js';

t.test('amqp URIs', async (t) => {
  t.same(parseAmqpUri('amqp://u%40x:p%2Fw@h.example:5673/my%2Fvhost'), { host: 'h.example', port: 5673, vhost: 'my/vhost', username: 'u@x', password: 'p/w' });
  t.same(parseAmqpUri('amqp://127.0.0.1'), { host: '127.0.0.1', port: 5672, vhost: '/', username: 'guest', password: 'guest' });
  t.equal(parseAmqpUri('amqp://h/%2F').vhost, '/');
  t.equal(parseAmqpUri('amqp://[::1]:5000/').host, '::1');
  t.throws(() => parseAmqpUri('amqps://h'), /amqps/);
  t.throws(() => parseAmqpUri('http://h'), /not an amqp/);
  t.throws(() => parseAmqpUri('nonsense'), /not a URI/);
  t.equal(redactUri('amqp://u:secret@h:1/v'), 'amqp://u:***@h:1/v');
});

t.test('histogram percentiles are within 0.2% (or 1 µs) of the exact ones', async (t) => {
  const rnd = prng(7);
  const h = new Histogram();
  const xs: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    // a long tail: 1 µs .. about 20 s
    const ms = Math.exp(rnd() * 16 - 7);
    xs.push(ms);
    h.add(ms);
  }
  xs.sort((a, b) => a - b);
  for (const q of [0.5, 0.75, 0.95, 0.99]) {
    const exact = xs[Math.ceil(q * xs.length) - 1]!;
    const got = h.percentile(q);
    t.ok(Math.abs(got - exact) <= Math.max(0.001, exact * 0.002), `p${q * 100}: ${got} vs ${exact}`);
  }
  const s = h.summary()!;
  t.equal(s.samples, 50_000);
  t.equal(s.min, xs[0]);
  t.equal(s.max, xs[xs.length - 1]);
  // merging two halves gives the same histogram
  const a = new Histogram();
  const b = new Histogram();
  xs.forEach((x, i) => (i % 2 ? a : b).add(x));
  a.merge(b);
  t.same(a.summary(), s);
  t.equal(new Histogram().summary(), undefined);
});

t.test('options', async (t) => {
  t.same(parsePerfOptions([]), DEFAULTS);
  const o = parsePerfOptions(['-x', '4', '--consumers=3', '-s', '1024', '-z', '2.5', '--confirm', '1000', '-f', '-q', '100', '-A', '10', '--queues', '3', '-t', 'topic', '--prefill', '5']);
  t.match(o, { producers: 4, consumers: 3, size: 1024, time: 2.5, confirm: 1000, persistent: true, prefetch: 100, multiAckEvery: 10, queues: 3, exchangeType: 'topic', exchange: 'warren-perf-topic', prefill: 5 });
  t.same(queueNames(o), ['warren-perf-1', 'warren-perf-2', 'warren-perf-3']);
  t.equal(parsePerfOptions(['-e', 'x']).exchangeType, 'direct');
  t.throws(() => parsePerfOptions(['--bogus']), /unknown option --bogus/);
  t.throws(() => parsePerfOptions(['--producers']), /needs a value/);
  t.throws(() => parsePerfOptions(['--producers', '1.5']), /integer/);
  t.throws(() => parsePerfOptions(['--time', '0']), /at least 0.1/);
  t.throws(() => parsePerfOptions(['--exchange-type', 'x-foo']), /direct, fanout/);
  t.throws(() => parsePerfOptions(['--autoack', '--prefetch', '5']), /autoack cannot/);
  t.throws(() => parsePerfOptions(['-x', '0', '-y', '0']), /nothing to do/);
  t.throws(() => parsePerfOptions(['--prefetch', '5', '--multi-ack-every', '10']), /stall/);
});

t.test('topology plan', async (t) => {
  const plan = (argv: string[]) => planTopology(parsePerfOptions(argv));
  const dflt = plan(['--queues', '2', '-x', '3', '-y', '3']);
  t.same([0, 1, 2].map(dflt.routingKey), ['warren-perf-1', 'warren-perf-2', 'warren-perf-1']);
  t.same([0, 1, 2].map(dflt.queueOf), ['warren-perf-1', 'warren-perf-2', 'warren-perf-1']);
  t.equal(dflt.copies, 1);
  t.equal(dflt.exchange, '');
  const fan = plan(['-t', 'fanout', '--queues', '10']);
  t.equal(fan.copies, 10);
  t.equal(fan.routingKey(0), '');
  t.equal(fan.exchange, 'warren-perf-fanout');
  t.equal(plan(['-t', 'direct', '--queues', '4', '-k', 'k']).copies, 4);
  t.equal(plan(['-t', 'direct', '--queues', '4']).copies, 1);
});
