// The connection handshake over real TCP: protocol header, connection.start,
// SASL PLAIN and AMQPLAIN, tune negotiation, vhost access, and the ways
// each can fail, with the replies RabbitMQ gives.
import t from 'tap';
import type * as Tap from 'tap';
import { Method } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';
import { withBroker } from '../helpers/broker.js';
import { AMQP_HEADER, RawClient } from '../helpers/raw-client.js';

/** RabbitMQ closes a handshake it refuses without a word only after 3 s (SILENT_CLOSE_DELAY). */
async function expectSilentClose(t: Tap.Test, c: RawClient, what: string): Promise<void> {
  const sent = Date.now();
  const closedAt = await c.waitClosed(6000);
  t.ok(closedAt - sent >= 2800, `${what}: closed after ${closedAt - sent} ms (RabbitMQ: 3 s)`);
}

t.test('connection.start carries version, mechanisms and server properties', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  const { start, tune } = await c.handshake();
  t.equal(start.versionMajor, 0);
  t.equal(start.versionMinor, 9);
  t.equal(start.mechanisms.toString(), 'PLAIN AMQPLAIN');
  t.equal(start.locales.toString(), 'en_US');
  t.equal(start.serverProperties.product, 'warren');
  t.match(start.serverProperties.platform, /^Node\.js v\d+/);
  t.match(start.serverProperties.version, /^\d+\.\d+\.\d+/);
  t.same(start.serverProperties.capabilities, { publisher_confirms: true, exchange_exchange_bindings: true, 'basic.nack': true, consumer_cancel_notify: true, 'connection.blocked': true, consumer_priorities: true, authentication_failure_close: true, per_consumer_qos: true, direct_reply_to: true }, 'only what is implemented');
  t.same({ channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: tune.heartbeat }, { channelMax: 2047, frameMax: 131072, heartbeat: 60 });
  c.destroy();
});

t.test('the header may arrive one byte at a time', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  for (const byte of AMQP_HEADER) {
    c.send(Buffer.from([byte]));
    await new Promise((r) => setTimeout(r, 5));
  }
  await c.expectMethod(Method.ConnectionStart);
  c.destroy();
});

