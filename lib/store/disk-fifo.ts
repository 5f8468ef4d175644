/**
 * DiskFifo: a first-in first-out queue of opaque byte records in files, so
 * a queue's memory stays bounded: it keeps a window of messages in memory,
 * appends the overflow here and reads it back, in order, as consumers catch
 * up. It knows nothing of messages.
 *
 * It owns one directory of files NNNNNNNN.fifo, each record framed as a u32
 * big-endian length and its bytes, never split across files. The writer
 * moves to a new file once one reaches segmentBytes; a file is deleted as
 * soon as the reader is past its end, and when the FIFO empties its files
 * are deleted and its fds and buffers released: an idle FIFO costs nothing.
 *
 * A cache, not storage: nothing is fsynced and the files are deleted at
 * broker start. Persistent messages survive a crash through the message log;
 * syncing here would only add latency.
 *
 * Synchronous I/O on purpose: the queue's delivery loop is synchronous (a
 * shift hands over the next record now, not in a callback), and these bytes
 * go to and come from the page cache, where a whole chunk costs microseconds.
 * Records are gathered in a write buffer and read ahead in chunks, so there
 * is a syscall per chunk, not per record.
 *
 * Errors (ENOSPC, EIO...) are thrown to the caller with the FIFO unchanged:
 * a push that throws added nothing (records buffered before it stay in
 * memory and still shift out); a shift that throws removed nothing. Writes
 * are positional at `written`, which moves only once a write succeeded, so
 * the bytes of a failed write are never read and the next write covers them.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** u32 length before each record */
const HEADER = 4;
const MAX_RECORD = 0xffff_ffff;
/** first size of the write buffer, which grows to writeBufferBytes while pushes keep coming */
const MIN_WRITE_BUFFER = 4096;
const EMPTY = Buffer.alloc(0);

export interface DiskFifoOptions {
  /** rotate to a new file once one reaches this size (default 16 MiB) */
  segmentBytes?: number;
  /** records are gathered in memory up to this size before a write (default 256 KiB); a larger record is written directly */
  writeBufferBytes?: number;
  /** read-ahead size (default 256 KiB), grown for a larger record */
  readChunkBytes?: number;
}

export class DiskFifo {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly writeBufferBytes: number;
  private readonly readChunkBytes: number;
  private count = 0;
  private payloadBytes = 0;

  // Writer: file `writeSeg` has `written` bytes on disk, followed by the records in wbuf[rpos, wpos).
  private writeSeg = 1;
  private writeFd = -1;
  private written = 0;
  private wbuf = EMPTY;
  private wpos = 0;
  /** wbuf before rpos was shifted straight from the buffer and is never written (see shiftFromBuffer) */
  private rpos = 0;

  // Reader: the next record starts at readPos in file readSeg. Files readSeg..writeSeg-1 are complete, sizes in `sealed`.
  private readSeg = 1;
  private readPos = 0;
  private readonly sealed: number[] = [];
  /** fd of a complete file being read (the write file is read through writeFd) */
  private readFd = -1;
  private readFdSeg = 0;
  // Read-ahead: rbuf[0, rlen) holds bytes [rstart, rstart + rlen) of file rseg (0: nothing).
  private rbuf = EMPTY;
  private rseg = 0;
  private rstart = 0;
  private rlen = 0;
  private readonly header = Buffer.alloc(HEADER);
  private dirMade = false;
  private destroyed = false;

  constructor(dir: string, options: DiskFifoOptions = {}) {
    this.dir = dir;
    this.segmentBytes = positive(options.segmentBytes, 16 * 1024 * 1024, 'segmentBytes');
    this.writeBufferBytes = positive(options.writeBufferBytes, 256 * 1024, 'writeBufferBytes');
    this.readChunkBytes = positive(options.readChunkBytes, 256 * 1024, 'readChunkBytes');
  }

  /** records pushed and not yet shifted */
  get length(): number {
    return this.count;
  }

  /** payload bytes of those records */
  get bytes(): number {
    return this.payloadBytes;
  }

  /**
   * Append one record (bytes are copied). Throws on an I/O error, the record
   * not added. Not a Buffer handed out by shift/forEach: that may be the
   * write buffer this call reuses.
   */
  push(record: Buffer): void {
    this.pushRange(record, 0, record.length);
  }

  /** Append buf[start, end) as one record, without the caller slicing (copied). Throws like push. */
  pushRange(buf: Buffer, start: number, end: number): void {
    if (this.destroyed) throw new Error('DiskFifo used after destroy()');
    if (!(start >= 0 && start <= end && end <= buf.length)) throw new RangeError(`bad range [${start}, ${end}) of ${buf.length} bytes`);
    const size = end - start;
    if (size > MAX_RECORD) throw new RangeError(`record of ${size} bytes is too large`);
    if (this.fileBytes() >= this.segmentBytes) this.rotate();
    const framed = HEADER + size;
    if (framed > this.writeBufferBytes) {
      this.flush();
      this.writeDirect(buf, start, end);
    } else {
      if (this.wpos + framed > this.wbuf.length) this.makeRoom(framed);
      this.wbuf.writeUInt32BE(size, this.wpos);
      buf.copy(this.wbuf, this.wpos + HEADER, start, end);
      this.wpos += framed;
    }
    this.count++;
    this.payloadBytes += size;
  }

