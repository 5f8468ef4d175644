/**
 * The 8-byte protocol header a client opens with. Warren speaks AMQP 0-9-1;
 * like RabbitMQ it also takes the 0-9 header (`AMQP\x01\x01\x00\x09`), which
 * clients of that era send for what is wire-compatible with 0-9-1. Anything
 * else is answered with the header warren does speak and the socket closed.
 */

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
const LEGACY_0_9 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);

export type HeaderVerdict = { ok: true } | { ok: false; reason: string };

export function checkProtocolHeader(bytes: Buffer): HeaderVerdict {
  const head = bytes.subarray(0, 8);
  if (head.equals(PROTOCOL_HEADER) || head.equals(LEGACY_0_9)) return { ok: true };
  if (head.subarray(0, 4).toString('latin1') !== 'AMQP') {
    return { ok: false, reason: 'not an AMQP protocol header' };
  }
  return { ok: false, reason: `unsupported protocol version ${[...head.subarray(4)].join('.')}` };
}
