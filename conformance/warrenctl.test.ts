// bin/warrenctl as an operator runs it, a child process talking to a live
// broker's management HTTP API: every command's output (rabbitmqctl's
// informational lines, columns and headers, -q, -s, --formatter json), its
// effect seen from amqplib (a user added logs in, permissions granted let a
// queue be declared, a purge empties a queue, close_connection closes a
// connection with 320), and the failures (unknown user or vhost, wrong
// credentials, a broker that is not there) with their exit codes.
//
// The broker is bin/warren (--http-port -1), or the RabbitMQ whose HTTP API
// WARRENCTL_TARGET_URL names (guest / guest; its AMQP port is
// WARRENCTL_TARGET_AMQP_URL, default amqp://guest:guest@127.0.0.1:26900),
// which is how these expectations were checked against RabbitMQ 3.10.8:
//
//   SCRATCH_MANAGEMENT_PORT=26972 tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   WARRENCTL_TARGET_URL=http://127.0.0.1:26972 npx tap conformance/warrenctl.test.ts
//
// RabbitMQ's statistics (message counts, connections) trail by up to 5 s,
// so listings are retried until they show what is expected.
import t from 'tap';
import type { Test } from 'tap';
import amqplib from 'amqplib';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from './helpers/broker-under-test.js';
import { cleanEnv, REPO_ROOT, startWarren } from './helpers/warren-process.js';

// a process per command (~0.3 s each, more on a busy machine) and RabbitMQ's
// statistics interval add up: more than tap's default 120 s per file
t.setTimeout(300_000);