  /**
   * The oldest record, removed; undefined when empty. The Buffer is valid
   * only until the next call on the FIFO (it is a view of a reused buffer).
   * Throws on an I/O error, the record not removed.
   */
  shift(): Buffer | undefined {
    if (this.count === 0) return undefined;
    const record = this.readerInBuffer() ? this.shiftFromBuffer() : this.shiftFromDisk();
    this.count--;
    this.payloadBytes -= record.length;
    if (this.count === 0) this.reset();
    else if (this.readSeg < this.writeSeg && this.readPos === this.sealed[0]) this.leaveFile();
    return record;
  }

  /**
   * Visit every record, oldest first, without removing any. The Buffer
   * passed to fn is valid only during the call; fn must not use the FIFO.
   */
  forEach(fn: (record: Buffer) => void): void {
    try {
      for (let seg = this.readSeg, pos = this.readPos; seg <= this.writeSeg; seg++, pos = 0) {
        const end = this.fileEnd(seg);
        while (pos < end) {
          const at = this.load(seg, pos, end);
          const size = this.rbuf.readUInt32BE(at);
          fn(this.rbuf.subarray(at + HEADER, at + HEADER + size));
          pos += HEADER + size;
        }
      }
      for (let at = this.rpos; at < this.wpos; ) {
        const size = this.wbuf.readUInt32BE(at);
        fn(this.wbuf.subarray(at + HEADER, at + HEADER + size));
        at += HEADER + size;
      }
    } finally {
      if (this.readFdSeg !== this.readSeg) this.closeReadFd(); // keep only the reader's own fd
    }
  }

  /** Drop everything (files deleted), ready for new pushes. */
  clear(): void {
    this.reset();
  }

