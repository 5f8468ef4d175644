// RabbitMQ's own command-line client for the management HTTP API,
// rabbitmqadmin (Debian's /usr/bin/rabbitmqadmin, a Python script), against
// bin/warren: declare, list, publish, get, bind, purge and delete queues,
// exchanges and bindings, asserting the output it prints. Skipped when
// rabbitmqadmin is not installed.
//
// The same assertions hold against RabbitMQ 3.10.8 with its management
// plugin (rabbitmqadmin's `list queues` shows message counts only once
// RabbitMQ's stats are emitted, hence the polling):
//
//   SCRATCH_MANAGEMENT_PORT=26972 tools/rabbitmq-scratch.sh start 26900 /tmp/rmq
//   CONFORMANCE_HTTP_URL=http://127.0.0.1:26972 npx tap conformance/rabbitmqadmin.test.ts
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueName } from './helpers/broker-under-test.js';
import { startWarren } from './helpers/warren-process.js';

// RABBITMQADMIN: where it is when the package is not installed (.ci/run extracts it from the .deb)
const RABBITMQADMIN = process.env.RABBITMQADMIN ?? '/usr/bin/rabbitmqadmin';
const skip = existsSync(RABBITMQADMIN) ? false : `${RABBITMQADMIN} is not installed (Debian package rabbitmq-server ships it)`;

interface Run { code: number | null; stdout: string; stderr: string }

