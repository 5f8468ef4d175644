// Differential conformance: every scenario of tools/wire-probe.mjs (malformed
// and edge-case input over raw TCP) is run against bin/warren and its replies
// are compared with what RabbitMQ 3.10 answered, recorded in
// conformance/fixtures/rabbitmq-wire-replies.json: same frames, reply codes,
// reply texts, class and method ids, and whether the server closed the socket.
//
// Where warren differs on purpose, or a scenario needs what a later issue
// builds, DIFFERENCES says why; such scenarios must still not crash the broker.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCENARIOS, runScenario } from '../tools/wire-probe.mjs';
import type { ProbeResult, ProbeStep } from '../tools/wire-probe.mjs';
import { REPO_ROOT, startWarren } from './helpers/warren-process.js';
import { RawClient } from '../spec/helpers/raw-client.js';

const fixture = JSON.parse(readFileSync(join(REPO_ROOT, 'conformance/fixtures/rabbitmq-wire-replies.json'), 'utf8')) as { scenarios: ProbeResult[] };
const expected = new Map(fixture.scenarios.map((s) => [s.name, s]));

/** Scenarios that wait 10 to 30 s for a timeout; spec/server covers those timeouts directly. */
const SLOW = new Set([
  'handshake-silent-before-header',
  'handshake-silent-after-start',
  'server-close-ignored-frames',
  'connection-close-by-client',
]);

/** Where warren's replies differ from RabbitMQ 3.10's, and why. */
const DIFFERENCES = new Map<string, string>([
  // deliberate
  ['header-amqp-0-8', 'warren speaks 0-9-1 only (and takes the 0-9 header); RabbitMQ also speaks 0-8'],
  ['unknown-class-id', "RabbitMQ's connection process crashes (a reset, no reply); warren answers 540 NOT_IMPLEMENTED naming the ids"],
  ['unknown-method-id', "RabbitMQ's connection process crashes (a reset, no reply); warren answers 540 NOT_IMPLEMENTED naming the ids"],
  ['field-table-unknown-type', "RabbitMQ's connection process crashes (a reset, no reply); warren answers 501 cannot decode, as for any malformed arguments"],
  ['channel-flow-active-false', 'warren honours channel.flow active=false (deliveries pause, as the spec says); RabbitMQ closes with 540'],
  ['header-body-size-200mib', 'warren refuses a message over max_message_size at its content header (406); RabbitMQ reads the whole body first'],
  ['header-body-size-200mib-with-body', 'warren refuses a message over max_message_size at its content header (406); RabbitMQ reads the whole body first'],
  ['body-longer-than-header', 'warren refuses a body frame that overruns its header at once (505); RabbitMQ notices at the next frame, with the same text'],
  ['body-split-5-6-of-10', 'warren refuses a body frame that overruns its header at once (505); RabbitMQ notices at the next frame, with the same text'],
  ['exchange-declare-unknown-type', "RabbitMQ 3.13+ behaviour: 406 closes the channel only (3.10 closed the connection with 503); same text"],
]);

interface Shape {
  replies: Record<string, unknown>[];
  closedByServer: boolean;
}

function shape(step: ProbeStep): Shape {
  return {
    replies: step.replies
      .filter((r) => r.frame !== 'heartbeat')
      .map((r) => {
        const { atMs, ...rest } = r;
        void atMs;
        return rest;
      }),
    closedByServer: step.closed.byServer,
  };
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

t.test('warren answers bad and edge-case input as RabbitMQ does', async (t) => {
  const w = await startWarren(t);
  const scenarios = SCENARIOS.filter((s) => !SLOW.has(s.name));
  t.ok(scenarios.length >= 100, `${scenarios.length} scenarios`);
  const results = await inBatches(scenarios, 12, (s) => runScenario(s, '127.0.0.1', w.port));
  for (const actual of results) {
    const reference = expected.get(actual.name);
    if (!reference) {
      t.fail(`${actual.name}: no RabbitMQ reference in the fixture (re-run the probe against RabbitMQ)`);
      continue;
    }
    const same = JSON.stringify(actual.steps.map(shape)) === JSON.stringify(reference.steps.map(shape));
    const why = DIFFERENCES.get(actual.name);
    if (why) {
      t.notOk(same, `${actual.name}: differs on purpose (${why}); remove it from DIFFERENCES if it now matches`);
    } else {
      t.same(actual.steps.map(shape), reference.steps.map(shape), actual.name);
    }
  }
  // whatever it was sent, the broker is still there and accepts a clean connection
  const c = await RawClient.connect(w.port);
  await c.handshake();
  await c.openChannel(1);
  c.destroy();
  t.equal(w.child.exitCode, null, 'broker still running');
});
