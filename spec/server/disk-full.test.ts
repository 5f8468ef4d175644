// A data dir on a file system that fills up (a small tmpfs, so this needs
// root): persistent messages whose log write fails with ENOSPC are nacked
// to their publisher, never silently dropped; once space returns, publishes
// are acked again, and after a restart exactly the acked messages are there.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import type { ConfirmChannel } from 'amqplib';
import { startBroker } from '../../lib/index.js';

function mountTmpfs(t: Test, size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Publish persistently; resolves true for basic.ack, false for basic.nack. */
function publish(ch: ConfirmChannel, body: Buffer): Promise<boolean> {
  return new Promise((resolve) => ch.sendToQueue('dq', body, { persistent: true }, (err) => resolve(!err)));
}

t.test('ENOSPC: nack, then ack once space returns; a restart has exactly the acked messages', { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' }, async (t) => {
  const mount = mountTmpfs(t, '4m');
  const dataDir = join(mount, 'data');
  // the disk alarm would block the publisher first: this test is about the write failing
  const first = await startBroker({ dataDir, diskFreeLimit: 0 });
  const conn = await amqplib.connect(first.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('dq', { durable: true });
  t.ok(await publish(ch, Buffer.from('before')), 'acked while there is room');
  const filler = join(mount, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
  } catch {
    // ENOSPC: the filler took what there was
  }
  t.notOk(await publish(ch, Buffer.alloc(256 * 1024, 1)), 'nacked when the log cannot write it');
  unlinkSync(filler);
  t.ok(await publish(ch, Buffer.from('after')), 'acked again once space returns');
  await conn.close();
  await first.close();

  const second = await startBroker({ dataDir, diskFreeLimit: 0 });
  t.teardown(() => second.close());
  const c2 = await amqplib.connect(second.url);
  const ch2 = await c2.createChannel();
  const got: string[] = [];
  for (let m = await ch2.get('dq', { noAck: true }); m; m = await ch2.get('dq', { noAck: true })) got.push(m.content.length > 100 ? 'the nacked one' : m.content.toString());
  t.same(got, ['before', 'after'], 'the nacked message was not stored');
  await c2.close();
});
