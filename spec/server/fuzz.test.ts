// Whatever bytes a client sends, the broker answers or closes that one
// connection and carries on: random frames, random methods with random
// arguments, and raw garbage, over many connections at once.
import t from 'tap';
import { METHOD_INFO } from '../../lib/amqp/generated/methods.js';
import { withBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function randomBytes(r: (n: number) => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r(256);
  return b;
}

t.test('random input never crashes the broker or disturbs other clients', async (t) => {
  const b = await withBroker(t);
  const bystander = await RawClient.connect(b.port);
  await bystander.handshake();
  await bystander.openChannel(1);
  const methodIds = [...METHOD_INFO.keys()];

  const fuzzOne = async (seed: number): Promise<void> => {
    const r = rng(seed);
    const c = await RawClient.connect(b.port);
    const mode = seed % 4;
    if (mode === 0) {
      c.send(randomBytes(r, 1 + r(64))); // garbage instead of a header
    } else {
      await c.handshake().catch(() => undefined);
      if (!c.closed) await c.openChannel(1).catch(() => undefined);
      for (let i = 0; i < 20 && !c.closed; i++) {
        const pick = r(5);
        const channel = r(3);
        if (pick === 0) c.send(randomBytes(r, 1 + r(40)));
        else if (pick === 1) c.sendFrame(1 + r(9), channel, randomBytes(r, r(30)), r(4) === 0 ? r(256) : 0xce);
        else {
          const id = methodIds[r(methodIds.length)]!;
          const head = Buffer.alloc(4);
          head.writeUInt32BE(id);
          c.sendFrame(1, channel, Buffer.concat([head, randomBytes(r, r(24))]));
        }
      }
    }
    await c.waitClosed(1500).catch(() => undefined);
    c.destroy();
  };

  for (let round = 0; round < 10; round++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => fuzzOne(round * 100 + i + 1)));
  }
  // the bystander's connection is untouched, and new connections work
  bystander.sendMethod(1, { id: 0x00140014, active: true });
  const ok = await bystander.expectMethod(0x00140015);
  t.equal(ok.active, true, 'bystander still served');
  const fresh = await RawClient.connect(b.port);
  await fresh.handshake();
  t.pass('a fresh connection completes its handshake');
  fresh.destroy();
  bystander.destroy();
});
