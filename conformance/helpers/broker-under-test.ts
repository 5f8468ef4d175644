// The broker a conformance scenario runs against: bin/warren by default (a
// child process on a free port, stopped when the test ends), or whatever
// AMQP URL CONFORMANCE_AMQP_URL names. Pointing it at a scratch RabbitMQ
// (tools/rabbitmq-scratch.sh) checks that a scenario's expectations are what
// RabbitMQ really does before they are held against warren:
//
//   tools/rabbitmq-scratch.sh start 25700 /tmp/rmq
//   CONFORMANCE_AMQP_URL=amqp://guest:guest@127.0.0.1:25700 npx tap conformance/messaging-amqplib.test.ts
//   tools/rabbitmq-scratch.sh stop /tmp/rmq
import type { Test } from 'tap';
import { startWarren } from './warren-process.js';

export interface BrokerUnderTest {
  /** amqp://guest:guest@127.0.0.1:PORT (default vhost "/") */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** 'warren' or 'external' (CONFORMANCE_AMQP_URL) */
  readonly kind: 'warren' | 'external';
}

export async function brokerUnderTest(t: Test, args: string[] = []): Promise<BrokerUnderTest> {
  const external = process.env.CONFORMANCE_AMQP_URL;
  if (external) {
    const u = new URL(external);
    return { url: external, host: u.hostname, port: Number(u.port || 5672), kind: 'external' };
  }
  const w = await startWarren(t, { args });
  return { url: w.url, host: '127.0.0.1', port: w.port, kind: 'warren' };
}

/** A name no other run of the same scenario uses (RabbitMQ keeps state between runs). */
export function uniqueName(prefix: string): string {
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}
