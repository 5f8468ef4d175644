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
