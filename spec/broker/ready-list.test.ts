// ReadyList: a ring buffer of queue entries in seq order. push/shift are
// FIFO; insertBySeq puts a requeued entry back where its seq says (head,
// middle or tail), also when the ring has wrapped and when it must grow.
// A randomized run checks every operation against a sorted-array model.
import t from 'tap';
import { Message } from '../../lib/broker/message.js';
import { QueueEntry, ReadyList } from '../../lib/broker/ready-list.js';
import { prng } from '../helpers/prng.js';

const MESSAGE = new Message('', 'k', Buffer.from([0, 0]), [], 0);
const entry = (seq: number): QueueEntry => new QueueEntry(seq, MESSAGE);

/** Push entries with these seqs, in this order. */
function listOf(...seqs: number[]): ReadyList {
  const l = new ReadyList();
  for (const s of seqs) l.push(entry(s));
  return l;
}

/** Shift everything out; returns the seqs in order. */
function drain(l: ReadyList): number[] {
  const out: number[] = [];
  for (let e = l.shift(); e !== undefined; e = l.shift()) out.push(e.seq);
  return out;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test('an empty list', async (t) => {
  const l = new ReadyList();
  t.equal(l.length, 0);
  t.equal(l.shift(), undefined, 'shift');
  t.equal(l.peek(), undefined, 'peek');
  t.equal(l.clear(), 0, 'clear');
});

t.test('push and shift are FIFO, past the initial capacity', async (t) => {
  for (const n of [1, 2, 15, 16, 17, 33, 100]) {
    const l = listOf(...range(1, n));
    t.equal(l.length, n, `length after ${n} pushes`);
    t.equal(l.peek()?.seq, 1, 'peek is the first pushed');
    t.same(drain(l), range(1, n), `${n} entries come out in push order`);
    t.equal(l.length, 0, 'empty after draining');
  }
});

t.test('shift returns the same entry objects that were pushed', async (t) => {
  const l = new ReadyList();
  const a = entry(1);
  const b = entry(2);
  l.push(a);
  l.push(b);
  t.equal(l.peek(), a, 'peek does not remove');
  t.equal(l.length, 2);
  t.equal(l.shift(), a);
  t.equal(l.shift(), b);
});

t.test('interleaved push and shift keep FIFO order while the ring wraps many times', async (t) => {
  const l = new ReadyList();
  const got: number[] = [];
  let next = 1;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) l.push(entry(next++));
    for (let i = 0; i < 6; i++) got.push(l.shift()!.seq);
  }
  got.push(...drain(l));
  t.same(got, range(1, next - 1));
});

t.test('insertBySeq puts an entry back at its position', async (t) => {
  // [initial list], [seqs to insert, in this order], expected order after
  const cases: [string, number[], number[], number[]][] = [
    ['into an empty list', [], [5], [5]],
    ['at the head', [2, 3, 4], [1], [1, 2, 3, 4]],
    ['in the middle', [1, 2, 4, 5], [3], [1, 2, 3, 4, 5]],
    ['just after the head', [1, 3, 4], [2], [1, 2, 3, 4]],
    ['just before the tail', [1, 2, 4], [3], [1, 2, 3, 4]],
    ['at the tail', [1, 2, 3], [9], [1, 2, 3, 9]],
    ['several, out of order', [6, 7], [4, 1, 3, 5, 2], [1, 2, 3, 4, 5, 6, 7]],
    ['requeued in reverse order', [], [5, 4, 3, 2, 1], [1, 2, 3, 4, 5]],
    ['requeued in order', [], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]],
  ];
  for (const [name, initial, inserts, expected] of cases) {
    const l = listOf(...initial);
    for (const s of inserts) l.insertBySeq(entry(s));
    t.equal(l.length, expected.length, `${name}: length`);
    t.equal(l.peek()?.seq, expected[0], `${name}: peek`);
    t.same(drain(l), expected, name);
  }
});

