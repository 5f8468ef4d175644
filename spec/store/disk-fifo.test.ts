// The on-disk FIFO: records come back in order and intact across every
// buffer, chunk and file boundary, files go as soon as they are read past,
// an empty FIFO holds no files or fds, and a failed write changes nothing.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskFifo, fifoFileName } from '../../lib/store/disk-fifo.js';
import { prng } from '../helpers/prng.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-fifo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function record(n: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (n * 31 + i * 7) & 0xff;
  if (size >= 4) b.writeUInt32BE(n, 0);
  return b;
}

function files(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

const hasProcFd = existsSync('/proc/self/fd');
function openFds(): number {
  return hasProcFd ? readdirSync('/proc/self/fd').length : 0;
}

function contents(fifo: DiskFifo): Buffer[] {
  const out: Buffer[] = [];
  fifo.forEach((r) => out.push(Buffer.from(r)));
  return out;
}

t.test('order and content survive random pushes and shifts across every boundary', (t) => {
  const dir = join(tempDir(t), 'q');
  const segmentBytes = 4096;
  const writeBufferBytes = 1024;
  const readChunkBytes = 512;
  const fifo = new DiskFifo(dir, { segmentBytes, writeBufferBytes, readChunkBytes });
  const rand = prng(20240611);
  const model: Buffer[] = [];
  let head = 0;
  let modelBytes = 0;
  let pushed = 0;
  let maxLength = 0;
  let drained = 0;
  let large = 0;
  const baseFds = openFds();
  const scratch = Buffer.alloc(3 * segmentBytes);
  let failure = '';

  const size = (): number => {
    const r = rand();
    if (r < 0.05) return 0;
    if (r < 0.7) return Math.floor(rand() * 200);
    if (r < 0.9) return 200 + Math.floor(rand() * 1200); // > readChunkBytes, near writeBufferBytes
    large++;
    return segmentBytes + Math.floor(rand() * segmentBytes); // > segmentBytes
  };

  for (let op = 0; op < 20_000 && !failure; op++) {
    // phases: filling (deep into files), then draining (down to empty)
    const pushBias = Math.floor(op / 700) % 2 === 0 ? 0.65 : 0.25;
    if (rand() < pushBias) {
      const rec = record(pushed++, size());
      if (rand() < 0.3) {
        const start = Math.floor(rand() * (scratch.length - rec.length));
        rec.copy(scratch, start);
        fifo.pushRange(scratch, start, start + rec.length);
      } else {
        fifo.push(rec);
      }
      model.push(rec);
      modelBytes += rec.length;
      maxLength = Math.max(maxLength, model.length - head);
    } else {
      const got = fifo.shift();
      if (head === model.length) {
        if (got !== undefined) failure = `op ${op}: shift from an empty FIFO returned a record`;
      } else {
        const want = model[head++]!;
        modelBytes -= want.length;
        if (got === undefined || !got.equals(want)) failure = `op ${op}: record ${head - 1} differs (${got?.length} bytes, want ${want.length})`;
        if (head === model.length) {
          drained++;
          model.length = head = 0;
        }
      }
    }
    if (fifo.length !== model.length - head || fifo.bytes !== modelBytes) failure = `op ${op}: length ${fifo.length}/${model.length - head}, bytes ${fifo.bytes}/${modelBytes}`;
    if (fifo.length === 0 && files(dir).length > 0) failure = `op ${op}: empty FIFO left files ${files(dir)}`;
    if (hasProcFd && fifo.length === 0 && openFds() !== baseFds) failure = `op ${op}: empty FIFO holds fds`;
    if (hasProcFd && openFds() > baseFds + 2) failure = `op ${op}: more than two fds open`;
    if (op % 997 === 0 && !failure) {
      const seen = contents(fifo);
      const want = model.slice(head);
      if (seen.length !== want.length || seen.some((r, i) => !r.equals(want[i]!))) failure = `op ${op}: forEach differs from the model`;
      if (fifo.length !== want.length) failure = `op ${op}: forEach consumed records`;
    }
  }
  t.equal(failure, '', 'every shift matched the model');
  t.ok(maxLength > 200, `went deep (max length ${maxLength})`);
  t.ok(drained > 5, `drained to empty ${drained} times`);
  t.ok(large > 50, `${large} records larger than a segment`);

  while (head < model.length) t.same(fifo.shift(), model[head++]);
  t.equal(fifo.shift(), undefined);
  t.same(files(dir), [], 'no files once drained');
  fifo.destroy();
  t.notOk(existsSync(dir), 'destroy removes the directory');
  t.end();
});

t.test('a file is deleted as soon as the reader is past its end', (t) => {
  const dir = join(tempDir(t), 'q');
  // 100-byte records frame to 104: a file takes 10 of them before it reaches 1000 bytes
  const fifo = new DiskFifo(dir, { segmentBytes: 1000, writeBufferBytes: 256, readChunkBytes: 300 });
  t.notOk(existsSync(dir), 'nothing created before a push needs a file');
  for (let i = 0; i < 50; i++) fifo.push(record(i, 100));
  t.same(files(dir), [1, 2, 3, 4, 5].map(fifoFileName));
  for (let i = 0; i < 9; i++) t.equal(fifo.shift()!.readUInt32BE(0), i);
  t.equal(files(dir).length, 5, 'not before its last record');
  t.equal(fifo.shift()!.readUInt32BE(0), 9);
  t.same(files(dir), [2, 3, 4, 5].map(fifoFileName), 'right after its last record');
  for (let i = 10; i < 35; i++) t.equal(fifo.shift()!.readUInt32BE(0), i);
  t.same(files(dir), [4, 5].map(fifoFileName));
  for (let i = 35; i < 50; i++) t.equal(fifo.shift()!.readUInt32BE(0), i);
  t.same(files(dir), [], 'no files once drained');
  t.equal(fifo.length, 0);
  t.equal(fifo.bytes, 0);

  fifo.push(record(50, 10)); // a record that only ever lives in the write buffer
  t.same(files(dir), []);
  t.equal(fifo.shift()!.readUInt32BE(0), 50);
  fifo.push(record(51, 2000)); // larger than the write buffer: written at once
  t.same(files(dir), [fifoFileName(1)]);
  t.same(fifo.shift(), record(51, 2000));
  t.same(files(dir), []);

  fifo.push(record(52, 100));
  fifo.destroy();
  t.notOk(existsSync(dir), 'destroy removes the directory');
  t.throws(() => fifo.push(record(53, 1)), /destroy/);
  t.end();
});

t.test('forEach visits what remains without consuming it; clear empties', (t) => {
  const dir = join(tempDir(t), 'q');
  const fifo = new DiskFifo(dir, { segmentBytes: 2000, writeBufferBytes: 500, readChunkBytes: 256 });
  t.same(contents(fifo), [], 'empty');
  const all = Array.from({ length: 60 }, (_, i) => record(i, (i * 37) % 700));
  for (const r of all) fifo.push(r);
  t.same(contents(fifo), all, 'everything, oldest first: files, then the write buffer');
  for (let i = 0; i < 25; i++) t.same(fifo.shift(), all[i]);
  t.same(contents(fifo), all.slice(25), 'only the records left');
  t.same(contents(fifo), all.slice(25), 'visiting twice sees the same');
  t.equal(fifo.length, 35);
  t.equal(fifo.bytes, all.slice(25).reduce((n, r) => n + r.length, 0));
  t.same(fifo.shift(), all[25], 'shift goes on after forEach');

  fifo.clear();
  t.equal(fifo.length, 0);
  t.equal(fifo.bytes, 0);
  t.equal(fifo.shift(), undefined);
  t.same(files(dir), [], 'clear deletes the files');
  t.same(contents(fifo), []);
  for (let i = 0; i < 30; i++) fifo.push(record(100 + i, 300));
  t.equal(fifo.length, 30);
  t.equal(fifo.bytes, 9000);
  for (let i = 0; i < 30; i++) t.same(fifo.shift(), record(100 + i, 300));
  t.equal(fifo.shift(), undefined);
  t.same(files(dir), []);
  t.end();
});

t.test('length and bytes, and zero-byte records', (t) => {
  const fifo = new DiskFifo(join(tempDir(t), 'q'), { segmentBytes: 64, writeBufferBytes: 16, readChunkBytes: 8 });
  t.equal(fifo.length, 0);
  t.equal(fifo.bytes, 0);
  fifo.push(Buffer.alloc(0));
  fifo.push(Buffer.from('hello'));
  fifo.pushRange(Buffer.from('xxworldxx'), 2, 7);
  fifo.pushRange(Buffer.from('abc'), 1, 1);
  t.equal(fifo.length, 4);
  t.equal(fifo.bytes, 10);
  t.equal(fifo.shift()!.length, 0);
  t.equal(fifo.shift()!.toString(), 'hello');
  t.equal(fifo.length, 2);
  t.equal(fifo.bytes, 5);
  t.equal(fifo.shift()!.toString(), 'world');
  t.equal(fifo.shift()!.length, 0);
  t.equal(fifo.shift(), undefined);
  t.equal(fifo.length, 0);
  t.equal(fifo.bytes, 0);
  t.throws(() => fifo.pushRange(Buffer.alloc(4), 3, 5), RangeError);
  t.throws(() => new DiskFifo('x', { segmentBytes: 0 }), RangeError);
  t.end();
});

/** A directory on a full filesystem: a 64 KiB tmpfs, or failing that a first file that is /dev/full. */
function fullDir(t: Test): { dir: string; tmpfs: boolean } {
  const parent = mkdtempSync(join(tmpdir(), 'warren-fifo-'));
  const dir = join(parent, 'q');
  mkdirSync(dir);
  let tmpfs = false;
  t.teardown(() => {
    if (tmpfs) execFileSync('umount', [dir]); // before removing: rm cannot take a mount point
    rmSync(parent, { recursive: true, force: true });
  });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    tmpfs = true;
  } catch {
    symlinkSync('/dev/full', join(dir, fifoFileName(1)));
  }
  return { dir, tmpfs };
}

