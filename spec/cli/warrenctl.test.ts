// warrenctl without a broker: command-line parsing (every command's
// arguments and options, global options before or after the command, the
// environment's defaults, usage errors), table and JSON formatting, the
// mapping of rabbitmqctl's column names to the API's fields, and each
// command's HTTP calls, output and exit codes against a scripted fetch.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse, run } from '../../lib/cli/warrenctl.js';
import type { Io } from '../../lib/cli/warrenctl.js';
import { COMMANDS } from '../../lib/cli/warrenctl-commands.js';
import { BINDING_COLUMNS, CHANNEL_COLUMNS, CONSUMER_COLUMNS, QUEUE_COLUMNS } from '../../lib/cli/warrenctl-list-commands.js';
import { formatJsonList, formatTable, project, renderValue } from '../../lib/cli/warrenctl-format.js';
import { apiPath, TimeoutError } from '../../lib/cli/http-client.js';
import type { Transport } from '../../lib/cli/http-client.js';

type Reply = [status: number, body?: unknown];
interface Call { method: string; path: string; body: unknown; headers: Record<string, string> }

/** Run a command line against a fetch that answers from `replies` ("GET /api/x" -> [status, body]; default 404). */
async function ctl(argv: string[], replies: Record<string, Reply | ((c: Call) => Reply)> = {}, o: { env?: NodeJS.ProcessEnv; stdin?: string; transport?: Transport } = {}) {
  const calls: Call[] = [];
  let stdout = '';
  let stderr = '';
  const fake: Transport = async (req) => {
    const call: Call = { method: req.method, path: req.url.pathname + req.url.search, body: req.body ? JSON.parse(req.body) : undefined, headers: req.headers };
    calls.push(call);
    const r = replies[`${call.method} ${call.path}`] ?? [404, { error: 'Object Not Found', reason: 'Not Found' }];
    const [status, body] = typeof r === 'function' ? r(call) : r;
    return { status, statusText: '', text: body === undefined ? '' : JSON.stringify(body) };
  };
  const io: Io = {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: o.env ?? {},
    readStdin: async () => o.stdin ?? '',
    stdinIsTTY: o.stdin === undefined,
    transport: o.transport ?? fake,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr, calls };
}

t.test('parsing: global options anywhere, environment defaults, per-command options', async (t) => {
  const a = parse(['-q', 'list_queues', '-p', 'v1', 'name', 'messages_ready', '--url', 'http://h:1', '--no-table-headers']);
  t.equal(a.kind, 'run');
  if (a.kind !== 'run') return;
  t.equal(a.command.name, 'list_queues');
  t.same(a.columns, ['name', 'messages_ready']);
  t.match(a.global, { url: 'http://h:1', vhost: 'v1', quiet: true, tableHeaders: false, formatter: 'table', username: 'guest', password: 'guest', timeoutSeconds: 60 });
  const b = parse(['list_queues', '--vhost=/x', 'name,messages', '--formatter', 'json', '-t', '5'], { WARREN_URL: 'http://e:2', WARREN_USERNAME: 'u', WARREN_PASSWORD: 'p' });
  if (b.kind !== 'run') return t.fail('run');
  t.same(b.columns, ['name', 'messages'], 'comma-separated columns');
  t.match(b.global, { url: 'http://e:2', username: 'u', password: 'p', vhost: '/x', quiet: true, formatter: 'json', timeoutSeconds: 5 });
  const c = parse(['list_queues', '-s']);
  if (c.kind !== 'run') return t.fail('run');
  t.same(c.columns, ['name', 'messages'], 'default columns');
  t.match(c.global, { quiet: true, tableHeaders: false, url: 'http://127.0.0.1:15672', vhost: '/' });
  const d = parse(['delete_queue', 'q', '-e', '--if-unused', '-p', 'v']);
  if (d.kind !== 'run') return t.fail('run');
  t.same(d.args, ['q']);
  t.same(d.opts, { 'if-empty': true, 'if-unused': true });
  const e = parse(['add_vhost', 'v', '--description', 'd', '--tags', 'a,b']);
  if (e.kind !== 'run') return t.fail('run');
  t.match(e.opts, { description: 'd', tags: 'a,b' });
  t.same((parse(['set_permissions', '-p', 'v', 'u', '.*', '', '^r']) as { args: string[] }).args, ['u', '.*', '', '^r']);
  t.same((parse(['set_user_tags', 'u', 'a', 'b', 'c']) as { args: string[] }).args, ['u', 'a', 'b', 'c']);
  t.same((parse(['set_user_tags', 'u']) as { args: string[] }).args, ['u'], 'no tags clears them');
  t.same((parse(['add_user', 'u', '--', '-dash-']) as { args: string[] }).args, ['u', '-dash-'], 'a password starting with - after --');
  t.same(parse(['help']), { kind: 'help' });
  t.same(parse(['--help']), { kind: 'help' });
  t.equal((parse(['help', 'add_user']) as { command: { name: string } }).command.name, 'add_user');
  t.equal((parse(['purge_queue', '--help']) as { command: { name: string } }).command.name, 'purge_queue');
  t.equal((parse(['-?', 'status']) as { kind: string }).kind, 'help');
  t.same(parse(['version']), { kind: 'version' });
});