t.test('insertBySeq after the ring has wrapped', async (t) => {
  // Capacity 16: push 1..12, shift 1..10 (head at slot 10), push 13..22 so
  // that the live entries 11..22 run over the end of the array.
  const setup = (): ReadyList => {
    const l = listOf(...range(1, 12));
    for (let i = 0; i < 10; i++) l.shift();
    for (const s of range(13, 22)) l.push(entry(s));
    return l;
  };
  const cases: [string, number[], number[]][] = [
    ['at the head', [10], range(10, 22)],
    ['two at the head', [9, 10], range(9, 22)],
    ['four at the head, filling the ring', [10, 9, 8, 7], range(7, 22)],
    ['five at the head, growing the ring', [10, 9, 8, 7, 6], range(6, 22)],
    ['at the tail', [30], [...range(11, 22), 30]],
  ];
  for (const [name, inserts, expected] of cases) {
    const l = setup();
    for (const s of inserts) l.insertBySeq(entry(s));
    t.same(drain(l), expected, name);
  }

  // Middle positions on either side of the wrap point: make gaps first.
  const l = listOf(...range(1, 12));
  for (let i = 0; i < 10; i++) l.shift();
  for (const s of range(13, 22)) if (s % 3 !== 0) l.push(entry(s)); // 15, 18, 21 missing
  for (const s of [21, 15, 18]) l.insertBySeq(entry(s));
  t.same(drain(l), range(11, 22), 'in the middle, before and after the wrap point');

  // Head at slot 0: inserting at the head must wrap the head to the last slot.
  const h = listOf(...range(5, 8));
  for (const s of [4, 3, 2, 1]) h.insertBySeq(entry(s));
  for (const s of range(9, 16)) h.push(entry(s)); // exactly full (16)
  t.equal(h.length, 16);
  t.same(drain(h), range(1, 16), 'head wrapped backwards, then filled to capacity');
});

t.test('insertBySeq when the list is full grows it', async (t) => {
  const positions: [string, number][] = [['head', 0], ['middle', 8], ['tail', 99]];
  for (const wrapped of [false, true]) {
    for (const [where, seq] of positions) {
      // 16 entries with even seqs 2..32 (plus a gap to insert into), wrapped or not
      const l = new ReadyList();
      if (wrapped) {
        for (let i = 0; i < 9; i++) l.push(entry(-100 + i));
        for (let i = 0; i < 9; i++) l.shift();
      }
      for (let s = 2; s <= 32; s += 2) l.push(entry(s));
      t.equal(l.length, 16, 'full');
      const inserted = where === 'head' ? 1 : where === 'middle' ? 9 : seq;
      l.insertBySeq(entry(inserted));
      t.equal(l.length, 17);
      const expected = [...range(1, 16).map((i) => i * 2), inserted].sort((a, b) => a - b);
      t.same(drain(l), expected, `${where}, ${wrapped ? 'wrapped' : 'not wrapped'}`);
    }
  }
});

t.test('clear empties the list and returns the count; the list still works after', async (t) => {
  const l = listOf(...range(1, 40));
  t.equal(l.clear(), 40);
  t.equal(l.length, 0);
  t.equal(l.shift(), undefined);
  l.push(entry(41));
  l.insertBySeq(entry(3));
  t.same(drain(l), [3, 41]);
});

t.test('random operations against a sorted-array model', async (t) => {
  for (const seed of [1, 2, 3, 42, 20240601]) {
    const random = prng(seed);
    const list = new ReadyList();
    const model: QueueEntry[] = []; // sorted by seq
    const out: QueueEntry[] = []; // shifted, not yet put back (like unacked deliveries)
    let next = 1;
    let failures = 0;
    const check = (cond: boolean, what: string): void => {
      if (!cond && failures++ < 5) t.fail(`seed ${seed}: ${what}`);
    };
    for (let op = 0; op < 5000; op++) {
      const r = random();
      if (r < 0.4) {
        const e = entry(next++);
        list.push(e);
        model.push(e);
      } else if (r < 0.75) {
        const got = list.shift();
        const want = model.shift();
        check(got === want, `op ${op}: shift gave ${got?.seq} but the model says ${want?.seq}`);
        if (want) out.push(want);
      } else if (r < 0.98) {
        if (out.length === 0) continue;
        // put back a random outstanding entry (or a few, like a nack multiple)
        const n = 1 + Math.floor(random() * Math.min(3, out.length));
        for (let k = 0; k < n; k++) {
          const e = out.splice(Math.floor(random() * out.length), 1)[0]!;
          list.insertBySeq(e);
          let i = 0;
          while (i < model.length && model[i]!.seq < e.seq) i++;
          model.splice(i, 0, e);
        }
      } else {
        check(list.clear() === model.length, `op ${op}: clear count`);
        model.length = 0;
      }
      check(list.length === model.length, `op ${op}: length ${list.length} but the model has ${model.length}`);
      check(list.peek() === model[0], `op ${op}: peek gave ${list.peek()?.seq} but the model says ${model[0]?.seq}`);
    }
    // put everything outstanding back and compare the whole contents
    for (const e of out.splice(0)) {
      list.insertBySeq(e);
      model.push(e);
    }
    model.sort((a, b) => a.seq - b.seq);
    const rest: QueueEntry[] = [];
    for (let e = list.shift(); e !== undefined; e = list.shift()) rest.push(e);
    check(rest.length === model.length && rest.every((e, i) => e === model[i]), 'final contents differ from the model');
    t.equal(failures, 0, `seed ${seed}: 5000 random operations agree with the model`);
  }
});