function rabbitmqadmin(httpUrl: string) {
  const u = new URL(httpUrl);
  return (...args: string[]): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(RABBITMQADMIN, ['-H', u.hostname, '-P', u.port, '-u', 'guest', '-p', 'guest', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
}

/** The rows of a `-f tsv` listing (the header line dropped). */
const rows = (r: Run): string[] => r.stdout.split('\n').slice(1).filter((l) => l !== '');

async function target(t: Test): Promise<string> {
  const external = process.env.CONFORMANCE_HTTP_URL;
  if (external) return external;
  const w = await startWarren(t);
  return w.httpUrl!;
}

t.test('rabbitmqadmin: queues, publish and get', { skip }, async (t) => {
  const admin = rabbitmqadmin(await target(t));
  const q = uniqueName('ra-q');
  t.teardown(() => admin('delete', 'queue', `name=${q}`).then(() => undefined));
  t.same(await admin('declare', 'queue', `name=${q}`, 'durable=true'), { code: 0, stdout: 'queue declared\n', stderr: '' });
  t.ok(rows(await admin('-f', 'tsv', 'list', 'queues', 'name', 'durable')).includes(`${q}\tTrue`), 'list queues shows it, durable');
  const table = await admin('list', 'queues');
  t.match(table.stdout, /\| +name +\| messages \|/, 'the default table: name and messages');
  t.match(table.stdout, new RegExp(`\\| ${q.replace(/\./g, '\\.')} +\\|`));
  t.same(await admin('publish', `routing_key=${q}`, 'payload=hello'), { code: 0, stdout: 'Message published\n', stderr: '' });
  t.same(await admin('publish', `routing_key=${uniqueName('nowhere')}`, 'payload=x'), { code: 0, stdout: 'Message published but NOT routed\n', stderr: '' });
  let counted: string[] = [];
  for (let i = 0; i < 40 && !counted.includes(`${q}\t1`); i++) {
    if (i > 0) await sleep(250);
    counted = rows(await admin('-f', 'tsv', 'list', 'queues', 'name', 'messages'));
  }
  t.ok(counted.includes(`${q}\t1`), 'list queues counts the message');
  const peek = await admin('get', `queue=${q}`, 'ackmode=ack_requeue_true');
  t.equal(peek.code, 0);
  t.match(peek.stdout, /\| +routing_key +\| exchange \| message_count \| payload \| payload_bytes \| payload_encoding \| properties \| redelivered \|/);
  t.match(peek.stdout, new RegExp(`\\| ${q.replace(/\./g, '\\.')} +\\| +\\| 0 +\\| hello +\\| 5 +\\| string +\\| +\\| False +\\|`));
  const take = await admin('-f', 'tsv', 'get', `queue=${q}`, 'ackmode=ack_requeue_false');
  t.same(rows(take), [`${q}\t\t0\thello\t5\tstring\t\tTrue`], 'requeued by the first get: redelivered now');
  t.same(await admin('get', `queue=${q}`, 'ackmode=ack_requeue_false'), { code: 0, stdout: 'No items\n', stderr: '' });
  await admin('publish', `routing_key=${q}`, 'payload=again');
  t.same(await admin('purge', 'queue', `name=${q}`), { code: 0, stdout: 'queue purged\n', stderr: '' });
  t.equal((await admin('get', `queue=${q}`)).stdout, 'No items\n', 'purged');
  t.same(await admin('delete', 'queue', `name=${q}`), { code: 0, stdout: 'queue deleted\n', stderr: '' });
  const again = await admin('delete', 'queue', `name=${q}`);
  t.equal(again.code, 1);
  t.equal(again.stderr.trim(), `*** Not found: /api/queues/%2F/${q}`);
  t.notOk(rows(await admin('-f', 'tsv', 'list', 'queues', 'name')).includes(q), 'gone from the list');
});

t.test('rabbitmqadmin: exchanges and bindings', { skip }, async (t) => {
  const admin = rabbitmqadmin(await target(t));
  const q = uniqueName('ra-bq');
  const x = uniqueName('ra-x');
  t.teardown(async () => {
    await admin('delete', 'queue', `name=${q}`);
    await admin('delete', 'exchange', `name=${x}`);
  });
  const exchanges = rows(await admin('-f', 'tsv', 'list', 'exchanges', 'name', 'type'));
  for (const row of ['\tdirect', 'amq.direct\tdirect', 'amq.fanout\tfanout', 'amq.headers\theaders', 'amq.match\theaders', 'amq.rabbitmq.trace\ttopic', 'amq.topic\ttopic']) {
    t.ok(exchanges.includes(row), `list exchanges: ${JSON.stringify(row)}`);
  }
  t.match((await admin('list', 'exchanges')).stdout, /\| +name +\| +type +\|/);
  t.same(await admin('declare', 'exchange', `name=${x}`, 'type=fanout'), { code: 0, stdout: 'exchange declared\n', stderr: '' });
  t.ok(rows(await admin('-f', 'tsv', 'list', 'exchanges', 'name', 'type', 'durable')).includes(`${x}\tfanout\tTrue`), 'rabbitmqadmin declares durable by default');
  await admin('declare', 'queue', `name=${q}`, 'durable=false');
  t.same(await admin('declare', 'binding', `source=${x}`, `destination=${q}`, 'routing_key=rk'), { code: 0, stdout: 'binding declared\n', stderr: '' });
  const bindings = rows(await admin('-f', 'tsv', 'list', 'bindings', 'source', 'destination', 'routing_key'));
  t.ok(bindings.includes(`\t${q}\t${q}`), 'the default exchange\'s binding is listed');
  t.ok(bindings.includes(`${x}\t${q}\trk`), 'the new binding is listed');
  t.same(await admin('publish', `exchange=${x}`, 'routing_key=any', 'payload=fanned'), { code: 0, stdout: 'Message published\n', stderr: '' });
  t.same(rows(await admin('-f', 'tsv', 'get', `queue=${q}`, 'ackmode=ack_requeue_false')), [`any\t${x}\t0\tfanned\t6\tstring\t\tFalse`], 'routed through the binding');
  t.same(await admin('delete', 'binding', `source=${x}`, 'destination_type=queue', `destination=${q}`, 'properties_key=rk'), { code: 0, stdout: 'binding deleted\n', stderr: '' });
  t.notOk(rows(await admin('-f', 'tsv', 'list', 'bindings', 'source', 'destination')).includes(`${x}\t${q}`), 'unbound');
  t.same(await admin('publish', `exchange=${x}`, 'routing_key=any', 'payload=lost'), { code: 0, stdout: 'Message published but NOT routed\n', stderr: '' });
  t.same(await admin('delete', 'exchange', `name=${x}`), { code: 0, stdout: 'exchange deleted\n', stderr: '' });
  t.notOk(rows(await admin('-f', 'tsv', 'list', 'exchanges', 'name')).includes(x));
});
