/**
 * The message log's garbage collector: deletes sealed segments whose
 * messages no durable queue holds any more, and compacts old segments that
 * are mostly garbage by rewriting what survives.
 *
 * Only a prefix of the log (its oldest segments) is ever deleted or
 * rewritten. A removal is recorded after its publish, in the same or a later
 * segment; were a later segment deleted while an earlier one survives, a
 * Remove record could vanish while its Publish stays, and the message would
 * come back after a crash. Working from the oldest segment up keeps every
 * surviving publish together with every record that still applies to it.
 *
 * Compaction reads segments [first, last] of the prefix, keeps the publishes
 * of messages some queue still holds and the Remove and Delivered records of
 * those messages (a message may have left one of its queues, or been
 * delivered), and the QueueDeleted records that follow a kept publish. The
 * result starts with a Compacted marker naming `first`, is synced, and
 * replaces segment `last` by rename; then segments first..last-1 are
 * deleted. A crash in between leaves both, and recovery deletes the
 * leftovers the marker names.
 *
 * Counts only fall (message ids are never reused), so a collection that runs
 * while queues keep acknowledging can only keep a record it could have
 * dropped, never drop one still needed.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { fsyncDir } from './durable-files.js';
import { encodeMarker, readRecordId, RECORD_HEADER, RecordType, scanRecords, segmentName } from './log-format.js';
import type { SegmentInfo } from './message-log.js';
import type { MessageRefs } from './message-refs.js';

/** What the collector needs of the log. */
export interface CollectableLog {
  readonly dir: string;
  readonly refs: MessageRefs;
  /** oldest first; the last is being written and is never touched */
  readonly segments: SegmentInfo[];
  readonly segmentBytes: number;
}

/** Compact a prefix once at least this share of its bytes is garbage. */
const GARBAGE_SHARE = 0.5;

export class LogCompactor {
  private readonly log: CollectableLog;
  private readonly logger: Logger | undefined;
  private running: Promise<void> | null = null;

  constructor(log: CollectableLog, logger?: Logger) {
    this.log = log;
    this.logger = logger;
  }

  /** One pass; a call while a pass runs returns that pass. */
  collect(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: unknown) => this.logger?.error({ err }, 'message log: garbage collection failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private liveIds(s: SegmentInfo): number {
    return s.firstId === 0 ? 0 : this.log.refs.liveIn(s.firstId, s.lastId);
  }

  private async pass(): Promise<void> {
    const segments = this.log.segments;
    // the oldest sealed segments, as long as nothing in them is held
    while (segments.length > 1 && this.liveIds(segments[0]!) === 0) {
      const dead = segments.shift()!;
      await unlink(join(this.log.dir, segmentName(dead.n)));
      this.logger?.debug({ segment: segmentName(dead.n) }, 'message log: segment deleted');
    }
    const prefix = this.prefixToCompact();
    if (prefix > 0) await this.compact(prefix);
  }

  /**
   * How many of the oldest sealed segments to rewrite: the longest prefix
   * whose surviving bytes (estimated from the share of live ids) fit in one
   * segment, if at least GARBAGE_SHARE of it is garbage; 0 for none.
   */
  private prefixToCompact(): number {
    const segments = this.log.segments;
    let live = 0;
    let total = 0;
    let best = 0;
    for (let i = 0; i < segments.length - 1; i++) {
      const s = segments[i]!;
      const liveBytes = s.publishes === 0 ? 0 : (s.bytes * this.liveIds(s)) / s.publishes;
      if (i > 0 && live + liveBytes > this.log.segmentBytes) break;
      live += liveBytes;
      total += s.bytes;
      if (total - live >= total * GARBAGE_SHARE) best = i + 1;
    }
    return best;
  }

  /** Rewrite segments[0, count) as one segment numbered like the last of them. */
  private async compact(count: number): Promise<void> {
    const { dir, refs } = this.log;
    const prefix = this.log.segments.slice(0, count);
    const first = prefix[0]!;
    const last = prefix[count - 1]!;
    const tmp = join(dir, `${segmentName(last.n)}.compacting`);
    const out = await open(tmp, 'w');
    let written = 0;
    let firstId = 0;
    let lastId = 0;
    let publishes = 0;
    let keptPublish = false;
    try {
      const marker = encodeMarker(RecordType.Compacted, first.n);
      await out.write(marker);
      written += marker.length;
      for (const s of prefix) {
        const buf = await readFile(join(dir, segmentName(s.n)));
        const kept: Buffer[] = [];
        const stop = scanRecords(buf, (start, end) => {
          const type = buf[start + RECORD_HEADER];
          const id = readRecordId(buf, start + RECORD_HEADER);
          let keep: boolean;
          if (type === RecordType.Publish) {
            keep = refs.count(id) > 0;
            if (keep) {
              keptPublish = true;
              if (firstId === 0) firstId = id;
              lastId = id;
              publishes++;
            }
          } else if (type === RecordType.QueueDeleted) keep = keptPublish;
          else if (type === RecordType.Compacted) keep = false;
          else keep = refs.count(id) > 0;
          if (keep) kept.push(buf.subarray(start, end));
        });
        if (stop < buf.length) this.logger?.error({ segment: segmentName(s.n), offset: stop }, 'message log: corrupt record found while compacting, the rest of the segment is dropped');
        for (const b of kept) {
          await out.write(b);
          written += b.length;
        }
      }
      await out.datasync();
    } finally {
      await out.close();
    }
    await rename(tmp, join(dir, segmentName(last.n)));
    await fsyncDir(dir);
    for (const s of prefix.slice(0, -1)) await unlink(join(dir, segmentName(s.n)));
    await fsyncDir(dir);
    this.log.segments.splice(0, count, { n: last.n, firstId, lastId, publishes, bytes: written });
    const before = prefix.reduce((sum, s) => sum + s.bytes, 0);
    this.logger?.info({ segments: count, from: segmentName(first.n), to: segmentName(last.n), bytesBefore: before, bytesAfter: written }, 'message log: segments compacted');
  }
}
