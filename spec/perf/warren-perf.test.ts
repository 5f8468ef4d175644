// warren-perf against a real broker (warren in-process, real TCP, the tool's
// worker threads) and against its own do-nothing sink: what it counts must
// be what the broker saw, and it must leave the broker as it found it.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { parsePerfOptions } from '../../lib/perf/perf-options.js';
import { runPerf } from '../../lib/perf/perf-run.js';
import { withBroker } from '../helpers/broker.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = (uri: string, argv: string[]) => runPerf(parsePerfOptions(['--uri', uri, '--quiet', ...argv]));

async function queueExists(url: string, q: string): Promise<number | null> {
  const conn = await amqplib.connect(url);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    const ok = await ch.checkQueue(q).catch(() => null);
    return ok ? ok.messageCount : null;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

t.test('timed, autoack: counts, latency, and the queue is removed after', async (t) => {
  const b = await withBroker(t);
  const r = await run(b.url, ['--time', '1', '--autoack', '--window', '20000']);
  t.equal(r.mode, 'timed');
  t.ok(r.counts.published > 1000, `published ${r.counts.published}`);
  t.ok(r.counts.received > 1000, `received ${r.counts.received}`);
  t.ok(Math.abs(r.counts.received - r.counts.published) <= 20_000 + r.counts.published * 0.01, 'the window bounds the lag');
  t.ok(r.latency.endToEnd && r.latency.endToEnd.samples > 100 && r.latency.endToEnd.p50 >= 0 && r.latency.endToEnd.p99 >= r.latency.endToEnd.p50);
  t.equal(r.latency.confirm, undefined);
  t.equal(await queueExists(b.url, 'warren-perf'), null, 'deleted');
});

t.test('fanout to 3 queues: each publish is delivered 3 times', async (t) => {
  const b = await withBroker(t);
  const r = await run(b.url, ['--time', '1', '-t', 'fanout', '--queues', '3', '-y', '3', '-a', '--window', '5000']);
  t.ok(r.counts.published > 1000);
  t.ok(Math.abs(r.counts.received - 3 * r.counts.published) <= 3 * 5000 + r.counts.published * 0.05, `${r.counts.received} vs 3 x ${r.counts.published}`);
});

t.test('prefill then drain: persistent, confirms, manual multi-acks, 2 producers and 2 consumers', async (t) => {
  const b = await withBroker(t);
  const r = await run(b.url, ['--prefill', '20000', '-x', '2', '-y', '2', '-f', '-c', '500', '-q', '100', '-A', '10']);
  t.equal(r.mode, 'prefill');
  t.same(r.prefill?.messages, 20_000);
  t.equal(r.counts.confirmed, 20_000, 'every publish confirmed');
  t.equal(r.counts.nacked, 0);
  t.equal(r.drain?.messages, 20_000);
  t.ok(r.counts.received >= 20_000);
  t.ok(r.latency.confirm === undefined, 'confirms came before measuring started');
  t.ok(r.latency.endToEnd && r.latency.endToEnd.samples > 1000);
});

t.test('publish only: the broker reports every publish queued; a queue that existed stays', async (t) => {
  const b = await withBroker(t);
  const conn = await amqplib.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('keep-me');
  ch.sendToQueue('keep-me', Buffer.from('x'));
  await ch.close();
  await conn.close();
  const r = await run(b.url, ['--time', '0.5', '-y', '0', '--queue', 'keep-me', '--confirm', '100']);
  t.ok(r.queued, 'queued phase reported');
  t.ok(r.counts.confirmed > 0);
  const left = await queueExists(b.url, 'keep-me');
  t.equal(left, r.queued!.messages, 'still there, with what was queued');
  t.ok(left! > 1);
});

t.test('the sink: the tool measures itself, and a refused login is an error', async (t) => {
  const r = await runPerf(parsePerfOptions(['--sink', '--time', '0.5', '--quiet', '--confirm', '1000']));
  t.ok(r.counts.published > 1000 && r.counts.confirmed > 1000 && r.counts.received > 1000, JSON.stringify(r.counts));
  const b = await withBroker(t);
  await t.rejects(run(b.url.replace('guest:guest', 'guest:wrong'), ['--time', '0.5']), /ACCESS_REFUSED|closed/);
});

t.test('bin/warren-perf: JSON on stdout, usage errors exit 64', async (t) => {
  const b = await withBroker(t);
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(ROOT, 'bin/warren-perf'), ...args], (err, stdout, stderr) =>
        resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }),
      );
    });
  const ok = await cli(['--uri', b.url, '--time', '1.2', '--json', '-']);
  t.equal(ok.code, 0, ok.stderr);
  const json = JSON.parse(ok.stdout);
  t.ok(json.counts.received > 0);
  t.match(ok.stderr, /time +1 s, sent/);
  const bad = await cli(['--producers', 'many']);
  t.equal(bad.code, 64);
  t.match(bad.stderr, /--producers needs an integer/);
  const help = await cli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--multi-ack-every/);
});
