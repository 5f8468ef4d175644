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
import { ReplayIndex } from './replay-index.js';

export interface RecoveredMessage {
  id: number;
  vhost: string;
  exchange: string;
  routingKey: string;
  properties: Buffer;
  body: Buffer;
  /** when it was logged (ms since the epoch), 0 when its record does not say */
  loggedAt: number;
  /** the queues that still hold it, and whether it had been delivered from each */
  queues: Map<string, boolean>;
}

export interface RecoveredLog {
  /**
   * The messages still held, in publish order, read back from the segments
   * one segment at a time as the iteration goes (so only one segment's bytes
   * are in memory).
   */
  messages(): Generator<RecoveredMessage>;
  /** the segment files, oldest first, with the ids of their publishes */
  segments: SegmentInfo[];
  lastMessageId: number;
}

/** Replay one record into the index; returns the message id of a publish, else 0. */
function replayRecord(index: ReplayIndex, r: WireReader, segment: number, offset: number, recordNo: number): number {
  const type = r.u8();
  const id = r.u64();
  if (type === RecordType.Compacted) return 0;
  const vhost = r.shortstr();
  if (type === RecordType.Publish) {
    const n = r.u16();
    const queues: number[] = [];
    for (let i = 0; i < n; i++) queues.push(index.queueNumber(vhost, r.shortstr()));
    index.published(id, segment, offset, recordNo, queues);
    return id;
  }
  const queue = index.queueNumber(vhost, r.shortstr());
  if (type === RecordType.QueueDeleted) index.queueDeleted(queue, recordNo);
  else if (type === RecordType.Delivered) index.delivered(id, queue);
  else if (type === RecordType.Remove) index.removed(id, queue);
  return 0;
}

/** Read the held messages' publish records again, a segment at a time. */
function* readHeld(dir: string, files: string[], index: ReplayIndex): Generator<RecoveredMessage> {
  const r = new WireReader();
  let loaded = -1;
  let buf = Buffer.alloc(0);
  for (const held of index.held()) {
    if (held.segment !== loaded) {
      buf = readFileSync(join(dir, files[held.segment]!));
      loaded = held.segment;
    }
    const end = held.offset + RECORD_HEADER + buf.readUInt32BE(held.offset);
    r.reset(buf, held.offset + RECORD_HEADER + RECORD_PREFIX, end);
    const vhost = r.shortstr();
    const n = r.u16();
    for (let i = 0; i < n; i++) r.shortstr();
    const exchange = r.shortstr();
    const routingKey = r.shortstr();
    // slices of the segment's buffer: the broker copies what it keeps
    const properties = r.longstr();
    const body = r.longstr();
    const loggedAt = r.remaining >= 8 ? r.u64() : 0;
    const queues = new Map<string, boolean>();
    for (const [q, delivered] of held.queues) queues.set(index.queueKeys[q]!.slice(vhost.length + 1), delivered);
    yield { id: held.id, vhost, exchange, routingKey, properties, body, loggedAt, queues };
  }
}

export function recoverMessageLog(dir: string, logger: Logger): RecoveredLog {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return { messages: function* () {}, segments: [], lastMessageId: 0 };
  }
  // a compaction cut short by a crash: its output was never renamed into place
  for (const f of files) if (f.endsWith('.compacting')) unlinkSync(join(dir, f));
  files = withoutCompactedLeftovers(dir, files.filter((f) => SEGMENT_PATTERN.test(f)).sort(), logger);
  const index = new ReplayIndex();
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
        const id = replayRecord(index, r.reset(buf, start + RECORD_HEADER, end), fi, start, recordNo);
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
  return { messages: () => readHeld(dir, files, index), segments, lastMessageId: index.lastMessageId };
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
