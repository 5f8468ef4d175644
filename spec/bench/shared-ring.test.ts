// The SPSC byte ring of the thread-handoff benchmark (bench/lib/shared-ring.ts):
// records of odd sizes come back in order and intact across many wrap-arounds
// (small ones copied in JavaScript, large ones natively, from sub-ranges too);
// a full ring refuses a record without writing any of it and takes it once
// space is freed; a record too large for the ring is an error; publishing
// with no one asleep never calls Atomics.notify; 200,000 random records
// written by a worker thread reach the main thread (Atomics.waitAsync) in
// order, byte for byte, through a ring small enough to fill and wrap often;
// and a consumer asleep in Atomics.wait is woken by the producer's write.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { SharedRing } from '../../bench/lib/shared-ring.js';
import { records } from './shared-ring-worker.js';

const WORKER = new URL('./shared-ring-worker.ts', import.meta.url);

/** Everything read() hands out, as arrays of bytes. */
function drain(ring: SharedRing, max?: number): number[][] {
  const out: number[][] = [];
  ring.read((b, start, end) => out.push(Array.from(b.subarray(start, end))), max);
  return out;
}

const pattern = (len: number, salt: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (i * 31 + salt * 7 + 1) & 255);

t.test('odd sizes wrap around many times and come back in order, intact', async (t) => {
  const ring = new SharedRing(SharedRing.allocate(1024));
  t.equal(ring.maxPayload, 504);
  const sizes = [1, 3, 0, 5, 17, 63, 64, 65, 99, 2, 7, 127, 301, 13, 504, 9];
  const sent: number[][] = [];
  const got: number[][] = [];
  let written = 0;
  for (let i = 0; i < 400; i++) {
    const len = sizes[i % sizes.length]!;
    // every third record from the middle of a larger array
    const src = i % 3 === 0 ? pattern(len + 10, i) : pattern(len, i);
    const [start, end] = i % 3 === 0 ? [5, 5 + len] : [0, len];
    while (!ring.tryWrite(src, start, end)) got.push(...drain(ring, 1 + (i % 4)));
    sent.push(Array.from(src.subarray(start, end)));
    written += (len + 7) & ~3;
  }
  got.push(...drain(ring));
  t.ok(written > 20 * ring.capacity, 'wrapped around at least 20 times');
  t.equal(got.length, sent.length);
  t.same(got, sent);
  t.equal(ring.read(() => t.fail('nothing left')), 0);
});

t.test('a full ring refuses a record whole, and takes it once space is freed', async (t) => {
  const ring = new SharedRing(SharedRing.allocate(64));
  let n = 0;
  while (ring.tryWrite(pattern(8, n))) n++;
  t.equal(n, 5, 'five 12-byte records fill 64 bytes');
  t.notOk(ring.tryWrite(pattern(1, 0)), 'a 1-byte record (8 bytes) does not fit the last 4');
  t.same(drain(ring, 2), [0, 1].map((i) => Array.from(pattern(8, i))));
  // 4 bytes left at the end, 24 freed at the start: a pad marker, then the record at offset 0
  t.ok(ring.tryWrite(pattern(8, 5)), 'padded to the start');
  t.ok(ring.tryWrite(pattern(8, 6)), 'the 12 bytes left');
  t.notOk(ring.tryWrite(new Uint8Array(0)), 'full: not even an empty record');
  t.same(drain(ring), [2, 3, 4, 5, 6].map((i) => Array.from(pattern(8, i))), 'the pad skipped, the refused records left no trace');
  t.ok(ring.tryWrite(new Uint8Array(24)), 'an empty ring takes the largest record wherever it stands');
  t.throws(() => ring.tryWrite(new Uint8Array(25)), RangeError, 'more than capacity / 2 - 8');
  t.throws(() => SharedRing.allocate(100), RangeError);
});

