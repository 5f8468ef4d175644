// /api/connections, /api/channels and /api/consumers over real HTTP against
// an in-process broker with amqplib clients: RabbitMQ's names
// ("127.0.0.1:54321 -> 127.0.0.1:5672", "... (1)") and fields, DELETE
// closing a connection with 320 CONNECTION_FORCED, who sees which
// connection (management: its own; monitoring: all), 403 and 404 cases.
//
// Fields compared with RabbitMQ 3.10.8's answers (a scratch node with an
// amqplib client): warren omits, for a connection, recv_oct / send_oct /
// recv_cnt / send_cnt / send_pend and their rates, garbage_collection,
// reductions, the ssl_* and peer_cert_* fields, and auth_mechanism until
// the handshake records it; for a channel, messages_unconfirmed,
// messages_uncommitted, acks_uncommitted, idle_since, pending_raft_commands,
// garbage_collection, reductions; consumers' arguments keep x-priority only.
import t from 'tap';
import amqplib from 'amqplib';
import { withBroker } from '../helpers/broker.js';
import { api, closedWith, enc } from './admin-call.js';

const NAME = /^127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:(\d+)$/;

t.test('connections, channels and consumers with RabbitMQ\'s names and fields', async (t) => {
  const b = await withBroker(t, { httpPort: -1, heartbeat: 30 });
  const call = api(b.httpUrl!);
  const conn = await amqplib.connect(b.url, { clientProperties: { connection_name: 'orders-service' } });
  t.teardown(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  await ch.prefetch(7);
  await ch.assertQueue('work');
  const { consumerTag } = await ch.consume('work', () => undefined, { arguments: { 'x-priority': 3 } });
  const confirm = await conn.createConfirmChannel();
  await confirm.prefetch(5, true);

  const list = (await call('GET', '/api/connections')).json;
  t.equal(list.length, 1);
  const c = list[0];
  const [, peerPort, port] = NAME.exec(c.name) ?? [];
  t.ok(peerPort, `name ${c.name}`);
  t.match(c, {
    user: 'guest', user_who_performed_action: 'guest', vhost: '/', type: 'network', protocol: 'AMQP 0-9-1', ssl: false,
    host: '127.0.0.1', port: Number(port), peer_host: '127.0.0.1', peer_port: Number(peerPort), state: 'running',
    channels: 2, timeout: 30, frame_max: 131072, channel_max: 2047, user_provided_name: 'orders-service',
    client_properties: { product: 'amqplib', connection_name: 'orders-service', capabilities: { publisher_confirms: true } },
  });
  t.equal(port, String(b.port));
  t.ok(Math.abs(c.connected_at - Date.now()) < 10_000, 'connected_at in ms');
  t.match(c.node, /^warren@/);
  t.same((await call('GET', `/api/connections/${enc(c.name)}`)).json, c);
  t.same((await call('GET', '/api/vhosts/%2F/connections')).json, [c]);

  const channels = (await call('GET', `/api/connections/${enc(c.name)}/channels`)).json;
  t.same(channels.map((x: { name: string }) => x.name), [`${c.name} (1)`, `${c.name} (2)`]);
  t.match(channels[0], {
    number: 1, user: 'guest', vhost: '/', connection_details: { name: c.name, peer_host: '127.0.0.1', peer_port: Number(peerPort) },
    consumer_count: 1, messages_unacknowledged: 0, prefetch_count: 7, global_prefetch_count: 0, confirm: false, transactional: false, state: 'running',
  });
  t.match(channels[1], { number: 2, consumer_count: 0, prefetch_count: 0, global_prefetch_count: 5, confirm: true });
  t.same((await call('GET', '/api/channels')).json, channels);
  t.same((await call('GET', '/api/vhosts/%2F/channels')).json, channels);

  const consumer = {
    consumer_tag: consumerTag, queue: { name: 'work', vhost: '/' },
    channel_details: { name: `${c.name} (1)`, number: 1, user: 'guest', connection_name: c.name, peer_host: '127.0.0.1', peer_port: Number(peerPort) },
    ack_required: true, prefetch_count: 7, exclusive: false, arguments: { 'x-priority': 3 }, active: true, activity_status: 'up',
  };
  const consumers = (await call('GET', '/api/consumers')).json;
  t.match(consumers, [consumer]);
  t.same((await call('GET', '/api/consumers/%2F')).json, consumers);
  const one = (await call('GET', `/api/channels/${enc(`${c.name} (1)`)}`)).json;
  t.match(one, { ...channels[0], consumer_details: [consumer] });

  // an unacknowledged delivery is counted
  ch.sendToQueue('work', Buffer.from('x'));
  await new Promise((r) => setTimeout(r, 100));
  t.match((await call('GET', `/api/channels/${enc(`${c.name} (1)`)}`)).json, { messages_unacknowledged: 1 });

  for (const path of ['/api/connections/nope', '/api/connections/nope/channels', '/api/channels/nope', '/api/consumers/novhost', '/api/vhosts/novhost/connections', '/api/vhosts/novhost/channels']) {
    const r = await call('GET', path);
    t.equal(r.status, 404, path);
    t.same(r.json, { error: 'Object Not Found', reason: 'Not Found' });
  }
});

t.test('DELETE closes the connection with 320 "Closed via management plugin"', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  const conn = await amqplib.connect(b.url);
  const closed = closedWith(conn);
  const [c] = (await call('GET', '/api/connections')).json;
  t.equal((await call('DELETE', `/api/connections/${enc(c.name)}`)).status, 204);
  const err = await closed;
  t.equal(err.code, 320);
  t.match(err.message, /CONNECTION_FORCED - Closed via management plugin/);
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await call('GET', `/api/connections/${enc(c.name)}`)).status, 404);
  t.equal((await call('DELETE', `/api/connections/${enc(c.name)}`)).status, 404);
});

