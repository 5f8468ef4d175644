// The message log's garbage collector: dead segments are deleted, mostly
// dead ones compacted, only ever from the oldest up, and what recovery reads
// afterwards is exactly what the queues held: checked against a model over
// random publishes, removals, deliveries, queue deletions, collections and
// restarts, and with a crash between a compaction's rename and its deletes.
import t from 'tap';
import type { Test } from 'tap';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { MessageLog, RecordType } from '../../lib/store/message-log.js';
import { recoverMessageLog } from '../../lib/store/message-recovery.js';
import { prng } from '../helpers/prng.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-gc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const props = Buffer.from([0, 0]);
const SEGMENT = 4096;

/** What the queues hold: message id -> queue -> delivered. */
type Model = Map<number, Map<string, boolean>>;

/** A log opened as the broker opens it: recovered, with the references of what the queues hold. */
function open(dir: string, autoCollect = true): { log: MessageLog; model: Model } {
  const r = recoverMessageLog(dir, silentLogger());
  const log = new MessageLog(dir, r, { segmentBytes: SEGMENT, collectInterval: 1e9, autoCollect });
  const model: Model = new Map();
  for (const m of r.messages()) {
    model.set(m.id, new Map(m.queues));
    log.refs.add(m.id, m.queues.size);
  }
  return { log, model };
}

function publish(log: MessageLog, model: Model, queues: string[], bodySize = 100): Promise<void> {
  const id = log.newMessageId();
  model.set(id, new Map(queues.map((q) => [q, false])));
  const body = Buffer.alloc(bodySize, id % 251);
  return new Promise((resolve, reject) => {
    log.appendPublish({ messageId: id, vhost: '/', queues, exchange: '', routingKey: 'k', data: props, offset: 0, propertiesSize: 2, body, bodySize }, (err) => (err ? reject(err) : resolve()));
  });
}

function remove(log: MessageLog, model: Model, id: number, queue: string): void {
  log.appendQueueEvent(RecordType.Remove, id, '/', queue);
  const m = model.get(id)!;
  m.delete(queue);
  if (m.size === 0) model.delete(id);
}

function deliver(log: MessageLog, model: Model, id: number, queue: string): void {
  log.appendQueueEvent(RecordType.Delivered, id, '/', queue);
  model.get(id)!.set(queue, true);
}

function deleteQueue(log: MessageLog, model: Model, queue: string): void {
  log.appendQueueEvent(RecordType.QueueDeleted, 0, '/', queue);
  for (const [id, queues] of model) {
    if (!queues.delete(queue)) continue;
    log.forget(id);
    if (queues.size === 0) model.delete(id);
  }
}