t.test('parsing: every command takes its arguments and refuses wrong counts with 64', async (t) => {
  const arity: Record<string, [number, number]> = {
    status: [0, 0], list_vhosts: [0, Infinity], add_vhost: [1, 1], delete_vhost: [1, 1], list_users: [0, 0], add_user: [1, 2],
    delete_user: [1, 1], change_password: [1, 2], set_user_tags: [1, Infinity], authenticate_user: [1, 2], list_permissions: [0, 0],
    list_user_permissions: [1, 1], set_permissions: [4, 4], clear_permissions: [1, 1], list_queues: [0, Infinity],
    list_exchanges: [0, Infinity], list_bindings: [0, Infinity], list_connections: [0, Infinity], list_channels: [0, Infinity],
    list_consumers: [0, Infinity], close_connection: [2, 2], purge_queue: [1, 1], delete_queue: [1, 1], export_definitions: [1, 1],
    import_definitions: [1, 1],
  };
  t.same([...COMMANDS.keys()].sort(), Object.keys(arity).sort(), 'the command set');
  for (const [name, [min, max]] of Object.entries(arity)) {
    t.same(COMMANDS.get(name)!.args, [min, max], `${name} arity`);
    if (min > 0) {
      const r = await ctl([name, ...Array(min - 1).fill('x')]);
      t.equal(r.code, 64, `${name} with too few`);
      t.match(r.stderr, new RegExp(`^Error: not enough arguments for ${name}; usage: warrenctl ${name}`));
    }
    if (max !== Infinity) {
      const r = await ctl([name, ...Array(max + 1).fill('x')]);
      t.equal(r.code, 64, `${name} with too many`);
      t.match(r.stderr, /^Error: too many arguments/);
    }
    t.equal(r1(await ctl([name, '--help'])), 0, `${name} --help`);
  }
  function r1(r: { code: number; stdout: string }): number {
    return r.stdout.startsWith('Usage') ? r.code : -1;
  }
});

t.test('parsing: usage errors are one line and 64', async (t) => {
  for (const [argv, pattern] of [
    [[], /no command given/],
    [['frob'], /Command 'frob' not found/],
    [['help', 'frob'], /Command 'frob' not found/],
    [['list_users', '--bogus'], /Unknown option '--bogus'/],
    [['list_users', '--if-empty'], /Invalid options for list_users: --if-empty/],
    [['list_queues', 'bogus', 'name'], /Info key\(s\) bogus are not supported/],
    [['list_users', '-p'], /argument missing/],
    [['list_users', '--formatter', 'xml'], /--formatter: 'xml' is not supported/],
    [['list_users', '--timeout', 'soon'], /--timeout/],
    [['list_users', '--url', 'not a url'], /--url/],
    [['list_users', '--url', 'ftp://h'], /--url/],
  ] as const) {
    const r = await ctl([...argv]);
    t.equal(r.code, 64, argv.join(' '));
    t.match(r.stderr, pattern);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
    t.equal(r.calls.length, 0, 'no request');
  }
});

t.test('help lists every command; a command\'s help its usage, columns and options', async (t) => {
  const all = await ctl(['help']);
  for (const name of COMMANDS.keys()) t.match(all.stdout, new RegExp(`^   ${name} `, 'm'));
  t.match(all.stdout, /--formatter/);
  const q = await ctl(['list_queues', '--help']);
  t.match(q.stdout, /warrenctl .* list_queues \[--vhost <vhost>\]/);
  t.match(q.stdout, /must be one of .*messages_unacknowledged/);
  const d = await ctl(['help', 'delete_queue']);
  t.match(d.stdout, /-e, --if-empty/);
  t.equal((await ctl(['version'])).stdout.trim().length > 0, true);
});