  /** Drop everything and remove the directory; the FIFO cannot be used after. */
  destroy(): void {
    this.reset();
    this.destroyed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Size the write file will have once its buffer is written. */
  private fileBytes(): number {
    return this.written + this.wpos - this.rpos;
  }

  /** Bytes of file `seg` that can be read: all of a complete file, what is on disk of the write file. */
  private fileEnd(seg: number): number {
    return seg < this.writeSeg ? this.sealed[seg - this.readSeg]! : this.written;
  }

  /** Everything on disk has been read: the next record is in the write buffer. */
  private readerInBuffer(): boolean {
    return this.readSeg === this.writeSeg && this.readPos === this.written;
  }

  /**
   * The reader has caught up with the writer: serve the record from the
   * write buffer instead of flushing it first. Flushing would write bytes
   * only to read them straight back; this way a record shifted soon after
   * its push costs no syscall and never reaches the disk (makeRoom reclaims
   * the bytes before rpos, flush skips them).
   */
  private shiftFromBuffer(): Buffer {
    const size = this.wbuf.readUInt32BE(this.rpos);
    const start = this.rpos + HEADER;
    this.rpos = start + size;
    return this.wbuf.subarray(start, start + size);
  }

  private shiftFromDisk(): Buffer {
    const at = this.load(this.readSeg, this.readPos, this.fileEnd(this.readSeg));
    const size = this.rbuf.readUInt32BE(at);
    this.readPos += HEADER + size;
    return this.rbuf.subarray(at + HEADER, at + HEADER + size);
  }

  /** Bring the whole record at `pos` of file `seg` (readable up to `end`) into rbuf; returns its offset there. */
  private load(seg: number, pos: number, end: number): number {
    if (!this.cached(seg, pos, HEADER)) this.fill(seg, pos, end, HEADER);
    const framed = HEADER + this.rbuf.readUInt32BE(pos - this.rstart);
    if (!this.cached(seg, pos, framed)) this.fill(seg, pos, end, framed); // straddled the chunk's end
    return pos - this.rstart;
  }

  private cached(seg: number, pos: number, n: number): boolean {
    return seg === this.rseg && pos >= this.rstart && pos + n <= this.rstart + this.rlen;
  }

  /** Read ahead from `pos`: a chunk, or what the file has, and at least `need` bytes. */
  private fill(seg: number, pos: number, end: number, need: number): void {
    if (pos + need > end) throw new Error(`disk fifo ${this.path(seg)}: record at ${pos} runs past the end of the file`);
    // grow for a large record; back to a chunk afterwards, so one large record does not pin its size
    if (this.rbuf.length < need || (need <= this.readChunkBytes && this.rbuf.length !== this.readChunkBytes)) {
      this.rbuf = Buffer.allocUnsafe(Math.max(need, this.readChunkBytes));
    }
    const want = Math.min(this.rbuf.length, end - pos);
    const fd = this.fdFor(seg);
    this.rseg = 0; // nothing valid until the read completes
    let got = 0;
    while (got < want) {
      const n = readSync(fd, this.rbuf, got, want - got, pos + got);
      if (n === 0) throw new Error(`disk fifo ${this.path(seg)}: unexpected end of file at ${pos + got}`);
      got += n;
    }
    this.rseg = seg;
    this.rstart = pos;
    this.rlen = got;
  }

  private fdFor(seg: number): number {
    if (seg === this.writeSeg) return this.writeFd; // opened w+, and it has data since there is something to read
    if (this.readFdSeg !== seg) {
      this.closeReadFd();
      this.readFd = openSync(this.path(seg), 'r');
      this.readFdSeg = seg;
    }
    return this.readFd;
  }

  /** The reader is past the end of a complete file: delete it, go on to the next. */
  private leaveFile(): void {
    if (this.readFdSeg === this.readSeg) this.closeReadFd();
    this.removeFile(this.readSeg);
    this.sealed.shift();
    this.readSeg++;
    this.readPos = 0;
  }

  /** Complete the write file (its buffered records written out); the next write opens a new one. */
  private rotate(): void {
    this.flush();
    const fd = this.writeFd;
    this.writeFd = -1;
    this.sealed.push(this.written);
    this.writeSeg++;
    this.written = 0;
    closeSync(fd);
  }

  /** Room for `framed` more bytes in the write buffer: reclaim shifted bytes, grow up to writeBufferBytes, else write it out. */
  private makeRoom(framed: number): void {
    if (this.rpos > 0) {
      this.wbuf.copyWithin(0, this.rpos, this.wpos);
      this.wpos -= this.rpos;
      this.rpos = 0;
    }
    const need = this.wpos + framed;
    if (need <= this.wbuf.length) return;
    if (this.wbuf.length < this.writeBufferBytes) {
      const grown = Buffer.allocUnsafe(Math.min(this.writeBufferBytes, Math.max(need, this.wbuf.length * 2, MIN_WRITE_BUFFER)));
      this.wbuf.copy(grown, 0, 0, this.wpos);
      this.wbuf = grown;
    }
    if (need > this.wbuf.length) this.flush();
  }

  /** Write the buffered records not yet shifted to the end of the write file. */
  private flush(): void {
    if (this.wpos > this.rpos) {
      this.writeAt(this.wbuf, this.rpos, this.wpos, this.written);
      this.written += this.wpos - this.rpos;
    }
    this.wpos = 0;
    this.rpos = 0;
  }

  /** A record larger than the write buffer, written as it is (after the buffer, flushed by the caller). */
  private writeDirect(buf: Buffer, start: number, end: number): void {
    this.header.writeUInt32BE(end - start, 0);
    this.writeAt(this.header, 0, HEADER, this.written);
    this.writeAt(buf, start, end, this.written + HEADER);
    this.written += HEADER + end - start;
  }

  private writeAt(buf: Buffer, start: number, end: number, at: number): void {
    const fd = this.openWriteFile();
    while (start < end) {
      const n = writeSync(fd, buf, start, end - start, at);
      start += n;
      at += n;
    }
  }

  private openWriteFile(): number {
    if (this.writeFd < 0) {
      if (!this.dirMade) {
        mkdirSync(this.dir, { recursive: true });
        this.dirMade = true;
      }
      this.writeFd = openSync(this.path(this.writeSeg), 'w+');
    }
    return this.writeFd;
  }

  /** Empty: delete the files, release fds and buffers (an idle FIFO costs nothing), start again at file 1. */
  private reset(): void {
    this.closeReadFd();
    if (this.writeFd >= 0) {
      const fd = this.writeFd;
      this.writeFd = -1;
      closeSync(fd);
      this.removeFile(this.writeSeg);
    }
    for (let seg = this.readSeg; seg < this.writeSeg; seg++) this.removeFile(seg);
    this.sealed.length = 0;
    this.readSeg = this.writeSeg = 1;
    this.readPos = this.written = this.wpos = this.rpos = 0;
    this.count = this.payloadBytes = 0;
    this.wbuf = this.rbuf = EMPTY;
    this.rseg = this.rlen = 0;
  }

  private closeReadFd(): void {
    if (this.readFd < 0) return;
    const fd = this.readFd;
    this.readFd = -1;
    this.readFdSeg = 0;
    closeSync(fd);
  }

  /** A file left behind is only wasted space until the next start; never worth failing a shift for. */
  private removeFile(seg: number): void {
    try {
      unlinkSync(this.path(seg));
    } catch {
      // deleted at broker start
    }
  }

  private path(seg: number): string {
    return join(this.dir, fifoFileName(seg));
  }
}

export function fifoFileName(n: number): string {
  return `${String(n).padStart(8, '0')}.fifo`;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`DiskFifo ${name} must be a positive integer, got ${value}`);
  return value;
}
