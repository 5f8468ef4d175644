// The message log when the disk refuses a write: the batch's publishes fail
// (their publishers get basic.nack), nothing half-written stays in the
// segment, the batch's queue events are written by the next commit, and the
// log goes on once space returns. ENOSPC for real: a segment that is a
// symlink to /dev/full, and (as root) a full tmpfs.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { MessageLog, RecordType } from '../../lib/store/message-log.js';
import { recoverMessageLog } from '../../lib/store/message-recovery.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-logfail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const props = Buffer.from([0, 0]);

/** Publish one message to queue q; resolves with the write's error (null once it is on disk). */
function publish(log: MessageLog, bodySize: number): { id: number; done: Promise<Error | null> } {
  const id = log.newMessageId();
  const body = Buffer.alloc(bodySize, 0x61);
  const done = new Promise<Error | null>((resolve) => {
    log.appendPublish({ messageId: id, vhost: '/', queues: ['q'], exchange: '', routingKey: 'q', data: props, offset: 0, propertiesSize: 2, body, bodySize }, resolve);
  });
  return { id, done };
}

function recovered(dir: string): [number, boolean][] {
  return [...recoverMessageLog(dir, silentLogger()).messages()].map((m) => [m.id, m.queues.get('q')!]);
}

t.test('a segment that cannot be written or cut back: publishes fail, the log moves to a new segment', async (t) => {
  const dir = tempDir(t);
  const log = new MessageLog(dir, { segments: [], lastMessageId: 0 }, { segmentBytes: 1024, logger: silentLogger() });
  const p1 = publish(log, 900);
  t.equal(await p1.done, null, 'the first publish reaches segment 1');
  symlinkSync('/dev/full', join(dir, '00000002.wlog')); // the next segment: every write gets ENOSPC
  log.appendQueueEvent(RecordType.Delivered, p1.id, '/', 'q');
  const p2 = publish(log, 900);
  const err = await p2.done;
  t.equal((err as NodeJS.ErrnoException | null)?.code, 'ENOSPC', 'the publish in the failed batch gets the error');
  const p3 = publish(log, 10);
  t.equal(await p3.done, null, 'the next commit goes to a new segment and succeeds');
  await new Promise((r) => setTimeout(r, 20));
  log.close();
  unlinkSync(join(dir, '00000002.wlog'));
  t.same(readdirSync(dir).sort(), ['00000001.wlog', '00000003.wlog']);
  t.same(recovered(dir), [[p1.id, true], [p3.id, false]], 'the failed batch\'s delivery record was written later; its publish is not there');
});

/** Mount a tmpfs of `size` at a new dir (unmounted at the end of t); null when this process may not mount. */
function tmpfs(t: Test, size: string): string | null {
  const dir = tempDir(t);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  t.teardown(() => execFileSync('umount', [dir]));
  return dir;
}

const canMount = process.getuid?.() === 0;

t.test('ENOSPC on a full tmpfs: refused publishes leave no bytes behind, the log resumes when space returns', { skip: canMount ? false : 'mounting a tmpfs needs root' }, async (t) => {
  const mount = tmpfs(t, '256k');
  if (!mount) throw new Error('mount -t tmpfs failed although running as root');
  const dir = join(mount, 'messages');
  mkdirSync(dir);
  const log = new MessageLog(dir, { segments: [], lastMessageId: 0 }, { logger: silentLogger() });
  const a = publish(log, 1000);
  t.equal(await a.done, null);
  const segment = join(dir, '00000001.wlog');
  const intact = statSync(segment).size;
  // fill the file system, leaving less than the next batch needs
  const filler = join(mount, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(256 * 1024));
  } catch {
    // ENOSPC: the filler took what there was
  }
  log.appendQueueEvent(RecordType.Remove, a.id, '/', 'q');
  const refused = [publish(log, 20_000), publish(log, 20_000)];
  for (const r of refused) t.equal(((await r.done) as NodeJS.ErrnoException | null)?.code, 'ENOSPC', 'refused: ENOSPC');
  t.equal(statSync(segment).size, intact, 'the segment was cut back to its last whole batch');
  unlinkSync(filler);
  const b = publish(log, 1000);
  t.equal(await b.done, null, 'accepted again once space returns');
  await new Promise((r) => setTimeout(r, 20));
  log.close();
  t.same(recovered(dir), [[b.id, false]], 'the removal from the refused batch was kept and written; refused publishes are absent');
});