t.test('formatting: values, tables, JSON lists', async (t) => {
  t.equal(renderValue(undefined), '');
  t.equal(renderValue(null), '');
  t.equal(renderValue('a b'), 'a b');
  t.equal(renderValue(5), '5');
  t.equal(renderValue(false), 'false');
  t.equal(renderValue([]), '[]');
  t.equal(renderValue(['management', 'policymaker']), '[management, policymaker]');
  t.equal(renderValue({}), '[]');
  t.equal(renderValue({ 'x-max-length': 5, 'x-dead-letter-exchange': 'dlx' }), '[{"x-max-length",5},{"x-dead-letter-exchange","dlx"}]');
  t.equal(renderValue({ caps: { 'basic.nack': true }, list: [1, 's'], n: null }), '[{"caps",[{"basic.nack",true}]},{"list",[1,"s"]},{"n",undefined}]');
  t.equal(formatTable(['name', 'messages'], []), '', 'no rows: not even a header');
  t.equal(formatTable(['name', 'messages'], [{ name: 'q1', messages: 0 }, { name: 'q2', messages: 3 }]), 'name\tmessages\nq1\t0\nq2\t3\n');
  t.equal(formatTable(['name'], [{ name: 'q1' }], false), 'q1\n');
  t.equal(formatTable(['name'], [{ name: 'a\tb\nc' }]), 'name\na b c\n', 'no tab or newline inside a cell');
  t.equal(formatJsonList([]), '[\n]\n');
  t.equal(formatJsonList([{ a: 1 }, { a: 2 }]), '[\n{"a":1}\n,{"a":2}\n]\n');
});

t.test('column mapping: rabbitmqctl names read the API\'s fields', async (t) => {
  const q = { name: 'q', messages: 3, messages_ready: 2, node: 'n@h', owner_pid_details: { name: 'conn 1' }, arguments: { 'x-max-length': 1 } };
  t.same(project([q], ['name', 'messages_ready', 'leader', 'members', 'owner_pid', 'arguments', 'slave_pids'], QUEUE_COLUMNS), [
    { name: 'q', messages_ready: 2, leader: 'n@h', members: ['n@h'], owner_pid: 'conn 1', arguments: { 'x-max-length': 1 }, slave_pids: undefined },
  ]);
  const b = { source: 'x', destination: 'q', destination_type: 'queue', routing_key: 'k', arguments: {} };
  t.same(project([b], ['source_name', 'source_kind', 'destination_name', 'destination_kind', 'routing_key'], BINDING_COLUMNS), [
    { source_name: 'x', source_kind: 'exchange', destination_name: 'q', destination_kind: 'queue', routing_key: 'k' },
  ]);
  const ch = { name: 'c (1)', connection_details: { name: 'c' }, number: 1 };
  t.same(project([ch], ['pid', 'connection', 'number'], CHANNEL_COLUMNS), [{ pid: 'c (1)', connection: 'c', number: 1 }]);
  const co = { queue: { name: 'q', vhost: '/' }, channel_details: { name: 'c (1)' }, consumer_tag: 't' };
  t.same(project([co], ['queue_name', 'channel_pid', 'consumer_tag'], CONSUMER_COLUMNS), [{ queue_name: 'q', channel_pid: 'c (1)', consumer_tag: 't' }]);
});

