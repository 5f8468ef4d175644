// Tests for lib/server/publish-throttle.ts, RabbitMQ's control_throttle:
// a connection blocks on its first publish during an alarm, is told once,
// is unblocked when every alarm has cleared, and forgets the alarms on stop.
import t from 'tap';
import { PublishThrottle } from '../../lib/server/publish-throttle.js';
import type { ResourceAlarm } from '../../lib/server/publish-throttle.js';

class FakeAlarm implements ResourceAlarm {
  alarmed = false;
  readonly listeners = new Set<(alarmed: boolean) => void>();
  constructor(readonly resource: string) {}
  subscribe(listener: (alarmed: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(alarmed: boolean): void {
    this.alarmed = alarmed;
    for (const l of [...this.listeners]) l(alarmed);
  }
}

function throttle(): { throttle: PublishThrottle; calls: string[] } {
  const calls: string[] = [];
  const th = new PublishThrottle({
    block: () => calls.push('block'),
    unblock: () => calls.push('unblock'),
    sendBlocked: (reason) => calls.push(`blocked: ${reason}`),
    sendUnblocked: () => calls.push('unblocked'),
  });
  return { throttle: th, calls };
}

t.test('no alarm: publishing never blocks', async (t) => {
  const disk = new FakeAlarm('disk');
  const { throttle: th, calls } = throttle();
  th.start([disk], true);
  th.publishReceived();
  t.same(calls, []);
  t.equal(th.blocked, false);
});

t.test('an alarm alone blocks nobody; the first publish during it does', async (t) => {
  const disk = new FakeAlarm('disk');
  const { throttle: th, calls } = throttle();
  th.start([disk], true);
  disk.set(true);
  t.same(calls, [], 'a connection that does not publish keeps going (consumers drain queues)');
  th.publishReceived();
  t.same(calls, ['block', 'blocked: low on disk'], "RabbitMQ's reason");
  t.equal(th.blocked, true);
  th.publishReceived();
  t.same(calls, ['block', 'blocked: low on disk'], 'once');
  disk.set(false);
  t.same(calls, ['block', 'blocked: low on disk', 'unblocked', 'unblock']);
  t.equal(th.blocked, false);
  disk.set(true);
  t.equal(th.blocked, false, 'after unblocking, it takes a new publish to block again');
  th.publishReceived();
  t.equal(th.blocked, true);
});

t.test('an alarm already set at connection.open counts', async (t) => {
  const disk = new FakeAlarm('disk');
  disk.alarmed = true;
  const { throttle: th, calls } = throttle();
  th.start([disk], true);
  th.publishReceived();
  t.same(calls, ['block', 'blocked: low on disk']);
});

t.test('without the connection.blocked capability: blocked and unblocked, but not told', async (t) => {
  const disk = new FakeAlarm('disk');
  const { throttle: th, calls } = throttle();
  th.start([disk], false);
  disk.set(true);
  th.publishReceived();
  disk.set(false);
  t.same(calls, ['block', 'unblock']);
});

t.test('two alarms: one connection.blocked, unblocked only when both have cleared', async (t) => {
  const disk = new FakeAlarm('disk');
  const memory = new FakeAlarm('memory');
  const { throttle: th, calls } = throttle();
  th.start([memory, disk], true);
  memory.set(true);
  disk.set(true);
  th.publishReceived();
  t.same(calls, ['block', 'blocked: low on memory & disk']);
  memory.set(false);
  t.equal(th.blocked, true, 'still low on disk');
  memory.set(true);
  disk.set(false);
  t.same(calls, ['block', 'blocked: low on memory & disk'], 'no second connection.blocked');
  memory.set(false);
  t.same(calls, ['block', 'blocked: low on memory & disk', 'unblocked', 'unblock']);
});

t.test('stop() unsubscribes and reports whether it was blocked', async (t) => {
  const disk = new FakeAlarm('disk');
  const { throttle: th, calls } = throttle();
  th.start([disk], true);
  t.equal(disk.listeners.size, 1);
  disk.set(true);
  th.publishReceived();
  t.equal(th.stop(), true, 'was blocked');
  t.equal(disk.listeners.size, 0, 'no listener left behind');
  t.equal(th.blocked, false);
  disk.set(false);
  th.publishReceived();
  t.same(calls, ['block', 'blocked: low on disk'], 'nothing more after stop (no unblocked)');
  t.equal(th.stop(), false, 'a second stop is harmless');
});
