/**
 * Recovery of the message log (message-log.ts) at start: read every
 * segment in order, check each record's length and checksum, and replay
 * publishes, removals, deliveries and queue deletions into the messages
 * each durable queue still holds, in publish order, with their redelivered
 * flags.
 *
 * Damage: a record failing its checksum whose length leads to an intact
 * record is skipped alone. Otherwise, at the end of the last segment it is
 * a write torn by a crash, and the segment is truncated there (that record
 * was never confirmed); anywhere else the rest of that segment is skipped.
 * Each is logged with what was lost.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { WireReader } from '../amqp/wire-reader.js';
import type { Logger } from '../log.js';
import { fsyncDirSync, truncateDurably } from './durable-files.js';
import { afterDamagedRecord, readRecordId, RECORD_HEADER, RECORD_PREFIX, RecordType, scanRecords, SEGMENT_PATTERN, segmentNumber } from './log-format.js';
import type { SegmentInfo } from './message-log.js';

export interface RecoveredMessage {
  id: number;
  vhost: string;
  exchange: string;
  routingKey: string;
  properties: Buffer;
  body: Buffer;
  /** the queues that still hold it, and whether it had been delivered from each */
  queues: Map<string, boolean>;
}

export interface RecoveredLog {
  /** in publish order */
  messages: RecoveredMessage[];
  /** the segment files, oldest first, with the ids of their publishes */
  segments: SegmentInfo[];
  lastMessageId: number;
}

interface Pending extends RecoveredMessage {
  /** record number of the publish, to compare with queue deletions */
  at: number;
}

/** What the records replayed so far leave in each queue. */
class Replay {
  readonly byId = new Map<number, Pending>();
  /** vhost\0queue -> record number of its last deletion */
  readonly deletedAt = new Map<string, number>();
  lastMessageId = 0;

  /** Replay one record; returns the message id of a publish, else 0. */
  record(r: WireReader, recordNo: number): number {
    const type = r.u8();
    const id = r.u64();
    if (type === RecordType.Compacted) return 0;
    const vhost = r.shortstr();
    if (type === RecordType.Publish) {
      const queues = new Map<string, boolean>();
      const n = r.u16();
      for (let i = 0; i < n; i++) queues.set(r.shortstr(), false);
      const exchange = r.shortstr();
      const routingKey = r.shortstr();
      // slices of the segment's buffer: the broker copies small messages into its slabs
      const properties = r.longstr();
      const body = r.longstr();
      this.byId.set(id, { id, vhost, exchange, routingKey, properties, body, queues, at: recordNo });
      if (id > this.lastMessageId) this.lastMessageId = id;
      return id;
    }
    const queue = r.shortstr();
    if (type === RecordType.QueueDeleted) {
      this.deletedAt.set(`${vhost}\u0000${queue}`, recordNo);
      return 0;
    }
    const m = this.byId.get(id);
    if (!m || !m.queues.has(queue)) return 0;
    if (type === RecordType.Delivered) m.queues.set(queue, true);
    else if (type === RecordType.Remove) {
      m.queues.delete(queue);
      if (m.queues.size === 0) this.byId.delete(id);
    }
    return 0;
  }

  /** The messages still held, in publish order, without those of queues deleted after they were published. */
  messages(): RecoveredMessage[] {
    const out: RecoveredMessage[] = [];
    for (const m of this.byId.values()) {
      for (const q of [...m.queues.keys()]) {
        const deleted = this.deletedAt.get(`${m.vhost}\u0000${q}`);
        if (deleted !== undefined && deleted > m.at) m.queues.delete(q);
      }
      if (m.queues.size > 0) out.push(m);
    }
    return out;
  }
}

export function recoverMessageLog(dir: string, logger: Logger): RecoveredLog {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return { messages: [], segments: [], lastMessageId: 0 };
  }
  // a compaction cut short by a crash: its output was never renamed into place
  for (const f of files) if (f.endsWith('.compacting')) unlinkSync(join(dir, f));
  files = withoutCompactedLeftovers(dir, files.filter((f) => SEGMENT_PATTERN.test(f)).sort(), logger);
  const replay = new Replay();
  const segments: SegmentInfo[] = [];
  let recordNo = 0;
  const r = new WireReader();
  for (let fi = 0; fi < files.length; fi++) {
    const path = join(dir, files[fi]!);
    const buf = readFileSync(path);
    const segment: SegmentInfo = { n: segmentNumber(files[fi]!), firstId: 0, lastId: 0, publishes: 0, bytes: buf.length };
    segments.push(segment);
    const onRecord = (start: number, end: number): void => {
      recordNo++;
      try {
        const id = replay.record(r.reset(buf, start + RECORD_HEADER, end), recordNo);
        if (id !== 0) {
          if (segment.firstId === 0) segment.firstId = id;
          segment.lastId = id;
          segment.publishes++;
        }
      } catch (err) {
        // a checksummed record that does not parse is a bug, not a crash: lose the record, not the broker
        logger.error({ err, segment: files[fi], offset: start }, 'message log: unreadable record skipped');
      }
    };
    let stop = scanRecords(buf, onRecord);
    for (let next = afterDamagedRecord(buf, stop); stop < buf.length && next > 0; next = afterDamagedRecord(buf, stop)) {
      logger.error({ segment: files[fi], offset: stop, bytes: next - stop }, 'message log: corrupt record skipped (the records after it are intact)');
      stop = scanRecords(buf, onRecord, next);
    }
    if (stop === buf.length) continue;
    if (fi === files.length - 1) {
      logger.warn({ segment: files[fi], offset: stop, bytes: buf.length - stop }, 'message log: torn record at the end, truncated');
      truncateDurably(path, stop);
      segment.bytes = stop;
    } else {
      logger.error({ segment: files[fi], offset: stop, bytes: buf.length - stop }, 'message log: corrupt record, the rest of this segment is skipped');
    }
  }
  return { messages: replay.messages(), segments, lastMessageId: replay.lastMessageId };
}

/**
 * Delete the segments a compacted segment replaced (a crash came between its
 * rename and their deletion); returns the files left.
 */
function withoutCompactedLeftovers(dir: string, files: string[], logger: Logger): string[] {
  const stale = new Set<string>();
  const head = Buffer.alloc(RECORD_HEADER + RECORD_PREFIX);
  for (const f of files) {
    const fd = openSync(join(dir, f), 'r');
    let n: number;
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    let first = 0;
    scanRecords(head.subarray(0, n), (start) => {
      if (head[start + RECORD_HEADER] === RecordType.Compacted) first = readRecordId(head, start + RECORD_HEADER);
    });
    const own = segmentNumber(f);
    if (first === 0) continue;
    for (const g of files) if (segmentNumber(g) >= first && segmentNumber(g) < own) stale.add(g);
  }
  if (stale.size === 0) return files;
  for (const f of stale) unlinkSync(join(dir, f));
  fsyncDirSync(dir);
  logger.warn({ segments: [...stale] }, 'message log: deleted segments left over by an interrupted compaction');
  return files.filter((f) => !stale.has(f));
}