t.test('listings: informational lines, table, -q, -s, json; paths encode the vhost', async (t) => {
  const queues: Reply = [200, [{ name: 'q1', messages: 0, durable: true }, { name: 'q2', messages: 3, durable: false }]];
  const r = await ctl(['list_queues'], { 'GET /api/queues/%2F': queues });
  t.equal(r.code, 0);
  t.equal(r.stdout, 'Timeout: 60.0 seconds ...\nListing queues for vhost / ...\nname\tmessages\nq1\t0\nq2\t3\n');
  t.equal(r.calls[0]!.headers.authorization, 'Basic ' + Buffer.from('guest:guest').toString('base64'));
  t.equal((await ctl(['list_queues', '-q', 'name', 'durable'], { 'GET /api/queues/%2F': queues })).stdout, 'name\tdurable\nq1\ttrue\nq2\tfalse\n');
  t.equal((await ctl(['list_queues', '-s'], { 'GET /api/queues/%2F': queues })).stdout, 'q1\t0\nq2\t3\n');
  t.equal((await ctl(['list_queues', '--formatter', 'json'], { 'GET /api/queues/%2F': queues })).stdout, '[\n{"name":"q1","messages":0}\n,{"name":"q2","messages":3}\n]\n');
  const v = await ctl(['list_exchanges', '-p', 'a/b c'], { 'GET /api/exchanges/a%2Fb%20c': [200, [{ name: '', type: 'direct' }]] });
  t.equal(v.stdout, 'Listing exchanges for vhost a/b c ...\nname\ttype\n\tdirect\n');
  const missing = await ctl(['list_consumers', '-p', 'nope'], { 'GET /api/vhosts': [200, []] });
  t.equal(missing.code, 0, 'a vhost that does not exist lists nothing');
  t.equal(missing.stdout, 'Listing consumers in vhost nope ...\n');
  t.same(missing.calls.map((c) => c.path), ['/api/consumers/nope', '/api/vhosts/nope', '/api/vhosts']);
  const noRoutes = await ctl(['list_consumers', '-p', 'nope']);
  t.equal(noRoutes.code, 70, 'no vhost routes at all: the broker lacks the routes');
  const noRoute = await ctl(['list_bindings'], { 'GET /api/vhosts/%2F': [200, { name: '/' }] });
  t.equal(noRoute.code, 70, 'a 404 for a vhost that exists: the broker lacks the route');
  t.match(noRoute.stderr, /^Error: GET \/api\/bindings\/%2F answered 404/);
  const users = await ctl(['list_users'], { 'GET /api/users': [200, [{ name: 'guest', tags: ['administrator'] }]] });
  t.equal(users.stdout, 'Listing users ...\nuser\ttags\nguest\t[administrator]\n');
});

