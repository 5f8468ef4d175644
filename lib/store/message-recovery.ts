/**
 * Recovery of the message log (message-log.ts) at start: read every
 * segment in order, check each record's length and checksum, and replay
 * publishes, removals, deliveries and queue deletions into the messages
 * each durable queue still holds, in publish order, with their redelivered
 * flags.
 *
 * Damage: a record cut short or failing its checksum at the end of the last
 * segment is a write torn by a crash; the segment is truncated there (that
 * record was never confirmed). Anywhere else the rest of that segment is
 * skipped; both are logged with what was lost.
 */
import { openSync, readFileSync, readdirSync, truncateSync, closeSync, fdatasyncSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { WireReader } from '../amqp/wire-reader.js';
import type { Logger } from '../log.js';
import { RECORD_HEADER, RecordType } from './message-log.js';

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
  lastSegment: number;
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

  record(r: WireReader, recordNo: number): void {
    const type = r.u8();
    const id = r.u64();
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
      return;
    }
    const queue = r.shortstr();
    if (type === RecordType.QueueDeleted) {
      this.deletedAt.set(`${vhost}\u0000${queue}`, recordNo);
      return;
    }
    const m = this.byId.get(id);
    if (!m || !m.queues.has(queue)) return;
    if (type === RecordType.Delivered) m.queues.set(queue, true);
    else if (type === RecordType.Remove) {
      m.queues.delete(queue);
      if (m.queues.size === 0) this.byId.delete(id);
    }
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
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => /^\d{8}\.wlog$/.test(f)).sort();
  } catch {
    return { messages: [], lastSegment: 0, lastMessageId: 0 };
  }
  const replay = new Replay();
  let recordNo = 0;
  const r = new WireReader();
  for (let fi = 0; fi < files.length; fi++) {
    const path = join(dir, files[fi]!);
    const buf = readFileSync(path);
    let pos = 0;
    while (pos < buf.length) {
      const size = pos + RECORD_HEADER <= buf.length ? buf.readUInt32BE(pos) : -1;
      const end = pos + RECORD_HEADER + size;
      const intact = size >= 0 && end <= buf.length && crc32(buf.subarray(pos + RECORD_HEADER, end)) === buf.readUInt32BE(pos + 4);
      if (!intact) {
        if (fi === files.length - 1) {
          logger.warn({ segment: files[fi], offset: pos, bytes: buf.length - pos }, 'message log: torn record at the end, truncated');
          truncateDurably(path, pos);
        } else {
          logger.error({ segment: files[fi], offset: pos, bytes: buf.length - pos }, 'message log: corrupt record, the rest of this segment is skipped');
        }
        break;
      }
      recordNo++;
      try {
        replay.record(r.reset(buf, pos + RECORD_HEADER, end), recordNo);
      } catch (err) {
        // a checksummed record that does not parse is a bug, not a crash: lose the record, not the broker
        logger.error({ err, segment: files[fi], offset: pos }, 'message log: unreadable record skipped');
      }
      pos = end;
    }
  }
  const last = files.length > 0 ? Number(files[files.length - 1]!.slice(0, 8)) : 0;
  return { messages: replay.messages(), lastSegment: last, lastMessageId: replay.lastMessageId };
}

function truncateDurably(path: string, length: number): void {
  truncateSync(path, length);
  const fd = openSync(path, 'r+');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