t.test('a write that fails leaves the FIFO as it was', (t) => {
  const { dir, tmpfs } = fullDir(t);
  t.comment(tmpfs ? 'on a 64 KiB tmpfs' : 'on /dev/full');
  const fifo = new DiskFifo(dir, { writeBufferBytes: 4096, readChunkBytes: 1024 });
  let error: NodeJS.ErrnoException | undefined;
  let n = 0;
  for (; n < 1000; n++) {
    try {
      fifo.push(record(n, 1000));
    } catch (err) {
      error = err as NodeJS.ErrnoException;
      break;
    }
  }
  t.equal(error?.code, 'ENOSPC', `push ${n} throws ENOSPC`);
  t.ok(n > 0, 'after some records were pushed');
  t.equal(fifo.length, n, 'the failed record is not added');
  t.equal(fifo.bytes, n * 1000);
  t.throws(() => fifo.push(record(n, 1000)), { code: 'ENOSPC' }, 'and the next push fails alike');
  t.throws(() => fifo.push(record(n, 10_000)), { code: 'ENOSPC' }, 'as does one written directly');
  t.equal(fifo.length, n);
  t.equal(contents(fifo).length, n);
  for (let i = 0; i < n; i++) {
    const r = fifo.shift();
    if (!r?.equals(record(i, 1000))) {
      t.fail(`record ${i} differs`);
      break;
    }
  }
  t.equal(fifo.shift(), undefined, 'records pushed before the failure all came back');
  t.equal(fifo.length, 0);
  t.equal(fifo.bytes, 0);

  if (tmpfs) {
    t.same(files(dir), [], 'draining freed the space');
    for (let i = 0; i < 20; i++) fifo.push(record(i, 1000));
    for (let i = 0; i < 20; i++) t.same(fifo.shift(), record(i, 1000));
    fifo.push(record(0, 1000));
    t.throws(() => fifo.push(record(1, 100_000)), { code: 'ENOSPC' }, 'a large record that does not fit');
    t.equal(fifo.length, 1);
    fifo.push(record(2, 1000));
    t.same(fifo.shift(), record(0, 1000));
    t.same(fifo.shift(), record(2, 1000), 'the bytes of the failed write are never read');
    t.equal(fifo.shift(), undefined);
  }
  t.end();
});

t.test('a first file that cannot be written: the buffered records still shift out', (t) => {
  const dir = join(tempDir(t), 'q');
  mkdirSync(dir);
  symlinkSync('/dev/full', join(dir, fifoFileName(1)));
  const fifo = new DiskFifo(dir, { writeBufferBytes: 4096 });
  for (let i = 0; i < 4; i++) fifo.push(record(i, 1000)); // 4016 bytes: all in the write buffer
  t.throws(() => fifo.push(record(4, 1000)), { code: 'ENOSPC' }, 'the flush fails');
  t.throws(() => fifo.push(record(4, 5000)), { code: 'ENOSPC' }, 'and so does a direct write');
  t.equal(fifo.length, 4);
  t.equal(fifo.bytes, 4000);
  t.same(contents(fifo), [0, 1, 2, 3].map((i) => record(i, 1000)));
  for (let i = 0; i < 4; i++) t.same(fifo.shift(), record(i, 1000));
  t.equal(fifo.shift(), undefined);
  t.end();
});
