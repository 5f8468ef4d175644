// A queue beyond its memory budget: ready messages page out to disk and
// come back in order with their bytes, flags and message-log ids, also
// interleaved with requeues, gets and new publishes; purge and delete see
// the paged messages; a disk that refuses a page-out loses nothing.
import t from 'tap';
import type { Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Message } from '../../lib/broker/message.js';
import { Queue } from '../../lib/broker/queue.js';
import type { QueueJournal } from '../../lib/broker/queue.js';
import type { QueuePaging } from '../../lib/broker/queue-paging.js';
import type { QueueEntry } from '../../lib/broker/ready-list.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-paging-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function pagedQueue(t: Test, budgetBytes: number): { q: Queue; root: string; failures: unknown[] } {
  const root = tempDir(t);
  let n = 0;
  const failures: unknown[] = [];
  const paging: QueuePaging = { budgetBytes, newDir: () => join(root, String(++n)), failed: (_q, err) => failures.push(err) };
  const q = new Queue('q', '/', { durable: true, exclusive: false, autoDelete: false, arguments: {} }, null);
  q.paging = paging;
  return { q, root, failures };
}

/** Message i: body of a size that varies (up to past the 16 KiB copy limit), log id i for even i. */
function message(i: number): Message {
  const size = i % 50 === 0 ? 20_000 + i : 10 + ((i * 37) % 300);
  const body = Buffer.alloc(size, i % 256);
  body.write(`#${i}#`);
  const m = new Message('ex', `key-${i % 7}`, Buffer.from([0x10, 0x00, 2]), [body], size); // delivery-mode 2
  if (i % 2 === 0) m.logId = 1000 + i;
  return m;
}

function bodyOf(e: QueueEntry): Buffer {
  const m = e.message;
  if (m.bodyParts) return Buffer.concat(m.bodyParts);
  return m.data.subarray(m.offset + m.propertiesSize, m.offset + m.propertiesSize + m.bodySize);
}

function check(e: QueueEntry | undefined, i: number): void {
  if (!e) throw new Error(`message ${i} missing`);
  const want = message(i);
  const ok = bodyOf(e).equals(bodyOf({ message: want } as QueueEntry)) && e.message.routingKey === want.routingKey && e.message.exchange === 'ex'
    && e.message.logId === want.logId && e.message.decodedProperties().deliveryMode === 2;
  if (!ok) throw new Error(`message ${i}: got body ${bodyOf(e).subarray(0, 12).toString()} key ${e.message.routingKey} log id ${e.message.logId}`);
}

t.test('messages beyond the budget page out and come back in order, whole', async (t) => {
  const { q, root } = pagedQueue(t, 20_000);
  for (let i = 0; i < 2000; i++) q.enqueue(message(i));
  t.equal(q.messageCount, 2000);
  t.ok(q.pagedCount > 1900, `${q.pagedCount} of 2000 paged out`);
  t.ok(readdirSync(root).length === 1, 'the queue has its own directory');
  for (let i = 0; i < 2000; i++) check(q.get(true), i);
  t.equal(q.get(true), undefined);
  t.equal(q.messageCount, 0);
  t.same(readdirSync(join(root, '1')), [], 'no files left once drained');
});

t.test('requeues, gets and publishes interleaved keep the order', async (t) => {
  const { q } = pagedQueue(t, 5_000);
  const idOf = (e: QueueEntry): number => Number(/#(\d+)#/.exec(bodyOf(e).toString('latin1'))![1]);
  // the model: ready ids in delivery order (ids are publish order, and a requeue goes back by position)
  const model: number[] = [];
  const held: QueueEntry[] = [];
  let next = 0;
  let wrong = 0;
  let taken = 0;
  for (let round = 0; round < 300; round++) {
    for (let k = 0; k < 7; k++) {
      model.push(next);
      q.enqueue(message(next++));
    }
    for (let k = 0; k < 5; k++) {
      const e = q.get(false);
      const want = model.shift();
      if (!e || idOf(e) !== want) wrong++;
      if (e) {
        taken++;
        held.push(e);
      }
    }
    if (round % 3 === 0) {
      for (const e of held.splice(0, 3)) {
        const id = idOf(e);
        let at = 0;
        while (at < model.length && model[at]! < id) at++;
        model.splice(at, 0, id);
        q.requeue([e]);
      }
      for (const e of held.splice(0)) q.settle(e);
    }
  }
  t.ok(q.pagedCount > 0, `${q.pagedCount} paged at the end`);
  t.equal(wrong, 0, `each of ${taken} gets returned the oldest ready message`);
  t.equal(q.messageCount, model.length);
  for (const id of model) check(q.get(true), id);
});

t.test('purge and delete see the paged messages', async (t) => {
  const removed: number[] = [];
  const forgotten: number[] = [];
  const journal: QueueJournal = {
    removed: (_q, id) => removed.push(id),
    delivered: () => undefined,
    deleted: () => undefined,
    forgotten: (_q, id) => forgotten.push(id),
  };
  const a = pagedQueue(t, 3_000);
  a.q.journal = journal;
  for (let i = 0; i < 500; i++) a.q.enqueue(message(i));
  t.equal(a.q.purge(), 500, 'purge counts memory and paged messages');
  t.equal(removed.length, 250, 'a removal for each logged message, paged or not');
  t.equal(a.q.messageCount, 0);
  a.q.enqueue(message(2));
  check(a.q.get(true), 2);

  const b = pagedQueue(t, 3_000);
  b.q.journal = journal;
  for (let i = 0; i < 500; i++) b.q.enqueue(message(i));
  t.equal(b.q.close(), 500);
  t.equal(forgotten.length, 250, 'a deleted queue lets go of every logged message');
  t.notOk(existsSync(join(b.root, '1')), 'its directory is removed');
});

t.test('a page-out the disk refuses: the tail comes back into memory and the order holds', async (t) => {
  const { q, root, failures } = pagedQueue(t, 2_000);
  for (let i = 0; i < 100; i++) q.enqueue(message(i * 2 + 1)); // odd i: small bodies, no big ones
  t.ok(q.pagedCount > 0);
  // the fifo's next file is /dev/full: the writes that follow fail with ENOSPC
  const dir = join(root, '1');
  mkdirSync(dir, { recursive: true });
  const files = readdirSync(dir).sort();
  const last = files.length > 0 ? Number(files[files.length - 1]!.slice(0, 8)) : 0;
  for (let n = last + 1; n < last + 5; n++) symlinkSync('/dev/full', join(dir, `${String(n).padStart(8, '0')}.fifo`));
  for (let i = 100; i < 3000; i++) q.enqueue(message(i * 2 + 1));
  t.ok(failures.length > 0, `the failure was reported (${failures.length})`);
  t.equal(q.messageCount, 3000);
  for (let i = 0; i < 3000; i++) check(q.get(true), i * 2 + 1);
});
