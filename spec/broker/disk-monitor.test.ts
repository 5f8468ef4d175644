// Tests for lib/broker/disk-monitor.ts: the free disk space alarm sets and
// clears against the limit, tells its listeners, logs as RabbitMQ does,
// follows setLimit at once, keeps checking on its own, and stops.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DiskMonitor, statfsFreeSpace } from '../../lib/broker/disk-monitor.js';
import { createLogger } from '../../lib/log.js';
import { waitFor } from '../helpers/wait-for.js';

interface LogLine {
  level: number;
  msg: string;
  free?: number;
  limit?: number;
}

function collector(): { stream: Writable; lines: () => LogLine[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = (): LogLine[] => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogLine);
  return { stream, lines };
}

/** A monitor whose "free space" is whatever the test sets. */
function fakeDisk(t: Test, limit: number, free: number): { monitor: DiskMonitor; disk: { free: number; probes: number; fail: boolean }; log: () => LogLine[] } {
  const disk = { free, probes: 0, fail: false };
  const { stream, lines } = collector();
  const monitor = new DiskMonitor({
    dir: '/fake',
    limit,
    logger: createLogger('info', stream),
    probe: async () => {
      disk.probes++;
      if (disk.fail) throw new Error('statfs failed');
      return disk.free;
    },
  });
  t.teardown(() => monitor.stop());
  return { monitor, disk, log: lines };
}
t.test('the alarm is set while free space is below the limit, and cleared above it', async (t) => {
  const { monitor, disk, log } = fakeDisk(t, 1000, 999);
  const seen: boolean[] = [];
  monitor.subscribe((alarmed) => seen.push(alarmed));
  await monitor.start();
  t.equal(monitor.alarmed, true, '999 free < 1000 limit');
  t.equal(monitor.free, 999);
  t.same(seen, [true], 'listener told once');
  const warn = log().find((l) => l.level === 40);
  t.match(warn, { msg: /free disk space is below the limit/, free: 999, limit: 1000 }, 'warn with free and limit');

  disk.free = 1000;
  await monitor.check();
  t.equal(monitor.alarmed, false, 'free == limit is enough (RabbitMQ alarms on free < limit)');
  t.same(seen, [true, false]);
  const info = log().filter((l) => l.level === 30).at(-1);
  t.match(info, { msg: /free disk space is above the limit again/, free: 1000, limit: 1000 }, 'info when it clears');

  await monitor.check();
  t.same(seen, [true, false], 'no news, no call');
});

t.test('setLimit applies at once, takes units, and refuses nonsense', async (t) => {
  const { monitor } = fakeDisk(t, 0, 5_000_000);
  await monitor.start();
  t.equal(monitor.alarmed, false);
  await monitor.setLimit('6MB');
  t.equal(monitor.limit, 6_000_000);
  t.equal(monitor.alarmed, true, 'checked right away against the new limit');
  await monitor.setLimit('4MiB');
  t.equal(monitor.limit, 4 * 1024 * 1024);
  t.equal(monitor.alarmed, false);
  await monitor.setLimit(5_000_001);
  t.equal(monitor.alarmed, true);
  t.throws(() => monitor.setLimit(-1), RangeError);
  t.throws(() => monitor.setLimit('lots'), RangeError);
  t.throws(() => monitor.setLimit(1.5), RangeError);
  t.equal(monitor.limit, 5_000_001, 'a refused limit changes nothing');
});

t.test('a limit of 0 never alarms, even on a full disk', async (t) => {
  const { monitor } = fakeDisk(t, 0, 0);
  await monitor.start();
  t.equal(monitor.alarmed, false);
});

t.test('unsubscribing removes the listener', async (t) => {
  const { monitor, disk } = fakeDisk(t, 1000, 2000);
  const calls: boolean[] = [];
  const off = monitor.subscribe((a) => calls.push(a));
  const other = monitor.subscribe(() => undefined);
  t.equal(monitor.listenerCount, 2);
  off();
  off();
  t.equal(monitor.listenerCount, 1, 'unsubscribing twice is harmless');
  disk.free = 10;
  await monitor.check();
  t.same(calls, [], 'an unsubscribed listener is not called');
  other();
  t.equal(monitor.listenerCount, 0);
});

t.test('a listener that throws does not stop the others or later checks', async (t) => {
  const { monitor, disk, log } = fakeDisk(t, 1000, 2000);
  const calls: boolean[] = [];
  monitor.subscribe(() => {
    throw new Error('bug');
  });
  monitor.subscribe((a) => calls.push(a));
  disk.free = 10;
  await monitor.check();
  disk.free = 5000;
  await monitor.check();
  t.same(calls, [true, false]);
  t.ok(log().some((l) => l.level === 50 && /listener failed/.test(l.msg)), 'the failure is logged');
});

t.test('it keeps checking on its own, sooner when close to the limit', async (t) => {
  // 1000 bytes of headroom at RabbitMQ's assumed 250 MB/s: the shortest interval, 100 ms
  const { monitor, disk } = fakeDisk(t, 1000, 2000);
  await monitor.start();
  t.equal(monitor.alarmed, false);
  disk.free = 500;
  t.ok(await waitFor(() => monitor.alarmed, 5000), 'the alarm set without anyone calling check()');
  const probes = disk.probes;
  monitor.stop();
  await new Promise((r) => setTimeout(r, 400));
  t.equal(disk.probes, probes, 'no checks after stop()');
  t.equal(monitor.listenerCount, 0);
});

t.test('when free space cannot be measured the alarm stays as it was, logged once', async (t) => {
  const { monitor, disk, log } = fakeDisk(t, 1000, 10);
  await monitor.start();
  t.equal(monitor.alarmed, true);
  disk.fail = true;
  await monitor.check();
  await monitor.check();
  t.equal(monitor.alarmed, true, 'unchanged');
  t.equal(log().filter((l) => /cannot measure free disk space/.test(l.msg)).length, 1, 'warned once');
  disk.fail = false;
  disk.free = 5000;
  await monitor.check();
  t.equal(monitor.alarmed, false, 'back to normal once it can measure again');
});

t.test('statfs: the free space of a real directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-disk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const free = await statfsFreeSpace(dir);
  t.ok(Number.isSafeInteger(free) && free > 0, `a positive byte count (${free})`);
  const { stream } = collector();
  const monitor = new DiskMonitor({ dir, limit: 2 ** 52, logger: createLogger('silent', stream) });
  t.teardown(() => monitor.stop());
  await monitor.start();
  t.equal(monitor.alarmed, true, 'no disk here has 4 PiB free');
  await monitor.setLimit(0);
  t.equal(monitor.alarmed, false);
});