const WARRENCTL = join(REPO_ROOT, 'bin/warrenctl');
const external = process.env.WARRENCTL_TARGET_URL;
let httpUrl: string;
let amqpUrl: URL;
if (external) {
  httpUrl = external;
  amqpUrl = new URL(process.env.WARRENCTL_TARGET_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:26900');
} else {
  const w = await startWarren(t);
  httpUrl = w.httpUrl!;
  amqpUrl = new URL(w.url);
}
const amqpPort = Number(amqpUrl.port || 5672);
const amqpAs = (user: string, password: string, vhost = '/'): string =>
  `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${amqpUrl.hostname}:${amqpPort}/${encodeURIComponent(vhost)}`;
const GUEST = amqpAs('guest', 'guest');

interface Result { code: number | null; stdout: string; stderr: string }

/** Run bin/warrenctl against the broker (--url first unless the arguments carry their own). */
function ctl(args: string[], o: { env?: NodeJS.ProcessEnv; stdin?: string; url?: boolean } = {}): Promise<Result> {
  const env = cleanEnv();
  for (const k of ['WARREN_URL', 'WARREN_USERNAME', 'WARREN_PASSWORD']) delete env[k];
  const argv = o.url === false ? args : ['--url', httpUrl, ...args];
  return new Promise((resolve) => {
    const child = spawn(WARRENCTL, argv, { cwd: REPO_ROOT, env: { ...env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.stdin ?? '');
  });
}

/** Run until the command succeeds with output that satisfies ok (RabbitMQ's statistics trail); the last result. */
async function eventually(args: string[], ok: (stdout: string) => boolean, ms = 15000): Promise<Result> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await ctl(args);
    if (r.code !== 0 || ok(r.stdout) || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const row = (...cells: (string | number)[]): string => cells.join('\t');

/** An error line and an exit code, nothing else on stderr. */
function failsWith(t: Test, r: Result, code: number, message: string | RegExp, what: string): void {
  t.equal(r.code, code, `${what}: exit ${code}`);
  if (typeof message === 'string') t.equal(r.stderr, `Error: ${message}\n`, `${what}: the error line`);
  else t.match(r.stderr, message, `${what}: the error line`);
  t.equal(r.stderr.split('\n').length, 2, `${what}: one line on stderr`);
}

// amqplib's handshake failures carry no code, only text
const LOGIN_REFUSED = /403 \(ACCESS-REFUSED\)/;
const VHOST_REFUSED = /530|NOT.ALLOWED|got <ConnectionClose/;

/** The message amqplib rejects a connection with ('' if it logged in). */
async function connectFails(url: string): Promise<string> {
  try {
    const c = await amqplib.connect(url);
    await c.close();
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

t.test('help, version and usage errors (no broker needed)', async (t) => {
  const [help, one, version, frob, noPassword, tooFew, column, option] = await Promise.all([
    ctl(['help']),
    ctl(['list_queues', '--help']),
    ctl(['version']),
    ctl(['frob']),
    ctl(['add_user', 'x']),
    ctl(['set_permissions', 'u', '.*']),
    ctl(['list_queues', 'nonsense']),
    ctl(['list_users', '--if-empty']),
  ]);
  t.equal(help.code, 0);
  for (const c of ['list_queues', 'add_user', 'set_permissions', 'close_connection', 'import_definitions']) t.match(help.stdout, new RegExp(`^   ${c} `, 'm'));
  t.equal(one.code, 0);
  t.match(one.stdout, /list_queues \[--vhost <vhost>\]/);
  t.equal(version.code, 0);
  failsWith(t, frob, 64, /^Error: Command 'frob' not found/, 'unknown command');
  failsWith(t, noPassword, 70, 'Password is not provided via argument or stdin', 'add_user without a password');
  failsWith(t, tooFew, 64, /^Error: not enough arguments for set_permissions/, 'too few');
  failsWith(t, column, 64, /^Error: Info key\(s\) nonsense are not supported/, 'a column rabbitmqctl does not know');
  failsWith(t, option, 64, /^Error: Invalid options for list_users/, 'another command\'s option');
});

t.test('a broker that is not there: exit 69, one line, nothing on stdout', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const r = await ctl(['--url', `http://127.0.0.1:${port}`, 'list_queues'], { url: false });
  failsWith(t, r, 69, `unable to connect to the management HTTP API at http://127.0.0.1:${port} (ECONNREFUSED)`, 'refused');
  t.equal(r.stdout, '', 'no informational line');
});

t.test('credentials: wrong ones exit 77; WARREN_URL, WARREN_USERNAME, WARREN_PASSWORD', async (t) => {
  const r = await ctl(['status', '--password', 'wrong']);
  failsWith(t, r, 77, "authentication failed for user 'guest' (Login failed)", 'wrong password');
  t.equal(r.stdout, '');
  failsWith(t, await ctl(['status'], { env: { WARREN_USERNAME: 'nobody', WARREN_PASSWORD: 'x' } }), 77, /authentication failed for user 'nobody'/, 'from the environment');
  const env = await ctl(['status'], { env: { WARREN_URL: httpUrl, WARREN_USERNAME: 'guest', WARREN_PASSWORD: 'guest' }, url: false });
  t.equal(env.code, 0, 'URL and credentials from the environment');
});

t.test('status: the node, its totals, its AMQP listener', async (t) => {
  const r = await ctl(['status']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^Status of node \S+ \.\.\.\n/);
  t.match(r.stdout, /^Queue count: \d+$/m);
  t.match(r.stdout, new RegExp(`^Interface: .*, port: ${amqpPort}, protocol: amqp, purpose: AMQP 0-9-1 and AMQP 1\\.0$`, 'm'));
  t.notMatch((await ctl(['status', '-q'])).stdout, /Status of node/, '-q drops the informational line');
  const json = JSON.parse((await ctl(['status', '--formatter', 'json'])).stdout) as { node: string; listeners: { port: number; protocol: string }[] };
  t.ok(json.listeners.some((l) => l.protocol === 'amqp' && l.port === amqpPort), 'json: the AMQP listener');
});

t.test('authenticate_user: Success, or exit 65 for wrong credentials', async (t) => {
  const ok = await ctl(['authenticate_user', 'guest', 'guest']);
  t.equal(ok.code, 0);
  t.equal(ok.stdout, 'Authenticating user "guest" ...\nSuccess\n');
  const stdin = await ctl(['-q', 'authenticate_user', 'guest'], { stdin: 'guest\n' });
  t.equal(stdin.stdout, 'Success\n', 'the password from stdin; the result stays with -q');
  const bad = await ctl(['authenticate_user', 'guest', 'wrong']);
  failsWith(t, bad, 65, 'failed to authenticate user "guest": user \'guest\' - invalid credentials', 'wrong password');
  t.equal(bad.stdout, 'Authenticating user "guest" ...\n');
  failsWith(t, await ctl(['authenticate_user', 'nobody', 'x']), 65, /failed to authenticate user "nobody"/, 'unknown user');
});

t.test('vhosts: add_vhost, list_vhosts, delete_vhost', async (t) => {
  const v = uniqueName('ctl-vhost');
  t.teardown(() => ctl(['delete_vhost', v]).then(() => undefined));
  const add = await ctl(['add_vhost', v, '--description', 'made by warrenctl', '--tags', 'a,b']);
  t.equal(add.code, 0, add.stderr);
  t.equal(add.stdout, `Adding vhost "${v}" ...\n`);
  t.equal((await ctl(['add_vhost', v])).code, 0, 'again: no error, as rabbitmqctl');
  const list = await ctl(['list_vhosts']);
  t.equal(lines(list.stdout)[0], 'Listing vhosts ...');
  t.equal(lines(list.stdout)[1], 'name', 'the default column');
  t.ok(lines(list.stdout).includes('/') && lines(list.stdout).includes(v));
  const cols = await ctl(['list_vhosts', '-q', 'name', 'description', 'tags', 'tracing']);
  t.equal(lines(cols.stdout)[0], row('name', 'description', 'tags', 'tracing'));
  t.ok(lines(cols.stdout).includes(row(v, 'made by warrenctl', '[a, b]', 'false')), 'its description and tags');
  t.notOk(lines((await ctl(['list_vhosts', '-s'])).stdout).includes('name'), '-s: no header');
  const json = JSON.parse((await ctl(['list_vhosts', '--formatter', 'json', 'name', 'description'])).stdout) as unknown[];
  t.same(json.find((r) => (r as { name: string }).name === v), { name: v, description: 'made by warrenctl' });
  const del = await ctl(['delete_vhost', v]);
  t.equal(del.code, 0);
  t.equal(del.stdout, `Deleting vhost "${v}" ...\n`);
  t.notOk(lines((await ctl(['list_vhosts', '-s'])).stdout).includes(v), 'gone');
  failsWith(t, await ctl(['delete_vhost', v]), 65, `Virtual host '${v}' does not exist`, 'delete_vhost of a missing vhost');
});

t.test('users: add_user lets amqplib log in; change_password, set_user_tags, delete_user', async (t) => {
  const u = uniqueName('ctl-user');
  t.teardown(() => ctl(['delete_user', u]).then(() => undefined));
  const add = await ctl(['add_user', u, 'pw1']);
  t.equal(add.code, 0, add.stderr);
  t.match(add.stdout, new RegExp(`^Adding user "${u}" \\.\\.\\.\\nDone\\. Don't forget to grant the user permissions`));
  failsWith(t, await ctl(['add_user', u, 'again']), 70, `User "${u}" already exists`, 'add_user twice');
  t.equal((await ctl(['set_permissions', u, '.*', '.*', '.*'])).code, 0);
  await (await amqplib.connect(amqpAs(u, 'pw1'))).close();
  t.pass('amqplib logs in with the new user');
  const list = await ctl(['list_users']);
  t.equal(lines(list.stdout)[0], 'Listing users ...');
  t.equal(lines(list.stdout)[1], row('user', 'tags'));
  t.ok(lines(list.stdout).includes(row(u, '[]')), 'no tags yet');
  t.ok(lines(list.stdout).includes(row('guest', '[administrator]')));
  const tags = await ctl(['set_user_tags', u, 'monitoring', 'policymaker']);
  t.equal(tags.stdout, `Setting tags for user "${u}" to [monitoring, policymaker] ...\n`);
  const json = JSON.parse((await ctl(['list_users', '--formatter', 'json'])).stdout) as { user: string; tags: string[] }[];
  t.same(json.find((r) => r.user === u)?.tags.sort(), ['monitoring', 'policymaker']);
  await (await amqplib.connect(amqpAs(u, 'pw1'))).close();
  t.pass('set_user_tags keeps the password');
  t.equal((await ctl(['authenticate_user', u, 'pw1'])).code, 0, 'a monitoring user authenticates');
  const pw = await ctl(['change_password', u, 'pw2']);
  t.equal(pw.stdout, `Changing password for user "${u}" ...\n`);
  t.match(await connectFails(amqpAs(u, 'pw1')), LOGIN_REFUSED, 'the old password is refused');
  await (await amqplib.connect(amqpAs(u, 'pw2'))).close();
  t.pass('the new one works');
  t.ok(lines((await ctl(['list_users', '-s'])).stdout).some((l) => l.startsWith(u + '\t[') && l.includes('monitoring')), 'change_password keeps the tags');
  const del = await ctl(['delete_user', u]);
  t.equal(del.stdout, `Deleting user "${u}" ...\n`);
  t.match(await connectFails(amqpAs(u, 'pw2')), LOGIN_REFUSED, 'deleted: refused');
  failsWith(t, await ctl(['delete_user', u]), 67, `User "${u}" does not exist`, 'delete_user of a missing user');
  failsWith(t, await ctl(['change_password', u, 'x']), 67, `User "${u}" does not exist`, 'change_password of a missing user');
  failsWith(t, await ctl(['set_user_tags', u, 'x']), 67, `User "${u}" does not exist`, 'set_user_tags of a missing user');
  const stdin = await ctl(['add_user', u], { stdin: 'from-stdin\n' });
  t.equal(stdin.code, 0, 'add_user with the password on stdin');
  t.equal((await ctl(['authenticate_user', u, 'from-stdin'])).code, 0);
});

t.test('permissions: set, list, list per user, clear, seen from amqplib', async (t) => {
  const v = uniqueName('ctl-perm-vhost');
  const u = uniqueName('ctl-perm-user');
  t.teardown(async () => {
    await ctl(['delete_vhost', v]);
    await ctl(['delete_user', u]);
  });
  t.equal((await ctl(['add_vhost', v])).code, 0);
  t.equal((await ctl(['add_user', u, 'pw'])).code, 0);
  t.match(await connectFails(amqpAs(u, 'pw', v)), VHOST_REFUSED, 'no permissions: the vhost is refused');
  const set = await ctl(['set_permissions', '-p', v, u, '^mine\\.', '^mine\\.', '^mine\\.']);
  t.equal(set.code, 0, set.stderr);
  t.equal(set.stdout, `Setting permissions for user "${u}" in vhost "${v}" ...\n`);
  const conn = await amqplib.connect(amqpAs(u, 'pw', v));
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  await ch.assertQueue('mine.q', { autoDelete: true });
  t.pass('a queue the pattern allows');
  const refused = await ch.assertQueue('theirs.q').then(() => null, (err: Error & { code?: number }) => err);
  t.equal(refused?.code, 403, 'one it does not: 403');
  await conn.close().catch(() => undefined);
  const list = await ctl(['list_permissions', '-p', v]);
  t.equal(lines(list.stdout)[0], `Listing permissions for vhost "${v}" ...`);
  t.equal(lines(list.stdout)[1], row('user', 'configure', 'write', 'read'));
  t.ok(lines(list.stdout).includes(row(u, '^mine\\.', '^mine\\.', '^mine\\.')));
  const mine = await ctl(['list_user_permissions', u, '-q']);
  t.equal(mine.stdout, `${row('vhost', 'configure', 'write', 'read')}\n${row(v, '^mine\\.', '^mine\\.', '^mine\\.')}\n`);
  t.same(JSON.parse((await ctl(['list_user_permissions', u, '--formatter', 'json'])).stdout), [{ vhost: v, configure: '^mine\\.', write: '^mine\\.', read: '^mine\\.' }]);
  const clear = await ctl(['clear_permissions', '-p', v, u]);
  t.equal(clear.stdout, `Clearing permissions for user "${u}" in vhost "${v}" ...\n`);
  t.match(await connectFails(amqpAs(u, 'pw', v)), VHOST_REFUSED, 'cleared: the vhost is refused again');
  t.equal((await ctl(['list_user_permissions', u, '-q'])).stdout, '', 'none left');
  const nope = uniqueName('ctl-nope');
  failsWith(t, await ctl(['set_permissions', '-p', nope, u, '.*', '.*', '.*']), 69, `Virtual host ${nope} does not exist`, 'set_permissions in a missing vhost');
  failsWith(t, await ctl(['set_permissions', '-p', v, nope, '.*', '.*', '.*']), 67, `User ${nope} does not exist`, 'set_permissions for a missing user');
  failsWith(t, await ctl(['clear_permissions', '-p', v, nope]), 67, `User ${nope} does not exist`, 'clear_permissions for a missing user');
  failsWith(t, await ctl(['list_permissions', '-p', nope]), 65, `Virtual host '${nope}' does not exist`, 'list_permissions of a missing vhost');
  failsWith(t, await ctl(['list_user_permissions', nope]), 69, `User "${nope}" does not exist`, 'list_user_permissions of a missing user');
});

t.test('queues: list_queues shows message counts, purge_queue empties, delete_queue deletes', async (t) => {
  const q = uniqueName('ctl-q');
  const conn = await amqplib.connect(GUEST);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 10 } });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await ch.waitForConfirms();
  const has = (n: number) => (out: string) => lines(out).includes(row(q, n));
  const list = await eventually(['list_queues'], has(3));
  t.equal(list.code, 0, list.stderr);
  t.same(lines(list.stdout).slice(0, 3), ['Timeout: 60.0 seconds ...', 'Listing queues for vhost / ...', row('name', 'messages')]);
  t.ok(has(3)(list.stdout), 'the queue with its 3 messages');
  const cols = await ctl(['list_queues', '-q', 'name', 'durable', 'auto_delete', 'arguments', 'messages_ready', 'messages_unacknowledged', 'consumers']);
  t.ok(lines(cols.stdout).includes(row(q, 'false', 'false', '[{"x-max-length",10}]', 3, 0, 0)), 'rabbitmqctl columns');
  t.notOk(lines((await ctl(['list_queues', '-s'])).stdout).includes(row('name', 'messages')), '-s: no header');
  const json = JSON.parse((await ctl(['list_queues', '--formatter', 'json', 'name', 'messages', 'arguments'])).stdout) as { name: string }[];
  t.same(json.find((r) => r.name === q), { name: q, messages: 3, arguments: { 'x-max-length': 10 } });
  failsWith(t, await ctl(['delete_queue', q, '--if-empty']), 64, 'Queue is not empty', 'delete_queue --if-empty of a queue with messages');
  const purge = await ctl(['purge_queue', q]);
  t.equal(purge.code, 0, purge.stderr);
  t.equal(purge.stdout, `Purging queue '${q}' in vhost '/' ...\n`);
  t.equal((await ch.checkQueue(q)).messageCount, 0, 'purged');
  t.ok(has(0)((await eventually(['list_queues', '-q'], has(0))).stdout), 'list_queues shows 0');
  await ch.consume(q, () => undefined);
  failsWith(t, await ctl(['delete_queue', q, '--if-unused']), 64, 'Queue is in use', 'delete_queue --if-unused of a consumed queue');
  const other = await conn.createChannel();
  other.on('error', () => undefined);
  const del = await ctl(['delete_queue', q]);
  t.equal(del.code, 0, del.stderr);
  t.match(del.stdout, new RegExp(`^Deleting queue '${q}' on vhost '/' \\.\\.\\.\\nQueue was successfully deleted with \\d+ ready messages\\n$`));
  const gone = await other.checkQueue(q).then(() => null, (err: Error & { code?: number }) => err);
  t.equal(gone?.code, 404, 'gone');
  failsWith(t, await ctl(['purge_queue', q]), 69, `Queue '${q}' in vhost '/' not found`, 'purge_queue of a missing queue');
  failsWith(t, await ctl(['delete_queue', q]), 64, `Queue '${q}' in vhost '/' not found`, 'delete_queue of a missing queue');
  const nowhere = await ctl(['list_queues', '-p', uniqueName('ctl-nope')]);
  t.equal(nowhere.code, 0, 'a missing vhost lists nothing, as rabbitmqctl');
  t.equal(lines(nowhere.stdout).length, 2, 'only the informational lines');
});

t.test('list_exchanges and list_bindings show what amqplib declared', async (t) => {
  const x = uniqueName('ctl-x');
  const q = uniqueName('ctl-bq');
  const conn = await amqplib.connect(GUEST);
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  await ch.assertExchange(x, 'topic', { durable: false, autoDelete: false });
  await ch.assertQueue(q, { exclusive: true });
  await ch.bindQueue(q, x, 'k.#', { a: 1 });
  t.teardown(() => ch.deleteExchange(x).catch(() => undefined));
  const ex = await ctl(['list_exchanges']);
  t.equal(lines(ex.stdout)[0], 'Listing exchanges for vhost / ...');
  t.equal(lines(ex.stdout)[1], row('name', 'type'));
  t.ok(lines(ex.stdout).includes(row(x, 'topic')), 'the exchange');
  t.ok(lines(ex.stdout).includes(row('amq.direct', 'direct')));
  t.ok(ex.stdout.includes('\n\tdirect\n'), 'the default exchange, named ""');
  const cols = await ctl(['list_exchanges', '-q', 'name', 'durable', 'auto_delete', 'internal', 'arguments']);
  t.ok(lines(cols.stdout).includes(row(x, 'false', 'false', 'false', '[]')));
  const b = await ctl(['list_bindings']);
  t.equal(lines(b.stdout)[0], 'Listing bindings for vhost /...');
  t.equal(lines(b.stdout)[1], row('source_name', 'source_kind', 'destination_name', 'destination_kind', 'routing_key', 'arguments'));
  t.ok(lines(b.stdout).includes(row('', 'exchange', q, 'queue', q, '[]')), 'the default exchange\'s binding');
  t.ok(lines(b.stdout).includes(row(x, 'exchange', q, 'queue', 'k.#', '[{"a",1}]')), 'the binding, with its arguments');
  const json = JSON.parse((await ctl(['list_bindings', '--formatter', 'json', 'source_name', 'destination_name', 'routing_key'])).stdout) as unknown[];
  t.ok(json.some((r) => JSON.stringify(r) === JSON.stringify({ source_name: x, destination_name: q, routing_key: 'k.#' })));
});

t.test('connections, channels, consumers; close_connection closes with 320', async (t) => {
  const q = uniqueName('ctl-cq');
  const tag = uniqueName('ctl-ctag');
  const conn = await amqplib.connect(GUEST);
  t.teardown(() => conn.close().catch(() => undefined));
  const closed = new Promise<Error & { code?: number }>((resolve) => conn.on('close', resolve));
  conn.on('error', () => undefined);
  const ch = await conn.createChannel();
  await ch.assertQueue(q, { exclusive: true });
  await ch.consume(q, () => undefined, { consumerTag: tag });
  const port = (conn as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
  const mine = (out: string): string | undefined => lines(out).find((l) => l.split('\t')[3] === String(port));
  const list = await eventually(['list_connections', '-q', 'name', 'user', 'peer_host', 'peer_port', 'state'], (out) => mine(out) !== undefined);
  t.equal(list.code, 0, list.stderr);
  const [name, user, host, , state] = mine(list.stdout)!.split('\t');
  t.same([user, host, state], ['guest', '127.0.0.1', 'running'], 'our connection');
  const plain = await ctl(['list_connections']);
  t.same(lines(plain.stdout).slice(0, 2), ['Listing connections ...', row('user', 'peer_host', 'peer_port', 'state')]);
  t.ok(lines(plain.stdout).includes(row('guest', '127.0.0.1', port, 'running')), 'default columns');
  const channel = row(name!, `${name} (1)`, 1, 'guest', 1);
  const chans = await eventually(['list_channels', '-q', 'connection', 'pid', 'number', 'user', 'consumer_count'], (out) => lines(out).includes(channel));
  t.ok(lines(chans.stdout).includes(channel), 'its channel, with its consumer');
  t.same(lines((await ctl(['list_channels'])).stdout).slice(0, 2), ['Listing channels ...', row('pid', 'user', 'consumer_count', 'messages_unacknowledged')]);
  const cons = await eventually(['list_consumers'], (out) => out.includes(tag));
  t.same(lines(cons.stdout).slice(0, 2), ['Listing consumers in vhost / ...', row('queue_name', 'channel_pid', 'consumer_tag', 'ack_required', 'prefetch_count', 'active', 'arguments')]);
  t.ok(lines(cons.stdout).includes(row(q, `${name} (1)`, tag, 'true', 0, 'true', '[]')), 'the consumer');
  const close = await ctl(['close_connection', name!, 'closed by warrenctl']);
  t.equal(close.code, 0, close.stderr);
  t.equal(close.stdout, `Closing connection ${name}, reason: closed by warrenctl...\n`);
  const err = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
  t.equal(err?.code, 320, 'amqplib sees 320 CONNECTION_FORCED');
  t.match(err?.message, /closed by warrenctl/, 'with the explanation');
  failsWith(t, await ctl(['close_connection', 'no such connection', 'x']), 69, 'Connection "no such connection" does not exist', 'close_connection of a missing connection');
});

t.test('export_definitions and import_definitions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warrenctl-defs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const q = uniqueName('ctl-defs-q');
  const conn = await amqplib.connect(GUEST);
  t.teardown(async () => {
    const c = await conn.createChannel().catch(() => null);
    await c?.deleteQueue(q).catch(() => undefined);
    await conn.close().catch(() => undefined);
  });
  let ch = await conn.createChannel();
  await ch.assertQueue(q, { durable: true, arguments: { 'x-max-length': 7 } });
  const file = join(dir, 'defs.json');
  const ex = await ctl(['export_definitions', file]);
  t.equal(ex.code, 0, ex.stderr);
  t.equal(ex.stdout, `Exporting definitions in JSON to a file at "${file}" ...\n`);
  type Defs = { queues: { name: string; vhost: string; durable: boolean; arguments: Record<string, unknown> }[] };
  const defs = JSON.parse(readFileSync(file, 'utf8')) as Defs;
  const mine = defs.queues.find((d) => d.name === q);
  t.match(mine, { vhost: '/', durable: true, arguments: { 'x-max-length': 7 } }, 'the queue is in the file');
  const out = await ctl(['export_definitions', '-']);
  t.ok((JSON.parse(out.stdout) as Defs).queues.some((d) => d.name === q), '"-": the JSON alone on stdout');
  await ch.deleteQueue(q);
  // import only our queue: a whole export would put back what others deleted meanwhile
  const small = join(dir, 'small.json');
  writeFileSync(small, JSON.stringify({ queues: [mine] }));
  const im = await ctl(['import_definitions', small]);
  t.equal(im.code, 0, im.stderr);
  t.match(im.stdout, new RegExp(`^Importing definitions in JSON from a file at "${small.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" \\.\\.\\.\\n`));
  ch = await conn.createChannel();
  t.equal((await ch.checkQueue(q)).messageCount, 0, 'the queue is back');
  await ch.deleteQueue(q);
  const fromStdin = await ctl(['-q', 'import_definitions', '-'], { stdin: JSON.stringify({ queues: [mine] }) });
  t.equal(fromStdin.code, 0, fromStdin.stderr);
  t.equal((await ch.checkQueue(q)).messageCount, 0, 'back again, from stdin');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{not json');
  failsWith(t, await ctl(['import_definitions', bad]), 65, /^Error: Failed to deserialise input \(format: JSON\)/, 'malformed JSON');
  failsWith(t, await ctl(['import_definitions', join(dir, 'missing.json')]), 65, `Bad argument: File ${join(dir, 'missing.json')} does not exist`, 'a missing file');
});