for (const [name, header] of [
  ['AMQP 0-9-0', Buffer.from('AMQP\x00\x00\x09\x00', 'latin1')],
  ['AMQP 0-8', Buffer.from('AMQP\x01\x01\x08\x00', 'latin1')],
  ['AMQP 1.0', Buffer.from('AMQP\x00\x01\x00\x00', 'latin1')],
  ['HTTP', Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1')],
] as const) {
  t.test(`a ${name} header gets the 0-9-1 header back and the socket closed`, async (t) => {
    const b = await withBroker(t);
    const c = await RawClient.connect(b.port);
    c.socket.write(header);
    await c.waitClosed();
    t.same(c.raw, AMQP_HEADER);
  });
}

t.test('AMQPLAIN logs in', async (t) => {
  const b = await withBroker(t);
  const w = new WireWriter();
  w.table({ LOGIN: 'guest', PASSWORD: 'guest' });
  const c = await RawClient.connect(b.port);
  await c.handshake({ mechanism: 'AMQPLAIN', response: w.take().subarray(4) });
  t.pass('connection.open-ok received');
  c.destroy();
});

t.test('a wrong password: 403 to clients that advertise authentication_failure_close', async (t) => {
  const b = await withBroker(t);
  for (const [user, password] of [['guest', 'wrong'], ['nobody', 'guest']]) {
    const c = await RawClient.connect(b.port);
    c.send(AMQP_HEADER);
    await c.expectMethod(Method.ConnectionStart);
    await c.login({ user, password });
    const close = await c.expectMethod(Method.ConnectionClose);
    t.equal(close.replyCode, 403);
    t.equal(close.replyText, 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.');
    await c.waitClosed();
  }
});

t.test('a wrong password: a silent close (after 3 s) for clients that do not', async (t) => {
  const b = await withBroker(t);
  const c = await RawClient.connect(b.port);
  c.send(AMQP_HEADER);
  await c.expectMethod(Method.ConnectionStart);
  await c.login({ password: 'wrong', capabilities: {} });
  await expectSilentClose(t, c, 'wrong password');
  t.equal(c.received.length, 1, 'nothing after connection.start');
});

t.test('an unknown SASL mechanism or a malformed response: a silent close after 3 s', async (t) => {
  const b = await withBroker(t);
  const cases = [{ mechanism: 'EXTERNAL' }, { response: Buffer.from('no nul bytes') }, { response: Buffer.from('admin\0guest\0guest') }];
  await Promise.all(cases.map(async (o) => {
    const c = await RawClient.connect(b.port);
    c.send(AMQP_HEADER);
    await c.expectMethod(Method.ConnectionStart);
    await c.login(o);
    await expectSilentClose(t, c, JSON.stringify(o));
    t.equal(c.received.length, 1, `${JSON.stringify(o)}: nothing after connection.start`);
  }));
});

t.test('tune-ok values outside what the server offered close the socket', async (t) => {
  const b = await withBroker(t);
  const cases = [
    { frameMax: 4095 },
    { frameMax: 0 },
    { frameMax: 131073 },
    { channelMax: 0 },
    { channelMax: 2048 },
  ];
  await Promise.all(cases.map(async (tuneOk) => {
    const c = await RawClient.connect(b.port);
    c.send(AMQP_HEADER);
    await c.expectMethod(Method.ConnectionStart);
    await c.login();
    const tune = await c.expectMethod(Method.ConnectionTune);
    c.sendMethod(0, { id: Method.ConnectionTuneOk, channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: 0, ...tuneOk });
    c.sendMethod(0, { id: Method.ConnectionOpen, virtualHost: '/' });
    await expectSilentClose(t, c, JSON.stringify(tuneOk));
    t.notOk(c.received.some((f) => f.method?.id === Method.ConnectionOpenOk), `${JSON.stringify(tuneOk)} refused`);
  }));
  const ok = await RawClient.connect(b.port);
  await ok.handshake({ frameMax: 4096, channelMax: 1 });
  t.pass('frame_max 4096 (old clients) and channel_max 1 accepted');
  ok.destroy();
});

t.test('connection.open of a missing vhost or one the user may not use: 530', async (t) => {
  const b = await withBroker(t, {
    vhosts: ['other'],
    users: [{ name: 'limited', password: 'pw', permissions: [{ vhost: 'other', configure: '.*', write: '.*', read: '.*' }] }],
  });
  const cases = [
    { user: 'guest', password: 'guest', vhost: 'nope', text: 'NOT_ALLOWED - vhost nope not found' },
    { user: 'limited', password: 'pw', vhost: '/', text: "NOT_ALLOWED - access to vhost '/' refused for user 'limited'" },
  ];
  for (const k of cases) {
    const c = await RawClient.connect(b.port);
    await t.rejects(c.handshake(k), 'no open-ok');
    const close = c.received.find((f) => f.method?.id === Method.ConnectionClose)?.method;
    t.match(close, { replyCode: 530, replyText: k.text, classId: 10, methodId: 40 });
    c.destroy();
  }
  const ok = await RawClient.connect(b.port);
  await ok.handshake({ user: 'limited', password: 'pw', vhost: 'other' });
  t.pass('the user opens the vhost it has permissions on');
  ok.destroy();
});

t.test('a handshake that stalls is dropped after handshake_timeout', async (t) => {
  const b = await withBroker(t, { handshakeTimeout: 1 });
  const silent = await RawClient.connect(b.port);
  const started = Date.now();
  const afterHeader = await RawClient.connect(b.port);
  afterHeader.send(AMQP_HEADER);
  await silent.waitClosed(3000);
  await afterHeader.waitClosed(3000);
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 900 && elapsed < 2500, `closed after ${elapsed} ms`);
  t.equal(afterHeader.received[0]?.method?.id, Method.ConnectionStart);
});