t.test('user, vhost and permission commands: requests and rabbitmqctl\'s texts and codes', async (t) => {
  const add = await ctl(['add_user', 'bob', 'pw'], { 'PUT /api/users/bob': [201] });
  t.equal(add.code, 0);
  t.same(add.calls.map((c) => `${c.method} ${c.path}`), ['GET /api/users/bob', 'PUT /api/users/bob']);
  t.same(add.calls[1]!.body, { password: 'pw', tags: '' });
  t.match(add.stdout, /^Adding user "bob" \.\.\.\nDone\. Don't forget/);
  const fromStdin = await ctl(['add_user', 'bob'], { 'PUT /api/users/bob': [201] }, { stdin: 's3cret\n' });
  t.same(fromStdin.calls[1]!.body, { password: 's3cret', tags: '' }, 'password from stdin');
  t.equal((await ctl(['add_user', 'bob'])).code, 70, 'no password at all');
  const exists = await ctl(['add_user', 'guest', 'x'], { 'GET /api/users/guest': [200, { name: 'guest' }] });
  t.equal(exists.code, 70);
  t.equal(exists.stderr, 'Error: User "guest" already exists\n');
  const del = await ctl(['delete_user', 'nope']);
  t.equal(del.code, 67);
  t.equal(del.stdout, 'Deleting user "nope" ...\n');
  t.equal(del.stderr, 'Error: User "nope" does not exist\n');
  const user = { name: 'bob', password_hash: 'HASH', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management'] };
  const tags = await ctl(['set_user_tags', 'bob', 'monitoring', 'policymaker'], { 'GET /api/users/bob': [200, user], 'PUT /api/users/bob': [204] });
  t.equal(tags.stdout, 'Setting tags for user "bob" to [monitoring, policymaker] ...\n');
  t.same(tags.calls[1]!.body, { tags: 'monitoring,policymaker', password_hash: 'HASH', hashing_algorithm: 'rabbit_password_hashing_sha256' }, 'keeps the password');
  const pw = await ctl(['change_password', 'bob', 'new'], { 'GET /api/users/bob': [200, user], 'PUT /api/users/bob': [204] });
  t.same(pw.calls[1]!.body, { password: 'new', tags: 'management' }, 'keeps the tags');
  t.equal((await ctl(['change_password', 'nope', 'x'])).code, 67);
  const vh = await ctl(['add_vhost', 'v', '--description', 'd', '--tags', 'a, b'], { 'PUT /api/vhosts/v': [201] });
  t.same(vh.calls[1]!.body, { description: 'd', tags: 'a,b' });
  const again = await ctl(['add_vhost', 'v'], { 'GET /api/vhosts/v': [200, { name: 'v' }] });
  t.equal(again.code, 0, 'an existing vhost is left as it is');
  t.equal(again.calls.length, 1);
  const dv = await ctl(['delete_vhost', 'nope']);
  t.equal(dv.code, 65);
  t.equal(dv.stderr, "Error: Virtual host 'nope' does not exist\n");
  const sp = await ctl(['set_permissions', '-p', 'v', 'bob', '^c', '^w', '^r'], { 'PUT /api/permissions/v/bob': [201] });
  t.same(sp.calls[0]!.body, { configure: '^c', write: '^w', read: '^r' });
  t.equal(sp.stdout, 'Setting permissions for user "bob" in vhost "v" ...\n');
  const notFound: Reply = [400, { error: 'bad_request', reason: 'vhost_or_user_not_found' }];
  const spUser = await ctl(['set_permissions', 'nope', '.*', '.*', '.*'], { 'PUT /api/permissions/%2F/nope': notFound });
  t.equal(spUser.code, 67);
  t.equal(spUser.stderr, 'Error: User nope does not exist\n');
  const spVhost = await ctl(['set_permissions', '-p', 'nope', 'bob', '.*', '.*', '.*'], { 'PUT /api/permissions/nope/bob': notFound, 'GET /api/users/bob': [200, user] });
  t.equal(spVhost.code, 69);
  t.equal(spVhost.stderr, 'Error: Virtual host nope does not exist\n');
  const cp = await ctl(['clear_permissions', 'bob'], { 'GET /api/users/bob': [200, user], 'GET /api/vhosts/%2F': [200, {}] });
  t.equal(cp.code, 0, 'nothing to clear is not an error');
  t.same(cp.calls[0], { method: 'DELETE', path: '/api/permissions/%2F/bob', body: undefined, headers: cp.calls[0]!.headers });
  t.equal((await ctl(['clear_permissions', 'nope'])).code, 67);
  t.equal((await ctl(['list_permissions', '-p', 'nope'])).code, 65);
  t.equal((await ctl(['list_user_permissions', 'nope'])).stderr, 'Error: User "nope" does not exist\n');
});

t.test('authenticate_user: whoami with the user\'s credentials', async (t) => {
  const auth = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
  const whoami = (c: Call): Reply =>
    c.headers.authorization === auth('bob', 'pw') ? [200, { name: 'bob' }]
    : c.headers.authorization === auth('plain', 'pw') ? [403, { error: 'not_authorised', reason: 'Not management user' }]
    : c.headers.authorization === auth('old', 'pw') ? [401, { error: 'not_authorised', reason: 'Not management user' }]
    : [401, { error: 'not_authorized', reason: 'Login failed' }];
  const ok = await ctl(['authenticate_user', 'bob', 'pw'], { 'GET /api/whoami': whoami });
  t.equal(ok.code, 0);
  t.equal(ok.stdout, 'Authenticating user "bob" ...\nSuccess\n');
  t.equal((await ctl(['authenticate_user', 'plain', 'pw'], { 'GET /api/whoami': whoami })).code, 0, 'no management tag (warren: 403)');
  t.equal((await ctl(['authenticate_user', 'old', 'pw'], { 'GET /api/whoami': whoami })).code, 0, 'no management tag (RabbitMQ 3.10: 401)');
  t.equal((await ctl(['-q', 'authenticate_user', 'bob', 'pw'], { 'GET /api/whoami': whoami })).stdout, 'Success\n', 'the result stays with -q');
  const bad = await ctl(['authenticate_user', 'bob', 'nope'], { 'GET /api/whoami': whoami });
  t.equal(bad.code, 65);
  t.equal(bad.stdout, 'Authenticating user "bob" ...\n');
  t.equal(bad.stderr, 'Error: failed to authenticate user "bob": user \'bob\' - invalid credentials\n');
});

t.test('queue and connection commands', async (t) => {
  const purge = await ctl(['purge_queue', '-p', 'v', 'q'], { 'DELETE /api/queues/v/q/contents': [204] });
  t.equal(purge.code, 0);
  t.equal(purge.stdout, "Purging queue 'q' in vhost 'v' ...\n");
  t.equal((await ctl(['purge_queue', 'nope'])).code, 69);
  const q: Reply = [200, { name: 'q', messages_ready: 4 }];
  const del = await ctl(['delete_queue', 'q', '--if-empty', '--if-unused'], { 'GET /api/queues/%2F/q': q, 'DELETE /api/queues/%2F/q?if-empty=true&if-unused=true': [204] });
  t.equal(del.code, 0);
  t.equal(del.stdout, "Deleting queue 'q' on vhost '/' if queue is empty and if queue is unused ...\nQueue was successfully deleted with 4 ready messages\n");
  const notEmpty = await ctl(['delete_queue', 'q', '-e'], { 'GET /api/queues/%2F/q': q, 'DELETE /api/queues/%2F/q?if-empty=true': [400, { error: 'bad_request', reason: "queue 'q' in vhost '/' not empty" }] });
  t.equal(notEmpty.code, 64);
  t.equal(notEmpty.stderr, 'Error: Queue is not empty\n');
  const inUse = await ctl(['delete_queue', 'q', '-u'], { 'GET /api/queues/%2F/q': q, 'DELETE /api/queues/%2F/q?if-unused=true': [400, { error: 'bad_request', reason: "queue 'q' in vhost '/' in use" }] });
  t.equal(inUse.stderr, 'Error: Queue is in use\n');
  t.equal((await ctl(['delete_queue', 'nope'])).stderr, "Error: Queue 'nope' in vhost '/' not found\n");
  const json = await ctl(['delete_queue', 'q', '--formatter', 'json'], { 'GET /api/queues/%2F/q': q, 'DELETE /api/queues/%2F/q': [204] });
  t.equal(json.stdout, '{"result":"ok","message_count":4}\n');
  const name = '127.0.0.1:5000 -> 127.0.0.1:5672';
  const close = await ctl(['close_connection', name, 'maintenance é'], { [`DELETE ${apiPath('connections', name)}`]: [204] });
  t.equal(close.code, 0);
  t.equal(close.stdout, `Closing connection ${name}, reason: maintenance é...\n`);
  t.equal(Buffer.from(close.calls[0]!.headers['x-reason']!, 'latin1').toString('utf8'), 'maintenance é', 'X-Reason carries the UTF-8 bytes');
  t.equal((await ctl(['close_connection', 'nope', 'x'])).stderr, 'Error: Connection "nope" does not exist\n');
});

t.test('status and definitions', async (t) => {
  const overview = { node: 'warren@h', product_name: 'warren', product_version: '0.1.0', object_totals: { connections: 2, queues: 3 }, listeners: [{ protocol: 'amqp', ip_address: '127.0.0.1', port: 5672 }] };
  const s = await ctl(['status'], { 'GET /api/overview': [200, overview] });
  t.match(s.stdout, /^Status of node warren@h \.\.\.\n/);
  t.match(s.stdout, /Connection count: 2\n/);
  t.match(s.stdout, /Interface: 127\.0\.0\.1, port: 5672, protocol: amqp, purpose: AMQP 0-9-1 and AMQP 1\.0/);
  const sj = JSON.parse((await ctl(['status', '--formatter', 'json'], { 'GET /api/overview': [200, overview] })).stdout);
  t.match(sj, { node: 'warren@h', totals: { connection_count: 2, queue_count: 3 }, listeners: [{ port: 5672, purpose: 'AMQP 0-9-1 and AMQP 1.0' }] });
  const defs = { queues: [{ name: 'q', vhost: '/' }] };
  const ex = await ctl(['export_definitions', '-'], { 'GET /api/definitions': [200, defs] });
  t.same(JSON.parse(ex.stdout), defs, 'to stdout, nothing else');
  const im = await ctl(['import_definitions', '-'], { 'POST /api/definitions': [204] }, { stdin: JSON.stringify(defs) });
  t.equal(im.code, 0);
  t.same(im.calls[0]!.body, defs);
  const bad = await ctl(['import_definitions', '-'], {}, { stdin: '{nope' });
  t.equal(bad.code, 65);
  t.match(bad.stderr, /^Error: Failed to deserialise input \(format: JSON\)/);
  t.equal((await ctl(['import_definitions', '/nonexistent/defs.json'])).code, 65);
  t.equal((await ctl(['export_definitions', '/nonexistent/dir/defs.json'])).code, 65);
  const refused = await ctl(['import_definitions', '-'], { 'POST /api/definitions': [400, { error: 'bad_request', reason: 'bad vhost' }] }, { stdin: '{}' });
  t.equal(refused.stderr, 'Error: Failed to import definitions: bad vhost\n');
  t.equal((await ctl(['add_vhost', 'v', '--formatter', 'json'], { 'PUT /api/vhosts/v': [201] })).stdout, '{"result":"ok"}\n');
});

t.test('transport and HTTP failures: exit codes, one line, no informational line before reaching the broker', async (t) => {
  const refused: Transport = async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:15672'), { code: 'ECONNREFUSED' });
  };
  const down = await ctl(['list_queues'], {}, { transport: refused });
  t.equal(down.code, 69);
  t.equal(down.stdout, '', 'nothing on stdout');
  t.equal(down.stderr, 'Error: unable to connect to the management HTTP API at http://127.0.0.1:15672 (ECONNREFUSED)\n');
  const slow: Transport = async (req) => {
    throw new TimeoutError(req.timeoutMs);
  };
  const late = await ctl(['list_users', '-t', '2'], {}, { transport: slow });
  t.equal(late.code, 75);
  t.equal(late.stderr, 'Error: operation timed out: no answer within 2 seconds\n');
  const login = await ctl(['list_users', '--username', 'bob'], { 'GET /api/users': [401, { error: 'not_authorized', reason: 'Login failed' }] });
  t.equal(login.code, 77);
  t.equal(login.stdout, '');
  t.equal(login.stderr, "Error: authentication failed for user 'bob' (Login failed)\n");
  const tag = await ctl(['list_users'], { 'GET /api/users': [403, { error: 'not_authorised', reason: 'Not administrator user' }] });
  t.equal(tag.code, 77);
  t.equal(tag.stderr, "Error: user 'guest' may not GET /api/users (Not administrator user)\n");
  const broken = await ctl(['list_users'], { 'GET /api/users': [500, { error: 'internal_server_error', reason: 'see the broker log' }] });
  t.equal(broken.code, 70);
  t.match(broken.stdout, /^Listing users \.\.\.\n$/);
  t.equal(broken.stderr.split('\n').length, 2);
});

t.test('the node:http transport: a real request, a timeout, a refusal', async (t) => {
  const seen: { method?: string; url?: string; auth?: string; reason?: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, reason: req.headers['x-reason'] as string | undefined, body });
      if (req.url === '/slow/api/users') return; // never answers
      if (req.url === '/p/api/users') return void res.writeHead(200, { 'content-type': 'application/json' }).end('[{"name":"guest","tags":["administrator"]}]');
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const io = (): Io & { out: string; err: string } => {
    const o = { out: '', err: '', env: {}, stdinIsTTY: true, readStdin: async () => '', stdout: (s: string) => void (o.out += s), stderr: (s: string) => void (o.err += s) };
    return o;
  };
  const a = io();
  t.equal(await run(['--url', base + '/p/', 'list_users', '-q', '--username', 'ü', '--password', 'p'], a), 0, 'a path prefix is kept');
  t.equal(a.out, 'user\ttags\nguest\t[administrator]\n');
  t.equal(seen[0]!.auth, 'Basic ' + Buffer.from('ü:p').toString('base64'));
  const b = io();
  t.equal(await run(['--url', base, 'close_connection', 'c 1', 'bye é'], b), 0);
  t.match(seen[1], { method: 'DELETE', url: '/api/connections/c%201' });
  t.equal(Buffer.from(seen[1]!.reason!, 'latin1').toString('utf8'), 'bye é');
  const c = io();
  t.equal(await run(['--url', base, 'set_permissions', 'u', 'c', 'w', 'r'], c), 0);
  t.same(JSON.parse(seen[2]!.body), { configure: 'c', write: 'w', read: 'r' });
  const d = io();
  t.equal(await run(['--url', base + '/slow', 'list_users', '-t', '0.2'], d), 75);
  t.equal(d.err, 'Error: operation timed out: no answer within 0.2 seconds\n');
  t.equal(d.out, '', 'no informational line without an answer');
});