/** Queue events are not waited for: they ride the next commit. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
}

async function closeLog(log: MessageLog): Promise<void> {
  await settle();
  log.close();
}

function recovered(dir: string): [number, [string, boolean][]][] {
  return [...recoverMessageLog(dir, silentLogger()).messages()].map((m) => [m.id, [...m.queues].sort()]);
}

function expected(model: Model): [number, [string, boolean][]][] {
  return [...model].sort((a, b) => a[0] - b[0]).map(([id, q]) => [id, [...q].sort()]);
}

const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.wlog')).sort();

t.test('segments whose messages are all gone are deleted, oldest first', async (t) => {
  const dir = tempDir(t);
  const { log, model } = open(dir);
  for (let i = 0; i < 120; i++) await publish(log, model, ['q']); // ~14 KiB: 4 segments
  const ids = [...model.keys()];
  t.ok(segmentFiles(dir).length >= 4, `${segmentFiles(dir).length} segments written`);
  // everything but the last message is consumed
  for (const id of ids.slice(0, -1)) remove(log, model, id, 'q');
  await publish(log, model, ['q']); // the removals reach the disk, in a new segment
  await log.collectGarbage();
  const left = segmentFiles(dir);
  t.ok(left.length <= 2, `only the segments still holding messages remain: ${left.join(' ')}`);
  await closeLog(log);
  t.same(recovered(dir), expected(model));
});

t.test('a live message in the oldest segment pins later dead ones until compaction rewrites it', async (t) => {
  const dir = tempDir(t);
  const { log, model } = open(dir);
  for (let i = 0; i < 200; i++) await publish(log, model, ['q', 'r']);
  const before = segmentFiles(dir); // every message is live: nothing collected yet
  const ids = [...model.keys()];
  const keep = ids[0]!;
  deliver(log, model, keep, 'q');
  remove(log, model, keep, 'r'); // it stays on q only, delivered
  for (const id of ids.slice(1)) {
    remove(log, model, id, 'q');
    remove(log, model, id, 'r');
  }
  for (let i = 0; i < 30; i++) await publish(log, model, ['q']); // new segments start a collection too
  await log.collectGarbage();
  const after = segmentFiles(dir);
  t.ok(after.length <= before.length / 2, `${before.length} segments before, ${after.length} after`);
  await closeLog(log);
  const r = recovered(dir);
  t.same(r, expected(model));
  t.same(r[0], [keep, [['q', true]]], 'the compacted message keeps its delivered flag and its removal from r');
});

t.test('a dead segment behind a live one is kept: it holds the removal of a message in the live one', async (t) => {
  const dir = tempDir(t);
  const { log, model } = open(dir);
  for (let i = 0; i < 4; i++) await publish(log, model, ['q'], 900); // segment 1: A1 A2 A3 B
  const [, , , b] = [...model.keys()];
  remove(log, model, b!, 'q');
  for (let i = 0; i < 4; i++) await publish(log, model, ['q'], 900); // segment 2: remove(B) C D E F
  const segment2 = [...model.keys()].slice(3);
  for (const id of segment2) remove(log, model, id, 'q');
  await publish(log, model, ['q'], 900); // segment 3: the removals, G
  t.same(segmentFiles(dir), ['00000001.wlog', '00000002.wlog', '00000003.wlog']);
  await log.collectGarbage();
  // segment 2 cannot simply be deleted: it goes only as segment 1 is rewritten without B
  t.same(segmentFiles(dir), ['00000002.wlog', '00000003.wlog'], 'segments 1 and 2 compacted into one');
  await closeLog(log);
  t.same(recovered(dir), expected(model), 'B stays removed');
});

t.test('a crash between the compacted rename and the deletes: recovery finishes the deletes', async (t) => {
  const dir = tempDir(t);
  const saved = tempDir(t);
  const { log, model } = open(dir, false); // the segments as written, until the collection below
  for (let i = 0; i < 100; i++) await publish(log, model, ['q']);
  const ids = [...model.keys()];
  for (const id of ids.slice(1)) remove(log, model, id, 'q');
  await publish(log, model, ['q']);
  await settle();
  const old = segmentFiles(dir);
  for (const f of old) copyFileSync(join(dir, f), join(saved, f));
  await log.collectGarbage();
  await closeLog(log);
  const compacted = segmentFiles(dir);
  t.ok(compacted.length < old.length, 'something was compacted or deleted');
  // put back the segments the compaction deleted, as if the crash came before their unlink
  for (const f of old) if (!compacted.includes(f)) copyFileSync(join(saved, f), join(dir, f));
  writeFileSync(join(dir, '00000099.wlog.compacting'), 'half written');
  t.same(recovered(dir), expected(model), 'no removed message comes back');
  t.notOk(readdirSync(dir).some((f) => f.endsWith('.compacting')), 'an unfinished output is deleted');
});

t.test('random workload with collections and restarts matches the model', async (t) => {
  for (const seed of [1, 2, 3]) {
    const dir = tempDir(t);
    const rand = prng(seed);
    const queues = ['a', 'b', 'c'];
    let { log, model } = open(dir);
    let writes: Promise<void>[] = [];
    const written = async (): Promise<void> => {
      await Promise.all(writes);
      writes = [];
    };
    for (let step = 0; step < 1500; step++) {
      const roll = rand();
      const live = [...model.keys()];
      if (roll < 0.45 || live.length === 0) {
        const qs = queues.filter(() => rand() < 0.5);
        writes.push(publish(log, model, qs.length > 0 ? qs : ['a'], Math.floor(rand() * 300)));
        if (writes.length > 10) await written();
      } else if (roll < 0.85) {
        const id = live[Math.floor(rand() * Math.min(live.length, rand() < 0.8 ? 20 : live.length))]!;
        const q = [...model.get(id)!.keys()][0]!;
        if (rand() < 0.3) deliver(log, model, id, q);
        else remove(log, model, id, q);
      } else if (roll < 0.87) {
        deleteQueue(log, model, queues[Math.floor(rand() * queues.length)]!);
      } else if (roll < 0.97) {
        await written();
        await log.collectGarbage(); // queue events may still be in memory: the collector must cope
      } else {
        await written();
        await closeLog(log);
        t.same(recovered(dir), expected(model), `seed ${seed}, step ${step}: recovery after restart`);
        ({ log, model } = open(dir));
      }
    }
    await written();
    await log.collectGarbage();
    await closeLog(log);
    t.same(recovered(dir), expected(model), `seed ${seed}: final recovery`);
    t.ok(segmentFiles(dir).length < 40, `seed ${seed}: ${segmentFiles(dir).length} segments left`);
  }
});