t.test('the X-Reason header gives the close text', async (t) => {
  const b = await withBroker(t, { httpPort: -1 });
  const call = api(b.httpUrl!);
  const conn = await amqplib.connect(b.url);
  const closed = closedWith(conn);
  const [c] = (await call('GET', '/api/connections')).json;
  await call('DELETE', `/api/connections/${enc(c.name)}`, undefined, { 'x-reason': 'maintenance' });
  t.match((await closed).message, /CONNECTION_FORCED - maintenance/);
});

t.test('management users see and close their own connections; monitoring sees all', async (t) => {
  const perm = [{ vhost: '/', configure: '.*', write: '.*', read: '.*' }];
  const b = await withBroker(t, {
    httpPort: -1,
    vhosts: ['private'],
    users: [
      { name: 'mgr', password: 'mgr', tags: ['management'], permissions: perm },
      { name: 'mon', password: 'mon', tags: ['monitoring'] },
      { name: 'plain', password: 'plain', tags: [], permissions: perm },
    ],
  });
  const admin = api(b.httpUrl!);
  const mgr = api(b.httpUrl!, 'mgr:mgr');
  const mon = api(b.httpUrl!, 'mon:mon');
  const guestConn = await amqplib.connect(b.url);
  t.teardown(() => guestConn.close().catch(() => undefined));
  await (await guestConn.createChannel()).assertQueue('q');
  const mgrConn = await amqplib.connect(`amqp://mgr:mgr@127.0.0.1:${b.port}`);
  const mgrCh = await mgrConn.createChannel();
  await mgrCh.consume('q', () => undefined);
  const all = (await admin('GET', '/api/connections')).json as { name: string; user: string }[];
  t.equal(all.length, 2);
  const guestName = all.find((c) => c.user === 'guest')!.name;
  const mgrName = all.find((c) => c.user === 'mgr')!.name;

  t.same((await mgr('GET', '/api/connections')).json.map((c: { user: string }) => c.user), ['mgr']);
  t.same((await mgr('GET', '/api/vhosts/%2F/connections')).json.map((c: { user: string }) => c.user), ['mgr']);
  t.same((await mgr('GET', '/api/channels')).json.map((c: { user: string }) => c.user), ['mgr']);
  t.same((await mgr('GET', '/api/consumers')).json.map((c: { channel_details: { user: string } }) => c.channel_details.user), ['mgr']);
  t.equal((await mon('GET', '/api/connections')).json.length, 2);
  const notYours = { error: 'not_authorised', reason: 'User not authorised to access object' };
  for (const [method, path] of [['GET', `/api/connections/${enc(guestName)}`], ['DELETE', `/api/connections/${enc(guestName)}`], ['GET', `/api/channels/${enc(`${guestName} (1)`)}`], ['GET', `/api/connections/${enc(guestName)}/channels`]] as const) {
    const r = await mgr(method, path);
    t.equal(r.status, 403, `${method} ${path}`);
    t.same(r.json, notYours);
  }
  t.same((await mgr('GET', '/api/vhosts/private/connections')).json, { error: 'not_authorised', reason: 'User not authorised to access virtual host' });
  t.equal((await mon('GET', '/api/vhosts/private/connections')).status, 200);
  t.equal((await api(b.httpUrl!, 'plain:plain')('GET', '/api/connections')).status, 403, 'no tag: no API');
  // a management user may close its own connection
  const closed = closedWith(mgrConn);
  t.equal((await mgr('DELETE', `/api/connections/${enc(mgrName)}`)).status, 204);
  t.equal((await closed).code, 320);
  t.equal(b.broker.vhosts.get('/')!.queues.get('q')!.consumerCount, 0, 'its consumer is gone');
});
