// The 14 basic properties in content header frames, checked against amqplib's codec.
import t from 'tap';
import { createRequire } from 'node:module';
import { decodeProperties, readHeaderPrefix } from '../../lib/amqp/content-header.js';
import { writeHeaderFrame } from '../../lib/amqp/frame-writer.js';
import type { BasicProperties } from '../../lib/amqp/generated/properties.js';
import { WireDecodeError } from '../../lib/amqp/wire-errors.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';

const require = createRequire(import.meta.url);
const amqplibDefs = require('../../node_modules/amqplib/lib/defs.js') as {
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  decode(id: number, buf: Buffer): Record<string, unknown>;
};

const ALL: Required<BasicProperties> = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: { 'x-retries': 'three', nested: { ok: true } },
  deliveryMode: 2,
  priority: 9,
  correlationId: 'corr-1',
  replyTo: 'amq.rabbitmq.reply-to',
  expiration: '60000',
  messageId: 'msg-1',
  timestamp: 1_700_000_000,
  type: 'order.created',
  userId: 'guest',
  appId: 'warren-tests',
  clusterId: 'c1',
};

function headerFrame(props: BasicProperties, size: number): Buffer {
  const w = new WireWriter();
  writeHeaderFrame(w, 3, 60, size, props);
  return w.take();
}

t.test('all 14 properties: same bytes as amqplib, and back', async (t) => {
  const frame = headerFrame(ALL, 123456789012);
  t.same(frame, amqplibDefs.encodeProperties(60, 3, 123456789012, ALL as unknown as Record<string, unknown>));
  const payload = frame.subarray(7, frame.length - 1);
  t.same(readHeaderPrefix(payload, 0, payload.length), { classId: 60, weight: 0, bodySize: 123456789012 });
  t.same(decodeProperties(payload.subarray(12)), ALL);
});

t.test('every single property alone, and none', async (t) => {
  t.same(decodeProperties(headerFrame({}, 0).subarray(19, -1)), {});
  for (const [key, value] of Object.entries(ALL)) {
    const props = { [key]: value } as BasicProperties;
    const frame = headerFrame(props, 5);
    t.same(frame, amqplibDefs.encodeProperties(60, 3, 5, props as Record<string, unknown>), `${key} encodes as amqplib does`);
    t.same(decodeProperties(frame.subarray(19, -1)), props, `${key} round trips`);
  }
});

t.test('amqplib-encoded headers decode here', async (t) => {
  const props = { contentType: 'text/plain', deliveryMode: 1, headers: { a: 'b', list: ['x', 'y'] }, priority: 0 };
  const frame = amqplibDefs.encodeProperties(60, 1, 0, props);
  t.same(decodeProperties(frame.subarray(19, -1)), props);
});

t.test('malformed properties are WireDecodeError', async (t) => {
  t.throws(() => decodeProperties(Buffer.from([0x80, 0x00])), WireDecodeError, 'flag set, value missing');
  t.throws(() => decodeProperties(Buffer.from([0x00, 0x01, 0x00, 0x00])), WireDecodeError, 'continuation flag');
  t.throws(() => decodeProperties(Buffer.from([0x00, 0x00, 0x42])), WireDecodeError, 'trailing bytes');
  t.throws(() => readHeaderPrefix(Buffer.alloc(5), 0, 5), WireDecodeError, 'header shorter than its fixed fields');
});
