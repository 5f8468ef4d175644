// The message log's records read back: publishes, removals, deliveries and
// queue deletions replay into what each queue still holds; damage costs
// only what it touches.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { MessageLog, RecordType } from '../../lib/store/message-log.js';
import { recoverMessageLog } from '../../lib/store/message-recovery.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}


const props = Buffer.from([0, 0]);

/** Open the log as the broker does (after recovering what is there), run fn, close it. */
async function write(dir: string, fn: (log: MessageLog, publish: (id: number, queues: string[]) => Promise<void>) => Promise<void>): Promise<void> {
  const log = new MessageLog(dir, recoverMessageLog(dir, silentLogger()));
  const publish = (id: number, queues: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = Buffer.from(`body-${id}`);
      log.appendPublish({ messageId: id, vhost: '/', queues, exchange: '', routingKey: queues[0]!, data: props, offset: 0, propertiesSize: 2, body, bodySize: body.length }, (err) => (err ? reject(err) : resolve()));
    });
  await fn(log, publish);
  await new Promise((r) => setTimeout(r, 50)); // queue events ride the next commit
  log.close();
}

t.test('replay: removals, deliveries, queue deletion and recreation', async (t) => {
  const dir = tempDir(t);
  await write(dir, async (log, publish) => {
    await publish(1, ['a', 'b']);
    await publish(2, ['a']);
    await publish(3, ['b']);
    log.appendQueueEvent(RecordType.Remove, 1, '/', 'a');
    log.appendQueueEvent(RecordType.Delivered, 2, '/', 'a');
    log.appendQueueEvent(RecordType.QueueDeleted, 0, '/', 'b'); // 1 and 3 leave b
    await publish(4, ['b']); // b declared again: only what comes after counts
  });
  const r = recoverMessageLog(dir, silentLogger());
  t.same([...r.messages()].map((m) => [m.id, [...m.queues], m.body.toString()]), [
    [2, [['a', true]], 'body-2'],
    [4, [['b', false]], 'body-4'],
  ]);
  t.equal(r.lastMessageId, 4);
  t.same(r.segments, [{ n: 1, firstId: 1, lastId: 4, publishes: 4, bytes: readFileSync(join(dir, '00000001.wlog')).length }]);

  // a second run appends to a new segment and continues the ids
  await write(dir, async (log, publish) => {
    log.appendQueueEvent(RecordType.Remove, 2, '/', 'a');
    await publish(5, ['a']);
  });
  const r2 = recoverMessageLog(dir, silentLogger());
  t.same(readdirSync(dir).sort(), ['00000001.wlog', '00000002.wlog']);
  t.same([...r2.messages()].map((m) => m.id), [4, 5], 'removal recorded in a later segment applies to an earlier publish');
});

t.test('a corrupt record in an earlier segment costs the rest of that segment only', async (t) => {
  const dir = tempDir(t);
  await write(dir, async (_log, publish) => {
    await publish(1, ['q']);
    await publish(2, ['q']);
  });
  await write(dir, async (_log, publish) => {
    await publish(3, ['q']);
  });
  const first = join(dir, '00000001.wlog');
  const bytes = readFileSync(first);
  const secondRecord = bytes.readUInt32BE(0) + 8;
  bytes[secondRecord + 12] ^= 0xff; // flip a byte inside record 2's payload
  writeFileSync(first, bytes);
  const r = recoverMessageLog(dir, silentLogger());
  t.same([...r.messages()].map((m) => m.id), [1, 3], 'record 2 is lost, records before it and later segments are kept');
  t.equal(readFileSync(first).length, bytes.length, 'an earlier segment is not truncated');
});

t.test('records that make the batch move to a new buffer mid-record are sealed whole', async (t) => {
  // shortstr makes room for 3 bytes a character: near the end of the batch buffer that moves the
  // record being written; a checksum written at the old position left a record that recovery refused
  const dir = tempDir(t);
  const log = new MessageLog(dir, recoverMessageLog(dir, silentLogger()));
  const waits: Promise<Error | null>[] = [];
  const n = 6000;
  for (let i = 0; i < n; i++) {
    const id = log.newMessageId();
    const body = Buffer.from(`m${i}`);
    waits.push(new Promise((resolve) => log.appendPublish({ messageId: id, vhost: '/', queues: ['a-queue-name'], exchange: 'an.exchange.name', routingKey: `key.${i % 97}`, data: props, offset: 0, propertiesSize: 2, body, bodySize: body.length }, resolve)));
    log.appendQueueEvent(RecordType.Delivered, id, '/', 'a-queue-name');
    if (i % 400 === 399) await Promise.all(waits);
  }
  const errors = (await Promise.all(waits)).filter((e) => e !== null);
  t.equal(errors.length, 0);
  log.close();
  const warnings: string[] = [];
  const logger = { ...silentLogger(), warn: (_o: unknown, m: string) => warnings.push(m), error: (_o: unknown, m: string) => warnings.push(m) } as unknown as ReturnType<typeof silentLogger>;
  const r = recoverMessageLog(dir, logger);
  t.equal([...r.messages()].length, n, 'every record comes back');
  t.ok([...r.messages()].every((m) => m.queues.get('a-queue-name') === true), 'with its delivery record');
  t.same(warnings, [], 'no damage found');
});

t.test('a corrupt record followed by intact ones costs only that record, even in the last segment', async (t) => {
  const dir = tempDir(t);
  await write(dir, async (_log, publish) => {
    for (let id = 1; id <= 5; id++) await publish(id, ['q']);
  });
  const file = join(dir, '00000001.wlog');
  const bytes = readFileSync(file);
  const second = bytes.readUInt32BE(0) + 8;
  bytes[second + 12] ^= 0xff; // damage record 2's payload, not its length
  writeFileSync(file, bytes);
  const r = recoverMessageLog(dir, silentLogger());
  t.same([...r.messages()].map((m) => m.id), [1, 3, 4, 5], 'records 3 to 5 are kept');
  t.equal(readFileSync(file).length, bytes.length, 'nothing truncated');
});

t.test("fsync 'interval': publishes are confirmed after the write, and what was confirmed is read back", async (t) => {
  const dir = tempDir(t);
  const log = new MessageLog(dir, recoverMessageLog(dir, silentLogger()), { fsync: 'interval', fsyncInterval: 30 });
  const ids: number[] = [];
  for (let round = 0; round < 5; round++) {
    const waits: Promise<Error | null>[] = [];
    for (let i = 0; i < 100; i++) {
      const id = log.newMessageId();
      ids.push(id);
      const body = Buffer.from(`m${id}`);
      waits.push(new Promise((resolve) => log.appendPublish({ messageId: id, vhost: '/', queues: ['q'], exchange: '', routingKey: 'q', data: props, offset: 0, propertiesSize: 2, body, bodySize: body.length }, resolve)));
    }
    t.same((await Promise.all(waits)).filter((e) => e !== null), [], `round ${round}: all confirmed`);
    await new Promise((r) => setTimeout(r, 40)); // a timed fdatasync in between
  }
  log.close();
  t.same([...recoverMessageLog(dir, silentLogger()).messages()].map((m) => m.id), ids);
});
