// Nothing a request does can crash the broker or leave half-written
// definitions: thousands of random requests (every route's method and path
// shape with random and hostile segments, bodies of every JSON shape,
// malformed JSON, wrong types) from an administrator and from a user
// without tags. Every answer must be one of the statuses the API uses
// (never a 500), the broker must still serve AMQP and HTTP afterwards, and
// the definitions file on disk must parse and load into a new broker.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { ALL_ROUTES } from '../../lib/admin/routes/index.js';
import { withBroker } from '../helpers/broker.js';
import { prng } from '../helpers/prng.js';
import { api } from './admin-call.js';

const SEED = Number(process.env.HTTP_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = 3000;
const ALLOWED = new Set([200, 201, 204, 400, 403, 404, 405, 413]);

t.test(`random requests never get a 500 or break the broker (seed ${SEED})`, async (t) => {
  const b = await withBroker(t, {
    httpPort: -1,
    users: [{ name: 'plain', password: 'plain', tags: [], permissions: [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }] }],
  });
  const admin = api(b.httpUrl!);
  const plain = api(b.httpUrl!, 'plain:plain');
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // not 'guest': the administrator making the requests keeps its password (plain may lose its own)
  const names = ['%2F', 'q', 'x', 'fuzz', 'nobody', 'plain', 'amq.direct', 'amq.default', '', 'e', 'q%2Fq', '%00', 'a'.repeat(300), '..', '%E2%9C%93', '~'];
  const jsonValues: unknown[] = [
    null, true, false, 0, -1, 1e308, 'x', '', [], [1, 'a'], {}, { durable: 'x' }, { durable: true, auto_delete: false, arguments: { 'x-max-length': 'ten' } },
    { type: 'nonsense' }, { type: 'direct', arguments: { 'alternate-exchange': 5 } }, { routing_key: 'q', payload: 'p', payload_encoding: 'base64', properties: {} },
    { routing_key: 'q', payload: 'p', payload_encoding: 'string', properties: { headers: { CC: 'x' }, delivery_mode: 2 } },
    { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' }, { count: -1, ackmode: 'reject_requeue_true' },
    { password: 'p', tags: 'administrator' }, { password_hash: 'zz', tags: [] }, { tags: 5 }, { configure: '(', write: '.*', read: '.*' },
    { configure: '.*', write: '.*', read: '.*' }, { description: 'd', tags: 'a,b' }, { users: ['nope'] }, { users: 'x' },
    { vhosts: [{ name: 'v1' }], queues: [{ name: 'dq', vhost: 'v1', durable: true, arguments: {} }] },
    { queues: [{ name: 'bad', vhost: 'nowhere', durable: true }] }, { exchanges: 'x', users: null },
    { rabbit_version: '3.10.8', users: [{ name: 'u1', password_hash: 'x', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' }] },
  ];
  const rawBodies = ['{', '[1,', 'nul', '"unterminated', '{"a":1}{', '\u0000', '{"durable": tru}'];
  const statuses = new Map<number, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const route = pick(ALL_ROUTES);
    const path = route.path.split('/').map((seg) => (seg.startsWith(':') ? pick(names) : seg)).join('/');
    const method = rand() < 0.85 ? route.method : pick(['GET', 'PUT', 'POST', 'DELETE', 'PATCH']);
    const body = method === 'GET' ? undefined : rand() < 0.15 ? pick(rawBodies) : pick(jsonValues);
    const who = rand() < 0.9 ? admin : plain;
    const r = await who(method, path, typeof body === 'string' && rawBodies.includes(body) ? body : body === undefined ? undefined : JSON.stringify(body));
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (!ALLOWED.has(r.status) && !(r.status === 401 && who === plain)) {
      t.fail(`${method} ${path} ${JSON.stringify(body)?.slice(0, 200)} -> ${r.status} ${JSON.stringify(r.json)?.slice(0, 300)}`);
      break;
    }
  }
  t.comment(`statuses: ${JSON.stringify([...statuses].sort())}`);
  t.ok(statuses.size > 3, 'the requests reached many different answers');

  // still alive and consistent
  t.equal((await admin('GET', '/api/healthchecks/node')).status, 200, 'HTTP still answers');
  // the fuzz may have deleted vhost '/': put it back for the AMQP check
  await admin('PUT', '/api/vhosts/%2F');
  await admin('PUT', '/api/permissions/%2F/guest', { configure: '.*', write: '.*', read: '.*' });
  const conn = await amqplib.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('after-fuzz', { exclusive: true });
  ch.sendToQueue('after-fuzz', Buffer.from('ok'));
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await ch.get('after-fuzz', { noAck: true }) || null)?.content.toString(), 'ok', 'AMQP still works');
  await conn.close();
  await b.broker.definitionsSaved();
  const file = JSON.parse(readFileSync(join(b.config.dataDir, 'definitions.json'), 'utf8')) as Record<string, unknown>;
  t.ok(Array.isArray(file.vhosts) && Array.isArray(file.users) && Array.isArray(file.queues), 'the definitions file is whole');
  // and what it holds loads into a broker of its own
  const again = await withBroker(t, { httpPort: -1 });
  const posted = await api(again.httpUrl!)('POST', '/api/definitions', JSON.stringify(file));
  t.ok(posted.status === 200 || posted.status === 204, `the saved definitions import again (${posted.status} ${JSON.stringify(posted.json)?.slice(0, 200)})`);
});
