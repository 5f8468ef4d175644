// queue.declare arguments of the wrong type or range are refused with 406
// and RabbitMQ 3.10's reply text (the error term it prints); the first bad
// one in RabbitMQ's order is reported; valid and unknown x- arguments are
// accepted. Every case was recorded from RabbitMQ 3.10.8:
//
//   tools/rabbitmq-scratch.sh start 26900 /tmp/rmq-conf
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:26900 npx tap conformance/queue-arguments.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq-conf
//
// amqplib writes a JS string as longstr, an integer in int32 range as a
// byte when it fits in one (else signedint or long), a fraction as double.
import t from 'tap';
import amqplib from 'amqplib';
import { brokerUnderTest, uniqueName } from './helpers/broker-under-test.js';
import { bounded, within } from './helpers/bounded.js';

const broker = await brokerUnderTest(t);
const conn = bounded(await amqplib.connect(broker.url), 'conn');
t.teardown(() => conn.close().catch(() => undefined));

/** Declare an exclusive queue with these arguments; resolves 'OK' or the reply text of the channel close. */
async function declare(args: Record<string, unknown>): Promise<string> {
  const ch = await conn.createChannel();
  const closed = new Promise<string>((resolve) => ch.on('error', (e: Error) => resolve(e.message)));
  const q = uniqueName('args');
  try {
    await within(ch.assertQueue(q, { exclusive: true, arguments: args }), 'queue.declare');
    await ch.close();
    return 'OK';
  } catch {
    const text = await within(closed, 'channel close');
    return text.replace(/^Channel closed by server: /, '').replaceAll(q, 'Q');
  }
}

const refused = (arg: string, term: string): string =>
  `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid arg '${arg}' for queue 'Q' in vhost '/': ${term}"`;

const CASES: [Record<string, unknown>, string][] = [
  [{ 'x-max-length': 'ten' }, refused('x-max-length', '"expected integer, got longstr"')],
  [{ 'x-max-length': -1 }, refused('x-max-length', '{value_negative,-1}')],
  [{ 'x-max-length': 1.5 }, refused('x-max-length', '"expected integer, got double"')],
  [{ 'x-max-length': true }, refused('x-max-length', '"expected integer, got bool"')],
  [{ 'x-max-length': { a: 1 } }, refused('x-max-length', '"expected integer, got table"')],
  [{ 'x-max-length': [1] }, refused('x-max-length', '"expected integer, got array"')],
  [{ 'x-max-length': 0 }, 'OK'],
  [{ 'x-max-length-bytes': -5 }, refused('x-max-length-bytes', '{value_negative,-5}')],
  [{ 'x-message-ttl': -1 }, refused('x-message-ttl', '{value_negative,-1}')],
  [{ 'x-message-ttl': 'x' }, refused('x-message-ttl', '"expected integer, got longstr"')],
  [{ 'x-message-ttl': 315360000000 }, 'OK'],
  [{ 'x-message-ttl': 315360000001 }, refused('x-message-ttl', '{value_too_large,315360000001}')],
  [{ 'x-expires': 0 }, refused('x-expires', '{value_zero,0}')],
  [{ 'x-expires': -3 }, refused('x-expires', '{value_negative,-3}')],
  [{ 'x-expires': 2 ** 40 }, refused('x-expires', '{value_too_large,1099511627776}')],
  [{ 'x-max-priority': 256 }, refused('x-max-priority', '{max_value_exceeded,256}')],
  [{ 'x-max-priority': -1 }, refused('x-max-priority', '{value_negative,-1}')],
  [{ 'x-max-priority': 'a' }, refused('x-max-priority', '"expected integer, got longstr"')],
  [{ 'x-max-priority': 255 }, 'OK'],
  [{ 'x-overflow': 'bogus' }, refused('x-overflow', 'invalid_overflow')],
  [{ 'x-overflow': 5 }, refused('x-overflow', '{unacceptable_type,byte}')],
  [{ 'x-overflow': 'reject-publish-dlx' }, 'OK'],
  [{ 'x-queue-mode': 'fast' }, refused('x-queue-mode', '"unsupported queue mode \'fast\'"')],
  [{ 'x-queue-mode': 'lazy' }, 'OK'],
  [{ 'x-single-active-consumer': 1 }, refused('x-single-active-consumer', '{unacceptable_type,byte}')],
  [{ 'x-single-active-consumer': true }, 'OK'],
  [{ 'x-dead-letter-exchange': 5 }, `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid type 'byte' for arg 'x-dead-letter-exchange' in queue 'Q' in vhost '/'"`],
  [{ 'x-dead-letter-routing-key': 'rk' }, refused('x-dead-letter-routing-key', 'routing_key_but_no_dlx_defined')],
  [{ 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 5 }, refused('x-dead-letter-routing-key', '{unacceptable_type,byte}')],
  [{ 'x-queue-type': 'stream2' }, refused('x-queue-type', '"unsupported queue type \'stream2\'"')],
  [{ 'x-queue-type': 'classic' }, 'OK'],
  [{ 'x-unknown': 'kept' }, 'OK'],
  // several bad arguments: the first in RabbitMQ's order is reported
  [{ 'x-max-length': -1, 'x-message-ttl': -1 }, refused('x-message-ttl', '{value_negative,-1}')],
  [{ 'x-max-priority': 300, 'x-expires': 0 }, refused('x-expires', '{value_zero,0}')],
  [{ 'x-overflow': 'x', 'x-max-length-bytes': -1 }, refused('x-max-length-bytes', '{value_negative,-1}')],
  [{ 'x-max-length': -1, 'x-dead-letter-exchange': 3 }, `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid type 'byte' for arg 'x-dead-letter-exchange' in queue 'Q' in vhost '/'"`],
];

t.test('queue.declare argument checks, as RabbitMQ 3.10', async (t) => {
  for (const [args, expected] of CASES) t.equal(await declare(args), expected, JSON.stringify(args));
});

t.test('a redeclare is not checked again, only compared', async (t) => {
  const ch = await conn.createChannel();
  const q = uniqueName('args.redeclare');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 10 } });
  const again = await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 10 } });
  t.equal(again.queue, q);
  await ch.close();
});
