// Reading a queue's contents in amqplib scenarios: publishes reach queues
// asynchronously in RabbitMQ, so wait (bounded) until the queue reports the
// expected count, then take everything with basic.get no-ack.
import type { Channel } from 'amqplib';
import { sleep } from './bounded.js';

export async function bodiesOnceCounted(ch: Channel, queue: string, expected: number, ms = 2000): Promise<string[]> {
  const deadline = Date.now() + ms;
  while ((await ch.checkQueue(queue)).messageCount < expected && Date.now() < deadline) await sleep(10);
  const out: string[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) out.push(m.content.toString());
  return out;
}

/** The ids found more than once in what was read back from a queue (each extra occurrence listed). */
export function heldTwice(read: readonly { id: string }[]): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const { id } of read) {
    if (seen.has(id)) twice.push(id);
    seen.add(id);
  }
  return twice;
}