t.test('a batch is read once, published once; a throwing callback leaves the batch in the ring', async (t) => {
  const ring = new SharedRing(SharedRing.allocate(256));
  for (let i = 0; i < 6; i++) t.ok(ring.tryWrite(pattern(3, i), 0, 3, false));
  t.equal(ring.read(() => t.fail('unpublished records are invisible')), 0);
  ring.publish();
  t.throws(() => ring.read(() => { throw new Error('boom'); }));
  t.equal(drain(ring, 4).length, 4);
  t.equal(drain(ring).length, 2);
});

t.test('publishing with no consumer asleep never calls Atomics.notify', async (t) => {
  const ring = new SharedRing(SharedRing.allocate(256));
  const notify = Atomics.notify;
  let calls = 0;
  Atomics.notify = ((a: Int32Array, i: number, c?: number) => (calls++, notify(a, i, c))) as typeof notify;
  t.teardown(() => void (Atomics.notify = notify));
  for (let i = 0; i < 1000; i++) {
    ring.tryWrite(pattern(i % 50, i));
    drain(ring);
  }
  t.equal(calls, 0);
});

t.test('200,000 random records from a worker thread arrive in order, byte for byte', async (t) => {
  const count = 200_000;
  const seed = 0x9e3779b9;
  const sab = SharedRing.allocate(4096);
  const ring = new SharedRing(sab);
  const worker = new Worker(WORKER, { workerData: { role: 'produce', sab, count, seed } });
  const done = new Promise<{ done: number; waits: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const expect = records(seed);
  const want = new Uint8Array(301);
  let n = 0;
  let bad = '';
  let sleeps = 0;
  const check = (b: Uint8Array, start: number, end: number): void => {
    const len = expect.next(want);
    if (bad) return;
    if (end - start !== len) bad = `record ${n}: ${end - start} bytes, expected ${len}`;
    else for (let i = 0; i < len; i++) if (b[start + i] !== want[i]) bad = `record ${n}: byte ${i} is ${b[start + i]}, expected ${want[i]}`;
    n++;
  };
  const deadline = Date.now() + 60_000;
  while (n < count && !bad && Date.now() < deadline) {
    if (ring.read(check, 1 + (n % 64)) === 0) {
      sleeps++;
      await ring.waitForDataAsync(1000);
    }
  }
  const w = await done;
  t.equal(bad, '', 'every byte as written');
  t.equal(n, count, 'every record');
  t.equal(ring.read(() => t.fail('no more records')), 0);
  t.comment(`consumer slept ${sleeps} times, producer found the ring full ${w.waits} times`);
  t.ok(w.waits > 0, 'the producer had to wait for space (the test covers a full ring)');
  await worker.terminate();
});

t.test('a consumer asleep in Atomics.wait is woken by the producer', async (t) => {
  const sab = SharedRing.allocate(256);
  const ring = new SharedRing(sab);
  const worker = new Worker(WORKER, { workerData: { role: 'sleep-consume', sab } });
  const messages: unknown[] = [];
  const result = new Promise<{ woke: boolean; sleptMs: number; got: number[] }>((resolve, reject) => {
    worker.on('message', (m) => (m === 'ready' ? messages.push(m) : resolve(m)));
    worker.once('error', reject);
  });
  const t0 = Date.now();
  while (!ring.consumerSleeping() && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
  t.ok(ring.consumerSleeping(), 'the consumer says it sleeps');
  await new Promise((r) => setTimeout(r, 200));
  t.ok(ring.tryWrite(Uint8Array.of(1, 2, 3)));
  t.notOk(ring.consumerSleeping(), 'the producer cleared the flag as it woke the consumer');
  const r = await result;
  t.ok(r.woke, 'woke with data');
  t.ok(r.sleptMs >= 150 && r.sleptMs < 5000, `slept ${r.sleptMs.toFixed(1)} ms: until the write, not the 10 s timeout`);
  t.same(r.got, [1, 2, 3]);
  await worker.terminate();
});
